"""close() never throws frames away silently: a live consumer keeps them, and what the linger
discards for groups nobody reads is a warning naming the count (an error under strict=True)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import framebus


def _frame(i: int) -> np.ndarray:
    return np.full((4, 4), i, dtype=np.uint8)


def test_close_with_a_live_consumer_returns_without_warning_and_the_consumer_gets_everything(name):
    tx = framebus.Producer(name, slots=8, slot_size=4096, linger=10.0)
    with framebus.Consumer(name, group="e") as rx:
        for i in range(3):
            tx.send(_frame(i), stream=0, frame=i)
        tx.end_stream(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tx.close()
        got = [(m.end_of_stream, None if m.end_of_stream else m.frame) for m in rx]
    assert got == [(False, 0), (False, 1), (False, 2), (True, None)]
    assert rx.end_reason == "closed"


def test_what_the_linger_discards_for_a_group_without_members_is_a_warning_naming_the_count(name):
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=["nobody"], linger=0.1)
    with framebus.Consumer(name, group="e") as rx:
        for i in range(2):
            tx.send(_frame(i), stream=0, frame=i)
        with pytest.warns(framebus.LingerExpiredWarning, match=r"discarded 2 message\(s\).*2 for group 'nobody'"):
            tx.close()
        assert [m.frame for m in rx] == [0, 1]


def test_strict_makes_a_discarding_close_an_error_with_the_counts(name):
    tx = framebus.Producer(name, slots=8, slot_size=4096, groups=["nobody", "e"], linger=0.0, strict=True)
    with framebus.Consumer(name, group="e") as rx:
        tx.send(_frame(0), stream=0, frame=0)
        with pytest.raises(framebus.LingerExpired) as error:
            tx.close()
        assert error.value.discarded == {"nobody": 1}
        assert tx.closed
        assert [m.frame for m in rx] == [0]
