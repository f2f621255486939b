"""`framebus run`: the whole pipeline on media and a model generated at test time.

Every frame of every stream gets exactly one result, in order, in the documented line format; the
summary and the report agree and make sense; the labels are the ones the Classifier gives the same
decoded frames in-process (also with --copy, --width/--height, and a model named as the model
zoo's); a worker killed with SIGKILL while holding frames is replaced and its frames redelivered;
Ctrl-C, to the supervisor or to its whole process group, ends everything and leaves no channel; a
bad model stops the run before any stream starts; a broken source fails alone; the live display,
--out -, --batch-timeout and each topology's processes and channels.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
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


def run_prefix(tmp_path) -> str:
    """The channel name prefix of the test's run (run_args gives it as --name)."""
    return f"pyrun-{os.getpid()}-{tmp_path.name[-12:]}"


def run_args(media, model, tmp_path, *extra: str, sources=("a.mp4", "b.avi", "pictures"), progress=False) -> list[str]:
    onnx, labels = model
    args = [str(TOOL), "run", "--model", str(onnx), "--labels", str(labels), "--out", str(tmp_path / "out.jsonl"),
            "--report", str(tmp_path / "report.json"), "--name", run_prefix(tmp_path)]
    if not progress:
        args.append("--no-progress")
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


# The keys of a result line (docs/pipeline.md); "redelivered" and "failed" come only when true.
RESULT_KEYS = {"stream", "frame", "pts_us", "top", "latency_ms", "worker"}
GAP_KEYS = {"stream", "frame", "gap"}


def assert_lines_follow_the_documented_format(results: list[dict], file_streams=(0, 1), top_k=5) -> None:
    """Exactly the documented keys; top_k predictions, best first; a latency; and, for a video
    file, presentation times that increase frame after frame."""
    last_pts: dict[int, int] = {}
    for r in results:
        if r.get("gap"):
            assert set(r) == GAP_KEYS and r["gap"] is True, r
            continue
        assert set(r) - {"redelivered"} == RESULT_KEYS, r
        assert r.get("redelivered", True) is True, r
        assert len(r["top"]) == top_k, r
        scores = [score for _, score in r["top"]]
        assert scores == sorted(scores, reverse=True), f"best first: {r}"
        assert r["latency_ms"] >= 0, r
        if r["stream"] in file_streams:
            assert r["pts_us"] > last_pts.get(r["stream"], -1), f"pts increase along stream {r['stream']}: {r}"
            last_pts[r["stream"]] = r["pts_us"]


