"""Closes a handle from the main thread while another thread waits inside it, ROUNDS times.

    close_while_waiting.py NAME WAY ROUNDS      WAY: receive, iterate, send or loan

Run as its own process by test_threads.py, so that a crash fails one test instead of killing
pytest. Each round uses channel NAME-<round>; the waiting thread must raise framebus.Closed, and
nothing of the channel may be left. Prints "ok ROUNDS" at the end.
"""
import os
import pathlib
import sys
import threading

import numpy as np

import framebus

name, way, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])


def futex_wait_address(tid: int):
    """The address a thread sleeps on in a system call, or None while it runs."""
    fields = pathlib.Path(f"/proc/self/task/{tid}/syscall").read_text().split()
    return int(fields[1], 16) if len(fields) > 1 and fields[0] != "running" else None


def channel_ranges(channel: str):
    # By inode: the channel's creator mapped it under a temporary name, before renaming it.
    inode = os.stat(f"/dev/shm/framebus.{channel}").st_ino
    ranges = []
    for line in pathlib.Path("/proc/self/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[5].startswith("/dev/shm/") and int(fields[4]) == inode:
            low, high = fields[0].split("-")
            ranges.append((int(low, 16), int(high, 16)))
    return ranges


def wait_until_asleep_in_channel(thread: threading.Thread, channel: str) -> None:
    """Returns once `thread` sleeps on a futex word of the channel's shared memory: it is inside
    the native wait, past every Python check. Bounded by the test's own timeout."""
    ranges = channel_ranges(channel)
    while True:
        address = futex_wait_address(thread.native_id)
        if address is not None and any(low <= address < high for low, high in ranges):
            return
        if not thread.is_alive():
            raise AssertionError("the waiting thread ended before it waited")
        os.sched_yield()


for round_ in range(rounds):
    channel = f"{name}-{round_}"
    # Block policy, a group nobody reads, two slots: the third send or loan waits for room.
    tx = framebus.Producer(channel, slots=2, slot_size=4096, policy="block", groups=["g"], linger=0)
    rx = framebus.Consumer(channel, group="g") if way in ("receive", "iterate") else None
    if rx is None:
        tx.send(np.zeros(8, np.uint8))
        tx.send(np.zeros(8, np.uint8))
    outcome = []

    def wait_inside() -> None:
        try:
            if way == "receive":
                rx.receive(None)
            elif way == "iterate":
                for _ in rx:
                    pass
            elif way == "send":
                tx.send(np.zeros(8, np.uint8))
            else:
                tx.loan(8)
            outcome.append("returned")
        except framebus.Closed:
            outcome.append("closed")
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome.append(repr(error))

    thread = threading.Thread(target=wait_inside)
    thread.start()
    wait_until_asleep_in_channel(thread, channel)
    (rx or tx).close()
    thread.join(30)
    assert not thread.is_alive(), f"round {round_}: the waiting thread was not woken by close()"
    assert outcome == ["closed"], f"round {round_}: {outcome}"
    for handle in (rx, tx):
        if handle is not None:
            handle.close()
    assert not pathlib.Path(f"/dev/shm/framebus.{channel}").exists(), f"round {round_}: channel left behind"

print("ok", rounds, flush=True)
