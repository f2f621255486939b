"""framebus.compat.sail.Tensor: construction from arrays and shapes, data access, updates,
reshapes and the copies sail's sync calls make, against sail's documented behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import framebus
from framebus.compat import sail

H = sail.Handle(0)


def test_a_tensor_from_an_array_copies_it_and_keeps_float32_int8_uint8_int32():
    for dtype, sail_dtype in ((np.float32, sail.BM_FLOAT32), (np.int8, sail.BM_INT8), (np.uint8, sail.BM_UINT8),
                              (np.int32, sail.BM_INT32)):
        data = np.arange(6, dtype=dtype).reshape(2, 3)
        tensor = sail.Tensor(H, data)
        data[:] = 0
        assert tensor.dtype() == sail_dtype and tensor.shape() == [2, 3]
        assert tensor.asnumpy().tolist() == [[0, 1, 2], [3, 4, 5]] and tensor.asnumpy().dtype == dtype
        assert tensor.own_sys_data() and tensor.own_dev_data()


def test_a_tensor_from_another_dtype_becomes_float32_as_sails_bindings_convert():
    tensor = sail.Tensor(H, np.array([1, 2, 3]))
    assert tensor.dtype() == sail.BM_FLOAT32 and tensor.asnumpy().tolist() == [1.0, 2.0, 3.0]
    assert not sail.Tensor(H, np.zeros(2, np.float32), False).own_sys_data()


def test_a_tensor_from_a_shape_is_zeroed_with_the_dtype_and_flags_given():
    tensor = sail.Tensor(H, [1, 3, 2, 2], sail.BM_UINT8, True, False)
    assert tensor.asnumpy().shape == (1, 3, 2, 2) and tensor.asnumpy().dtype == np.uint8 and not tensor.asnumpy().any()
    assert tensor.own_sys_data() and not tensor.own_dev_data() and tensor.device_id() == 0
    assert (tensor.size(), len(tensor), tensor.element_size(), tensor.nbytes()) == (12, 12, 1, 12)
    half = sail.Tensor(H, (2,), sail.BM_FLOAT16)
    assert half.asnumpy().dtype == np.uint16 and not half.own_sys_data()


@pytest.mark.parametrize("args,match", [((0, [2], sail.BM_FLOAT32), "handle"), ((H, [2, -1], sail.BM_FLOAT32), "shape"),
                                        ((H, [2], 42), "dtype"), ((H, 7, sail.BM_FLOAT32), "shape")])
def test_tensor_constructor_rejects_bad_arguments_naming_them(args, match):
    with pytest.raises(framebus.InvalidArgument, match=match):
        sail.Tensor(*args)


def test_asnumpy_with_a_shape_returns_the_leading_elements_and_refuses_too_many():
    tensor = sail.Tensor(H, np.arange(6, dtype=np.float32))
    assert tensor.asnumpy((3, 1)).tolist() == [[0], [1], [2]]
    assert tensor.asnumpy([2, 3]).shape == (2, 3)
    with pytest.raises(framebus.InvalidArgument, match="7 elements"):
        tensor.asnumpy((7,))
    tensor.asnumpy()[:] = 9
    assert tensor[0] == 0.0


def test_update_data_fills_the_leading_elements_and_keeps_the_shape():
    tensor = sail.Tensor(H, [2, 2], sail.BM_FLOAT32, True, True)
    tensor.update_data(np.array([1, 2, 3], np.float32))
    assert tensor.asnumpy().tolist() == [[1, 2], [3, 0]]
    tensor.update_data(np.full((2, 2), 0.5))  # float64 into a float32 tensor, as sail converts it
    assert tensor.asnumpy().tolist() == [[0.5, 0.5], [0.5, 0.5]]
    half = sail.Tensor(H, [2], sail.BM_FLOAT16, True, True)
    half.update_data(np.array([1.0, 2.0], np.float16).view(np.uint16))
    assert half.asnumpy().view(np.float16).tolist() == [1.0, 2.0]


def test_update_data_refuses_another_kind_of_dtype_or_too_many_elements():
    tensor = sail.Tensor(H, [2], sail.BM_FLOAT32, True, True)
    with pytest.raises(framebus.InvalidArgument, match="BM_FLOAT32 tensor needs float32"):
        tensor.update_data(np.array([1, 2], np.uint8))
    with pytest.raises(framebus.InvalidArgument, match="3 elements"):
        tensor.update_data(np.zeros(3, np.float32))
    with pytest.raises(framebus.InvalidArgument, match="NumPy array"):
        tensor.update_data([1.0, 2.0])


def test_reshape_keeps_the_data_and_reallocates_for_a_new_size():
    tensor = sail.Tensor(H, np.arange(6, dtype=np.int32))
    tensor.reshape([3, 2])
    assert tensor.shape() == [3, 2] and tensor.asnumpy().reshape(-1).tolist() == list(range(6))
    tensor.reshape([2, 4])
    assert tensor.asnumpy().reshape(-1).tolist() == [0, 1, 2, 3, 4, 5, 0, 0]


def test_fill_calls_set_every_element():
    tensor = sail.Tensor(H, [3], sail.BM_INT32, True, True)
    tensor.ones()
    assert tensor.asnumpy().tolist() == [1, 1, 1]
    tensor.memory_set(7)
    assert tensor.asnumpy().tolist() == [7, 7, 7]
    tensor.zeros()
    assert tensor.asnumpy().tolist() == [0, 0, 0]


def test_scale_from_rounds_and_saturates_and_scale_to_returns_float32():
    tensor = sail.Tensor(H, [3], sail.BM_INT8, True, True)
    tensor.scale_from(np.array([1.0, 20.0, -30.0], np.float32), 10.0)
    assert tensor.asnumpy().tolist() == [10, 127, -128]
    out = tensor.scale_to(0.5)
    assert out.dtype == np.float32 and out.tolist() == [5.0, 63.5, -64.0]
    assert tensor.scale_to(1.0, [1, 2]).tolist() == [[10.0, 127.0]]


def test_sync_calls_are_no_ops_alone_and_copy_elements_from_a_source_tensor():
    src = sail.Tensor(H, np.arange(5, dtype=np.float32))
    dst = sail.Tensor(H, [5], sail.BM_FLOAT32, True, True)
    dst.sync_s2d()
    dst.sync_d2s(4)
    assert not dst.asnumpy().any()
    dst.sync_s2d(src, 1, 0, 2)
    dst.sync_d2s(src, 0, 3, 2)
    assert dst.asnumpy().tolist() == [1, 2, 0, 0, 1]
    dst.sync_d2d(src, 4, 2, 1)
    assert dst.asnumpy().tolist() == [1, 2, 4, 0, 1]
    with pytest.raises(framebus.InvalidArgument, match="past the end"):
        dst.sync_d2d(src, 3, 0, 3)
    with pytest.raises(framebus.InvalidArgument, match="BM_INT8"):
        dst.sync_d2d(sail.Tensor(H, [5], sail.BM_INT8), 0, 0, 1)


def test_sync_d2d_stride_copies_every_nth_element():
    src = sail.Tensor(H, np.arange(6, dtype=np.float32))
    dst = sail.Tensor(H, [3], sail.BM_FLOAT32)
    dst.sync_d2d_stride(src, 2, 1, 3)
    assert dst.asnumpy().tolist() == [0, 2, 4]
    with pytest.raises(framebus.InvalidArgument, match="count"):
        dst.sync_d2d_stride(src, 3, 1, 3)


def test_a_tensor_from_ranges_copies_that_part_of_another():
    src = sail.Tensor(H, np.arange(12, dtype=np.float32).reshape(3, 4))
    part = sail.Tensor(src, [(1, 3), (0, 2)])
    assert part.asnumpy().tolist() == [[4, 5], [8, 9]]
    with pytest.raises(framebus.InvalidArgument, match="ranges"):
        sail.Tensor(src, [(2, 5)])


def test_a_tensor_from_an_offset_shares_the_source_memory():
    src = sail.Tensor(H, np.arange(8, dtype=np.float32))
    view = sail.Tensor(src, [2, 2], 4)
    assert view.asnumpy().tolist() == [[4, 5], [6, 7]]
    view.ones()
    assert src.asnumpy().tolist() == [0, 1, 2, 3, 1, 1, 1, 1]
    with pytest.raises(framebus.InvalidArgument, match="exceed"):
        sail.Tensor(src, [2, 2], 6)


def test_items_are_read_by_flat_index():
    tensor = sail.Tensor(H, np.array([[1, 2], [3, 4]], np.uint8))
    assert (tensor[0], tensor[3]) == (1, 4)
    with pytest.raises(IndexError):
        tensor[4]


def test_dump_data_writes_text_or_binary(tmp_path):
    tensor = sail.Tensor(H, np.array([0.25, 2.0], np.float32))
    tensor.dump_data(str(tmp_path / "t.txt"))
    assert np.loadtxt(tmp_path / "t.txt").tolist() == [0.25, 2.0]
    tensor.dump_data(str(tmp_path / "t.bin"), True)
    assert np.fromfile(tmp_path / "t.bin", np.float32).tolist() == [0.25, 2.0]


def test_from_array_wraps_an_array_without_a_copy():
    array = np.zeros((2, 3), np.float32)
    tensor = sail.Tensor._from_array(H, array)
    assert tensor._array is array and tensor.dtype() == sail.BM_FLOAT32
    assert sail.Tensor._from_array(H, np.zeros(2, np.uint16), sail.BM_FLOAT16).dtype() == sail.BM_FLOAT16
    with pytest.raises(framebus.InvalidArgument, match="float64"):
        sail.Tensor._from_array(H, np.zeros(2, np.float64))
