"""The Python example pipelines (examples/python/) on media and a model generated at test time.

Each script gives every frame of every stream exactly one result, in order, and exits 0; the
framebus ones label the frames as `framebus run --topology shared` does, the OpenCV baseline as
`framebus run --topology queue` does (both decode with OpenCV); handles pickle under every start
method; Ctrl-C ends every process and leaves no channel; a bad model or source is named in a clear
error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import framebus
from media import TINY, ffmpeg, make_model

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"
BUILD = os.environ.get("FRAMEBUS_BUILD_DIR")
TOOL = pathlib.Path(BUILD or "", "tools", "framebus")

pytestmark = [
    pytest.mark.skipif(not BUILD, reason="scripts/test sets FRAMEBUS_BUILD_DIR to the build with the framebus tool"),
    pytest.mark.skipif(not hasattr(framebus._core, "_Classifier") or not hasattr(framebus._core, "_MultiDecoder"),
                       reason="built without the classifier or the decoder"),
]

CHANNEL_EXAMPLES = ["shared_workers", "per_stream", "threads"]
HAS_CV2 = importlib.util.find_spec("cv2") is not None
QUEUE = pytest.param("queue_baseline", marks=pytest.mark.skipif(not HAS_CV2, reason="python3-opencv is not installed"))
ALL_EXAMPLES = [*CHANNEL_EXAMPLES, QUEUE]

# Frames per source, as generated below.
SOURCES = ("a.mp4", "b.avi", "pictures")
FRAMES = {0: 24, 1: 18, 2: 6}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("examples-media")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-frames:v", "24", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(root / "a.mp4"))
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=176x144:rate=30", "-frames:v", "18", "-c:v", "mpeg4",
           str(root / "b.avi"))
    (root / "pictures").mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-frames:v", "6", str(root / "pictures" / "p%02d.png"))
    (root / "broken.mp4").write_bytes(b"this is not a video\n" * 100)
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """A small ResNet-18-shaped model (width 8, 10 classes, 64x64 input) and its labels."""
    root = tmp_path_factory.mktemp("examples-model")
    onnx, labels = root / "tiny.onnx", root / "labels.txt"
    make_model(onnx, labels, *TINY)
    return onnx, labels


def prefix_for(tmp_path: pathlib.Path) -> str:
    return f"pyex-{os.getpid()}-{tmp_path.name[-16:]}"


def channels_left(prefix: str) -> list[str]:
    return [p.name for p in pathlib.Path("/dev/shm").glob(f"framebus.{prefix}*")]


def example_args(script: str, media, model, tmp_path, *extra: str, sources=SOURCES) -> list[str]:
    onnx, labels = model
    args = [sys.executable, str(EXAMPLES / f"{script}.py"), "--model", str(onnx), "--labels", str(labels),
            "--workers", "2", "--batch", "4", "--out", str(tmp_path / "out.jsonl"), "--name", prefix_for(tmp_path)]
    for s in sources:
        args += ["--source", str(media / s)]
    return args + list(extra)


def read_results(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def assert_complete_and_ordered(results: list[dict], counts: dict[int, int]) -> None:
    by_stream: dict[int, list[dict]] = {}
    for r in results:
        by_stream.setdefault(r["stream"], []).append(r)
    assert sorted(by_stream) == sorted(counts)
    for stream, expected in counts.items():
        assert [r["frame"] for r in by_stream[stream]] == list(range(expected)), f"stream {stream}: every frame once, in order"
        for r in by_stream[stream]:
            assert 1 <= len(r["top"]) <= 5
            assert all(0 <= cls < 10 for cls, _ in r["top"])
            assert r["latency_ms"] >= 0


def top1(results: list[dict]) -> dict[tuple[int, int], int]:
    return {(r["stream"], r["frame"]): r["top"][0][0] for r in results}


@pytest.fixture(scope="module")
def reference(media, model, tmp_path_factory):
    """Top-1 labels per (stream, frame) from `framebus run`, per topology, run once each."""
    cache: dict[str, dict] = {}

    def get(topology: str) -> dict[tuple[int, int], int]:
        if topology not in cache:
            out = tmp_path_factory.mktemp(f"reference-{topology}")
            onnx, labels = model
            args = [str(TOOL), "run", "--topology", topology, "--model", str(onnx), "--labels", str(labels),
                    "--workers", "2", "--batch", "4", "--out", str(out / "out.jsonl"), "--no-progress",
                    "--name", f"pyex-ref-{os.getpid()}-{topology}"]
            for s in SOURCES:
                args += ["--source", str(media / s)]
            proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
            assert proc.returncode == 0, proc.stderr
            cache[topology] = top1(read_results(out))
        return cache[topology]

    return get


@pytest.fixture(scope="module")
def example_run(media, model, tmp_path_factory):
    """Each example run once on the three sources: (completed process, results)."""
    cache: dict[str, tuple] = {}

    def get(script: str):
        if script not in cache:
            out = tmp_path_factory.mktemp(script)
            proc = subprocess.run(example_args(script, media, model, out), capture_output=True, text=True, timeout=180)
            cache[script] = (proc, read_results(out) if (out / "out.jsonl").exists() else [], prefix_for(out))
        return cache[script]

    return get


@pytest.mark.parametrize("script", ALL_EXAMPLES)
def test_every_frame_of_every_stream_gets_exactly_one_result_in_order(example_run, script):
    proc, results, prefix = example_run(script)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert_complete_and_ordered(results, FRAMES)
    assert "frames/s" in proc.stdout, "the summary ends the run"
    assert f"total: {sum(FRAMES.values())} frames" in proc.stdout
    assert not channels_left(prefix), "no channel is left in /dev/shm"


@pytest.mark.parametrize("script", CHANNEL_EXAMPLES)
def test_labels_equal_those_of_framebus_run(example_run, reference, script):
    proc, results, _ = example_run(script)
    assert proc.returncode == 0, proc.stderr
    expected = reference("shared")
    assert len(expected) == sum(FRAMES.values())
    assert top1(results) == expected
    assert len(set(expected.values())) > 1, "different pictures get different labels"


@pytest.mark.skipif(not HAS_CV2, reason="python3-opencv is not installed")
def test_the_opencv_baseline_labels_frames_as_the_queue_topology_does(example_run, reference):
    proc, results, _ = example_run("queue_baseline")
    assert proc.returncode == 0, proc.stderr
    assert top1(results) == reference("queue")


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_handles_pickle_into_workers_under_other_start_methods(media, model, tmp_path, method):
    proc = subprocess.run(example_args("shared_workers", media, model, tmp_path, "--start-method", method),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert_complete_and_ordered(read_results(tmp_path), FRAMES)
    assert not channels_left(prefix_for(tmp_path))


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def results_so_far(tmp_path) -> int:
    path = tmp_path / "out.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


# A fresh interpreter (the resource tracker not started yet, as in an example's own process) starts
# one child inside starting_children(); the child reports whether a SIGINT would reach it.
SIGINT_PROBE = """
import multiprocessing, signal, sys
sys.path.insert(0, sys.argv[2])
import common

