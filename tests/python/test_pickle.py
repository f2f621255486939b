"""Handles pickle to their name and options and reopen on the other side."""

from __future__ import annotations

import pickle

import numpy as np

import framebus
from framebus.compat import sail


def test_producer_and_consumer_pickle_round_trip(name):
    tx = framebus.Producer(name, slots=3, slot_size="64KiB", policy="drop_oldest", groups=["a"], linger=0.5)
    rx = framebus.Consumer(name, group="a", wait=1.0)
    tx2 = pickle.loads(pickle.dumps(tx))
    rx2 = pickle.loads(pickle.dumps(rx))
    assert (tx2.name, tx2.slot_count, tx2.slot_size) == (name, 3, 64 * 1024)
    assert rx2.group == "a"
    tx2.send(np.array([0, 5]), frame=5)
    msg = rx.receive(5.0) or rx2.receive(5.0)
    assert msg.frame == 5
    assert len(framebus.inspect_channel(name)["participants"]) == 4
    msg.release()
    for handle in (tx2, tx, rx2, rx):
        handle.close()


def test_closed_handles_refuse_use(name):
    tx = framebus.Producer(name, slot_size=1024)
    tx.close()
    try:
        tx.send(b"x")
    except framebus.Closed as error:
        assert name in str(error)
    else:
        raise AssertionError("a closed producer sent")


def test_sail_ipc_pickles(name):
    tx = sail.IPC(True, f"/tmp/{name}", "/tmp/final", queue_len=4)
    rx = sail.IPC(False, f"/tmp/{name}", "/tmp/final", usec2c=True, queue_len=4, wait=0)
    rx2 = pickle.loads(pickle.dumps(rx))
    assert rx2.usec2c and rx2.channel == rx.channel == sail.channel_name(f"/tmp/{name}")
    for handle in (rx2, rx, tx):
        handle.close()
