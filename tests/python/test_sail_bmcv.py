"""framebus.compat.sail.Bmcv's resize, crop, padding, format and value conversions and tensor
links: every result is compared with what OpenCV computes for the same operation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import framebus
from framebus.compat import sail

H = sail.Handle(0)
BMCV = sail.Bmcv(H)
RNG = np.random.default_rng(11)
INTER = {sail.BMCV_INTER_NEAREST: cv2.INTER_NEAREST, sail.BMCV_INTER_LINEAR: cv2.INTER_LINEAR,
         sail.BMCV_INTER_BICUBIC: cv2.INTER_CUBIC}


def bgr_image(h: int = 48, w: int = 64):
    """A random BGR packed image and its pixels."""
    bgr = RNG.integers(0, 256, (h, w, 3)).astype(np.uint8)
    return sail.BMImage._from_array(bgr.copy(), sail.FORMAT_BGR_PACKED), bgr


def as_bgr(image) -> np.ndarray:
    return image.asmat()


def test_bmcv_needs_a_handle_and_returns_it():
    assert BMCV.get_handle() is H
    with pytest.raises(framebus.InvalidArgument, match="handle"):
        sail.Bmcv(0)


@pytest.mark.parametrize("alg", list(INTER), ids=lambda a: a.name)
def test_resize_matches_cv2_resize_and_makes_a_bgr_planar_image(alg):
    image, bgr = bgr_image()
    out = BMCV.resize(image, 40, 30, alg)
    assert (out.format(), out.dtype(), out.width(), out.height()) == (sail.FORMAT_BGR_PLANAR,
                                                                      sail.DATA_TYPE_EXT_1N_BYTE, 40, 30)
    assert np.array_equal(np.asarray(out).transpose(1, 2, 0), cv2.resize(bgr, (40, 30), interpolation=INTER[alg]))


def test_resize_defaults_to_nearest_and_accepts_keywords():
    image, bgr = bgr_image()
    out = BMCV.resize(input=image, resize_w=20, resize_h=10)
    assert np.array_equal(as_bgr(out), cv2.resize(bgr, (20, 10), interpolation=cv2.INTER_NEAREST))


def test_resize_of_a_yuv_image_resizes_its_bgr_conversion():
    yuv = RNG.integers(0, 256, (72, 64)).astype(np.uint8)
    out = BMCV.resize(sail.BMImage._from_array(yuv, sail.FORMAT_YUV420P), 32, 24, sail.BMCV_INTER_LINEAR)
    expected = cv2.resize(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), (32, 24), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(as_bgr(out), expected)


def test_resize_keeps_an_rgb_planar_input_rgb_planar():
    image, bgr = bgr_image()
    rgb_planar = BMCV.convert_format(image, sail.FORMAT_RGB_PLANAR)
    out = BMCV.resize(rgb_planar, 16, 16)
    assert out.format() == sail.FORMAT_RGB_PLANAR
    assert np.array_equal(as_bgr(out), cv2.resize(bgr, (16, 16), interpolation=cv2.INTER_NEAREST))


def test_crop_and_resize_resizes_the_window():
    image, bgr = bgr_image()
    out = BMCV.crop_and_resize(image, 8, 4, 32, 20, 16, 10, sail.BMCV_INTER_LINEAR)
    assert np.array_equal(as_bgr(out), cv2.resize(bgr[4:24, 8:40], (16, 10), interpolation=cv2.INTER_LINEAR))
    vpp = BMCV.vpp_crop_and_resize(image, 8, 4, 32, 20, 16, 10, sail.BMCV_INTER_LINEAR)
    assert np.array_equal(as_bgr(vpp), as_bgr(out))


def test_crop_cuts_the_window_and_a_list_of_rects_gives_a_list():
    image, bgr = bgr_image()
    assert np.array_equal(as_bgr(BMCV.crop(image, 10, 5, 7, 9)), bgr[5:14, 10:17])
    assert np.array_equal(as_bgr(BMCV.vpp_crop(image, 0, 0, 3, 2)), bgr[:2, :3])
    parts = BMCV.crop(image, [[0, 0, 4, 4], [40, 30, 24, 18]])
    assert [p.width() for p in parts] == [4, 24] and np.array_equal(as_bgr(parts[1]), bgr[30:48, 40:64])


@pytest.mark.parametrize("window,match", [((60, 0, 10, 10), "outside"), ((0, 40, 10, 10), "outside"),
                                          ((0, 0, 0, 10), "crop_w"), ((-1, 0, 5, 5), "crop_x0")])
def test_a_crop_window_outside_the_image_is_refused(window, match):
    image, _ = bgr_image()
    with pytest.raises(framebus.InvalidArgument, match=match):
        BMCV.crop_and_resize(image, *window, 8, 8)


def test_resize_refuses_bad_sizes_algorithms_and_inputs():
    image, _ = bgr_image()
    with pytest.raises(framebus.InvalidArgument, match="resize_w"):
        BMCV.resize(image, 0, 8)
    with pytest.raises(framebus.InvalidArgument, match="resize_alg"):
        BMCV.resize(image, 8, 8, 7)
    with pytest.raises(framebus.InvalidArgument, match="empty image"):
        BMCV.resize(sail.BMImage(), 8, 8)
    with pytest.raises(framebus.InvalidArgument, match="input must be a sail.BMImage"):
        BMCV.resize(np.zeros((4, 4, 3), np.uint8), 8, 8)


def test_vpp_resize_into_an_output_keeps_its_format_and_dtype():
    image, bgr = bgr_image()
    output = sail.BMImage(H, 2, 2, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_1N_BYTE)
    assert BMCV.vpp_resize(image, output, 20, 12, sail.BMCV_INTER_LINEAR) == 0
    assert output.format() == sail.FORMAT_BGR_PACKED and (output.width(), output.height()) == (20, 12)
    assert np.array_equal(np.asarray(output), cv2.resize(bgr, (20, 12), interpolation=cv2.INTER_LINEAR))
    empty = sail.BMImage()
    BMCV.vpp_resize(image, empty, 8, 8)
    assert empty.format() == sail.FORMAT_BGR_PLANAR and empty.width() == 8
    assert BMCV.vpp_resize(image, 10, 10).width() == 10


def test_vpp_resize_padding_places_the_resized_image_on_the_padding_colour():
    image, bgr = bgr_image()
    padding = sail.PaddingAtrr(0, 8, 64, 48, 114, 115, 116)
    out = as_bgr(BMCV.vpp_resize_padding(image, 64, 64, padding, sail.BMCV_INTER_LINEAR))
    assert np.array_equal(out[8:56], cv2.resize(bgr, (64, 48), interpolation=cv2.INTER_LINEAR))
    assert (out[:8] == (116, 115, 114)).all() and (out[56:] == (116, 115, 114)).all()


def test_vpp_crop_and_resize_padding_resizes_the_crop_to_the_padding_size():
    image, bgr = bgr_image()
    padding = sail.PaddingAtrr(4, 0, 20, 16, 0, 0, 0)
    out = as_bgr(BMCV.vpp_crop_and_resize_padding(image, 8, 8, 40, 32, 32, 16, padding))
    assert np.array_equal(out[:, 4:24], cv2.resize(bgr[8:40, 8:48], (20, 16), interpolation=cv2.INTER_NEAREST))
    assert not out[:, :4].any() and not out[:, 24:].any()


def test_crop_and_resize_padding_keeps_the_aspect_ratio_inside_the_padding_box():
    image, bgr = bgr_image(48, 64)
    padding = sail.PaddingAtrr(0, 0, 64, 64, 114, 114, 114)
    out = BMCV.crop_and_resize_padding(image, 0, 0, 64, 48, 64, 64, padding, sail.BMCV_INTER_LINEAR)
    assert out.format() == sail.FORMAT_BGR_PLANAR and out.dtype() == sail.DATA_TYPE_EXT_1N_BYTE
    mat = as_bgr(out)
    assert np.array_equal(mat[:48], cv2.resize(bgr, (64, 48), interpolation=cv2.INTER_LINEAR))
    assert (mat[48:] == 114).all()


@pytest.mark.parametrize("padding,match", [(sail.PaddingAtrr(10, 0, 64, 48, 0, 0, 0), "outside"),
                                           (sail.PaddingAtrr(), "width and height"), ("pad", "PaddingAtrr")])
def test_bad_padding_is_refused(padding, match):
    image, _ = bgr_image()
    with pytest.raises(framebus.InvalidArgument, match=match):
        BMCV.vpp_resize_padding(image, 64, 64, padding)


@pytest.mark.parametrize("fmt", [sail.FORMAT_BGR_PACKED, sail.FORMAT_RGB_PACKED, sail.FORMAT_BGR_PLANAR,
                                 sail.FORMAT_RGB_PLANAR, sail.FORMAT_RGBP_SEPARATE], ids=lambda f: f.name)
def test_convert_format_round_trips_bgr_packed_and_planar_losslessly(fmt):
    image, bgr = bgr_image()
    converted = BMCV.convert_format(image, fmt)
    assert converted.format() == fmt and np.array_equal(as_bgr(BMCV.convert_format(converted,
                                                                                   sail.FORMAT_BGR_PACKED)), bgr)


def test_convert_format_defaults_to_bgr_planar_and_fills_an_output():
    image, bgr = bgr_image()
    assert np.array_equal(np.asarray(BMCV.convert_format(image)), bgr.transpose(2, 0, 1))
    output = sail.BMImage(H, 2, 2, sail.FORMAT_GRAY, sail.DATA_TYPE_EXT_1N_BYTE)
    assert BMCV.convert_format(image, output) == 0
    assert np.array_equal(np.asarray(output), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    target = sail.BMImage()
    assert BMCV.vpp_convert_format(image, target) == 0 and target.format() == sail.FORMAT_BGR_PLANAR


def test_yuv_formats_convert_to_bgr_as_opencv_and_between_each_other_losslessly():
    image, bgr = bgr_image()
    i420 = BMCV.convert_format(image, sail.FORMAT_YUV420P)
    assert np.array_equal(np.asarray(i420), cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420))
    nv12 = BMCV.convert_format(i420, sail.FORMAT_NV12)
    assert np.array_equal(as_bgr(nv12), cv2.cvtColor(np.asarray(i420), cv2.COLOR_YUV2BGR_I420))
    assert np.array_equal(np.asarray(BMCV.convert_format(BMCV.convert_format(nv12, sail.FORMAT_NV21),
                                                         sail.FORMAT_YUV420P)), np.asarray(i420))
    assert np.array_equal(as_bgr(BMCV.yuv2bgr(nv12)), as_bgr(nv12))
    gray = BMCV.convert_format(nv12, sail.FORMAT_GRAY)
    assert np.array_equal(np.asarray(gray), np.asarray(nv12)[:48])


def test_convert_format_refuses_formats_without_a_cpu_conversion():
    image, _ = bgr_image()
    with pytest.raises(framebus.InvalidArgument, match="FORMAT_YUV444P cannot be converted"):
        BMCV.convert_format(image, sail.FORMAT_YUV444P)
    with pytest.raises(framebus.InvalidArgument, match="even"):
        BMCV.convert_format(bgr_image(5, 6)[0], sail.FORMAT_NV12)


ALPHA_BETA = ((0.5, 10.0), (2.0, -20.0), (1.0 / 255, 0.0))


def test_convert_to_applies_alpha_and_beta_per_channel_as_cv2_add_weighted():
    image, bgr = bgr_image()
    planar = BMCV.convert_format(image)
    out = BMCV.convert_to(planar, ALPHA_BETA)
    assert out.format() == sail.FORMAT_BGR_PLANAR and out.dtype() == sail.DATA_TYPE_EXT_1N_BYTE
    for c, (a, b) in enumerate(ALPHA_BETA):
        expected = cv2.addWeighted(bgr[..., c].copy(), a, bgr[..., c].copy(), 0.0, b)
        assert np.array_equal(np.asarray(out)[c], expected), c


def test_convert_to_into_a_float_output_gives_unrounded_values():
    image, bgr = bgr_image()
    planar = BMCV.convert_format(image)
    output = sail.BMImage(H, 48, 64, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_FLOAT32)
    assert BMCV.convert_to(planar, output, ALPHA_BETA) == 0
    expected = np.stack([bgr[..., c].astype(np.float32) * np.float32(a) + np.float32(b)
                         for c, (a, b) in enumerate(ALPHA_BETA)])
    assert np.asarray(output).dtype == np.float32 and np.allclose(np.asarray(output), expected, rtol=1e-6, atol=1e-4)


def test_convert_to_works_on_packed_images_channel_by_channel():
    image, bgr = bgr_image()
    out = np.asarray(BMCV.convert_to(image, ((1, 1), (1, 2), (1, 3))))
    assert np.array_equal(out, np.clip(bgr.astype(int) + (1, 2, 3), 0, 255))


def test_convert_to_refuses_bad_alpha_beta_mismatched_outputs_and_gray():
    image, _ = bgr_image()
    planar = BMCV.convert_format(image)
    with pytest.raises(framebus.InvalidArgument, match="alpha_beta"):
        BMCV.convert_to(planar, ((1, 0), (1, 0)))
    with pytest.raises(framebus.InvalidArgument, match="keeps the input's format"):
        BMCV.convert_to(planar, sail.BMImage(H, 4, 4, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_FLOAT32), ALPHA_BETA)
    with pytest.raises(framebus.InvalidArgument, match="3-channel"):
        BMCV.convert_to(BMCV.convert_format(image, sail.FORMAT_GRAY), ALPHA_BETA)


def test_bm_image_to_tensor_shares_a_planar_images_pixels_as_1x3xhxw():
    image, bgr = bgr_image()
    planar = BMCV.convert_format(image)
    tensor = BMCV.bm_image_to_tensor(planar)
    assert tensor.shape() == [1, 3, 48, 64] and tensor.dtype() == sail.BM_UINT8
    assert np.array_equal(tensor.asnumpy()[0], bgr.transpose(2, 0, 1))
    tensor.zeros()
    assert not np.asarray(planar).any()
    target = sail.Tensor(H, [1], sail.BM_FLOAT32)
    floats = sail.BMImage(H, 4, 4, sail.FORMAT_RGB_PLANAR, sail.DATA_TYPE_EXT_FLOAT32)
    assert BMCV.bm_image_to_tensor(floats, target) is None
    assert target.shape() == [1, 3, 4, 4] and target.dtype() == sail.BM_FLOAT32
    with pytest.raises(framebus.InvalidArgument, match="FORMAT_BGR_PLANAR or FORMAT_RGB_PLANAR"):
        BMCV.bm_image_to_tensor(image)


def test_tensor_to_bm_image_round_trips_and_labels_channels():
    image, bgr = bgr_image()
    tensor = BMCV.bm_image_to_tensor(BMCV.convert_format(image))
    back = BMCV.tensor_to_bm_image(tensor)
    assert back.format() == sail.FORMAT_BGR_PLANAR and np.array_equal(as_bgr(back), bgr)
    assert BMCV.tensor_to_bm_image(tensor, True).format() == sail.FORMAT_RGB_PLANAR
    assert np.array_equal(as_bgr(BMCV.tensor_to_bm_image(tensor, bgr2rgb=True)), bgr[..., ::-1])
    nhwc = sail.Tensor(H, bgr[None])
    assert np.array_equal(as_bgr(BMCV.tensor_to_bm_image(nhwc, layout="nhwc")), bgr)
    assert np.array_equal(as_bgr(BMCV.tensor_to_bm_image(nhwc, sail.FORMAT_BGR_PACKED)), bgr)
    img = sail.BMImage()
    assert BMCV.tensor_to_bm_image(tensor, img) is None and np.array_equal(as_bgr(img), bgr)
    assert BMCV.tensor_to_bm_image(nhwc, img, sail.FORMAT_RGB_PACKED) is None and img.format() == sail.FORMAT_RGB_PACKED


def test_tensor_to_bm_image_refuses_bad_shapes_and_dtypes():
    with pytest.raises(framebus.InvalidArgument, match=r"needs \(1, 3, H, W\)"):
        BMCV.tensor_to_bm_image(sail.Tensor(H, [2, 3, 4, 4], sail.BM_UINT8))
    with pytest.raises(framebus.InvalidArgument, match="BM_INT32"):
        BMCV.tensor_to_bm_image(sail.Tensor(H, [1, 3, 4, 4], sail.BM_INT32))
    with pytest.raises(framebus.InvalidArgument, match="layout"):
        BMCV.tensor_to_bm_image(sail.Tensor(H, [1, 3, 4, 4], sail.BM_UINT8), False, "chw")


def test_data_type_mappings_follow_sail():
    assert BMCV.get_bm_data_type(sail.DATA_TYPE_EXT_FLOAT32) == sail.BM_FLOAT32
    assert BMCV.get_bm_data_type(sail.DATA_TYPE_EXT_1N_BYTE) == sail.BM_UINT8
    assert BMCV.get_bm_data_type(sail.DATA_TYPE_EXT_1N_BYTE_SIGNED) == sail.BM_INT8
    assert BMCV.get_bm_image_data_format(sail.BM_UINT8) == sail.DATA_TYPE_EXT_1N_BYTE
    assert BMCV.get_bm_image_data_format(sail.BM_INT8) == sail.DATA_TYPE_EXT_1N_BYTE_SIGNED
    with pytest.raises(framebus.InvalidArgument, match="BM_INT32"):
        BMCV.get_bm_image_data_format(sail.BM_INT32)
