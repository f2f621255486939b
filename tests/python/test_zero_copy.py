"""Zero copy, proved: views point into the mapped segment, and 1080p frames cost no copies."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import framebus

FRAME = (1080, 1920, 3)


def mapping_of(address: int, path: str):
    """(start, end, perms) of the mapping of `path` containing `address`, from /proc/self/maps."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            if path not in line:
                continue
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if lo <= address < hi:
                return lo, hi, perms
    return None


def test_the_received_array_lies_inside_the_read_only_mapped_segment(name):
    with framebus.Producer(name, slots=4, slot_size="8MiB") as tx, framebus.Consumer(name) as rx:
        with tx.loan(FRAME) as buf:
            buf[:] = 3
            buf.publish()
        msg = rx.receive(5.0)
        address = msg.array.__array_interface__["data"][0]
        found = mapping_of(address, f"/dev/shm/framebus.{name}")
        assert found is not None, "the array points into the channel's shared memory"
        lo, hi, perms = found
        assert address + msg.array.nbytes <= hi
        assert perms == "r--s", "shared and read-only in the consumer"
        tx.close()


def test_a_hundred_1080p_frames_are_received_without_a_single_copy(name):
    with framebus.Producer(name, slots=4, slot_size="8MiB", groups=["g"]) as tx, \
            framebus.Consumer(name, group="g") as rx:
        tracemalloc.start()
        checksum = 0
        for i in range(100):
            with tx.loan(FRAME) as buf:
                buf[0, 0, 0] = i % 256
                buf.publish(frame=i)
            msg = rx.receive(5.0)
            view = msg.array
            checksum += int(view[0, 0, 0]) + int(view[::512, ::512].sum() > -1)
            del view
            msg.release()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert checksum == sum(i % 256 for i in range(100)) + 100
        # One 1080p copy alone would be 6.2 MB; NumPy reports its buffers to tracemalloc.
        assert peak < 1_000_000, f"peak Python allocation {peak} bytes: something copied a frame"
        tx.close()


def test_a_view_keeps_its_slot_after_the_message_is_dropped(name):
    with framebus.Producer(name, slots=2, slot_size=4096, groups=["g"], policy="drop_oldest", linger=0) as tx, \
            framebus.Consumer(name, group="g") as rx:
        tx.send(np.full(64, 11, np.uint8), frame=0)
        msg = rx.receive(5.0)
        view = msg.array
        del msg
        gc.collect()
        for i in range(1, 20):  # the channel recycles every other slot many times meanwhile
            tx.send(np.full(64, 99, np.uint8), frame=i)
        assert (view == 11).all(), "the view's slot was not reused while the view lives"
        del view
        gc.collect()
        info = framebus.inspect_channel(name)
        assert info["groups"][0]["held"] == 0
        tx.close()


def test_torch_and_numpy_import_through_dlpack_without_copying(name):
    torch = pytest.importorskip("torch")
    with framebus.Producer(name, slots=4, slot_size="8MiB") as tx, framebus.Consumer(name) as rx:
        frame = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
        tx.send(frame)
        msg = rx.receive(5.0)
        tensor = torch.from_dlpack(msg)
        assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (2, 3, 4)
        assert tensor.data_ptr() == msg.array.__array_interface__["data"][0], "same memory, no copy"
        assert torch.equal(tensor, torch.from_numpy(frame))
        as_numpy = np.from_dlpack(msg)
        assert as_numpy.__array_interface__["data"][0] == tensor.data_ptr()
        # The tensor holds the slot on its own.
        msg.release()
        del as_numpy
        gc.collect()
        for i in range(8):
            tx.send(np.zeros((2, 3, 4), np.float32), frame=i + 1)
            rx.receive(5.0).release()
        assert torch.equal(tensor, torch.from_numpy(frame))
        del tensor
        tx.close()