def summary_table(text: str, title: str) -> tuple[list[str], list[dict[str, str]]]:
    """One table of the end-of-run summary: its headers, and its rows as {header: cell}. Columns
    are two or more blanks apart (a header such as "p50 ms" has one)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    headers = re.split(r"\s{2,}", lines[start + 1].strip())
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(dict(zip(headers, re.split(r"\s{2,}", line.strip()))))
    return headers, rows


def assert_summary_and_report_agree_and_are_sane(summary: str, report: dict, batch: int) -> None:
    headers, streams = summary_table(summary, "streams (")
    assert headers[:9] == ["stream", "frames", "fps", "p50 ms", "p99 ms", "gaps", "drops", "redelivered", "state"]
    headers, workers = summary_table(summary, "workers")
    assert headers[:5] == ["worker", "frames", "batches", "busy %", "restarts"]
    assert set(report) >= {"topology", "seconds", "streams", "workers", "frames", "fps", "steady_fps", "errors"}
    assert report["errors"] == []
    assert report["fps"] > 0 and report["steady_fps"] > 0
    assert len(streams) == len(report["streams"])
    for row, s in zip(streams, report["streams"]):
        assert set(s) >= {"frames", "fps", "latency_p50_ms", "latency_p99_ms", "gaps", "drops", "redelivered",
                          "duplicates", "decoded", "frame_count"}
        assert int(row["stream"]) == s["stream"] and int(row["frames"]) == s["frames"]
        assert float(row["fps"]) == pytest.approx(s["fps"], abs=0.06) and s["fps"] > 0
        assert 0 < s["latency_p50_ms"] <= s["latency_p99_ms"], s
        assert float(row["p50 ms"]) <= float(row["p99 ms"])
        assert float(row["p50 ms"]) == pytest.approx(s["latency_p50_ms"], abs=0.06)
        assert int(row["gaps"]) == s["gaps"] == 0 and int(row["drops"]) == s["drops"] == 0
        assert int(row["redelivered"]) == s["redelivered"] == 0 and s["duplicates"] == 0
        assert s["decoded"] == s["frame_count"] == s["frames"]
    assert len(workers) == len(report["workers"])
    for row, w in zip(workers, report["workers"]):
        assert set(w) >= {"worker", "frames", "batches", "busy_percent", "restarts"}
        assert int(row["worker"]) == w["worker"] and int(row["frames"]) == w["frames"]
        assert int(row["batches"]) == w["batches"]
        assert 0 <= float(row["busy %"]) <= 100 and 0 <= w["busy_percent"] <= 100
        assert float(row["busy %"]) == pytest.approx(w["busy_percent"], abs=0.06)
        assert w["batches"] <= w["frames"] <= batch * w["batches"], w
        assert w["restarts"] == 0
    assert sum(w["frames"] for w in report["workers"]) >= report["frames"]
    assert sum(w["busy_percent"] for w in report["workers"]) > 0, "some worker did some work"


def channels_left(prefix: str) -> list[str]:
    return [p.name for p in pathlib.Path("/dev/shm").glob(f"framebus.{prefix}*")]


def expected_counts(sources=("a.mp4", "b.avi", "pictures")) -> dict[int, int]:
    return {i: FRAMES[s] for i, s in enumerate(sources)}


@pytest.mark.parametrize("topology", ["shared", "per-stream", "threads", "queue"])
def test_every_frame_of_every_stream_gets_exactly_one_result_in_order(media, model, tmp_path, topology):
    proc = subprocess.run(run_args(media, model, tmp_path, "--workers", "2", "--batch", "4", "--topology", topology),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = read_results(tmp_path)
    assert_complete_and_ordered(results, expected_counts())
    assert_lines_follow_the_documented_format(results)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["topology"] == topology
    assert report["frames"] == sum(FRAMES.values())
    assert [s["frames"] for s in report["streams"]] == [40, 30, 12]
    assert "frames/s" in proc.stdout, "the summary table ends the run"
    assert_summary_and_report_agree_and_are_sane(proc.stdout, report, batch=4)
    assert not channels_left(run_prefix(tmp_path))


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
        got = results[(msg.stream, msg.frame)]
        assert got["top"][0][0] == top[0][0], f"stream {msg.stream} frame {msg.frame}"
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


def stopped(pid: int) -> bool:
    """Every thread of the process is stopped (state T: SIGSTOP has taken effect)."""
    try:
        tasks = list(pathlib.Path(f"/proc/{pid}/task").iterdir())
        return all((t / "stat").read_text().rsplit(")", 1)[1].split()[0] in "Tt" for t in tasks)
    except OSError:
        return False


def freeze_a_worker_holding_frames(frames_channel: str, supervisor: int, seconds: float = 60) -> int:
    """Stops (SIGSTOP) each worker of the run in turn until one is caught holding at least two
    messages of the frames channel, and returns it, stopped. A batch holds at most one end marker,
    so it holds at least one frame; stopped, it cannot release them: a SIGKILL now certainly
    leaves frames to be redelivered."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in child_pids(supervisor, "worker"):
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                continue
            while not stopped(pid) and time.monotonic() < deadline:
                time.sleep(0.001)
            held = sum(p["held"] for p in framebus.inspect_channel(frames_channel)["participants"] if p["pid"] == pid)
            if held >= 2 and stopped(pid):
                return pid
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)
    pytest.fail("no worker was caught holding frames")


