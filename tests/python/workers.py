"""Process bodies for the multi-process tests (importable, so every start method can run them)."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

import framebus


def consume_all(rx: framebus.Consumer, results) -> None:
    """Receives until end of channel and reports (pid, [(stream, frame_id, redelivered), ...])."""
    got = []
    for msg in rx:
        if not msg.end_of_stream:
            assert msg.array[0] == msg.stream and msg.array[1] == msg.frame, "payload matches metadata"
            got.append((msg.stream, msg.frame, msg.redelivered))
        msg.release()
    results.put((os.getpid(), got, rx.end_reason))
    rx.close()


def open_and_consume(name: str, group: str, results, ready=None) -> None:
    rx = framebus.Consumer(name, group=group, wait=30.0)
    if ready is not None:
        ready.set()
    consume_all(rx, results)


def produce(tx_or_name, streams: int, frames: int, groups=None) -> None:
    """Sends `frames` frames on each of `streams` streams, then end_stream each and close."""
    tx = tx_or_name if isinstance(tx_or_name, framebus.Producer) else framebus.Producer(
        tx_or_name, slots=8, slot_size=4096, groups=groups)
    for f in range(frames):
        for s in range(streams):
            tx.send(np.array([s, f], dtype=np.int64), stream=s, frame=f)
    for s in range(streams):
        tx.end_stream(s)
    tx.close()


def hold_and_wait(name: str, group: str, holding) -> None:
    """Takes two messages, reports their frame ids, and holds them until killed."""
    rx = framebus.Consumer(name, group=group, wait=30.0)
    a = rx.receive(10.0)
    b = rx.receive(10.0)
    holding.put((a.frame, b.frame))
    signal.pause()


def wait_for_interrupt(name: str, started) -> None:
    """Blocks in receive until Ctrl-C; exits 42 if KeyboardInterrupt arrived."""
    rx = framebus.Consumer(name, wait=10.0)
    try:
        started.set()
        rx.receive(None)
    except KeyboardInterrupt:
        sys.exit(42)
    sys.exit(1)


def produce_after(name: str, streams: int, frames: int, groups, created, go) -> None:
    """Creates the channel, says so, and produces once told to (all consumers have joined)."""
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=groups)
    created.set()
    if not go.wait(60):
        sys.exit(3)
    produce(tx, streams, frames)


def read_to_end_without_closing(rx: framebus.Consumer, ready, results) -> None:
    """Reads to the end of the channel and returns without closing `rx`, as a worker that
    trusts process exit to clean up does; says when it has joined (after its first message)."""
    count = 0
    for msg in rx:
        if count == 0:
            ready.set()
        count += 1
        msg.release()
    results.put((count, rx.end_reason))
