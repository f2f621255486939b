"""framebus.compat.sail's IPC: sail's calls, keyword names and return types, on framebus channels,
without sail's failures (several receivers, kill -9, leftovers). Real processes where processes
matter; the scenario scripts (several parts of sail together) are in test_sail_scenarios.py."""

from __future__ import annotations

import gc
import inspect
import os
import pathlib
import pickle
import random
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import framebus
from framebus.compat import sail

SCRIPTS = pathlib.Path(__file__).parent / "sail_scripts"
FRAMES = 30
HANDLE = sail.Handle(0)
F = sail.Format


def start(processes, script: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / script), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    processes.append(proc)  # killed at the end of the test if it is still running
    return proc


def frames_of(output: str):
    lines = [line.split() for line in output.splitlines()]
    frames = [(int(l[1]), int(l[2]), l[3] == "1") for l in lines if l[0] == "frame"]
    ends = [l[1] for l in lines if l[0] == "end"]
    return frames, ends


def left_behind(pipe: str) -> bool:
    return pathlib.Path(f"/dev/shm/framebus.{sail.channel_name(pipe)}").exists()


def held_by(pipe: str, pid: int) -> int:
    info = framebus.inspect_channel(sail.channel_name(pipe))
    return sum(p["held"] for p in info["participants"] if p["pid"] == pid and p["role"] == "consumer")


def receive_all(ipc, call: str = "receiveTensor"):
    got = []
    while True:
        try:
            got.append(getattr(ipc, call)())
        except framebus.EndOfChannel:
            return got


# -- processes ------------------------------------------------------------------------------------
def test_a_receiver_started_before_the_sender_waits_then_gets_every_frame_in_order(name, processes):
    pipe = f"/tmp/{name}"
    receiver = start(processes, "receiver.py", pipe, "/tmp/final", "0")  # waits in sail.IPC() for the sender
    sender = start(processes, "sender.py", pipe, "/tmp/final", str(FRAMES))
    out, _ = receiver.communicate(timeout=60)
    sender.communicate(timeout=60)
    assert receiver.returncode == 0 and sender.returncode == 0
    frames, ends = frames_of(out)
    assert ends == ["closed"] and out.startswith("ready")
    assert [f for c, f, _ in frames if c == 0] == list(range(FRAMES))
    assert [f for c, f, _ in frames if c == 1] == list(range(FRAMES))
    assert all(ok for *_, ok in frames)
    assert not left_behind(pipe)


def test_several_receivers_on_one_pipe_share_the_frames_exactly_once(name, processes):
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
        assert ends == ["closed"] and all(ok for *_, ok in frames)
        everything += [(c, f) for c, f, _ in frames]
    assert sorted(everything) == sorted((c, f) for c in (0, 1) for f in range(FRAMES))
    assert not left_behind(pipe)


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
    assert not left_behind(pipe)


@pytest.mark.parametrize("usec2c", [True, False])
@pytest.mark.parametrize("kind", ["image", "tensor"])
def test_a_receiver_killed_mid_inference_has_its_frame_redelivered_unchanged_by_its_drawing(
        name, processes, usec2c, kind):
    """The killed receiver drew on its image; the next receiver gets that frame with the pixels
    sent (usec2c=True copies too, yet the frame stays held until the next receive* or close)."""
    pipe = f"/tmp/{name}"
    sender = sail.IPC(True, pipe, "/tmp/final", False, 4)
    sent = {f: np.full((48, 64, 3), 40 + f, np.uint8) for f in range(3)}
    for f, pixels in sent.items():
        if kind == "image":
            sender.sendBMImage(sail.BMImage(HANDLE, pixels, 48, 64, F.FORMAT_BGR_PACKED), 5, f)
        else:
            sender.sendTensor(sail.Tensor(HANDLE, pixels), 5, f)
    victim = start(processes, "hold_receiver.py", pipe, "/tmp/final", str(int(usec2c)), kind)
    got = victim.stdout.readline().split()
    assert got == ["got", "5", "0"], got
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    receiver = sail.IPC(False, pipe, "/tmp/final", usec2c)
    sender.close()
    call = "receiveBMImage" if kind == "image" else "receiveTensor"
    frames = receive_all(receiver, call)
    assert [(c, f) for _, c, f in frames] == [(5, 0), (5, 1), (5, 2)], "frame 0 came back"
    for data, _, f in frames:
        pixels = np.asarray(data) if kind == "image" else data.asnumpy()
        assert np.array_equal(pixels, sent[f]), f"frame {f} arrived as sent"
    del frames, data  # zero-copy tensors hold their slots (and the channel) until dropped
    receiver.close()
    assert not left_behind(pipe)


