"""A description that lies about its size is an error, never an array larger than the payload.

A hostile producer can rewrite a message's metadata in shared memory at any time: before it is
received (receive() refuses it, the next message still comes) or after (``.array`` refuses it).
"""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

import framebus

PAGE = 4096
FRAME_MARK = 0x5EED_F00D_1234  # the frame number that identifies our message's metadata
# SlotMeta: payload_size, frame, pts, publish_ns (8 bytes each), stream, flags, kind, user_size
# (4 each), then ImageDesc: width, height, format, plane_count, plane_offset[4] (8 each), ...
KIND_AT = 40
PLANE_OFFSET0_AT = 64


def find_meta(name: str, frame: int) -> int:
    """File offset of the SlotMeta of the message with frame number `frame`."""
    fd = os.open(f"/dev/shm/framebus.{name}", os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        for at in range(0, size, PAGE):
            head = os.pread(fd, 16, at)
            if len(head) == 16 and struct.unpack("<QQ", head)[1] == frame:
                return at
    finally:
        os.close(fd)
    raise AssertionError("the message's metadata was not found")


def rewrite_plane_offset(name: str, frame: int, offset: int) -> None:
    fd = os.open(f"/dev/shm/framebus.{name}", os.O_RDWR)
    try:
        at = find_meta(name, frame)
        assert struct.unpack("<I", os.pread(fd, 4, at + KIND_AT))[0] == 1, "an image message"
        os.pwrite(fd, struct.pack("<Q", offset), at + PLANE_OFFSET0_AT)
    finally:
        os.close(fd)


# A 3 GiB picture (32768 x 32768 BGR) whose plane offset makes offset + size wrap around to 16,
# the size of the payload (a 4 x 4 gray picture).
HUGE_ROWS = 32768 * 32768 * 3
WRAPPING_OFFSET = (2**64 - HUGE_ROWS + 16) % 2**64


def send_small_image(tx: framebus.Producer, frame: int) -> None:
    tx.send(np.zeros((4, 4), np.uint8), frame=frame, format="gray8")


def test_an_array_is_refused_when_the_description_was_rewritten_to_wrap_around(name):
    with framebus.Producer(name, slots=2, slot_size=PAGE) as tx, framebus.Consumer(name) as rx:
        send_small_image(tx, FRAME_MARK)
        msg = rx.receive(5.0)
        assert msg is not None and msg.kind == "image"
        # After receive() checked it: the producer rewrites the description, claiming 3 GiB.
        fd = os.open(f"/dev/shm/framebus.{name}", os.O_RDWR)
        try:
            at = find_meta(name, FRAME_MARK)
            os.pwrite(fd, struct.pack("<II", 32768, 32768), at + 48)  # width, height
            os.pwrite(fd, struct.pack("<I", 32768 * 3), at + 96)  # stride[0]
            os.pwrite(fd, struct.pack("<I", 1), at + 56)  # format: bgr24
            os.pwrite(fd, struct.pack("<Q", WRAPPING_OFFSET), at + PLANE_OFFSET0_AT)
        finally:
            os.close(fd)
        with pytest.raises(framebus.Error, match=r"plane_offset\[0\]"):
            msg.array  # noqa: B018 - the access is the test
        msg.release()


def test_a_message_rewritten_before_receive_is_an_error_and_the_next_one_comes(name):
    with framebus.Producer(name, slots=2, slot_size=PAGE) as tx, framebus.Consumer(name) as rx:
        send_small_image(tx, FRAME_MARK)
        rewrite_plane_offset(name, FRAME_MARK, 2**64 - 8)
        with pytest.raises(framebus.Corrupt, match=r"plane_offset\[0\]"):
            rx.receive(5.0)
        send_small_image(tx, 2)
        msg = rx.receive(5.0)
        assert msg is not None and msg.frame == 2
        assert msg.array.shape == (4, 4)


def test_publish_refuses_a_tensor_shape_whose_product_wraps_around(name):
    with framebus.Producer(name, slots=2, slot_size=PAGE) as tx:
        with pytest.raises(framebus.InvalidArgument, match=r"shape\["):
            tx.send(np.zeros(64, np.uint8), dtype="uint8", shape=(2**32, 2**32, 1))
