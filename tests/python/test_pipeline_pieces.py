"""The pipeline pieces from Python: the result codec, the sink and the worker are the C++ ones.

A record round-trips through the codec and a C++ worker's bytes decode and re-encode to the same
bytes; framebus.Worker runs the C++ worker loop from a Python thread with the GIL released and
stops when asked; framebus.ResultSink orders the records of two C++ workers, every frame once;
and a worker written in Python (its own Consumer, model call and publish_result) feeds the sink of
a `framebus run` beside the run's own C++ worker.
"""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import framebus
from media import TINY, ffmpeg, make_model

BUILD = os.environ.get("FRAMEBUS_BUILD_DIR")
TOOL = pathlib.Path(BUILD or "", "tools", "framebus")
HERE = pathlib.Path(__file__).resolve().parent
HAS_WORKER = hasattr(framebus._core, "_Worker")
needs_worker = pytest.mark.skipif(not HAS_WORKER, reason="built without the classifier (the pipeline's worker)")
needs_tool = pytest.mark.skipif(not BUILD, reason="scripts/test sets FRAMEBUS_BUILD_DIR to the build with the framebus tool")

RECEIVE_S = 30.0  # the longest any single wait for a message may take
# A process's exit may take long on a loaded machine: a `framebus worker` was seen spending over
# 30 s in the kernel (state D, __flush_work) closing an inotify descriptor on its way out.
EXIT_S = 120.0


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """A small ResNet-18-shaped model (width 8, 10 classes, 64x64 input) and its labels."""
    root = tmp_path_factory.mktemp("pieces-model")
    onnx, labels = root / "tiny.onnx", root / "labels.txt"
    make_model(onnx, labels, *TINY)
    return onnx, labels