def test_a_worker_killed_with_sigkill_while_holding_frames_is_replaced_and_its_frames_are_redelivered(
        media, model, tmp_path, processes):
    # Paced sources keep the run going; batches that wait up to 200 ms to fill keep frames held.
    proc = subprocess.Popen(run_args(media, model, tmp_path, "--workers", "2", "--batch", "4", "--batch-timeout", "200",
                                     "--max-fps", "15"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(proc)
    wait_for(lambda: results_so_far(tmp_path) >= 4 or None, 60, "the first results")
    worker = freeze_a_worker_holding_frames(f"{run_prefix(tmp_path)}.frames", proc.pid)
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err + out
    results = read_results(tmp_path)
    assert_complete_and_ordered(results, expected_counts())
    report = json.loads((tmp_path / "report.json").read_text())
    assert sum(w["restarts"] for w in report["workers"]) == 1
    assert "restarting" in err
    again = sum(s["redelivered"] + s["duplicates"] for s in report["streams"])
    assert again > 0, "the frames the killed worker held came back"
    assert sum(1 for r in results if r.get("redelivered")) == sum(s["redelivered"] for s in report["streams"])


def test_ctrl_c_stops_every_process_and_leaves_no_channel(media, model, tmp_path, processes):
    prefix = run_prefix(tmp_path)
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
    prefix = run_prefix(tmp_path)
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
    first = proc.stderr.splitlines()[0]
    assert "no-such-camera.mp4" in first and "the other sources go on" in first, \
        "the supervisor names it before anything starts"


def test_a_run_whose_only_source_does_not_exist_ends_at_once_naming_it(media, model, tmp_path):
    missing = str(tmp_path / "no-such-camera.mp4")
    started = time.monotonic()
    proc = subprocess.run(run_args(media, model, tmp_path, sources=(missing,)), capture_output=True, text=True,
                          timeout=60)
    assert time.monotonic() - started < 5.0, "no worker is started (one would take seconds to give up)"
    assert proc.returncode == 2
    assert missing in proc.stderr and "channel" not in proc.stderr


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
    assert_lines_follow_the_documented_format(results)
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


@pytest.mark.parametrize("topology", ["shared", "queue"])
def test_ctrl_c_at_a_terminal_signals_the_whole_process_group_and_the_run_still_stops_cleanly(
        media, model, tmp_path, processes, topology):
    # A terminal sends SIGINT to every process of its foreground group: the supervisor and its
    # children alike. A session of its own makes the run such a group, as a shell would.
    proc = subprocess.Popen(run_args(media, model, tmp_path, "--workers", "2", "--loop", "1000", "--max-fps", "10",
                                     "--topology", topology),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    processes.append(proc)
    wait_for(lambda: results_so_far(tmp_path) >= 3 or None, 60, "the first results")
    children = [pid for word in ("worker", "decode", "read-frames") for pid in child_pids(proc.pid, word)]
    assert len(children) == 3, "two workers and a decoder, or three readers"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not channels_left(run_prefix(tmp_path)), "no channel is left in /dev/shm"
    for pid in children:
        assert not pathlib.Path(f"/proc/{pid}").exists(), f"child {pid} is gone"
    assert "restarting" not in err, "no child was taken for crashed"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["errors"] == [], "an interruption is not an error"
    assert all(w["restarts"] == 0 for w in report["workers"])
    by_stream: dict[int, list[int]] = {}
    for r in read_results(tmp_path):
        assert not r.get("gap"), r
        by_stream.setdefault(r["stream"], []).append(r["frame"])
    assert by_stream and all(frames == list(range(len(frames))) for frames in by_stream.values()), \
        "what was written is each stream's first frames, once each, in order"
    if topology == "shared":
        # The decoder stops first; the workers finish what it had published.
        assert [s["frames"] for s in report["streams"]] == [s["decoded"] for s in report["streams"]], report


def test_the_live_display_shows_per_stream_fps_frames_done_and_drops_and_the_queue_and_workers(
        media, model, tmp_path):
    proc = subprocess.run(run_args(media, model, tmp_path, "--workers", "2", "--progress-interval", "0.1",
                                   progress=True), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    heads = re.findall(r"(\d+) frames done +([\d.]+) fps +queue (\d+) +workers (\d+)/(\d+)", proc.stderr)
    assert heads, proc.stderr
    assert all(wanted == "2" and int(running) <= 2 for *_, running, wanted in heads)
    assert int(heads[-1][0]) <= sum(FRAMES.values())
    streams = re.findall(r"\[(\d)\] +(\w+) +([\d.]+) fps +(\d+) done +(\d+) decoded +(\d+) drops +(\S+)", proc.stderr)
    assert {int(s[0]) for s in streams} == {0, 1, 2}, proc.stderr
    # Every stream line names its source, also one drawn before the decoder's first report.
    assert len(streams) == len(re.findall(r"^ *\[\d\] ", proc.stderr, re.M)), proc.stderr
    for stream, _, fps, done, decoded, drops, source in streams:
        assert int(done) <= FRAMES[pathlib.Path(source).name] and int(drops) == 0 and float(fps) >= 0
    assert "frames done" not in proc.stdout, "the display goes to stderr, never into the results"


def test_the_queue_baseline_shows_the_frames_waiting_in_its_queue(media, model, tmp_path, processes):
    # The reader sends the 12 pictures, then blocks opening z.png, a FIFO with no writer yet: the
    # 12 frames wait in the consumer's queue for a batch of 64 that cannot fill (for up to 60 s),
    # and every display shows them. Opening and closing the FIFO lets the reader go on (z.png is
    # empty, so no picture) and the run end.
    pictures = tmp_path / "pics"
    shutil.copytree(media / "pictures", pictures)
    os.mkfifo(pictures / "z.png")
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(run_args(media, model, tmp_path, "--topology", "queue", "--batch", "64", "--batch-timeout",
                                         "60000", "--progress-interval", "0.05", sources=(str(pictures),), progress=True),
                                stdout=subprocess.DEVNULL, stderr=stderr)
    processes.append(proc)
    wait_for(lambda: re.search(r"queue 12 +workers 1/1", log.read_text()), 60, "a display with 12 frames queued")
    with open(pictures / "z.png", "wb"):
        pass
    assert proc.wait(timeout=120) == 0, log.read_text()
    assert_complete_and_ordered(read_results(tmp_path), {0: 12})


def test_copy_on_receive_gives_the_same_labels_as_zero_copy_and_every_frame(media, model, tmp_path):
    labels = {}
    for mode, extra in (("zero-copy", ()), ("copy", ("--copy",))):
        out = tmp_path / mode
        out.mkdir()
        proc = subprocess.run(run_args(media, model, out, "--workers", "2", "--batch", "3", *extra),
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        results = read_results(out)
        assert_complete_and_ordered(results, expected_counts())
        labels[mode] = {(r["stream"], r["frame"]): r["top"] for r in results}
    assert labels["copy"].keys() == labels["zero-copy"].keys()
    for key, top in labels["zero-copy"].items():
        copied = labels["copy"][key]
        assert copied[0][0] == top[0][0], f"frame {key}"
        np.testing.assert_allclose([s for _, s in copied], [s for _, s in top], atol=1e-3)


def test_the_threads_topology_runs_one_worker_process_and_reports_each_worker_thread(media, model, tmp_path, processes):
    # Paced: 40 frames at 10 fps keep the decoder alive for 4 s, long enough to count processes.
    proc = subprocess.Popen(run_args(media, model, tmp_path, "--topology", "threads", "--workers", "3",
                                     "--max-fps", "10", sources=("a.mp4",)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(proc)
    # The workers are started before the decoder: once it runs, every worker process exists.
    wait_for(lambda: child_pids(proc.pid, "decode"), 60, "the decoder")
    assert len(child_pids(proc.pid, "worker")) == 1, "one worker process"
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert_complete_and_ordered(read_results(tmp_path), {0: 40})
    report = json.loads((tmp_path / "report.json").read_text())
    assert [w["worker"] for w in report["workers"]] == [0, 1, 2], "three worker threads"
    assert sum(w["frames"] for w in report["workers"]) >= 40


def test_the_per_stream_topology_gives_each_stream_a_channel_and_a_worker(media, model, tmp_path, processes):
    prefix = run_prefix(tmp_path)
    proc = subprocess.Popen(run_args(media, model, tmp_path, "--topology", "per-stream", "--max-fps", "10",
                                     sources=("a.mp4", "pictures")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(proc)
    wait_for(lambda: child_pids(proc.pid, "decode"), 60, "the decoder")
    assert len(child_pids(proc.pid, "worker")) == 2, "one worker process per stream"
    assert sorted(channels_left(prefix)) == [f"framebus.{prefix}.frames.0", f"framebus.{prefix}.frames.1",
                                             f"framebus.{prefix}.results"]
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert_complete_and_ordered(read_results(tmp_path), {0: 40, 1: 12})
    report = json.loads((tmp_path / "report.json").read_text())
    assert [w["frames"] for w in report["workers"]] == [40, 12], "each worker had its own stream"
    assert not channels_left(prefix)


def test_out_dash_writes_the_results_on_stdout_and_the_summary_on_stderr(media, model, tmp_path):
    args = run_args(media, model, tmp_path, sources=("pictures",))
    args[args.index("--out") + 1] = "-"
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert_complete_and_ordered(results, {0: 12})
    assert "frames/s" in proc.stderr and "streams (" in proc.stderr
    assert "frames/s" not in proc.stdout


@pytest.mark.parametrize("timeout_ms, batches", [("0", 12), ("60000", 1)])
def test_batch_timeout_bounds_how_long_a_batch_waits_to_fill(media, model, tmp_path, timeout_ms, batches):
    # One worker, batches of up to 64, 12 pictures: waiting 0 ms makes a batch of each frame;
    # waiting long gathers all of them, the stream's end marker closing the batch.
    proc = subprocess.run(run_args(media, model, tmp_path, "--workers", "1", "--batch", "64", "--batch-timeout",
                                   timeout_ms, "--slots", "16", "--slot-size", "1MiB", sources=("pictures",)),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert_complete_and_ordered(read_results(tmp_path), {0: 12})
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["workers"][0]["batches"] == batches


def test_width_and_height_resize_the_frames_before_they_are_classified(media, model, tmp_path, name):
    proc = subprocess.run(run_args(media, model, tmp_path, "--width", "96", "--height", "72", sources=("pictures",)),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    got = {r["frame"]: r["top"] for r in read_results(tmp_path)}
    onnx, labels = model
    classifier = framebus.Classifier(str(onnx), str(labels))
    # The same pictures decoded in-process, as stream 0 resized and as stream 1 not.
    decoder = framebus.MultiDecoder(name, slots=8, slot_size="1MiB")
    rx = framebus.Consumer(name)
    decoder.add_stream(str(media / "pictures"), width=96, height=72)
    decoder.add_stream(str(media / "pictures"))
    expected: dict[tuple[int, int], list] = {}
    ended = 0
    while ended < 2:
        msg = rx.receive(30.0)
        assert msg is not None
        if msg.end_of_stream:
            ended += 1
            continue
        assert msg.array.shape == ((72, 96, 3) if msg.stream == 0 else (120, 160, 3))
        expected[msg.stream, msg.frame] = classifier.classify([msg])[0]
        msg.release()
    decoder.close()
    rx.close()
    assert sorted(got) == list(range(12))
    for frame, top in got.items():
        want = expected[0, frame]
        assert top[0][0] == want[0][0], f"frame {frame}"
        np.testing.assert_allclose([s for _, s in top], [s for _, s in want], atol=1e-3)
    assert any(abs(got[f][0][1] - expected[1, f][0][1]) > 1e-3 for f in got), "resizing changed the scores"


@pytest.fixture(scope="module")
def zoo_style_model(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """The tiny model named as the model zoo's resnet50-v1-7.onnx is: input "data", a symbolic
    batch dimension "N", opset 7."""
    root = tmp_path_factory.mktemp("run-zoo-model")
    onnx, labels = root / "zoo.onnx", root / "labels.txt"
    make_model(onnx, labels, *TINY, "--input-name", "data", "--batch-dim", "N", "--opset", "7")
    return onnx, labels


def test_a_model_with_another_input_name_batch_dimension_and_opset_runs(media, model, zoo_style_model, tmp_path):
    import onnx

    graph = onnx.load(str(zoo_style_model[0]))
    assert graph.graph.input[0].name == "data"
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert graph.opset_import[0].version == 7
    proc = subprocess.run(run_args(media, zoo_style_model, tmp_path, sources=("pictures",)),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    results = read_results(tmp_path)
    assert_complete_and_ordered(results, {0: 12})
    # The same weights under other names: the same predictions as the tiny model's.
    pictures = [np.random.RandomState(seed).randint(0, 256, (90, 120, 3), dtype=np.uint8) for seed in range(4)]
    ours = framebus.Classifier(str(model[0]), str(model[1])).classify(pictures)
    zoo = framebus.Classifier(str(zoo_style_model[0]), str(zoo_style_model[1])).classify(pictures)
    for a, b in zip(ours, zoo):
        assert [c for c, _ in a] == [c for c, _ in b]
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