# -- sail's signature -----------------------------------------------------------------------------
def test_ipc_takes_sails_keyword_names_and_defaults(name):
    params = list(inspect.signature(sail.IPC).parameters.values())[:5]
    assert [p.name for p in params] == ["isSender_", "pipe_path", "final_path", "usec2c", "queue_len"]
    assert [params[3].default, params[4].default] == [False, 20]
    pipe = f"/tmp/{name}"
    with sail.IPC(isSender_=True, pipe_path=pipe, final_path="/tmp/final", usec2c=False, queue_len=5) as tx:
        assert framebus.inspect_channel(tx.channel)["slot_count"] == 5, "the sender's queue_len: its slots"
        with sail.IPC(isSender_=False, pipe_path=pipe, final_path="/tmp/final", usec2c=True, queue_len=3) as rx:
            assert (rx.isSender_, rx.usec2c, rx.queue_len) == (False, True, 3)
        with sail.IPC(is_sender=False, pipe_path=pipe, final_path="/tmp/final") as rx:
            assert rx.is_sender is False and rx.queue_len == 20
    assert not left_behind(pipe)


@pytest.mark.parametrize("args, kwargs, named", [
    ((), dict(pipe_path="/tmp/p", final_path="/tmp/f"), "isSender_"),
    ((True, "/tmp/p", "/tmp/f"), dict(is_sender=True), "isSender_"),
    (("False", "/tmp/p", "/tmp/f"), {}, "isSender_"),
    ((True, "/tmp/p", "/tmp/f", "yes"), {}, "usec2c"),
    ((True, "/tmp/p", "/tmp/f", False, 0), {}, "queue_len"),
    ((True, "/tmp/p", "/tmp/f", False, "20"), {}, "queue_len"),
    ((True, "/tmp/p", "/tmp/f", False, True), {}, "queue_len"),
    ((True, "/tmp/p", 3), {}, "final_path"),
    ((True, "", "/tmp/f"), {}, "pipe_path"),
])
def test_bad_constructor_arguments_are_refused_by_name(args, kwargs, named):
    with pytest.raises(framebus.InvalidArgument, match=named):
        sail.IPC(*args, **kwargs)


def test_every_pipe_path_maps_to_a_name_the_channel_layer_accepts():
    # The mapping is the only text the IPC parses; the channel layer's own check judges it, so the
    # two cannot drift apart. Seeded, so a failure replays.
    rng = random.Random(20261130)
    alphabet = "abcXYZ019._-/ \\:*?\"<>|\n\t\x00éß漢😀"
    paths = ["/", "//", ".", "..", "/..", "../../etc/passwd", "/tmp/pipe", "x" * 500, "/" + "é" * 300]
    paths += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 260))) for _ in range(2000)]
    for path in paths:
        channel = sail.channel_name(path)
        assert channel.startswith("sail.") and len(channel) <= 200, (path, channel)
        try:
            framebus.inspect_channel(channel)
        except framebus.NotFound:
            pass  # a valid name that nobody created: what every mapped name must be here
        except framebus.InvalidName as error:
            raise AssertionError(f"{path!r} maps to {channel!r}, which the channel layer refuses: {error}")


def test_an_empty_or_non_text_pipe_path_is_refused_by_name():
    for bad in ("", None, 3, b"/tmp/pipe"):
        with pytest.raises(framebus.InvalidArgument, match="pipe_path"):
            sail.channel_name(bad)


# -- what travels -----------------------------------------------------------------------------------
IMAGES = [  # format, dtype, storage shape for 48x64
    (F.FORMAT_BGR_PACKED, np.uint8, (48, 64, 3)),
    (F.FORMAT_RGB_PACKED, np.uint8, (48, 64, 3)),
    (F.FORMAT_GRAY, np.uint8, (48, 64)),
    (F.FORMAT_NV12, np.uint8, (72, 64)),
    (F.FORMAT_YUV420P, np.uint8, (72, 64)),
    (F.FORMAT_RGB_PLANAR, np.float32, (3, 48, 64)),
    (F.FORMAT_BGR_PLANAR, np.int8, (3, 48, 64)),
]


