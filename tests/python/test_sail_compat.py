"""framebus.compat.sail: scripts written like sail's samples, without sail's failures."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys

import framebus
from framebus.compat import sail

SCRIPTS = pathlib.Path(__file__).parent / "sail_scripts"
FRAMES = 30


def start(processes, script: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / script), *args], stdout=subprocess.PIPE, text=True)
    processes.append(proc)  # killed at the end of the test if it is still running
    return proc


def frames_of(output: str):
    lines = [line.split() for line in output.splitlines()]
    frames = [(int(l[1]), int(l[2]), l[3] == "1", l[4] == "1") for l in lines if l[0] == "frame"]
    ends = [l[1] for l in lines if l[0] == "end"]
    return frames, ends


def test_a_receiver_started_before_the_sender_waits_then_gets_every_frame_in_order(name, processes):
    pipe = f"/tmp/{name}"
    receiver = start(processes, "receiver.py", pipe, "/tmp/final", "0")
    sender = start(processes, "sender.py", pipe, "/tmp/final", str(FRAMES))
    out, _ = receiver.communicate(timeout=60)
    sender.communicate(timeout=60)
    assert receiver.returncode == 0 and sender.returncode == 0
    frames, ends = frames_of(out)
    assert ends == ["closed"]
    assert [f for c, f, _, _ in frames if c == 0] == list(range(FRAMES))
    assert [f for c, f, _, _ in frames if c == 1] == list(range(FRAMES))
    assert all(ok for _, _, ok, _ in frames)
    assert not any(private for *_, private in frames), "usec2c=False is zero copy"
    assert not pathlib.Path(f"/dev/shm/framebus.{sail.channel_name(pipe)}").exists()


def test_several_receivers_on_one_pipe_share_the_frames(name, processes):
    """sail: one pipe read by several workers crashed with std::system_error."""
    pipe = f"/tmp/{name}"
    # This process holds the pipe open as a sender too, so both receivers join before it ends.
    holder = sail.IPC(True, pipe, "/tmp/final", False, 10)
    receivers = [start(processes, "receiver.py", pipe, "/tmp/final", "1") for _ in range(2)]
    for r in receivers:
        assert r.stdout.readline().strip() == "ready"
    sender = start(processes, "sender.py", pipe, "/tmp/final", str(FRAMES))
    sender.communicate(timeout=60)
    holder.close()
    outputs = [r.communicate(timeout=60)[0] for r in receivers]
    assert all(r.returncode == 0 for r in receivers)
    everything = []
    for out in outputs:
        frames, ends = frames_of(out)
        assert ends == ["closed"]
        assert all(ok and private for _, _, ok, private in frames), "usec2c=True gives private copies"
        everything += [(c, f) for c, f, _, _ in frames]
    assert sorted(everything) == sorted((c, f) for c in (0, 1) for f in range(FRAMES))


def test_a_sender_killed_with_sigkill_ends_the_receiver_and_leaves_nothing_behind(name, processes):
    """sail: after an abnormal exit the IPC resources stayed and python had to be killed by hand."""
    pipe = f"/tmp/{name}"
    receiver = start(processes, "receiver.py", pipe, "/tmp/final", "0")
    sender = start(processes, "sender.py", pipe, "/tmp/final", "1000000")
    seen = 0
    while seen < 5:
        line = receiver.stdout.readline()
        assert line, "the receiver stopped early"
        seen += line.startswith("frame")
    sender.send_signal(signal.SIGKILL)
    sender.wait(10)
    out, _ = receiver.communicate(timeout=30)
    frames, ends = frames_of(out)
    assert ends == ["producer_died"], "the receiver learns that the sender died, and ends"
    assert receiver.returncode == 0
    assert not pathlib.Path(f"/dev/shm/framebus.{sail.channel_name(pipe)}").exists()


def test_every_pipe_path_maps_to_a_name_the_channel_layer_accepts():
    # The mapping is the only text sail.py parses; the channel layer's own check judges it, so the
    # two cannot drift apart. Seeded, so a failure replays.
    import random

    rng = random.Random(20261130)
    alphabet = "abcXYZ019._-/ \\:*?\"<>|\n\t\x00éß漢😀"
    paths = ["/", "//", ".", "..", "/..", "../../etc/passwd", "/tmp/pipe", "x" * 500, "/" + "é" * 300]
    paths += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 260))) for _ in range(2000)]
    for path in paths:
        name = sail.channel_name(path)
        assert name.startswith("sail.") and len(name) <= 200, (path, name)
        try:
            framebus.inspect_channel(name)
        except framebus.NotFound:
            pass  # a valid name that nobody created: what every mapped name must be here
        except framebus.InvalidName as error:
            raise AssertionError(f"{path!r} maps to {name!r}, which the channel layer refuses: {error}")


def test_an_empty_or_non_text_pipe_path_is_refused_by_name():
    for bad in ("", None, 3, b"/tmp/pipe"):
        try:
            sail.channel_name(bad)
        except framebus.InvalidArgument as error:
            assert "pipe_path" in str(error)
        else:
            raise AssertionError(f"{bad!r} was accepted")
