"""Handles left open when a process ends: closed at normal exit (multiprocessing children too),
and a MultiDecoder dropped without close() while a stream waits for room neither hangs nor aborts."""

from __future__ import annotations

import multiprocessing as mp
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

import framebus
import workers
from media import ffmpeg

SCRIPTS = pathlib.Path(__file__).parent / "scripts"
# The decoder in the scripts lingers 0.5 s: a finishing stream waits at most that for room for
# its end-of-stream marker, then as long again to leave. Dropping it must end well within this.
DECODER_BOUND = 4.0


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_multiprocessing_child_that_never_closes_its_consumer_leaves_no_channel_behind(name, method):
    # The child is the last participant: the parent closes first, the child exits through
    # os._exit as multiprocessing children do, without calling close().
    ctx = mp.get_context(method)
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=["g"], linger=30)
    rx = framebus.Consumer(name, group="g")
    for f in range(5):
        tx.send(np.array([f]), frame=f)
    ready, results = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=workers.read_to_end_without_closing, args=(rx, ready, results))
    child.start()
    assert ready.wait(60), "the child never received"
    rx.close()
    tx.close()  # its messages stay for the child, whose group has a live member
    assert results.get(timeout=60) == (5, "closed")
    child.join(60)
    assert child.exitcode == 0
    assert not pathlib.Path(f"/dev/shm/framebus.{name}").exists(), "the child's channel was left behind"


def test_a_handle_left_open_by_a_script_is_closed_at_exit(name):
    script = ("import sys, numpy, framebus\n"
              "tx = framebus.Producer(sys.argv[1], slot_size=4096, linger=0)\n"
              "rx = framebus.Consumer(sys.argv[1])\n"
              "tx.send(numpy.zeros(4))\n")
    proc = subprocess.run([sys.executable, "-c", script, name], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not pathlib.Path(f"/dev/shm/framebus.{name}").exists()


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("exit_media") / "loop.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "10", "-c:v", "mpeg4", str(path))
    return path


def run_decoder_script(name: str, video: pathlib.Path, way: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(SCRIPTS / "decoder_left_open.py"), name, str(video), way],
                          capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - start


@pytest.mark.skipif(not hasattr(framebus._core, "_MultiDecoder"), reason="built without the decoder")
def test_deleting_a_decoder_whose_stream_waits_for_room_returns_within_the_linger_bound(name, video):
    proc, _ = run_decoder_script(name, video, "del")
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}{proc.stderr}"
    lines = proc.stdout.split("\n")
    assert lines[0] == "blocked" and lines[1].startswith("deleted"), proc.stdout
    assert float(lines[1].split()[1]) < DECODER_BOUND
    assert "terminate called" not in proc.stderr
    assert not pathlib.Path(f"/dev/shm/framebus.{name}").exists()


@pytest.mark.skipif(not hasattr(framebus._core, "_MultiDecoder"), reason="built without the decoder")
def test_a_script_that_exits_with_such_a_decoder_open_ends_cleanly_within_the_bound(name, video):
    proc, took = run_decoder_script(name, video, "exit")
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}{proc.stderr}"
    assert proc.stdout.split("\n")[0] == "blocked"
    assert "terminate called" not in proc.stderr
    # The interpreter's own start and import count too; the close itself is bounded as above.
    assert took < DECODER_BOUND + 10
    assert not pathlib.Path(f"/dev/shm/framebus.{name}").exists()
