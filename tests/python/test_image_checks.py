"""An image sent, loaned or published must hold a picture in the format it declares: a float64
array, a fourth channel or an unknown format is refused where it is given (send, loan), naming
the argument and the expected value, and the channel stays usable."""

from __future__ import annotations

import numpy as np
import pytest

import framebus


@pytest.mark.parametrize("array, format, says", [
    (np.zeros((10, 10, 3), np.float64), "bgr24", "dtype must be uint8, not float64"),
    (np.zeros((10, 10, 4), np.uint8), "bgr24", "shape must be (height, width, 3), not (10, 10, 4)"),
    (np.zeros((10, 10, 3), np.uint8), "gray8", "shape must be (height, width) or (height, width, 1)"),
    (np.zeros((10, 10), np.uint8), "rgb24", "shape must be (height, width, 3), not (10, 10)"),
    (np.zeros((10, 10), np.uint8), "nv12", "shape must be (height * 3 / 2, width)"),
    (np.zeros((10, 10, 3), np.uint8), "bgr", "unknown pixel format 'bgr'"),
])
def test_send_refuses_an_array_that_does_not_hold_its_declared_format(name, array, format, says):
    with framebus.Producer(name, slots=2, slot_size="64KiB", groups=["g"], linger=0) as tx:
        with pytest.raises(framebus.InvalidArgument) as error:
            tx.send(array, format=format)
        assert says in str(error.value)
        with framebus.Consumer(name, group="g") as rx:
            tx.send(np.full((4, 6, 3), 7, np.uint8), frame=1, format="bgr24")  # the channel goes on
            msg = rx.receive(5.0)
            assert msg.frame == 1 and msg.array.shape == (4, 6, 3) and (msg.array == 7).all()
            msg.release()


@pytest.mark.parametrize("shape, dtype, format, says", [
    ((10, 10, 3), "float32", "bgr24", "dtype must be uint8, not float32"),
    ((10, 10, 4), "uint8", "bgr24", "shape must be (height, width, 3), not (10, 10, 4)"),
    ((10, 10, 3), "uint8", "bgr", "unknown pixel format 'bgr'"),
])
def test_loan_refuses_a_picture_that_does_not_fit_its_format_before_taking_a_slot(name, shape, dtype, format, says):
    with framebus.Producer(name, slots=1, slot_size="64KiB", linger=0) as tx:
        with pytest.raises(framebus.InvalidArgument) as error:
            tx.loan(shape, dtype, format=format)
        assert says in str(error.value)
        with tx.loan((10, 10, 3), "uint8", format="bgr24") as loan:  # the only slot was never taken
            assert loan.shape == (10, 10, 3)


def test_the_formats_own_layouts_are_accepted_and_the_reader_gets_the_picture_size(name):
    with framebus.Producer(name, slots=8, slot_size="64KiB", groups=["g"], linger=0) as tx, \
            framebus.Consumer(name, group="g") as rx:
        tx.send(np.zeros((6, 8), np.uint8), format="gray8")
        tx.send(np.zeros((6, 8, 1), np.uint8), format="gray8")
        tx.send(np.zeros((9, 8), np.uint8), format="nv12")   # a 6 x 8 picture, 4:2:0
        tx.send(np.zeros(72, np.uint8).tobytes(), shape=(6, 8), format="nv12")  # raw bytes: (height, width)
        tx.send(np.zeros((6, 8), np.float32))  # a tensor: no picture size
        sizes, pictures = [], []
        for _ in range(5):
            msg = rx.receive(5.0)
            sizes.append(msg.array.shape)
            pictures.append((msg.width, msg.height))
            msg.release()
        assert sizes[0] == sizes[1] == (6, 8)
        assert sizes[2] == sizes[3] == (72,), "both the same 6 x 8 4:2:0 picture (received flat)"
        assert pictures == [(8, 6)] * 4 + [(None, None)], "the picture's size, also of a flat 4:2:0 one"
