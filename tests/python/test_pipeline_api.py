"""framebus.Pipeline: the `framebus run` pipeline from Python.

The same sources and model give the same ordered results (stream, frame, classes, scores) as
`framebus run`; stop() from another thread ends a run promptly and leaves no channel; stats()
agrees with the results; a bad option is a ValueError that names it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

import framebus
from test_run import (BUILD, TOOL, channels_left, expected_counts, media, model, read_results,  # noqa: F401
                      run_args)

pytestmark = [
    pytest.mark.skipif(not BUILD, reason="scripts/test sets FRAMEBUS_BUILD_DIR to the build with the framebus tool"),
    pytest.mark.skipif(not hasattr(framebus, "Pipeline"), reason="built without the decoder or the classifier"),
]

SOURCES = ("a.mp4", "b.avi", "pictures")


def prefix(tmp_path) -> str:
    return f"pyapi-{os.getpid()}-{tmp_path.name[-12:]}"


def pipeline(media, model, tmp_path, **options) -> framebus.Pipeline:
    onnx, labels = model
    options.setdefault("sources", [str(media / s) for s in SOURCES])
    return framebus.Pipeline(model=str(onnx), labels=str(labels), name=prefix(tmp_path), executable=str(TOOL),
                             **options)


def key(stream: int, frame: int, top) -> tuple:
    """What must agree between two runs: the frame and its classes, scores to the four decimals
    `framebus run` writes."""
    return stream, frame, tuple((int(c), round(float(s), 4)) for c, s in top)


@pytest.mark.parametrize("topology", ["shared", "queue"])
def test_a_python_run_gives_the_results_of_framebus_run(media, model, tmp_path, topology):
    cli = tmp_path / "cli"
    cli.mkdir()
    proc = subprocess.run(run_args(media, model, cli, "--workers", "2", "--batch", "4", "--topology", topology),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    expected = [key(r["stream"], r["frame"], r["top"]) for r in read_results(cli)]

    p = pipeline(media, model, tmp_path, workers=2, batch=4, topology=topology, batch_timeout=timedelta(milliseconds=20))
    entries = list(p)
    assert not any(e.gap for e in entries)
    got = [key(e.stream, e.frame, e.result.top) for e in entries]
    by_stream = lambda keys, s: [k for k in keys if k[0] == s]  # noqa: E731
    for stream in expected_counts():
        mine, theirs = by_stream(got, stream), by_stream(expected, stream)
        assert [k[1] for k in mine] == list(range(expected_counts()[stream])), "every frame once, in order"
        for a, b in zip(mine, theirs):
            assert a[:2] == b[:2]
            assert [c for c, _ in a[2]] == [c for c, _ in b[2]], f"stream {stream} frame {a[1]}: the same classes"
            assert [s for _, s in a[2]] == pytest.approx([s for _, s in b[2]], abs=2e-4)
    report = p.report
    assert report is not None and report.exit_status == 0 and report.ok
    assert report.stats["topology"] == topology
    assert not channels_left(prefix(tmp_path))


def test_stats_count_what_the_results_show(media, model, tmp_path):
    p = pipeline(media, model, tmp_path, workers=2, batch=4)
    entries = list(p)
    stats = p.stats()
    assert stats["frames"] == p.report.stats["frames"]
    assert stats["frames"] == len(entries) == sum(expected_counts().values())
    for row in stats["streams"]:
        mine = [e for e in entries if e.stream == row["stream"]]
        assert row["frames"] == len(mine) == row["frame_count"] == row["decoded"]
        assert row["gaps"] == 0 and row["source"].endswith(SOURCES[row["stream"]])
    assert sum(w["frames"] for w in stats["workers"]) >= stats["frames"]
    assert {w["worker"] for w in stats["workers"]} == {0, 1}
    assert stats["errors"] == []


def test_run_blocks_and_returns_the_report(media, model, tmp_path):
    p = pipeline(media, model, tmp_path, sources=[str(media / "pictures")], workers=1, collect_results=False)
    report = p.run()
    assert report.exit_status == framebus._run.EXIT_OK
    assert report.stats["frames"] == 12
    assert list(p) == [], "without collect_results nothing is kept"
    with pytest.raises(ValueError, match="runs once"):
        p.run()


def test_stop_from_another_thread_ends_a_run_promptly(media, model, tmp_path):
    # A run of minutes: every source paced at its own rate, many times over.
    p = pipeline(media, model, tmp_path, loop=100, realtime=True, workers=1)
    stopper = threading.Timer(1.5, p.stop)
    stopper.start()
    start = time.monotonic()
    report = p.run()
    stopper.join()
    assert time.monotonic() - start < 15, "stopped within a few seconds"
    assert report.exit_status == framebus._run.EXIT_INTERRUPTED
    assert not channels_left(prefix(tmp_path))


def test_iteration_stops_when_the_run_is_stopped(media, model, tmp_path):
    # loop=None: every source starts over until the run is stopped.
    p = pipeline(media, model, tmp_path, loop=None, realtime=True, workers=1)
    seen = 0
    start = time.monotonic()
    for entry in p:
        seen += 1
        if seen == 5:
            p.stop()
    assert time.monotonic() - start < 20
    assert p.report.exit_status == framebus._run.EXIT_INTERRUPTED
    assert not channels_left(prefix(tmp_path))


def test_leaving_the_iteration_early_stops_the_run(media, model, tmp_path):
    p = pipeline(media, model, tmp_path, loop=100, realtime=True, workers=1)
    start = time.monotonic()
    for entry in p:
        if entry.frame == 3:
            break
    del entry
    # The generator is closed once it is no longer referenced by the loop.
    assert p.wait(20) is not None, "the run ended"
    assert time.monotonic() - start < 25
    assert p.report.exit_status == framebus._run.EXIT_INTERRUPTED
    assert not channels_left(prefix(tmp_path))


def test_a_source_given_as_a_dict_is_decoded_with_its_own_options(media, model, tmp_path):
    pictures = str(media / "pictures")
    p = pipeline(media, model, tmp_path, sources=[pictures, {"source": pictures, "loop": 2}], workers=1)
    entries = list(p)
    assert [e.frame for e in entries if e.stream == 0] == list(range(12))
    assert [e.frame for e in entries if e.stream == 1] == list(range(24))
    assert p.report.ok
    with pytest.raises(ValueError, match=r"sources\[0\]\.speed"):
        pipeline(media, model, tmp_path, sources=[{"source": pictures, "speed": 2}])


@pytest.mark.parametrize("options, named", [
    ({"workers": 0}, "workers"),
    ({"batch": 1000}, "batch"),
    ({"topology": "ring"}, "topology"),
    ({"policy": "sometimes"}, "policy"),
    ({"batch_timeout": -1.0}, "batch_timeout"),
    ({"gap_timeout": "soon"}, "gap_timeout"),
    ({"slot_size": "lots"}, "slot_size"),
    ({"top_k": 0}, "top_k"),
    ({"sources": []}, "sources"),
    ({"sources": "a.mp4 b.mp4", "workers": -1}, "workers"),
    ({"frobnicate": 1}, "frobnicate"),
])
def test_a_bad_option_is_a_value_error_naming_it(media, model, tmp_path, options, named):
    with pytest.raises(ValueError, match=named):
        pipeline(media, model, tmp_path, **options)


def test_a_model_that_does_not_load_is_an_error_naming_it(media, tmp_path):
    missing = tmp_path / "nowhere.onnx"
    with pytest.raises(framebus.Error, match="nowhere.onnx"):
        framebus.Pipeline(sources=[str(media / "a.mp4")], model=str(missing), executable=str(TOOL))


def test_in_a_build_tree_the_module_finds_the_framebus_tool_by_itself(media, model, tmp_path, monkeypatch):
    monkeypatch.delenv("FRAMEBUS_EXECUTABLE", raising=False)
    p = framebus.Pipeline(sources=[str(media / "pictures")], model=str(model[0]), name=prefix(tmp_path), workers=1)
    assert p.run().ok


def test_without_the_executable_the_error_names_framebus_executable(media, model, monkeypatch):
    monkeypatch.setenv("FRAMEBUS_EXECUTABLE", "/nonexistent/framebus")
    with pytest.raises(framebus.Error, match="FRAMEBUS_EXECUTABLE"):
        framebus.Pipeline(sources=[str(media / "a.mp4")], model=str(model[0]))


CTRL_C_SCRIPT = """
import sys, framebus
p = framebus.Pipeline(sources=[sys.argv[1]], model=sys.argv[2], name=sys.argv[3], executable=sys.argv[4],
                      loop=100, realtime=True, workers=1)
print("running", flush=True)
try:
    p.run()
except KeyboardInterrupt:
    print("interrupted", p.stats()["frames"], flush=True)
    sys.exit(3)
"""


def test_ctrl_c_stops_a_run_in_the_main_thread_and_raises_keyboard_interrupt(media, model, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(media / "a.mp4"), str(model[0]), prefix(tmp_path),
                             str(TOOL)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "running"
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, out + err
    assert out.startswith("interrupted"), out
    assert not channels_left(prefix(tmp_path))