def report(conn):
    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    conn.send(blocked or signal.getsignal(signal.SIGINT) == signal.SIG_IGN)

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    receiver, sender = context.Pipe(duplex=False)
    with common.starting_children(context):
        child = context.Process(target=report, args=(sender,))
        child.start()
    parent_unblocked = signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    protected = receiver.recv()
    child.join()
    print(f"child protected={protected} parent unblocked={parent_unblocked}")
"""


@pytest.mark.parametrize("method", ["spawn", "fork", "forkserver"])
def test_children_start_deaf_to_a_ctrl_c_under_every_start_method(tmp_path, method):
    # Else a Ctrl-C while a child still imports its modules ends it with a traceback before it can
    # ignore SIGINT itself (the main process decides how a Ctrl-C ends the children).
    probe = tmp_path / "probe.py"
    probe.write_text(SIGINT_PROBE)
    proc = subprocess.run([sys.executable, str(probe), method, str(EXAMPLES)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "child protected=True parent unblocked=True" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", ALL_EXAMPLES)
def test_ctrl_c_stops_every_process_and_leaves_no_channel(media, model, tmp_path, processes, script):
    # A session of its own, so that SIGINT goes to the whole process group, as a terminal sends it.
    proc = subprocess.Popen(example_args(script, media, model, tmp_path, "--loop", "1000"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    processes.append(proc)
    wait_for(lambda: results_so_far(tmp_path) >= 10 or proc.poll() is not None, 90, "the first results")
    assert proc.poll() is None, proc.stderr.read()
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted" in out
    assert not channels_left(prefix_for(tmp_path)), "no channel is left in /dev/shm"
    wait_for(lambda: not group_alive(proc.pid), 15, "every child process to end")
    results = read_results(tmp_path)
    for stream in FRAMES:
        frames = [r["frame"] for r in results if r["stream"] == stream]
        assert frames == list(range(len(frames))), "what was written is in order"


@pytest.mark.parametrize("script", ALL_EXAMPLES)
@pytest.mark.parametrize("bad", ["missing-model", "not-a-model", "missing-source"])
def test_a_bad_model_or_source_is_named_in_a_clear_error(media, model, tmp_path, script, bad):
    args = example_args(script, media, model, tmp_path)
    if bad == "missing-model":
        culprit = str(tmp_path / "missing.onnx")
        args[args.index("--model") + 1] = culprit
    elif bad == "not-a-model":
        culprit = str(tmp_path / "text.onnx")
        pathlib.Path(culprit).write_text("this is not an ONNX model\n")
        args[args.index("--model") + 1] = culprit
    else:
        culprit = str(tmp_path / "no-such-camera.mp4")
        args += ["--source", culprit]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert culprit in proc.stderr and "error" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.jsonl").exists(), "nothing ran"
    assert not channels_left(prefix_for(tmp_path))


@pytest.mark.parametrize("script", ALL_EXAMPLES)
def test_a_source_that_fails_to_decode_fails_alone(media, model, tmp_path, script):
    proc = subprocess.run(example_args(script, media, model, tmp_path, sources=("a.mp4", "broken.mp4", "pictures")),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, "a stream ended in error"
    assert "broken.mp4" in proc.stdout, "the summary names the failed source"
    assert_complete_and_ordered([r for r in read_results(tmp_path) if r["stream"] != 1], {0: 24, 2: 6})
    assert not channels_left(prefix_for(tmp_path))


def worker_pids(parent: int) -> list[int]:
    """The spawned worker processes of `parent` (not its multiprocessing resource tracker)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_a_worker_killed_with_sigkill_is_replaced_and_every_frame_still_gets_one_result(
        media, model, tmp_path, processes):
    proc = subprocess.Popen(example_args("shared_workers", media, model, tmp_path, "--loop", "100"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(proc)
    wait_for(lambda: len(worker_pids(proc.pid)) == 2 or proc.poll() is not None, 60, "the workers to start")
    wait_for(lambda: results_so_far(tmp_path) >= 20 or proc.poll() is not None, 60, "the first results")
    assert proc.poll() is None, "still running when a worker is killed"
    os.kill(worker_pids(proc.pid)[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err + out
    assert "restarting" in err
    assert_complete_and_ordered(read_results(tmp_path), {s: 100 * n for s, n in FRAMES.items()})
    assert not channels_left(prefix_for(tmp_path))
