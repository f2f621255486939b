"""The Python API: round trips, loans, errors, end of channel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import framebus


def test_send_and_receive_carry_array_and_metadata(name):
    with framebus.Producer(name, slots=4, slot_size="1MiB") as tx, framebus.Consumer(name) as rx:
        frame = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        tx.send(frame, stream=3, frame=17, pts=-5, user_meta=b"camera=front")
        msg = rx.receive(timeout=5.0)
        assert (msg.stream, msg.frame, msg.pts, msg.user_meta) == (3, 17, -5, b"camera=front")
        assert not msg.redelivered and not msg.end_of_stream
        assert msg.kind == "tensor"
        assert msg.array.dtype == np.float32 and msg.array.shape == (2, 3, 4)
        np.testing.assert_array_equal(msg.array, frame)
        assert msg.publish_time_ns <= time.monotonic_ns()
        tx.close()


def test_images_travel_with_their_format(name):
    with framebus.Producer(name, slots=4, slot_size="1MiB") as tx, framebus.Consumer(name) as rx:
        img = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        tx.send(img, format="bgr24", frame=1)
        gray = img[:, :, 0].copy()
        tx.send(gray, format="gray8", frame=2)
        a, b = rx.receive(5.0), rx.receive(5.0)
        assert a.kind == "image" and a.format == "bgr24" and a.array.shape == (48, 64, 3)
        np.testing.assert_array_equal(a.array, img)
        assert b.format == "gray8" and b.array.shape == (48, 64)
        np.testing.assert_array_equal(b.array, gray)
        tx.close()


def test_a_loan_is_a_writable_array_in_shared_memory_published_without_copy(name):
    with framebus.Producer(name, slots=4, slot_size="8MiB") as tx, framebus.Consumer(name) as rx:
        with tx.loan((1080, 1920, 3), "uint8", format="bgr24") as buf:
            assert isinstance(buf, framebus.LoanArray) and buf.flags.writeable
            buf[:] = 7
            buf[0, 0] = (1, 2, 3)
            buf.publish(stream=0, frame=9)
            assert not buf.flags.writeable, "a published loan can no longer be written"
        msg = rx.receive(5.0)
        assert msg.frame == 9 and msg.array.shape == (1080, 1920, 3)
        assert tuple(msg.array[0, 0]) == (1, 2, 3) and msg.array[500, 500, 1] == 7
        tx.close()


def test_an_unpublished_loan_gives_its_slot_back(name):
    with framebus.Producer(name, slots=1, slot_size=4096, block_timeout=0.2) as tx:
        with tx.loan(100) as buf:
            buf[:] = 1
        with tx.loan(100) as again:  # the only slot is free again
            assert again.nbytes == 100
        tx.close()


def test_received_arrays_are_read_only(name):
    with framebus.Producer(name, slot_size=4096) as tx, framebus.Consumer(name) as rx:
        tx.send(np.zeros(16, np.uint8))
        msg = rx.receive(5.0)
        assert not msg.array.flags.writeable
        with pytest.raises(ValueError):
            msg.array[0] = 1
        tx.close()


def test_receive_returns_none_on_timeout_after_waiting(name):
    with framebus.Producer(name, slot_size=4096) as tx, framebus.Consumer(name) as rx:
        t0 = time.monotonic()
        assert rx.receive(timeout=0.15) is None
        assert time.monotonic() - t0 >= 0.15
        tx.close()


def test_iteration_ends_at_end_of_channel_and_receive_raises_it(name):
    tx = framebus.Producer(name, slot_size=4096, groups=["default"])
    rx = framebus.Consumer(name)
    for i in range(3):
        tx.send(np.array([0, i]), frame=i)
    tx.end_stream(0)
    closer = threading.Thread(target=tx.close)
    closer.start()
    got = [(m.frame, m.end_of_stream) for m in rx]
    closer.join(10)
    assert got == [(0, False), (1, False), (2, False), (0, True)]
    assert rx.end_reason == "closed"
    with pytest.raises(framebus.EndOfChannel) as end:
        rx.receive(1.0)
    assert not isinstance(end.value, framebus.ProducerDied)
    assert end.value.reason == "closed"
    rx.close()


def test_the_gil_is_released_while_receiving(name):
    with framebus.Producer(name, slot_size=4096) as tx, framebus.Consumer(name) as rx:
        got = []
        waiter = threading.Thread(target=lambda: got.append(rx.receive(10.0)))
        waiter.start()
        # This thread keeps running Python while the other is blocked in receive.
        spins = sum(1 for _ in range(200_000))
        tx.send(np.array([1, 2]))
        waiter.join(10)
        assert spins == 200_000 and got and got[0].frame == 0
        tx.close()


@pytest.mark.parametrize("size, expected", [(1024, 1024), ("8MiB", 8 << 20), ("512 KiB", 512 << 10), ("2MB", 2_000_000)])
def test_sizes_are_bytes_or_text_with_units(size, expected):
    assert framebus.parse_size(size) == expected


@pytest.mark.parametrize("bad", ["8 parsecs", "", "-3", 0, -1, "MiB", 1.5])
def test_bad_sizes_are_clear_errors(bad):
    with pytest.raises(framebus.InvalidArgument):
        framebus.parse_size(bad)


def test_bad_names_raise_invalid_name_which_is_a_value_error():
    with pytest.raises(framebus.InvalidName, match="'/'"):
        framebus.Producer("../etc/x")
    with pytest.raises(ValueError):
        framebus.Consumer("a b")


def test_a_missing_channel_raises_not_found_which_is_a_file_not_found_error(name):
    with pytest.raises(FileNotFoundError, match=name):
        framebus.Consumer(name)


def test_bad_dtype_shape_policy_and_size_are_clear_errors(name):
    with framebus.Producer(name, slots=2, slot_size=1024) as tx:
        with pytest.raises(framebus.InvalidArgument, match="complex64"):
            tx.send(np.zeros(4, np.complex64))
        with pytest.raises(framebus.InvalidArgument, match="dtype"):
            tx.loan((2, 2), "not-a-dtype")
        with pytest.raises(framebus.InvalidArgument, match="negative"):
            tx.loan((2, -2))
        with pytest.raises(framebus.PayloadTooLarge, match="1025"):
            tx.send(np.zeros(1025, np.uint8))
        with pytest.raises(framebus.PayloadTooLarge):
            tx.loan((2, 1024), "uint8")
        with pytest.raises(framebus.InvalidArgument, match="pixel format"):
            tx.send(np.zeros((2, 2, 3), np.uint8), format="bgr32")
        with pytest.raises(framebus.InvalidArgument, match="user metadata"):
            tx.send(np.zeros(4, np.uint8), user_meta=b"x" * 600)
        tx.close()
    with pytest.raises(framebus.InvalidArgument, match="policy"):
        framebus.Producer(name + "-p", policy="sometimes")


def test_a_full_channel_under_block_raises_timeout_which_is_a_timeout_error(name):
    with framebus.Producer(name, slots=2, slot_size=64, groups=["g"], block_timeout=0.1, linger=0) as tx:
        tx.send(b"a")
        tx.send(b"b")
        with pytest.raises(TimeoutError):
            tx.send(b"c")


def test_channels_lists_groups_and_counters(name):
    with framebus.Producer(name, slots=4, slot_size=4096, groups={"a": "drop_oldest"}, linger=0) as tx:
        for i in range(6):
            tx.send(np.array([0, i]))
        info = framebus.inspect_channel(name)
        assert info["slot_count"] == 4 and info["published"] == 6
        assert info["groups"][0]["name"] == "a" and info["groups"][0]["dropped"] == 2
        assert info["groups"][0]["drops_by_stream"] == [{"stream": 0, "dropped": 2}]
        assert info["mode"] == "0600"
        assert any(c["name"] == name for c in framebus.list_channels())


def test_channels_shows_what_the_framebus_tool_shows(name):
    tool = os.path.join(os.environ["FRAMEBUS_BUILD_DIR"], "tools", "framebus") if "FRAMEBUS_BUILD_DIR" in os.environ \
        else shutil.which("framebus")
    if tool is None:
        pytest.skip("the framebus tool is not built here (scripts/test sets FRAMEBUS_BUILD_DIR)")
    with framebus.Producer(name, slots=4, slot_size=4096, groups={"a": "drop_newest"}, linger=0) as tx, \
            framebus.Consumer(name, group="a") as rx:
        for i in range(6):
            tx.send(np.array([0, i]))
        held = rx.receive(1.0)
        listed = json.loads(subprocess.run([tool, "ls", name, "--json"], check=True, capture_output=True,
                                           text=True).stdout)
        assert listed == [framebus.inspect_channel(name)]
        held.release()


def test_a_released_message_refuses_access(name):
    with framebus.Producer(name, slot_size=4096) as tx, framebus.Consumer(name) as rx:
        tx.send(np.zeros(4, np.uint8))
        with rx.receive(5.0) as msg:
            assert msg.nbytes == 4
        assert msg.released
        with pytest.raises(framebus.Closed):
            _ = msg.array
        tx.close()
