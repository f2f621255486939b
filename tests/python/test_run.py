"""`framebus run`: the whole pipeline on media and a model generated at test time.

Every frame of every stream gets exactly one result, in order; the labels are the ones the
Classifier gives the same decoded frames in-process; a worker killed with SIGKILL is replaced and
the run still completes; Ctrl-C ends everything and leaves no channel; a bad model stops the run
before any stream starts; a broken source fails alone.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest

import framebus
from media import TINY, ffmpeg, make_model

BUILD = os.environ.get("FRAMEBUS_BUILD_DIR")
TOOL = pathlib.Path(BUILD or "", "tools", "framebus")

pytestmark = [
    pytest.mark.skipif(not BUILD, reason="scripts/test sets FRAMEBUS_BUILD_DIR to the build with the framebus tool"),
    pytest.mark.skipif(not hasattr(framebus, "Classifier"), reason="built without the classifier"),
]

# Frames per source, as generated below.
FRAMES = {"a.mp4": 40, "b.avi": 30, "pictures": 12}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("run-media")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-frames:v", "40", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(root / "a.mp4"))
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=176x144:rate=30", "-frames:v", "30", "-c:v", "mpeg4",
           str(root / "b.avi"))
    (root / "pictures").mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-frames:v", "12", str(root / "pictures" / "p%02d.png"))
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """A small ResNet-18-shaped model (width 8, 10 classes, 64x64 input) and its labels."""
    root = tmp_path_factory.mktemp("run-model")
    onnx, labels = root / "tiny.onnx", root / "labels.txt"
    make_model(onnx, labels, *TINY)
    return onnx, labels


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """ResNet-18's full width at 224x224: far slower than decoding small frames."""
    root = tmp_path_factory.mktemp("run-slow-model")
    onnx, labels = root / "wide.onnx", root / "labels.txt"
    make_model(onnx, labels, "--classes", "10", "--input-size", "224", timeout=300)
    return onnx, labels


def run_args(media, model, tmp_path, *extra: str, sources=("a.mp4", "b.avi", "pictures")) -> list[str]:
    onnx, labels = model
    args = [str(TOOL), "run", "--model", str(onnx), "--labels", str(labels), "--out", str(tmp_path / "out.jsonl"),
            "--report", str(tmp_path / "report.json"), "--no-progress", "--name", f"pyrun-{os.getpid()}-{tmp_path.name[-12:]}"]
    for s in sources:
        args += ["--source", str(media / s) if not s.startswith("/") else s]
    return args + list(extra)