def test_a_bmimage_round_trips_with_its_pixels_format_dtype_and_size(name):
    pipe = f"/tmp/{name}"
    rng = np.random.default_rng(7)
    tx = sail.IPC(True, pipe, "/tmp/final", False, len(IMAGES) + 2)
    rx = sail.IPC(False, pipe, "/tmp/final")
    sent = []
    for i, (fmt, dtype, shape) in enumerate(IMAGES):
        pixels = (rng.integers(-100, 100, shape) if dtype != np.uint8 else rng.integers(0, 256, shape)).astype(dtype)
        img = sail.BMImage._from_array(pixels, fmt)
        assert (img.height(), img.width()) == (48, 64)
        tx.sendBMImage(img, 3, i)
        sent.append(img)
    tx.sendBMImage(np.full((48, 64, 3), 7, np.uint8), 4, 0)  # plain arrays: BGR and gray
    tx.sendBMImage(np.full((48, 64), 9, np.uint8), 4, 1)
    tx.close()
    got = receive_all(rx, "receiveBMImage")
    assert [(c, f) for _, c, f in got] == [(3, i) for i in range(len(IMAGES))] + [(4, 0), (4, 1)]
    for (img, _, _), original in zip(got, sent):
        assert isinstance(img, sail.BMImage)
        assert (img.width(), img.height(), img.format(), img.dtype()) == \
               (64, 48, original.format(), original.dtype())
        assert np.array_equal(np.asarray(img), np.asarray(original))
        if original.dtype() == sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE:
            assert np.array_equal(img.asmat(), original.asmat())
    bgr, gray = got[-2][0], got[-1][0]
    assert bgr.format() == F.FORMAT_BGR_PACKED and (bgr.asmat() == 7).all()
    assert gray.format() == F.FORMAT_GRAY and (np.asarray(gray) == 9).all()
    rx.close()
    assert not left_behind(pipe)


def test_an_image_a_framebus_producer_sent_arrives_as_a_bmimage(name):
    pipe = f"/tmp/{name}"
    with framebus.Producer(sail.channel_name(pipe), slots=2, slot_size="64KiB", groups=["sail"]) as tx, \
            sail.IPC(False, pipe, "/tmp/final") as rx:
        tx.send(np.full((48, 64, 3), 5, np.uint8), stream=2, frame=9, format="rgb24")
        tx.send(np.full((72, 64), 5, np.uint8), stream=2, frame=10, format="nv12")
        img, channel_id, frame_id = rx.receiveBMImage()
        assert (channel_id, frame_id, img.format(), img.width(), img.height()) == (2, 9, F.FORMAT_RGB_PACKED, 64, 48)
        img, channel_id, frame_id = rx.receiveBMImage()
        assert (channel_id, frame_id, img.format(), img.width(), img.height()) == (2, 10, F.FORMAT_NV12, 64, 48)
        assert (img.asmat().shape, np.asarray(img).shape) == ((48, 64, 3), (72, 64))


@pytest.mark.parametrize("usec2c", [False, True])
def test_a_tensor_round_trips_zero_copy_unless_usec2c(name, usec2c):
    pipe = f"/tmp/{name}"
    tx = sail.IPC(True, pipe, "/tmp/final", False, 8)
    rx = sail.IPC(False, pipe, "/tmp/final", usec2c)
    arrays = [np.arange(24, dtype=dt).reshape(2, 3, 4) for dt in (np.float32, np.int8, np.uint8, np.int32)]
    for i, array in enumerate(arrays):
        tx.sendTensor(sail.Tensor(HANDLE, array), 1, i)
    tx.sendTensor(arrays[0] * 2, 1, len(arrays))  # a plain array
    tx.close()
    got = receive_all(rx)
    assert [f for _, _, f in got] == list(range(len(arrays) + 1))
    for (tensor, _, _), array in zip(got, arrays + [arrays[0] * 2]):
        assert isinstance(tensor, sail.Tensor) and tensor.shape() == [2, 3, 4]
        assert np.array_equal(tensor.asnumpy(), array) and tensor.asnumpy().dtype == array.dtype
        private = tensor._array.flags.writeable and tensor._array.flags.owndata
        assert private == usec2c, "usec2c=False hands out a read-only view of shared memory"
    del got, tensor
    rx.close()
    assert not left_behind(pipe)


def test_a_receivers_queue_len_bounds_the_frames_it_holds_in_shared_memory(name):
    """Zero-copy tensors a receiver keeps hold their slots; past queue_len of them it gets
    copies, so it never holds the sender's every slot (which would stall both)."""
    pipe = f"/tmp/{name}"
    tx = sail.IPC(True, pipe, "/tmp/final", False, 10)
    rx = sail.IPC(False, pipe, "/tmp/final", False, 3)
    for f in range(10):
        tx.sendTensor(np.full(4, f, np.float32), 0, f)
    kept = [rx.receiveTensor()[0] for _ in range(6)]
    views = [not t._array.flags.owndata for t in kept]
    assert views == [True, True, True, False, False, False]
    assert held_by(pipe, os.getpid()) == 4, "3 zero-copy frames and the last one returned"
    del kept
    gc.collect()
    again = [rx.receiveTensor()[0] for _ in range(3)]
    assert [not t._array.flags.owndata for t in again] == [True] * 3, "dropped frames free the bound"
    assert [int(t.asnumpy()[0]) for t in again] == [6, 7, 8]
    del again
    tx.close()
    rx.close()
    assert not left_behind(pipe)


