"""Groups from Python: a group that blocks the producer is shown and can be removed, a message that
kills its consumers is given up after max_deliveries, and a group nobody declared goes with its
last member. Real processes, real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import framebus


def _frame(i: int) -> np.ndarray:
    return np.full((4, 4), i, dtype=np.uint8)


def _group(name: str, group: str) -> dict:
    return next(g for g in framebus.inspect_channel(name)["groups"] if g["name"] == group)


def test_a_group_that_blocks_the_producer_is_shown_and_remove_group_releases_it(name):
    with framebus.Producer(name, slots=2, slot_size=4096, groups=["idle"], block_timeout=0.2, linger=0.0) as tx:
        tx.send(_frame(0), stream=0, frame=0)
        tx.send(_frame(1), stream=0, frame=1)
        with pytest.raises(framebus.Timeout):
            tx.send(_frame(2), stream=0, frame=2)
        idle = _group(name, "idle")
        assert idle["blocking"] and idle["pending"] == 2 and idle["declared"]
        with framebus.Consumer(name, group="idle"):
            with pytest.raises(framebus.InvalidArgument, match="live consumer"):
                framebus.remove_group(name, "idle")
        assert framebus.remove_group(name, "idle") == 2
        with framebus.Consumer(name, group="after") as rx:
            tx.send(_frame(2), stream=0, frame=2)
            assert rx.receive(5.0).frame == 2


_TAKE_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    import framebus
    rx = framebus.Consumer(sys.argv[1], group="w", max_deliveries=int(sys.argv[2]))
    msg = rx.receive(10.0)
    assert msg is not None
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_max_deliveries_gives_up_a_message_that_killed_its_consumers(name):
    with framebus.Producer(name, slots=4, slot_size=4096) as tx:
        with framebus.Consumer(name, group="other"):  # keeps the channel alive between the deaths
            for attempt in range(2):
                if attempt == 0:
                    # The first consumer creates group "w" with a limit of 2 deliveries.
                    child = subprocess.Popen([sys.executable, "-c", _TAKE_AND_DIE, name, "2"],
                                             env=dict(os.environ))
                    deadline = time.monotonic() + 30
                    while not any(g["name"] == "w" for g in framebus.inspect_channel(name)["groups"]):
                        assert time.monotonic() < deadline, "the child never joined"
                        os.sched_yield()
                    tx.send(_frame(7), stream=3, frame=7)
                else:
                    child = subprocess.Popen([sys.executable, "-c", _TAKE_AND_DIE, name, "2"],
                                             env=dict(os.environ))
                assert child.wait(30) == -signal.SIGKILL
            with framebus.Consumer(name, group="w", max_deliveries=2) as rx:  # joining reaps the last death
                assert rx.receive(0.3) is None, "a dead letter is never delivered again"
                w = _group(name, "w")
                assert w["dead_letters"] == 1
                assert w["recent_dead_letters"] == [{"stream": 3, "frame": 7, "deliveries": 2}]


def test_a_group_nobody_declared_goes_with_its_last_member_and_its_queue_is_counted(name):
    with framebus.Producer(name, slots=4, slot_size=4096, groups=["work"]) as tx:
        with framebus.Consumer(name, group="work") as work:
            with framebus.Consumer(name, group="tap"):
                for i in range(3):
                    tx.send(_frame(i), stream=0, frame=i)
            info = framebus.inspect_channel(name)
            assert [g["name"] for g in info["groups"]] == ["work"]
            assert info["groups_removed"] == 1 and info["group_released"] == 3
            assert [work.receive(5.0).frame for _ in range(3)] == [0, 1, 2]
