"""Crashes and signals with real processes: kill -9, Ctrl-C, nothing lost or left behind."""

from __future__ import annotations

import multiprocessing as mp
import os
import pathlib
import signal

import numpy as np
import pytest

import framebus
import workers


def test_frames_held_by_a_killed_python_consumer_are_redelivered(name):
    ctx = mp.get_context("fork")
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=["infer"])
    for f in range(6):
        tx.send(np.array([0, f]), frame=f)
    holding = ctx.Queue()
    victim = ctx.Process(target=workers.hold_and_wait, args=(name, "infer", holding))
    victim.start()
    assert holding.get(timeout=30) == (0, 1)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(10)
    assert victim.exitcode == -signal.SIGKILL
    rx = framebus.Consumer(name, group="infer")
    got = [(m.frame, m.redelivered) for m in (rx.receive(5.0) for _ in range(6))]
    assert got == [(0, True), (1, True), (2, False), (3, False), (4, False), (5, False)]
    tx.close()
    rx.close()


def test_consumers_see_producer_died_when_the_producer_is_killed(name):
    ctx = mp.get_context("fork")
    started = ctx.Event()

    def run():
        tx = framebus.Producer(name, slot_size=4096, groups=["default"])
        tx.send(np.array([0, 0]))
        started.set()
        signal.pause()

    producer = ctx.Process(target=run)
    producer.start()
    assert started.wait(30)
    rx = framebus.Consumer(name)
    assert rx.receive(5.0).frame == 0
    os.kill(producer.pid, signal.SIGKILL)
    producer.join(10)
    with pytest.raises(framebus.ProducerDied) as died:
        rx.receive(5.0)
    assert died.value.reason == "producer_died" and rx.end_reason == "producer_died"
    rx.close()
    assert not pathlib.Path(f"/dev/shm/framebus.{name}").exists(), "the last one out removed the channel"


def test_ctrl_c_interrupts_a_blocking_receive(name):
    ctx = mp.get_context("fork")
    started = ctx.Event()
    tx = framebus.Producer(name, slot_size=4096)
    waiter = ctx.Process(target=workers.wait_for_interrupt, args=(name, started))
    waiter.start()
    assert started.wait(30)
    # The child may still be between set() and the wait: SIGINT lands either way, and a wait
    # checks for pending signals at least every 100 ms.
    os.kill(waiter.pid, signal.SIGINT)
    waiter.join(10)
    assert waiter.exitcode == 42, "KeyboardInterrupt reached the Python code"
    tx.close()


def test_a_forked_child_uses_its_own_registration_not_its_parents(name):
    ctx = mp.get_context("fork")
    tx = framebus.Producer(name, slot_size=4096, groups=["g"])
    rx = framebus.Consumer(name, group="g")
    done = ctx.Queue()

    def child():
        tx.send(np.array([0, 1]), frame=1)  # reopens in the child, transparently
        done.put(framebus.inspect_channel(name)["participants"])

    p = ctx.Process(target=child)
    p.start()
    participants = done.get(timeout=30)
    p.join(10)
    assert p.exitcode == 0
    pids = {x["pid"] for x in participants}
    assert p.pid in pids and os.getpid() in pids
    assert rx.receive(5.0).frame == 1
    tx.send(np.array([0, 2]), frame=2)  # the parent's registration still works
    assert rx.receive(5.0).frame == 2
    tx.close()
    rx.close()


def test_ctrl_c_interrupts_a_send_blocked_on_a_full_channel(name):
    ctx = mp.get_context("fork")
    started = ctx.Event()

    def blocked_sender():
        tx = framebus.Producer(name, slots=1, slot_size=64, groups=["nobody-reads"], linger=0)
        tx.send(b"fills the only slot")
        try:
            started.set()
            tx.send(b"blocks: the group never takes anything")
        except KeyboardInterrupt:
            os._exit(42)
        os._exit(1)

    sender = ctx.Process(target=blocked_sender)
    sender.start()
    assert started.wait(30)
    os.kill(sender.pid, signal.SIGINT)
    sender.join(10)
    assert sender.exitcode == 42, "KeyboardInterrupt reached the blocked send"
    framebus.remove_channel(name)
