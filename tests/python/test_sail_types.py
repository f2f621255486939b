"""framebus.compat.sail's data types: the enums, Handle, PaddingAtrr, bm_image, BMImage (layouts,
constructors, conversions to BGR) and Tensor, each against sail's documented behaviour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import framebus
from framebus.compat import sail
from framebus.compat.sail import _types

H = sail.Handle(0)
RNG = np.random.default_rng(7)


def pixels(shape, dtype=np.uint8) -> np.ndarray:
    return RNG.integers(0, 256, shape).astype(dtype)


# ---- enums, Handle, PaddingAtrr ----

def test_enums_have_sails_names_and_values_and_are_exported_at_module_level():
    assert sail.Format.FORMAT_YUV420P == 0 and sail.Format.FORMAT_NV12 == 3
    assert sail.Format.FORMAT_BGR_PLANAR == 9 and sail.Format.FORMAT_BGR_PACKED == 11
    assert sail.Format.FORMAT_GRAY == 14 and sail.Format.FORMAT_ABGR_PACKED == 18
    assert sail.ImgDtype.DATA_TYPE_EXT_FLOAT32 == 0 and sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE_SIGNED == 3
    assert (sail.Dtype.BM_FLOAT32, sail.Dtype.BM_INT8, sail.Dtype.BM_UINT8, sail.Dtype.BM_INT32) == (0, 2, 3, 6)
    assert (sail.IOMode.SYSI, sail.IOMode.SYSO, sail.IOMode.SYSIO, sail.IOMode.DEVIO) == (0, 1, 2, 3)
    assert sail.bmcv_resize_algorithm.BMCV_INTER_BICUBIC == 2
    assert sail.FORMAT_BGR_PLANAR is sail.Format.FORMAT_BGR_PLANAR and sail.BM_FLOAT32 is sail.Dtype.BM_FLOAT32
    assert sail.SYSIO is sail.IOMode.SYSIO and sail.BMCV_INTER_LINEAR is sail.bmcv_resize_algorithm.BMCV_INTER_LINEAR
    assert sail.DATA_TYPE_EXT_1N_BYTE is sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE


def test_enums_print_as_sails_pybind_enums_do():
    assert str(sail.Format.FORMAT_NV12) == "Format.FORMAT_NV12"
    assert str(sail.Dtype.BM_UINT8) == "Dtype.BM_UINT8"


def test_handle_reports_its_id_and_a_cpu_target():
    handle = sail.Handle(3)
    assert handle.get_device_id() == 3 and handle.get_target() == "CPU" and handle.get_sn() == "CPU3"


def test_handle_rejects_a_negative_or_non_integer_id():
    with pytest.raises(framebus.InvalidArgument, match="tpu_id"):
        sail.Handle(-1)
    with pytest.raises(framebus.InvalidArgument, match="tpu_id"):
        sail.Handle("0")


def test_padding_attributes_are_set_by_constructor_and_setters():
    padding = sail.PaddingAtrr(1, 2, 30, 40, 5, 6, 7)
    assert (padding.dst_crop_stx, padding.dst_crop_sty, padding.dst_crop_w, padding.dst_crop_h) == (1, 2, 30, 40)
    padding = sail.PaddingAtrr()
    for setter, value in (("set_stx", 4), ("set_sty", 5), ("set_w", 6), ("set_h", 7), ("set_r", 8), ("set_g", 9),
                          ("set_b", 10)):
        getattr(padding, setter)(value)
    assert (padding.dst_crop_stx, padding.dst_crop_sty, padding.dst_crop_w, padding.dst_crop_h,
            padding.padding_r, padding.padding_g, padding.padding_b) == (4, 5, 6, 7, 8, 9, 10)
    with pytest.raises(framebus.InvalidArgument, match="width"):
        padding.set_w(-1)


# ---- BMImage layouts and constructors ----

LAYOUTS = [(sail.FORMAT_BGR_PACKED, (4, 6, 3), 1), (sail.FORMAT_RGB_PACKED, (4, 6, 3), 1),
           (sail.FORMAT_BGR_PLANAR, (3, 4, 6), 1), (sail.FORMAT_RGB_PLANAR, (3, 4, 6), 1),
           (sail.FORMAT_BGRP_SEPARATE, (3, 4, 6), 3), (sail.FORMAT_GRAY, (4, 6), 1),
           (sail.FORMAT_YUV420P, (6, 6), 3), (sail.FORMAT_NV12, (6, 6), 2), (sail.FORMAT_NV21, (6, 6), 2),
           (sail.FORMAT_YUV444P, (3, 4, 6), 3), (sail.FORMAT_NV16, (8, 6), 2), (sail.FORMAT_ARGB_PACKED, (4, 6, 4), 1)]


@pytest.mark.parametrize("fmt,shape,planes", LAYOUTS, ids=[f.name for f, _, _ in LAYOUTS])
def test_an_allocated_image_is_a_zeroed_array_in_its_formats_layout(fmt, shape, planes):
    image = sail.BMImage(H, 4, 6, fmt, sail.DATA_TYPE_EXT_1N_BYTE)
    array = np.asarray(image)
    assert array.shape == shape and array.dtype == np.uint8 and not array.any()
    assert (image.width(), image.height(), image.format(), image.dtype()) == (6, 4, fmt, sail.DATA_TYPE_EXT_1N_BYTE)
    assert image.get_plane_num() == planes and image.need_to_free() and image.empty_check() == 1


@pytest.mark.parametrize("dtype,np_dtype", [(sail.DATA_TYPE_EXT_FLOAT32, np.float32),
                                            (sail.DATA_TYPE_EXT_1N_BYTE_SIGNED, np.int8)])
def test_image_dtypes_map_to_numpy_dtypes(dtype, np_dtype):
    assert np.asarray(sail.BMImage(H, 2, 2, sail.FORMAT_BGR_PLANAR, dtype)).dtype == np_dtype


def test_an_empty_image_is_0x0_bgr_planar_bytes_as_in_sail():
    image = sail.BMImage()
    assert (image.width(), image.height(), image.format(), image.dtype()) == (0, 0, sail.FORMAT_BGR_PLANAR,
                                                                              sail.DATA_TYPE_EXT_1N_BYTE)
    assert image.empty_check() == 0 and not image.need_to_free()


@pytest.mark.parametrize("args,argument", [
    ((H, 4, 6, sail.FORMAT_COMPRESSED, sail.DATA_TYPE_EXT_1N_BYTE), "COMPRESSED"),
    ((H, 4, 6, sail.FORMAT_BGR_PLANAR, sail.ImgDtype.DATA_TYPE_EXT_4N_BYTE), "4N"),
    ((H, 5, 6, sail.FORMAT_NV12, sail.DATA_TYPE_EXT_1N_BYTE), "even"),
    ((H, 4, 6, 99, sail.DATA_TYPE_EXT_1N_BYTE), "format"),
    ((0, 4, 6, sail.FORMAT_GRAY, sail.DATA_TYPE_EXT_1N_BYTE), "handle"),
    ((H, -4, 6, sail.FORMAT_GRAY, sail.DATA_TYPE_EXT_1N_BYTE), "h"),
])
def test_image_constructor_rejects_bad_arguments_naming_them(args, argument):
    with pytest.raises(framebus.InvalidArgument, match=argument):
        sail.BMImage(*args)


def test_an_image_from_a_buffer_copies_its_bytes_in_layout():
    raw = bytes(range(24))
    image = sail.BMImage(H, raw, 2, 4, sail.FORMAT_BGR_PACKED)
    assert np.asarray(image).tobytes() == raw and image.dtype() == sail.DATA_TYPE_EXT_1N_BYTE
    source = pixels(3 * 4 * 6)
    image = sail.BMImage(H, source, 4, 6, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE)
    source[:] = 0
    assert np.asarray(image).any() and np.asarray(image).shape == (3, 4, 6)


def test_an_image_from_a_buffer_honours_strides_and_offset():
    raw = np.arange(64, dtype=np.uint8)
    image = sail.BMImage(H, raw, 2, 4, sail.FORMAT_GRAY, strides=[10], offset=3)
    assert np.asarray(image).tolist() == [[3, 4, 5, 6], [13, 14, 15, 16]]
    nv12 = sail.BMImage(H, raw, 2, 4, sail.FORMAT_NV12, sail.DATA_TYPE_EXT_1N_BYTE, [8, 8], 0)
    assert np.asarray(nv12).reshape(-1).tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19]


def test_an_image_from_a_float_buffer_reads_float_samples():
    values = np.arange(12, dtype=np.float32)
    image = sail.BMImage(H, values, 1, 4, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_FLOAT32)
    assert np.asarray(image).reshape(-1).tolist() == values.tolist()


def test_a_buffer_too_small_or_with_wrong_strides_is_refused():
    with pytest.raises(framebus.InvalidArgument, match="buffer holds 10 bytes"):
        sail.BMImage(H, bytes(10), 2, 4, sail.FORMAT_BGR_PACKED)
    with pytest.raises(framebus.InvalidArgument, match="one entry per plane"):
        sail.BMImage(H, bytes(100), 2, 4, sail.FORMAT_NV12, strides=[4])
    with pytest.raises(framebus.InvalidArgument, match="row size"):
        sail.BMImage(H, bytes(100), 2, 4, sail.FORMAT_GRAY, strides=[2])
    with pytest.raises(framebus.InvalidArgument, match="buffer must be"):
        sail.BMImage(H, 3.5, 2, 4, sail.FORMAT_GRAY)


def test_data_returns_the_bm_image_and_a_bmimage_made_from_it_shares_the_pixels():
    image = sail.BMImage(H, 4, 6, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_1N_BYTE)
    raw = image.data()
    assert (raw.width(), raw.height(), raw.format(), raw.dtype()) == (6, 4, sail.FORMAT_BGR_PACKED,
                                                                      sail.DATA_TYPE_EXT_1N_BYTE)
    other = sail.BMImage(raw)
    np.asarray(other)[0, 0] = 9
    assert np.asarray(image)[0, 0].tolist() == [9, 9, 9]
    with pytest.raises(TypeError, match="BMImage"):
        sail.bm_image()


def test_from_array_holds_the_array_without_a_copy_and_assign_replaces_it():
    array = pixels((4, 6, 3))
    image = sail.BMImage._from_array(array, sail.FORMAT_BGR_PACKED)
    assert image._array is array and np.asarray(image) is array
    nv12 = pixels((6, 6))
    image._assign(nv12, sail.FORMAT_NV12)
    assert image._array is nv12 and image.format() == sail.FORMAT_NV12 and (image.width(), image.height()) == (6, 4)


def test_from_array_copies_arrays_that_are_not_contiguous_or_not_writable():
    strided = pixels((4, 12, 3))[:, ::2]
    image = sail.BMImage._from_array(strided, sail.FORMAT_BGR_PACKED)
    assert image._array.flags.c_contiguous and np.array_equal(image._array, strided)
    frozen = pixels((4, 6))
    frozen.flags.writeable = False
    assert sail.BMImage._from_array(frozen, sail.FORMAT_GRAY)._array.flags.writeable


@pytest.mark.parametrize("shape,fmt,match", [((4, 6), sail.FORMAT_BGR_PACKED, r"\(H, W, 3\)"),
                                             ((5, 6), sail.FORMAT_NV12, r"H \* 3 // 2"),
                                             ((4, 4, 3), sail.FORMAT_BGR_PLANAR, r"\(3, H, W\)")])
def test_from_array_rejects_an_array_that_is_not_the_formats_layout(shape, fmt, match):
    with pytest.raises(framebus.InvalidArgument, match=match):
        sail.BMImage._from_array(pixels(shape), fmt)


def test_from_array_rejects_dtypes_images_cannot_have():
    with pytest.raises(framebus.InvalidArgument, match="uint8, int8 or float32"):
        sail.BMImage._from_array(np.zeros((2, 2), np.int32), sail.FORMAT_GRAY)


# ---- conversions ----

def test_asmat_returns_bgr_packed_from_every_convertible_format():
    bgr = pixels((4, 6, 3))
    cases = {sail.FORMAT_BGR_PACKED: bgr, sail.FORMAT_RGB_PACKED: bgr[..., ::-1],
             sail.FORMAT_BGR_PLANAR: bgr.transpose(2, 0, 1), sail.FORMAT_RGB_PLANAR: bgr[..., ::-1].transpose(2, 0, 1),
             sail.FORMAT_BGRP_SEPARATE: bgr.transpose(2, 0, 1)}
    for fmt, array in cases.items():
        mat = sail.BMImage._from_array(np.ascontiguousarray(array), fmt).asmat()
        assert mat.shape == (4, 6, 3) and np.array_equal(mat, bgr), fmt
    gray = pixels((4, 6))
    mat = sail.BMImage._from_array(gray, sail.FORMAT_GRAY).asmat()
    assert np.array_equal(mat, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))


@pytest.mark.parametrize("fmt,code", [(sail.FORMAT_YUV420P, cv2.COLOR_YUV2BGR_I420),
                                      (sail.FORMAT_NV12, cv2.COLOR_YUV2BGR_NV12),
                                      (sail.FORMAT_NV21, cv2.COLOR_YUV2BGR_NV21)])
def test_asmat_of_yuv_matches_opencvs_conversion(fmt, code):
    yuv = pixels((12, 8))
    assert np.array_equal(sail.BMImage._from_array(yuv, fmt).asmat(), cv2.cvtColor(yuv, code))


def test_asmat_is_a_copy_and_refuses_float_images():
    bgr = pixels((4, 6, 3))
    image = sail.BMImage._from_array(bgr, sail.FORMAT_BGR_PACKED)
    image.asmat()[:] = 0
    assert bgr.any()
    with pytest.raises(framebus.InvalidArgument, match="DATA_TYPE_EXT_1N_BYTE"):
        sail.BMImage(H, 2, 2, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_FLOAT32).asmat()
    with pytest.raises(framebus.InvalidArgument, match="cannot be converted"):
        sail.BMImage(H, 2, 2, sail.FORMAT_YUV444P, sail.DATA_TYPE_EXT_1N_BYTE).asmat()


def test_asnumpy_shapes_follow_sails_table_and_copy():
    shapes = {sail.FORMAT_BGR_PACKED: (4, 6, 3), sail.FORMAT_ARGB_PACKED: (4, 6, 4), sail.FORMAT_GRAY: (1, 4, 6),
              sail.FORMAT_BGR_PLANAR: (3, 4, 6), sail.FORMAT_YUV444P: (3, 4, 6), sail.FORMAT_YUV420P: (36,),
              sail.FORMAT_NV12: (36,), sail.FORMAT_RGBP_SEPARATE: (72,)}
    for fmt, shape in shapes.items():
        image = sail.BMImage(H, 4, 6, fmt, sail.DATA_TYPE_EXT_1N_BYTE)
        out = image.asnumpy()
        assert out.shape == shape, fmt
        out[...] = 1
        assert not np.asarray(image).any()


def test_numpy_sees_the_pixels_in_place():
    image = sail.BMImage(H, 4, 6, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_1N_BYTE)
    np.asarray(image)[1, 2] = (1, 2, 3)
    assert image.asmat()[1, 2].tolist() == [1, 2, 3]
    assert np.asarray(image, dtype=np.float32).dtype == np.float32


def test_alignment_calls_succeed_trivially_and_handle_is_reported():
    image = sail.BMImage(sail.Handle(2), 4, 6, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE)
    assert (image.align(), image.check_align(), image.unalign(), image.check_contiguous_memory()) == (0, 1, 0, 1)
    assert image.get_device_id() == 2 and image.get_handle() == sail.Handle(2)
    assert sail.BMImage().get_device_id() == 0


def test_framebus_formats_map_both_ways():
    for name in ("bgr24", "rgb24", "gray8", "nv12", "yuv420p"):
        assert _types.to_framebus_format(_types.from_framebus_format(name)) == name
    assert _types.to_framebus_format(sail.FORMAT_BGR_PLANAR) is None
    with pytest.raises(framebus.InvalidArgument, match="bgr24"):
        _types.from_framebus_format("p010")
