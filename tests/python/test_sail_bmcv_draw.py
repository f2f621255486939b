"""framebus.compat.sail.Bmcv's drawing, image file and copy calls, compared with OpenCV's."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import framebus
from framebus.compat import sail

H = sail.Handle(0)
BMCV = sail.Bmcv(H)
RNG = np.random.default_rng(5)


def bgr_image(h: int = 40, w: int = 60):
    bgr = RNG.integers(0, 256, (h, w, 3)).astype(np.uint8)
    return sail.BMImage._from_array(bgr.copy(), sail.FORMAT_BGR_PACKED), bgr


def test_rectangle_draws_what_cv2_rectangle_draws_in_bgr_order():
    image, bgr = bgr_image()
    assert BMCV.rectangle(image, 5, 6, 20, 10, (0, 0, 255), 2) == 0
    assert np.array_equal(np.asarray(image), cv2.rectangle(bgr, (5, 6), (24, 15), (0, 0, 255), 2))


def test_rectangle_on_a_planar_image_equals_drawing_on_its_bgr_pixels():
    image, bgr = bgr_image()
    planar = BMCV.convert_format(image)
    BMCV.rectangle(planar.data(), 1, 2, 30, 20, (10, 20, 30))
    assert np.array_equal(planar.asmat(), cv2.rectangle(bgr, (1, 2), (30, 21), (10, 20, 30), 1))


def test_fill_rectangle_fills_the_area():
    image, bgr = bgr_image()
    assert BMCV.fillRectangle(image, 3, 4, 8, 6, (1, 2, 3)) == 0
    assert np.array_equal(np.asarray(image), cv2.rectangle(bgr, (3, 4), (10, 9), (1, 2, 3), cv2.FILLED))


def test_rectangle_on_nv12_sets_the_colours_luma_and_chroma():
    image, _ = bgr_image()
    nv12 = BMCV.convert_format(image, sail.FORMAT_NV12)
    BMCV.fillRectangle(nv12, 10, 10, 4, 4, (0, 0, 255))
    red = cv2.cvtColor(np.full((2, 2, 3), (0, 0, 255), np.uint8), cv2.COLOR_BGR2YUV_I420).reshape(-1)
    array = np.asarray(nv12)
    assert (array[10:14, 10:14] == red[0]).all()
    uv = array[40:].reshape(20, 30, 2)
    assert (uv[5:7, 5:7] == (red[4], red[5])).all()


def test_put_text_writes_what_cv2_put_text_writes():
    image, bgr = bgr_image()
    assert BMCV.putText(image, "sail", 2, 30, (255, 255, 0), 0.8, 2) == 0
    expected = cv2.putText(bgr, "sail", (2, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2)
    assert np.array_equal(np.asarray(image), expected)


def test_drawing_refuses_bad_colours_thickness_and_formats():
    image, _ = bgr_image()
    with pytest.raises(framebus.InvalidArgument, match="color"):
        BMCV.rectangle(image, 0, 0, 5, 5, (1, 2))
    with pytest.raises(framebus.InvalidArgument, match="thickness"):
        BMCV.rectangle(image, 0, 0, 5, 5, (1, 2, 3), 0)
    with pytest.raises(framebus.InvalidArgument, match="text"):
        BMCV.putText(image, 5, 0, 0, (1, 2, 3), 1.0)
    with pytest.raises(framebus.InvalidArgument, match="YUV444P"):
        BMCV.rectangle(sail.BMImage(H, 4, 4, sail.FORMAT_YUV444P, sail.DATA_TYPE_EXT_1N_BYTE), 0, 0, 2, 2, (1, 2, 3))


def test_imwrite_then_imread_round_trips_a_png(tmp_path):
    image, bgr = bgr_image()
    path = str(tmp_path / "out.png")
    assert BMCV.imwrite(path, BMCV.convert_format(image)) == 0
    read = BMCV.imread(path)
    assert read.format() == sail.FORMAT_BGR_PACKED and np.array_equal(np.asarray(read), bgr)


def test_imwrite_and_imread_refuse_what_they_cannot_do(tmp_path):
    image, _ = bgr_image()
    with pytest.raises(framebus.InvalidArgument, match="file_name"):
        BMCV.imwrite(str(tmp_path / "out.unknown"), image)
    with pytest.raises(framebus.InvalidArgument, match="filename"):
        BMCV.imread(str(tmp_path / "missing.jpg"))
    with pytest.raises(framebus.InvalidArgument, match="8-bit"):
        BMCV.imwrite(str(tmp_path / "f.png"), sail.BMImage(H, 2, 2, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_FLOAT32))


def test_imencode_and_imdecode_round_trip():
    image, bgr = bgr_image()
    data = BMCV.imencode(".png", image)
    assert data.dtype == np.uint8 and np.array_equal(np.asarray(BMCV.imdecode(data.tobytes())), bgr)
    with pytest.raises(framebus.InvalidArgument, match="data_bytes"):
        BMCV.imdecode(b"not an image")


def test_mat_to_bm_image_copies_a_bgr_array():
    _, bgr = bgr_image()
    image = BMCV.mat_to_bm_image(bgr)
    bgr[0, 0] = 0
    assert image.format() == sail.FORMAT_BGR_PACKED and not np.shares_memory(np.asarray(image), bgr)
    target = sail.BMImage()
    assert BMCV.mat_to_bm_image(bgr, target) == 0 and np.array_equal(np.asarray(target), bgr)
    with pytest.raises(framebus.InvalidArgument, match="input_array"):
        BMCV.mat_to_bm_image(bgr.astype(np.float32))


def test_image_copy_to_places_the_input_inside_the_output():
    small, bgr = bgr_image(4, 6)
    big = sail.BMImage(H, 10, 12, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_1N_BYTE)
    assert BMCV.image_copy_to(small, big, 3, 2) == 0
    assert np.array_equal(np.asarray(big)[2:6, 3:9], bgr) and not np.asarray(big)[:2].any()
    planar_small, planar_big = BMCV.convert_format(small), sail.BMImage(H, 10, 12, sail.FORMAT_BGR_PLANAR,
                                                                         sail.DATA_TYPE_EXT_1N_BYTE)
    assert BMCV.image_copy_to_padding(planar_small, planar_big, 7, 8, 9, 1, 1) == 0
    mat = planar_big.asmat()
    assert np.array_equal(mat[1:5, 1:7], bgr) and (mat[0] == (9, 8, 7)).all()


def test_image_copy_to_refuses_other_formats_and_outputs_too_small():
    small, _ = bgr_image(4, 6)
    with pytest.raises(framebus.InvalidArgument, match="input's format"):
        BMCV.image_copy_to(small, sail.BMImage(H, 10, 12, sail.FORMAT_BGR_PLANAR, sail.DATA_TYPE_EXT_1N_BYTE))
    with pytest.raises(framebus.InvalidArgument, match="does not fit"):
        BMCV.image_copy_to(small, sail.BMImage(H, 4, 6, sail.FORMAT_BGR_PACKED, sail.DATA_TYPE_EXT_1N_BYTE), 1, 0)
    with pytest.raises(framebus.InvalidArgument, match="empty image"):
        BMCV.image_copy_to(small, sail.BMImage())
