"""Writable frames for code that draws on them: Message.copy(), Consumer(writable=True) and the
sail layer's receiveBMImage. OpenCV ignores NumPy's read-only flag, so drawing on a received
frame's read-only view killed the worker with SIGSEGV; these give the drawing code its own pixels
and leave every other group's frame as it was sent."""

from __future__ import annotations

import cv2
import numpy as np

import framebus
from framebus.compat import sail


def a_frame() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 200, (48, 64, 3), dtype=np.uint8)


def draw(image: np.ndarray) -> None:
    cv2.rectangle(image, (4, 4), (40, 30), (255, 255, 255), -1)


def test_a_copy_is_private_writable_and_shaped_as_the_array_and_drawing_on_it_leaves_the_other_group_alone(name):
    frame = a_frame()
    with framebus.Producer(name, slots=4, slot_size="1MiB", groups=["draw", "keep"]) as tx, \
            framebus.Consumer(name, group="draw") as drawer, framebus.Consumer(name, group="keep") as keeper:
        tx.send(frame, format="bgr24", frame=1)
        msg = drawer.receive(5.0)
        assert not msg.array.flags.writeable, "the view of shared memory stays read-only"
        copy = msg.copy()
        assert copy.flags.writeable and copy.flags.owndata and copy.flags.c_contiguous
        assert copy.shape == msg.array.shape and copy.dtype == msg.array.dtype
        draw(copy)
        assert copy[10, 10].tolist() == [255, 255, 255]
        np.testing.assert_array_equal(msg.array, frame)
        other = keeper.receive(5.0)
        np.testing.assert_array_equal(other.array, frame)
        tx.close()


def test_a_writable_consumer_gets_private_arrays_and_gives_each_slot_back_at_once(name):
    frame = a_frame()
    with framebus.Producer(name, slots=2, slot_size="1MiB", groups=["draw", "keep"]) as tx, \
            framebus.Consumer(name, group="draw", writable=True) as drawer, \
            framebus.Consumer(name, group="keep") as keeper:
        tx.send(frame, format="bgr24", stream=2, frame=1, user_meta=b"cam")
        msg = drawer.receive(5.0)
        assert msg.private and drawer.writable
        assert (msg.stream, msg.frame, msg.user_meta, msg.kind, msg.format) == (2, 1, b"cam", "image", "bgr24")
        assert msg.array.flags.writeable and msg.array.shape == frame.shape
        assert msg.array is msg.array, "made once"
        draw(msg.array)
        assert msg.array[10, 10].tolist() == [255, 255, 255]
        other = keeper.receive(5.0)
        np.testing.assert_array_equal(other.array, frame)
        other.release()
        # The drawer's slot went back when it received: both slots are free for two more frames.
        held = {g["name"]: g["held"] for g in framebus.inspect_channel(name)["groups"]}
        assert held == {"draw": 0, "keep": 0}
        tx.close()
        assert [m.frame for m in drawer] == []


def test_iterating_a_writable_consumer_yields_private_messages(name):
    with framebus.Producer(name, slots=4, slot_size=4096) as tx, framebus.Consumer(name, writable=True) as rx:
        for f in range(3):
            tx.send(np.full(8, f, np.uint8), frame=f)
        got = []
        for msg in rx:
            msg.array[0] = 99
            got.append((msg.frame, msg.array.tolist()))
            if len(got) == 3:
                break
        assert got == [(f, [99] + [f] * 7) for f in range(3)]
        tx.close()


def test_sail_receive_bm_image_hands_out_an_image_the_caller_owns(name):
    pipe = f"/tmp/{name}"
    tx = sail.IPC(True, pipe, "/tmp/final", queue_len=4)
    rx = sail.IPC(False, pipe, "/tmp/final", wait=0)
    frame = a_frame()
    tx.sendBMImage(frame, 0, 5)
    image, channel_id, frame_id = rx.receiveBMImage()
    assert (channel_id, frame_id) == (0, 5)
    pixels = np.asarray(image)  # the BMImage's own pixels, no copy
    assert pixels.flags.writeable
    draw(pixels)
    assert image.asmat()[10, 10].tolist() == [255, 255, 255], "drawn on the image itself"
    rx.close()
    tx.close()  # the channel is unmapped and removed: the image lives on, it was never a view of it
    assert pixels[10, 10].tolist() == [255, 255, 255] and pixels[40, 60].tolist() == frame[40, 60].tolist()
