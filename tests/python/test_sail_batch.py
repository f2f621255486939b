"""framebus.compat.sail's batches: BMImageArrayND, the BMImageArray overloads of Bmcv (each
compared with the single-image calls stacked) and sail's module-level functions."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import framebus
from framebus.compat import sail

H = sail.Handle(0)
BMCV = sail.Bmcv(H)
RNG = np.random.default_rng(5)
AB = ((0.5, 1.0), (2.0, -3.0), (1.0, 10.0))


def planar_images(count: int = 4, h: int = 24, w: int = 32, fmt=sail.FORMAT_BGR_PLANAR):
    return [sail.BMImage._from_array(RNG.integers(0, 256, (3, h, w)).astype(np.uint8), fmt, H) for _ in range(count)]


def batch_of(images, cls=sail.BMImageArray4D):
    array = cls()
    for i, image in enumerate(images):
        array[i] = image.data()
    return array


def pixels(array) -> np.ndarray:
    """The N images of an array stacked, each as its own array (no sharing assumed)."""
    return np.stack([np.asarray(sail.BMImage(array[i])) for i in range(len(array))])


# ---- BMImageArrayND ----

def test_sail_s_batch_sizes_exist_and_report_their_length():
    for n in (2, 3, 4, 8, 16, 32, 64, 128, 256):
        assert len(getattr(sail, f"BMImageArray{n}D")()) == n
    assert not hasattr(sail, "BMImageArray1D")  # sail declares none


def test_an_empty_array_holds_empty_bgr_planar_images():
    array = sail.BMImageArray2D()
    assert (array[1].width(), array[1].height(), array[1].format(), array[1].dtype()) == (
        0, 0, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE)
    assert not array.check_need_free() and array.get_device_id() == 0


def test_the_sized_constructor_allocates_zeroed_images_of_that_geometry():
    array = sail.BMImageArray3D(sail.Handle(2), 6, 8, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_FLOAT32)
    assert [(a.width(), a.height(), a.format(), a.dtype()) for a in array] == [
        (8, 6, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_FLOAT32)] * 3
    assert array.check_need_free() and array.get_device_id() == 2
    assert not pixels(array).any()


def test_the_sized_constructor_and_create_refuse_bad_arguments():
    with pytest.raises(framebus.InvalidArgument, match="handle"):
        sail.BMImageArray4D(0, 6, 8, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE)
    with pytest.raises(framebus.InvalidArgument, match="format"):
        sail.BMImageArray4D(H, 6, 8, 99, sail.DATA_TYPE_EXT_1N_BYTE)
    with pytest.raises(framebus.InvalidArgument, match="h must be >= 1"):
        sail.BMImageArray4D().create(H, 0, 8, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE)


def test_getitem_returns_the_element_itself_and_iteration_stops_at_the_end():
    array = sail.BMImageArray4D(H, 4, 4, sail.FORMAT_GRAY, sail.DATA_TYPE_EXT_1N_BYTE)
    assert array[3] is array[3]
    assert len(list(array)) == 4


@pytest.mark.parametrize("index", [4, -1, 100])
def test_an_index_outside_the_batch_is_refused_as_invalid_argument_and_index_error(index):
    array = sail.BMImageArray4D()
    with pytest.raises(framebus.InvalidArgument, match="use 0 to 3"):
        array[index]
    with pytest.raises(IndexError):
        array[index] = planar_images(1)[0].data()
    with pytest.raises(IndexError):
        array.copy_from(index, planar_images(1)[0])


def test_a_non_integer_index_is_refused():
    with pytest.raises(framebus.InvalidArgument, match="i must be an int"):
        sail.BMImageArray2D()["0"]


def test_the_first_assignment_allocates_every_image_and_copies_the_data():
    images = planar_images(1)
    array = sail.BMImageArray4D()
    array[2] = images[0].data()
    assert array.check_need_free()
    assert np.array_equal(np.asarray(sail.BMImage(array[2])), np.asarray(images[0]))
    assert all((a.width(), a.height()) == (32, 24) for a in array) and not pixels(array)[[0, 1, 3]].any()
    np.asarray(images[0])[...] = 0  # a copy: the source can change
    assert pixels(array)[2].any()


def test_assignment_refuses_another_geometry_a_bmimage_and_an_empty_image():
    array = batch_of(planar_images(1))
    with pytest.raises(framebus.InvalidArgument, match="data is 16x24 .* holds 32x24"):
        array[1] = planar_images(1, 24, 16)[0].data()
    with pytest.raises(framebus.InvalidArgument, match=r"image.data\(\)"):
        array[1] = planar_images(1)[0]
    with pytest.raises(framebus.InvalidArgument, match="empty image"):
        array[1] = sail.BMImage().data()


def test_copy_from_copies_a_bmimage_and_returns_zero():
    images = planar_images(2)
    array = sail.BMImageArray2D()
    assert array.copy_from(0, images[0]) == 0 and array.copy_from(1, images[1]) == 0
    assert np.array_equal(pixels(array), np.stack([np.asarray(i) for i in images]))
    with pytest.raises(framebus.InvalidArgument, match="data must be a sail.BMImage"):
        array.copy_from(0, images[0].data())


def test_attach_from_shares_the_image_s_pixels_without_copying():
    images = planar_images(2)
    array = sail.BMImageArray2D()
    assert array.attach_from(1, images[1]) == 0
    np.asarray(images[1])[0, 0, 0] = 7
    assert np.asarray(sail.BMImage(array[1]))[0, 0, 0] == 7
    assert not array.check_need_free()
    with pytest.raises(framebus.InvalidArgument, match="holds 32x24"):
        array.attach_from(0, planar_images(1, 8, 8)[0])


def test_set_need_free_sets_the_flag_check_need_free_reports():
    array = sail.BMImageArray2D()
    array.set_need_free(True)
    assert array.check_need_free()
    array.set_need_free(False)
    assert not array.check_need_free()


# ---- Bmcv on arrays: each call equals the single-image calls stacked ----

def test_a_batch_through_convert_to_and_bm_image_to_tensor_equals_the_per_image_results():
    images = planar_images(4)
    converted = BMCV.convert_to(batch_of(images), AB)
    assert type(converted) is sail.BMImageArray4D
    tensor = BMCV.bm_image_to_tensor(converted)
    expected = np.concatenate([BMCV.bm_image_to_tensor(BMCV.convert_to(image, AB)).asnumpy() for image in images])
    assert tensor.shape() == [4, 3, 24, 32] and tensor.dtype() == sail.BM_UINT8
    assert np.array_equal(tensor.asnumpy(), expected)


def test_convert_to_into_an_output_array_returns_zero_and_equals_the_per_image_results():
    images = planar_images(4)
    output = sail.BMImageArray4D()
    assert BMCV.convert_to(batch_of(images), output, AB) == 0
    assert np.array_equal(pixels(output), np.stack([np.asarray(BMCV.convert_to(i, AB)) for i in images]))
    floats = sail.BMImageArray4D(H, 24, 32, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_FLOAT32)
    BMCV.convert_to(batch_of(images), floats, AB)
    assert floats[0].dtype() == sail.DATA_TYPE_EXT_FLOAT32


def test_an_output_array_of_another_batch_size_is_refused():
    with pytest.raises(framebus.InvalidArgument, match="output must be a sail.BMImageArray4D"):
        BMCV.convert_to(batch_of(planar_images(4)), sail.BMImageArray2D(), AB)
    with pytest.raises(framebus.InvalidArgument, match="batch size 4"):
        BMCV.vpp_resize(batch_of(planar_images(4)), sail.BMImage(), 8, 8, sail.BMCV_INTER_LINEAR)


PADDING = sail.PaddingAtrr(2, 3, 12, 10, 1, 2, 3)
CALLS = {
    "resize": lambda img: BMCV.resize(img, 16, 12, sail.BMCV_INTER_LINEAR),
    "vpp_resize": lambda img: BMCV.vpp_resize(img, 16, 12),
    "crop_and_resize": lambda img: BMCV.crop_and_resize(img, 2, 3, 20, 15, 10, 8, sail.BMCV_INTER_BICUBIC),
    "vpp_crop_and_resize": lambda img: BMCV.vpp_crop_and_resize(img, 2, 3, 20, 15, 10, 8),
    "crop": lambda img: BMCV.crop(img, 4, 5, 6, 7),
    "vpp_crop": lambda img: BMCV.vpp_crop(img, 4, 5, 6, 7),
    "vpp_crop_and_resize_padding": lambda img: BMCV.vpp_crop_and_resize_padding(img, 0, 0, 32, 24, 20, 16, PADDING),
    "vpp_resize_padding": lambda img: BMCV.vpp_resize_padding(img, 20, 16, PADDING, sail.BMCV_INTER_LINEAR),
    "convert_to": lambda img: BMCV.convert_to(img, AB),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_each_array_call_equals_its_single_image_call_on_every_image(call):
    images = planar_images(3)
    result = CALLS[call](batch_of(images, sail.BMImageArray3D))
    assert type(result) is sail.BMImageArray3D
    singles = [CALLS[call](image) for image in images]
    assert result[0].format() == singles[0].format() and result[0].dtype() == singles[0].dtype()
    assert np.array_equal(pixels(result), np.stack([np.asarray(s) for s in singles]))


def test_yuv2bgr_of_an_array_equals_the_per_image_conversions():
    frames = [sail.BMImage._from_array(RNG.integers(0, 256, (36, 32)).astype(np.uint8), sail.FORMAT_NV12, H)
              for _ in range(2)]
    result = BMCV.yuv2bgr(batch_of(frames, sail.BMImageArray2D))
    assert np.array_equal(pixels(result), np.stack([np.asarray(BMCV.yuv2bgr(f)) for f in frames]))


def test_vpp_resize_into_an_output_array_needs_resize_alg_as_in_sail():
    images = planar_images(2)
    output = sail.BMImageArray2D()
    assert BMCV.vpp_resize(batch_of(images, sail.BMImageArray2D), output, 16, 12, sail.BMCV_INTER_LINEAR) == 0
    assert np.array_equal(pixels(output), np.stack([np.asarray(BMCV.resize(i, 16, 12, sail.BMCV_INTER_LINEAR))
                                                    for i in images]))
    with pytest.raises(TypeError, match="resize_alg"):
        BMCV.vpp_resize(batch_of(images, sail.BMImageArray2D), output, 16, 12)


def test_image_copy_to_copies_each_image_into_the_output_of_the_same_index():
    images = planar_images(2, 4, 4)
    output = sail.BMImageArray2D(H, 8, 8, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE)
    assert BMCV.image_copy_to_padding(batch_of(images, sail.BMImageArray2D), output, 9, 9, 9, 2, 1) == 0
    assert np.array_equal(pixels(output)[:, :, 1:5, 2:6], np.stack([np.asarray(i) for i in images]))
    assert (pixels(output)[:, :, 0] == 9).all()
    assert BMCV.image_copy_to(batch_of(images, sail.BMImageArray2D), output) == 0
    assert np.array_equal(pixels(output)[:, :, :4, :4], np.stack([np.asarray(i) for i in images]))


# ---- arrays and tensors ----

def test_bm_image_to_tensor_fills_a_given_tensor_that_shares_the_array_s_batch():
    array = batch_of(planar_images(4))
    tensor = sail.Tensor(H, [1, 3, 2, 2], sail.BM_FLOAT32)
    assert BMCV.bm_image_to_tensor(array, tensor) is None
    assert tensor.shape() == [4, 3, 24, 32] and tensor.dtype() == sail.BM_UINT8
    array[3] = planar_images(1)[0].data()  # the array is the tensor's memory, as in sail
    assert np.array_equal(tensor.asnumpy(), pixels(array))


def test_a_partly_filled_batch_gives_zero_images_in_the_unfilled_places():
    array = batch_of(planar_images(3))
    assert not BMCV.bm_image_to_tensor(array).asnumpy()[3].any()


def test_bm_image_to_tensor_copies_elements_that_live_elsewhere():
    images = planar_images(2)
    array = sail.BMImageArray2D()
    array.attach_from(0, images[0])
    array.attach_from(1, images[1])
    tensor = BMCV.bm_image_to_tensor(array)
    assert np.array_equal(tensor.asnumpy(), np.stack([np.asarray(i) for i in images]))
    array[0]._assign(np.zeros((3, 24, 32), np.uint8), sail.FORMAT_BGR_PLANAR)  # as Decoder.read_ refills it
    assert not BMCV.bm_image_to_tensor(array).asnumpy()[0].any()


def test_bm_image_to_tensor_refuses_packed_and_empty_arrays():
    with pytest.raises(framebus.InvalidArgument, match="FORMAT_BGR_PLANAR or FORMAT_RGB_PLANAR"):
        BMCV.bm_image_to_tensor(sail.BMImageArray2D(H, 4, 4, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_1N_BYTE))
    with pytest.raises(framebus.InvalidArgument, match="without images"):
        BMCV.bm_image_to_tensor(sail.BMImageArray2D())


def test_tensor_to_bm_image_makes_the_array_s_images_share_the_tensor():
    data = RNG.integers(0, 256, (2, 3, 5, 6)).astype(np.uint8)
    tensor = sail.Tensor(H, data)
    array = sail.BMImageArray2D()
    assert BMCV.tensor_to_bm_image(tensor, array) is None
    assert array[1].format() == sail.FORMAT_BGR_PLANAR and (array[1].width(), array[1].height()) == (6, 5)
    assert np.array_equal(pixels(array), data) and not array.check_need_free()
    tensor.zeros()
    assert not pixels(array).any()
    BMCV.tensor_to_bm_image(tensor, img=array, bgr2rgb=True)
    assert array[0].format() == sail.FORMAT_RGB_PLANAR
    BMCV.tensor_to_bm_image(sail.Tensor(H, data.transpose(0, 2, 3, 1).copy()), array, sail.FORMAT_BGR_PACKED)
    assert np.array_equal(pixels(array), data.transpose(0, 2, 3, 1))


def test_tensor_to_bm_image_refuses_a_tensor_of_another_batch_size():
    with pytest.raises(framebus.InvalidArgument, match="needs a batch of 4"):
        BMCV.tensor_to_bm_image(sail.Tensor(H, [2, 3, 4, 4], sail.BM_UINT8), sail.BMImageArray4D())


def test_the_single_image_calls_still_work_alongside_the_array_forms():
    image = planar_images(1)[0]
    out = sail.BMImage()
    assert BMCV.tensor_to_bm_image(BMCV.bm_image_to_tensor(image), out) is None and out.width() == 32
    assert BMCV.convert_to(image, AB).width() == 32 and BMCV.vpp_resize(image, out, 8, 8) == 0


# ---- module-level functions ----

def test_one_processor_is_available():
    assert sail.get_available_tpu_num() == 1


def test_print_and_dump_flags_return_zero_and_refuse_non_bools():
    assert sail.set_print_flag(True) == 0 and sail.set_dump_io_flag(False) == 0
    with pytest.raises(framebus.InvalidArgument, match="print_flag"):
        sail.set_print_flag("yes")
    with pytest.raises(framebus.InvalidArgument, match="dump_io_flag"):
        sail.set_dump_io_flag(None)


def test_log_levels_have_sail_s_values_and_set_the_compat_logger_s_level():
    assert [sail.LogLevel[n] for n in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "OFF")] == list(range(7))
    assert sail.WARN is sail.LogLevel.WARN
    logger = logging.getLogger("framebus.compat.sail")
    before = logger.level
    try:
        assert sail.set_loglevel(sail.LogLevel.ERROR) == 0 and logger.level == logging.ERROR
        sail.set_loglevel(sail.LogLevel.OFF)
        assert not logger.isEnabledFor(logging.CRITICAL)
    finally:
        logger.setLevel(before)
    with pytest.raises(framebus.InvalidArgument, match="loglevel"):
        sail.set_loglevel(42)


def test_set_decoder_env_accepts_strings_and_refuses_anything_else():
    assert sail.set_decoder_env("rtsp_transport", "tcp") == 0
    with pytest.raises(framebus.InvalidArgument, match="env_value"):
        sail.set_decoder_env("probesize", 1024)