def test_wrong_images_and_tensors_are_refused_naming_the_argument_and_the_fix(name):
    pipe = f"/tmp/{name}"
    tx = sail.IPC(True, pipe, "/tmp/final", False, 4)
    rx = sail.IPC(False, pipe, "/tmp/final")
    bad = [
        (lambda: tx.sendBMImage(np.zeros((4, 4, 3), np.float32), 0, 0), "uint8.*sendTensor"),
        (lambda: tx.sendBMImage(np.zeros((4, 4, 4), np.uint8), 0, 0), r"\(H, W, 3\)"),
        (lambda: tx.sendBMImage([[1, 2]], 0, 0), "sail.BMImage"),
        (lambda: tx.sendBMImage(sail.Tensor(HANDLE, np.zeros(3, np.float32)), 0, 0), "sendTensor"),
        (lambda: tx.sendBMImage(sail.BMImage(), 0, 0), "empty"),
        (lambda: tx.sendTensor(sail.BMImage(HANDLE, 4, 4, F.FORMAT_BGR_PACKED,
                                            sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE), 0, 0), "sendBMImage"),
        (lambda: tx.sendTensor(np.zeros(3, np.float64), 0, 0), "float32"),
        (lambda: tx.sendTensor("data", 0, 0), "sail.Tensor"),
        (lambda: tx.sendTensor(np.zeros(3, np.float32), -1, 0), "channel_id"),
        (lambda: tx.sendTensor(np.zeros(3, np.float32), "0", 0), "channel_id"),
        (lambda: tx.sendTensor(np.zeros(3, np.float32), 0, 1.5), "frame_id"),
        (lambda: tx.sendTensor(np.zeros(3, np.float32), 2**32, 0), "channel_id"),
        (lambda: rx.sendTensor(np.zeros(3, np.float32), 0, 0), "isSender_=True"),
        (lambda: tx.receiveBMImage(), "isSender_=False"),
    ]
    for call, match in bad:
        with pytest.raises(framebus.InvalidArgument, match=match):
            call()
    tx.sendTensor(np.zeros((4, 4, 3), np.uint8), 0, 0)
    with pytest.raises(framebus.InvalidArgument, match="receiveTensor"):
        rx.receiveBMImage()
    tx.close()
    rx.close()
    assert not left_behind(pipe)


# -- lifetime ---------------------------------------------------------------------------------------
def test_an_ipc_pickles_to_its_arguments(name):
    pipe = f"/tmp/{name}"
    with sail.IPC(True, pipe, "/tmp/final", False, 6) as tx:
        with pickle.loads(pickle.dumps(tx)) as copy:
            assert (copy.isSender_, copy.pipe_path, copy.final_path, copy.usec2c, copy.queue_len) == \
                   (True, pipe, "/tmp/final", False, 6)
            rx = sail.IPC(False, pipe, "/tmp/final", True, 2)
            again = pickle.loads(pickle.dumps(rx))
            assert (again.isSender_, again.usec2c, again.queue_len) == (False, True, 2)
            copy.sendTensor(np.ones(2, np.float32), 0, 1)
            assert again.receiveTensor()[2] == 1, "the copy is a receiver of the same pipe"
            again.close()
            rx.close()


def test_receivers_in_several_threads_share_one_ipc_exactly_once(name):
    pipe = f"/tmp/{name}"
    tx = sail.IPC(True, pipe, "/tmp/final", False, 8)
    rx = sail.IPC(False, pipe, "/tmp/final", True)
    got, errors, lock = [], [], threading.Lock()

    def work():
        try:
            items = receive_all(rx)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
            return
        with lock:
            got.extend(frame_id for _, _, frame_id in items)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for f in range(200):
        tx.sendTensor(np.full(16, f, np.int32), 0, f)
    tx.close()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(got) == list(range(200))
    rx.close()
    assert not left_behind(pipe)


def test_closing_a_receiver_wakes_a_thread_waiting_in_receive(name):
    pipe = f"/tmp/{name}"
    tx = sail.IPC(True, pipe, "/tmp/final", False, 2)
    rx = sail.IPC(False, pipe, "/tmp/final")
    outcome = []
    waiting = threading.Thread(target=lambda: outcome.append(pytest.raises(framebus.Closed, rx.receiveBMImage)))
    waiting.start()
    waiting.join(0.2)  # give it time to enter the wait; the test holds either way
    rx.close()
    waiting.join(30)
    assert not waiting.is_alive() and outcome
    with pytest.raises(framebus.Closed):
        rx.receiveTensor()
    tx.close()
    assert not left_behind(pipe)
