"""The four topologies of the sail test log, with real processes, asserting what sail got wrong."""

from __future__ import annotations

import collections
import multiprocessing as mp
import queue
import threading

import numpy as np
import pytest

import framebus
import workers

STREAMS, FRAMES = 4, 150


def collect(results, count, timeout=60):
    return [results.get(timeout=timeout) for _ in range(count)]


def assert_exactly_once_in_order(parts, streams=STREAMS, frames=FRAMES):
    seen = collections.Counter()
    for got in parts:
        last = {}
        for stream, frame_id, redelivered in got:
            assert not redelivered
            assert last.get(stream, -1) < frame_id, f"stream {stream} out of order"
            last[stream] = frame_id
            seen[(stream, frame_id)] += 1
    assert len(seen) == streams * frames and set(seen.values()) == {1}


def test_one_channel_read_by_three_consumer_processes_delivers_every_frame_once(name):
    """sail: several workers on one pipe crashed with std::system_error."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    ready = [ctx.Event() for _ in range(3)]
    consumers = [ctx.Process(target=workers.open_and_consume, args=(name, "infer", results, r)) for r in ready]
    for p in consumers:
        p.start()
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=["infer"])
    for r in ready:  # all three have joined before the frames flow, so each can get a share
        assert r.wait(60)
    workers.produce(tx, STREAMS, FRAMES)
    parts = collect(results, 3)
    for p in consumers:
        p.join(30)
        assert p.exitcode == 0
    assert_exactly_once_in_order([got for _, got, _ in parts])
    assert all(reason == "closed" for _, _, reason in parts)


def test_one_channel_per_stream_with_consumers_started_before_the_producer(name):
    """sail: a reader started before the writer crashed instead of waiting."""
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    names = [f"{name}-s{s}" for s in range(STREAMS)]
    readers = [ctx.Process(target=workers.open_and_consume, args=(n, "default", results)) for n in names]
    for p in readers:
        p.start()  # the channels do not exist yet: the readers wait for them
    for n in names:
        tx = framebus.Producer(n, slots=4, slot_size=4096, groups=["default"])
        for f in range(FRAMES):
            tx.send(np.array([0, f]), stream=0, frame=f)
        tx.end_stream(0)
        tx.close()
    parts = collect(results, STREAMS)
    for p in readers:
        p.join(30)
        assert p.exitcode == 0
    for _, got, reason in parts:
        assert [f for _, f, _ in got] == list(range(FRAMES)) and reason == "closed"


def test_producer_in_a_child_process_and_consumers_in_threads_of_the_parent(name):
    ctx = mp.get_context("spawn")
    created, go = ctx.Event(), ctx.Event()
    producer = ctx.Process(target=workers.produce_after, args=(name, STREAMS, FRAMES, ["infer"], created, go))
    producer.start()
    assert created.wait(60)
    results = queue.Queue()
    ready = [threading.Event() for _ in range(3)]
    threads = [threading.Thread(target=workers.open_and_consume, args=(name, "infer", results, r)) for r in ready]
    for t in threads:
        t.start()
    for r in ready:
        assert r.wait(60)
    go.set()
    parts = collect(results, 3)
    for t in threads:
        t.join(30)
    producer.join(30)
    assert producer.exitcode == 0
    assert_exactly_once_in_order([got for _, got, _ in parts])


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_handles_are_passed_to_multiprocessing_processes(name, method):
    """sail: an IPC object could not be passed to multiprocessing.Process."""
    ctx = mp.get_context(method)
    results = ctx.Queue()
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=["infer"])
    rx = framebus.Consumer(name, group="infer")  # the parent's own handle, passed to children
    consumers = [ctx.Process(target=workers.consume_all, args=(rx, results)) for _ in range(2)]
    for p in consumers:
        p.start()
    producer = ctx.Process(target=workers.produce, args=(tx, STREAMS, FRAMES))
    producer.start()
    producer.join(60)
    assert producer.exitcode == 0
    tx.close()  # the parent's producer: the channel ends when every producer has closed
    parts = collect(results, 2)
    for p in consumers:
        p.join(30)
        assert p.exitcode == 0
    pids = {pid for pid, _, _ in parts}
    assert len(pids) == 2, "each child used its own registration"
    assert_exactly_once_in_order([got for _, got, _ in parts])
    # The parent's consumer handle still works in the parent and sees the end of the channel.
    with pytest.raises(framebus.EndOfChannel):
        rx.receive(5.0)
    rx.close()