def pictures(count: int) -> list[np.ndarray]:
    """Distinct BGR pictures (different labels from a random model need different content)."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(count):
        pic = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        pic[:, : (i * 7) % 64] = (i * 37) % 256
        out.append(pic)
    return out


def a_result(**fields) -> framebus.InferenceResult:
    values = dict(stream=3, frame=41, pts_us=-5, top=[(2, 0.75), (9, 0.125)], published_ns=1_000,
                  received_ns=2_000, infer_start_ns=3_000, infer_end_ns=4_000, worker=5, batch_size=4, batch=17,
                  worker_pid=4242, redelivered=True)
    values.update(fields)
    return framebus.InferenceResult(**values)


def receive_records(rx: framebus.Consumer, frames: int, ends: int) -> list[tuple[bytes, framebus.InferenceResult]]:
    """(raw bytes, decoded) of records from a results channel until `frames` frame records and
    `ends` end records came; fails after RECEIVE_S without one."""
    got: list[tuple[bytes, framebus.InferenceResult]] = []
    seen_frames = seen_ends = 0
    while seen_frames < frames or seen_ends < ends:
        msg = rx.receive(RECEIVE_S)
        assert msg is not None, f"no result within {RECEIVE_S} s ({seen_frames} frames, {seen_ends} ends so far)"
        raw = msg.array.tobytes()
        record = framebus.decode_result(msg.array)
        msg.release()
        got.append((raw, record))
        seen_ends += record.end_of_stream
        seen_frames += not record.end_of_stream
    return got


def start_cpp_worker(frames: str, results: str, model, worker_id: int, batch: int = 4) -> subprocess.Popen:
    onnx, labels = model
    return subprocess.Popen([str(TOOL), "worker", "--channel", frames, "--results", results, "--model", str(onnx),
                             "--labels", str(labels), "--batch", str(batch), "--id", str(worker_id), "--threads", "1",
                             "--open-wait", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# The codec.

def test_a_record_round_trips_through_the_codec():
    r = a_result()
    data = framebus.encode_result(r)
    assert isinstance(data, bytes) and len(data) == framebus.encoded_result_size()
    back = framebus.decode_result(data)
    assert back == r
    assert back.top == [(2, 0.75), (9, 0.125)]
    assert back.kind == framebus.InferenceResult.Kind.frame and not back.end_of_stream
    assert r.encode() == data and framebus.InferenceResult.decode(data) == r
    assert pickle.loads(pickle.dumps(r)) == r, "records pickle (through the codec) into multiprocessing queues"


def test_the_kind_is_an_enum_or_its_cpp_name():
    end = framebus.InferenceResult(kind="end_of_stream", stream=1, frame=30)
    assert end.kind == framebus.InferenceResult.Kind.end_of_stream and end.end_of_stream
    assert framebus.end_of_stream_result(1, 30) == end
    assert framebus.decode_result(end.encode()).frame == 30
    with pytest.raises(framebus.InvalidArgument):
        framebus.InferenceResult(kind="middle")


def test_bytes_that_are_no_record_are_refused_as_corrupt():
    data = bytearray(a_result().encode())
    with pytest.raises(framebus.Corrupt):
        framebus.decode_result(bytes(data[:-8]))
    bad_magic = bytes([data[0] ^ 0xFF]) + bytes(data[1:])
    with pytest.raises(framebus.Corrupt):
        framebus.decode_result(bad_magic)
    with pytest.raises(framebus.InvalidArgument):
        a_result(top=[(i, 0.01) for i in range(framebus._core.max_top_k + 1)]).encode()


# The sink on its own (explicit times, so no clock is involved).

def test_the_sink_emits_in_order_drops_duplicates_and_declares_gaps_after_the_timeout():
    sink = framebus.ResultSink(gap_timeout=1.0)
    second = 1_000_000_000
    assert sink.add(a_result(stream=0, frame=1), now_ns=0) == [], "frame 1 waits for frame 0"
    out = sink.add(a_result(stream=0, frame=0).encode(), now_ns=1)  # bytes are decoded with the codec
    assert [(e.frame, e.gap) for e in out] == [(0, False), (1, False)]
    assert sink.add(a_result(stream=0, frame=1, worker=8), now_ns=2) == [], "a second result is dropped"
    assert sink.add(a_result(stream=0, frame=3), now_ns=3) == []
    assert sink.add(framebus.end_of_stream_result(0, 4), now_ns=4) == []
    assert sink.tick(now_ns=second // 2) == [], "frame 2 is waited for gap_timeout"
    out = sink.tick(now_ns=2 * second)
    assert [(e.frame, e.gap) for e in out] == [(2, True), (3, False)] and out[0].result is None
    tally = sink.streams[0]
    assert (tally.emitted, tally.gaps, tally.duplicates, tally.frame_count, tally.finished) == (3, 1, 1, 4, True)
    assert sink.all_finished and sink.finished(0) and not sink.finished(1)
    assert sink.add(a_result(stream=0, frame=2), now_ns=3 * second) == []
    assert sink.streams[0].late == 1, "a result after its gap is late, not emitted"


def test_finish_declares_every_missing_frame_a_gap():
    sink = framebus.ResultSink()
    sink.add(a_result(stream=5, frame=2), now_ns=0)
    out = sink.finish(now_ns=1)
    assert [(e.stream, e.frame, e.gap) for e in out] == [(5, 0, True), (5, 1, True), (5, 2, False)]


# The worker and the sink with C++ workers.

@needs_worker
@needs_tool
def test_records_of_a_cpp_worker_re_encode_to_the_bytes_it_published(name, model):
    results_name = f"{name}.results"
    pics = pictures(6)
    classifier = framebus.Classifier(*model, top_k=5)
    expected = classifier.classify(pics)
    with framebus.Producer(name, slots=8, slot_size="64KiB", groups=["workers"], linger=0) as tx, \
            framebus.results_producer(results_name, linger=0) as keep, \
            framebus.Consumer(results_name, group="sink") as rx:
        worker = start_cpp_worker(name, results_name, model, worker_id=9)
        try:
            for i, pic in enumerate(pics):
                tx.send(pic, stream=2, frame=i, pts=1000 * i, format="bgr24")
            tx.end_stream(2, len(pics))
            records = receive_records(rx, frames=len(pics), ends=1)
        finally:
            tx.close()
            worker.communicate(timeout=EXIT_S)
        keep.close()
    assert worker.returncode == 0
    for raw, record in records:
        assert framebus.encode_result(record) == raw, "the one codec: Python writes the bytes C++ wrote"
        assert record.worker == 9 and record.worker_pid == worker.pid and record.stream == 2
    frames = {r.frame: r for _, r in records if not r.end_of_stream}
    assert sorted(frames) == list(range(len(pics)))
    assert [frames[i].top for i in range(len(pics))] == [[(c, pytest.approx(s, abs=1e-5)) for c, s in t] for t in expected]
    assert [r.frame for _, r in records if r.end_of_stream] == [len(pics)]


@needs_worker
@needs_tool
def test_the_sink_orders_the_records_of_two_cpp_workers_every_frame_once(name, model):
    results_name = f"{name}.results"
    streams, per_stream = 3, 20
    pics = pictures(per_stream)
    entries: list[framebus.SinkEntry] = []
    sink = framebus.ResultSink(gap_timeout=RECEIVE_S)
    with framebus.Producer(name, slots=16, slot_size="64KiB", groups=["workers"], linger=0) as tx, \
            framebus.results_producer(results_name, linger=0) as keep, \
            framebus.Consumer(results_name, group="sink") as rx:
        workers = [start_cpp_worker(name, results_name, model, worker_id=i, batch=3) for i in range(2)]
        try:
            for f in range(per_stream):
                for s in range(streams):
                    tx.send(pics[f], stream=s, frame=f, format="bgr24")
            for s in range(streams):
                tx.end_stream(s, per_stream)
            deadline = time.monotonic() + 2 * RECEIVE_S
            while not (len(sink.streams) == streams and sink.all_finished):
                assert time.monotonic() < deadline, "every stream finished in time"
                msg = rx.receive(1.0)
                if msg is not None:
                    entries += sink.add(msg)  # a Message is decoded in place
                    msg.release()
                entries += sink.tick()
        finally:
            tx.close()
            for w in workers:
                w.communicate(timeout=EXIT_S)
        keep.close()
    for s in range(streams):
        assert [e.frame for e in entries if e.stream == s] == list(range(per_stream)), f"stream {s} in order, once"
        tally = sink.streams[s]
        assert tally.finished and tally.emitted == per_stream and tally.gaps == 0 and tally.frame_count == per_stream
    assert not any(e.gap for e in entries)
    assert {e.result.worker for e in entries} <= {0, 1}
    assert all(e.latency_ms >= 0 for e in entries)
    assert sink.finish() == [], "nothing was left missing"


@needs_worker
def test_a_worker_runs_in_a_python_thread_with_the_gil_released(name, model):
    results_name = f"{name}.results"
    pics = pictures(8)
    classifier = framebus.Classifier(*model, top_k=3, max_batch=4)
    outcome: dict = {}
    with framebus.Producer(name, slots=8, slot_size="64KiB", groups=["workers"], linger=0) as tx, \
            framebus.results_producer(results_name, linger=0) as keep, \
            framebus.Consumer(results_name, group="sink") as rx:
        worker = framebus.Worker(classifier, name, results_name, batch=4, batch_timeout=0.01, worker_id=3,
                                 open_wait=RECEIVE_S)
        thread = threading.Thread(target=lambda: outcome.setdefault("stats", worker.run()))
        thread.start()
        # This thread sends and receives while the worker runs: it holds no GIL in run().
        for i, pic in enumerate(pics):
            tx.send(pic, stream=0, frame=i, format="bgr24")
        tx.end_stream(0, len(pics))
        records = [r for _, r in receive_records(rx, frames=len(pics), ends=1)]
        tx.close()  # the end of the frames channel ends run()
        thread.join(RECEIVE_S)
        assert not thread.is_alive()
        keep.close()
    stats = outcome["stats"]
    assert stats.frames == len(pics) and stats.end_markers == 1 and stats.end_reason == "closed"
    assert 2 <= stats.batches <= len(pics) and stats.errors == 0 and stats.last_error is None
    assert {r.worker for r in records} == {3} and all(r.worker_pid == os.getpid() for r in records)
    assert {r.frame: r.top for r in records if not r.end_of_stream} == {
        i: [(c, pytest.approx(s, abs=1e-5)) for c, s in t] for i, t in enumerate(classifier.classify(pics))}


@needs_worker
def test_stop_ends_a_waiting_worker(name, model):
    results_name = f"{name}.results"
    classifier = framebus.Classifier(*model)
    with framebus.Producer(name, slots=4, slot_size="64KiB", groups=["workers"], linger=0), \
            framebus.results_producer(results_name, linger=0), \
            framebus.Consumer(results_name, group="sink"):
        worker = framebus.Worker(classifier, name, results_name)
        outcome: dict = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("stats", worker.run()))
        thread.start()
        worker.stop()
        thread.join(RECEIVE_S)
        assert not thread.is_alive(), "stop() ends run() (it checks at least every 100 ms)"
    assert worker.stop_requested and outcome["stats"].frames == 0 and outcome["stats"].end_reason == "none"


@needs_worker
def test_ctrl_c_interrupts_a_worker_running_in_the_main_thread(name, model):
    results_name = f"{name}.results"
    classifier = framebus.Classifier(*model)
    with framebus.Producer(name, slots=4, slot_size="64KiB", groups=["workers"], linger=0), \
            framebus.results_producer(results_name, linger=0), \
            framebus.Consumer(results_name, group="sink"):
        worker = framebus.Worker(classifier, name, results_name)
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            worker.run()  # waits for frames that never come, the GIL released
        timer.join()
        assert time.monotonic() - started < RECEIVE_S


def test_a_worker_takes_a_framebus_classifier_only():
    if not HAS_WORKER:
        pytest.skip("built without the classifier")
    with pytest.raises(framebus.InvalidArgument):
        framebus.Worker(object(), "frames", "results")


# A Python worker beside a C++ worker, in one `framebus run`.

@pytest.fixture(scope="module")
def media(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("pieces-media")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-frames:v", "24", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(root / "a.mp4"))
    (root / "pictures").mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5", "-frames:v", "6", str(root / "pictures" / "p%02d.png"))
    return root


@needs_worker
@needs_tool
def test_a_python_worker_and_a_cpp_worker_feed_one_framebus_run_sink(media, model, tmp_path, processes):
    onnx, labels = model
    prefix = f"pyforeign-{os.getpid()}-{tmp_path.name[-12:]}"
    loops = 6
    out = tmp_path / "out.jsonl"
    # Paced, so that the Python worker (an interpreter to start, a model to load) joins while
    # frames still come; it may join before the run made the channels (it waits for them).
    run = subprocess.Popen([str(TOOL), "run", "--topology", "shared", "--workers", "1", "--model", str(onnx),
                            "--labels", str(labels), "--out", str(out), "--report", str(tmp_path / "report.json"),
                            "--name", prefix, "--no-progress", "--loop", str(loops), "--max-fps", "25",
                            "--batch", "2", "--threads", "1",
                            "--source", str(media / "a.mp4"), "--source", str(media / "pictures")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(run)
    python_worker = subprocess.Popen([sys.executable, str(HERE / "scripts" / "python_result_worker.py"),
                                      f"{prefix}.frames", f"{prefix}.results", str(onnx), str(labels), "7"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    processes.append(python_worker)
    run_out, run_err = run.communicate(timeout=180)
    worker_out, worker_err = python_worker.communicate(timeout=EXIT_S)
    assert run.returncode == 0, run_err + run_out
    assert python_worker.returncode == 0, worker_err
    assert "joined" in worker_out and "done" in worker_out
    results = [json.loads(line) for line in out.read_text().splitlines()]
    counts = {0: 24 * loops, 1: 6 * loops}
    for stream, expected in counts.items():
        lines = [r for r in results if r["stream"] == stream]
        assert [r["frame"] for r in lines] == list(range(expected)), f"stream {stream}: every frame once, in order"
        assert not any(r.get("gap") or r.get("failed") for r in lines)
    workers = {r["worker"] for r in results}
    assert workers == {0, 7}, f"both the C++ worker (0) and the Python one (7) classified frames: {workers}"
    done = int(worker_out.split("done ")[1])
    assert done == sum(r["worker"] == 7 for r in results)
    report = json.loads((tmp_path / "report.json").read_text())
    assert "7" in json.dumps(report), "the run's report counts the Python worker"
    assert not list(pathlib.Path("/dev/shm").glob(f"framebus.{prefix}*")), "no channel is left"