def read_results(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def assert_complete_and_ordered(results: list[dict], counts: dict[int, int], gaps_allowed=False) -> None:
    by_stream: dict[int, list[dict]] = {}
    for r in results:
        by_stream.setdefault(r["stream"], []).append(r)
    assert sorted(by_stream) == sorted(counts)
    for stream, expected in counts.items():
        frames = [r["frame"] for r in by_stream[stream]]
        assert frames == list(range(expected)), f"stream {stream}: every frame once, in order"
        if not gaps_allowed:
            assert not any(r.get("gap") for r in by_stream[stream]), f"stream {stream} has gaps"
        for r in by_stream[stream]:
            if not r.get("gap"):
                assert 1 <= len(r["top"]) <= 5
                assert all(0 <= cls < 10 for cls, _ in r["top"])


def channels_left(prefix: str) -> list[str]:
    return [p.name for p in pathlib.Path("/dev/shm").glob(f"framebus.{prefix}*")]


def expected_counts(sources=("a.mp4", "b.avi", "pictures")) -> dict[int, int]:
    return {i: FRAMES[s] for i, s in enumerate(sources)}


@pytest.mark.parametrize("topology", ["shared", "per-stream", "threads", "queue"])
def test_every_frame_of_every_stream_gets_exactly_one_result_in_order(media, model, tmp_path, topology):
    proc = subprocess.run(run_args(media, model, tmp_path, "--workers", "2", "--batch", "4", "--topology", topology),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert_complete_and_ordered(read_results(tmp_path), expected_counts())
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["topology"] == topology
    assert report["frames"] == sum(FRAMES.values())
    assert [s["frames"] for s in report["streams"]] == [40, 30, 12]
    assert sum(w["frames"] for w in report["workers"]) >= sum(FRAMES.values())
    assert "frames/s" in proc.stdout, "the summary table ends the run"
    assert not channels_left(f"pyrun-{os.getpid()}-{tmp_path.name[-12:]}")


def test_labels_equal_those_of_the_classifier_on_the_same_decoded_frames(media, model, tmp_path, name):
    proc = subprocess.run(run_args(media, model, tmp_path, "--workers", "2", "--batch", "3"),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = {(r["stream"], r["frame"]): r for r in read_results(tmp_path)}

    onnx, labels = model
    classifier = framebus.Classifier(str(onnx), str(labels))
    decoder = framebus.MultiDecoder(name, slots=8, slot_size="1MiB")
    rx = framebus.Consumer(name)
    for s in ("a.mp4", "b.avi", "pictures"):
        decoder.add_stream(str(media / s))
    checked = 0
    ended = 0
    while ended < 3:
        msg = rx.receive(30.0)
        assert msg is not None
        if msg.end_of_stream:
            ended += 1
            continue
        (top,) = classifier.classify([msg])
        got = results[(msg.stream, msg.frame_id)]
        assert got["top"][0][0] == top[0][0], f"stream {msg.stream} frame {msg.frame_id}"
        np.testing.assert_allclose([s for _, s in got["top"]], [s for _, s in top], atol=1e-3)
        checked += 1
        msg.release()
    decoder.close()
    rx.close()
    assert checked == sum(FRAMES.values())
    assert len({r["top"][0][0] for r in results.values()}) > 1, "different pictures get different labels"


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def child_pids(pid: int, word: str) -> list[int]:
    out = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and len(cmdline) > 1 and cmdline[1] == word.encode():
            out.append(int(entry.name))
    return out


def results_so_far(tmp_path) -> int:
    path = tmp_path / "out.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_worker_killed_with_sigkill_mid_run_is_replaced_and_every_frame_still_gets_its_result(
        media, model, tmp_path, processes):
    # Paced sources keep the run going long enough to kill a worker in the middle of it.
    proc = subprocess.Popen(run_args(media, model, tmp_path, "--workers", "2", "--batch", "4", "--max-fps", "25",
                                     "--progress-interval", "0.2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(proc)
    workers = wait_for(lambda: child_pids(proc.pid, "worker"), 30, "the workers to start")
    wait_for(lambda: results_so_far(tmp_path) >= 8 or None, 60, "the first results")
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err + out
    assert_complete_and_ordered(read_results(tmp_path), expected_counts())
    report = json.loads((tmp_path / "report.json").read_text())
    assert sum(w["restarts"] for w in report["workers"]) == 1
    assert "restarting" in err


def test_ctrl_c_stops_every_process_and_leaves_no_channel(media, model, tmp_path, processes):
    prefix = f"pyrun-{os.getpid()}-{tmp_path.name[-12:]}"
    proc = subprocess.Popen(run_args(media, model, tmp_path, "--workers", "2", "--loop", "1000", "--max-fps", "10"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(proc)
    wait_for(lambda: results_so_far(tmp_path) >= 3 or None, 60, "the first results")
    children = child_pids(proc.pid, "worker") + child_pids(proc.pid, "decode")
    assert len(children) == 3
    assert channels_left(prefix)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not channels_left(prefix), "no channel is left in /dev/shm"
    for pid in children:
        assert not pathlib.Path(f"/proc/{pid}").exists(), f"child {pid} is gone"
    assert "frames/s" in out, "an interrupted run still prints its summary"


@pytest.mark.parametrize("bad", ["missing.onnx", "not-a-model.onnx"])
def test_a_bad_model_is_refused_before_any_stream_starts(media, model, tmp_path, bad):
    (tmp_path / "not-a-model.onnx").write_text("this is not an ONNX model\n")
    args = run_args(media, model, tmp_path)
    args[args.index("--model") + 1] = str(tmp_path / bad)
    prefix = f"pyrun-{os.getpid()}-{tmp_path.name[-12:]}"
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert bad in proc.stderr, "the error names the model file"
    assert not (tmp_path / "out.jsonl").exists(), "nothing ran"
    assert not channels_left(prefix)


def test_a_broken_source_reports_its_error_and_the_other_streams_complete(media, model, tmp_path):
    missing = str(tmp_path / "no-such-camera.mp4")
    proc = subprocess.run(run_args(media, model, tmp_path, sources=("a.mp4", missing, "pictures")),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, "a stream ended in error"
    report = json.loads((tmp_path / "report.json").read_text())
    broken = report["streams"][1]
    assert broken["state"] == "error"
    assert "no-such-camera.mp4" in broken["message"]
    results = [r for r in read_results(tmp_path) if r["stream"] != 1]
    assert_complete_and_ordered(results, {0: 40, 2: 12})
    assert "no-such-camera.mp4" in proc.stdout, "the summary shows the error"


def test_frames_dropped_by_a_drop_policy_are_reported_as_gaps_not_waited_for(media, slow_model, tmp_path):
    # Three slots, one slow worker and a dropping channel: frames are dropped; each frame still
    # comes out exactly once, as a result or as a gap, and the run ends.
    proc = subprocess.run(run_args(media, slow_model, tmp_path, "--workers", "1", "--batch", "1", "--policy", "drop_oldest",
                                   "--slots", "3", "--gap-timeout", "2", sources=("a.mp4",)),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = read_results(tmp_path)
    assert_complete_and_ordered(results, {0: 40}, gaps_allowed=True)
    report = json.loads((tmp_path / "report.json").read_text())
    gaps = sum(1 for r in results if r.get("gap"))
    assert gaps > 0, "the slow worker made the channel drop frames"
    assert report["streams"][0]["gaps"] == gaps
    assert report["streams"][0]["drops"] >= gaps


def test_a_pipeline_file_gives_the_settings_and_the_command_line_wins(media, model, tmp_path):
    onnx, labels = model
    config = tmp_path / "pipeline.toml"
    config.write_text("\n".join([
        f'source = ["{media / "a.mp4"}", "{media / "pictures"}"]',
        f'model = "{onnx}"', f'labels = "{labels}"', "workers = 3", "batch = 2",
        f'out = "{tmp_path / "out.jsonl"}"', f'report = "{tmp_path / "report.json"}"', "no-progress = true", ""]))
    proc = subprocess.run([str(TOOL), "run", "--config", str(config), "--workers", "2"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert_complete_and_ordered(read_results(tmp_path), {0: 40, 1: 12})
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["workers"]) == 2, "--workers on the command line replaced the file's"
    bad = subprocess.run([str(TOOL), "run", "--config", str(tmp_path / "missing.toml")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "missing.toml" in bad.stderr
