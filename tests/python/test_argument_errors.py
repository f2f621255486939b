"""A wrong argument to the channel API is refused with its name and what it takes, as a
framebus.InvalidArgument (a ValueError), never the binding's "incompatible function arguments"."""

from __future__ import annotations

import numpy as np
import pytest

import framebus


@pytest.mark.parametrize("kwargs, says", [
    (dict(stream=-1), "stream must be an int >= 0 and < 2**32, not -1"),
    (dict(stream="0"), "stream must be an int >= 0 and < 2**32, not '0'"),
    (dict(stream=2**32), "stream must be an int >= 0 and < 2**32, not 4294967296"),
    (dict(frame=-3), "frame must be an int >= 0 and < 2**64, not -3"),
    (dict(frame=1.5), "frame must be an int"),
    (dict(pts=2**63), "pts must be an int in the int64 range"),
    (dict(flags=True), "flags must be an int"),
    (dict(user_meta="text"), "user_meta must be bytes, not str"),
])
def test_send_and_publish_name_a_bad_message_field_and_what_it_takes(name, kwargs, says):
    with framebus.Producer(name, slots=2, slot_size="4KiB", linger=0) as tx:
        with pytest.raises(framebus.InvalidArgument) as error:
            tx.send(np.zeros(4, np.uint8), **kwargs)
        assert says in str(error.value) and "incompatible function arguments" not in str(error.value)
        with tx.loan(4) as loan, pytest.raises(framebus.InvalidArgument) as error:
            loan.publish(**kwargs)
        assert says in str(error.value)


def test_producer_and_consumer_options_are_checked_by_name(name):
    cases = [
        (lambda: framebus.Producer(name, slots=0), "slots must be an int >= 1"),
        (lambda: framebus.Producer(name, slots="16"), "slots must be an int >= 1"),
        (lambda: framebus.Producer(name, linger=-1), "linger must be a number of seconds >= 0, not -1"),
        (lambda: framebus.Producer(name, block_timeout="soon"), "block_timeout must be a number of seconds >= 0"),
        (lambda: framebus.Producer(3), "name must be a str, not int 3"),
        (lambda: framebus.Consumer(name, wait=-2), "wait must be a number of seconds >= 0 or None"),
        (lambda: framebus.Consumer(name, group=None), "group must be a str"),
        (lambda: framebus.Consumer(name, max_deliveries=-1), "max_deliveries must be an int >= 0"),
    ]
    for make, says in cases:
        with pytest.raises(framebus.InvalidArgument) as error:
            make()
        assert says in str(error.value)


def test_receive_and_end_stream_name_a_bad_argument(name):
    with framebus.Producer(name, slots=2, slot_size="4KiB", groups=["g"], linger=0) as tx, \
            framebus.Consumer(name, group="g") as rx:
        with pytest.raises(framebus.InvalidArgument, match="timeout must be a number of seconds >= 0 or None"):
            rx.receive(-1)
        with pytest.raises(framebus.InvalidArgument, match="stream must be an int >= 0"):
            tx.end_stream(-1)
        tx.send(b"ok", stream=1, frame=2)
        msg = rx.receive(5)
        assert (msg.stream, msg.frame) == (1, 2)
        msg.release()
