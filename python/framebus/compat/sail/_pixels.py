"""How each sail pixel format lies in a NumPy array, and conversions between formats.

One table says, for every format an image can have on the CPU, its planes (as bmcv counts them)
and the shape of the C-contiguous array that holds them. Conversions go through OpenCV: the
YUV ones use its BT.601 limited-range formulas, which are the ones bmcv uses for decoded video.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from ..._errors import InvalidArgument
from ._base import Format, ImgDtype

F = Format

_PACKED3 = (F.FORMAT_BGR_PACKED, F.FORMAT_RGB_PACKED)
_PACKED4 = (F.FORMAT_ARGB_PACKED, F.FORMAT_ABGR_PACKED)
_THREE_PLANES = (F.FORMAT_BGR_PLANAR, F.FORMAT_RGB_PLANAR, F.FORMAT_BGRP_SEPARATE,
                 F.FORMAT_RGBP_SEPARATE, F.FORMAT_YUV444P)
_YUV420 = (F.FORMAT_YUV420P, F.FORMAT_NV12, F.FORMAT_NV21)
_YUV422 = (F.FORMAT_YUV422P, F.FORMAT_NV16, F.FORMAT_NV61)
# Formats with subsampled chroma need an even width and height.
_EVEN = _YUV420 + _YUV422 + (F.FORMAT_NV24,)
# Formats the conversions (asmat, Bmcv.convert_format, ...) read and write.
CONVERTIBLE = _PACKED3 + _THREE_PLANES[:4] + (F.FORMAT_GRAY,) + _YUV420
_BGR_ORDER = (F.FORMAT_BGR_PACKED, F.FORMAT_BGR_PLANAR, F.FORMAT_BGRP_SEPARATE)

_NP_DTYPES = {ImgDtype.DATA_TYPE_EXT_1N_BYTE: np.dtype(np.uint8),
              ImgDtype.DATA_TYPE_EXT_FLOAT32: np.dtype(np.float32),
              ImgDtype.DATA_TYPE_EXT_1N_BYTE_SIGNED: np.dtype(np.int8)}

_FRAMEBUS = {F.FORMAT_BGR_PACKED: "bgr24", F.FORMAT_RGB_PACKED: "rgb24", F.FORMAT_GRAY: "gray8",
             F.FORMAT_NV12: "nv12", F.FORMAT_YUV420P: "yuv420p"}


def to_framebus_format(fmt: Format) -> Optional[str]:
    """The framebus image format name of ``fmt``, or None where framebus has none."""
    return _FRAMEBUS.get(fmt)


def from_framebus_format(name: str) -> Format:
    """The sail format of the framebus image format ``name``."""
    for fmt, known in _FRAMEBUS.items():
        if known == name:
            return fmt
    raise InvalidArgument(f"format {name!r} has no sail equivalent; one of {sorted(_FRAMEBUS.values())}")


def np_dtype(dtype: ImgDtype) -> np.dtype:
    """The NumPy dtype of an image of ``dtype``."""
    try:
        return _NP_DTYPES[dtype]
    except KeyError:
        raise InvalidArgument(f"dtype {dtype!r} is not supported on the CPU (the 4N types are a device "
                              "memory layout); use DATA_TYPE_EXT_1N_BYTE, DATA_TYPE_EXT_1N_BYTE_SIGNED or "
                              "DATA_TYPE_EXT_FLOAT32") from None


def img_dtype(dtype: np.dtype) -> ImgDtype:
    """The sail image dtype of a NumPy array of ``dtype``."""
    for sail_dtype, known in _NP_DTYPES.items():
        if known == dtype:
            return sail_dtype
    raise InvalidArgument(f"an image array must be uint8, int8 or float32, not {dtype}")


def planes(fmt: Format, h: int, w: int) -> List[Tuple[int, int]]:
    """(rows, samples per row) of each plane of an ``h`` x ``w`` image of ``fmt``, in memory order."""
    if fmt in _PACKED3:
        return [(h, w * 3)]
    if fmt in _PACKED4:
        return [(h, w * 4)]
    if fmt in (F.FORMAT_BGR_PLANAR, F.FORMAT_RGB_PLANAR):
        return [(h * 3, w)]
    if fmt in (F.FORMAT_BGRP_SEPARATE, F.FORMAT_RGBP_SEPARATE, F.FORMAT_YUV444P):
        return [(h, w)] * 3
    if fmt == F.FORMAT_GRAY:
        return [(h, w)]
    if fmt == F.FORMAT_YUV420P:
        return [(h, w), (h // 2, w // 2), (h // 2, w // 2)]
    if fmt == F.FORMAT_YUV422P:
        return [(h, w), (h, w // 2), (h, w // 2)]
    if fmt in (F.FORMAT_NV12, F.FORMAT_NV21):
        return [(h, w), (h // 2, w)]
    if fmt in (F.FORMAT_NV16, F.FORMAT_NV61):
        return [(h, w), (h, w)]
    if fmt == F.FORMAT_NV24:
        return [(h, w), (h, w * 2)]
    raise InvalidArgument(f"format {fmt!r} is not supported on the CPU (FORMAT_COMPRESSED is a hardware "
                          "decoder layout); decode to FORMAT_YUV420P, FORMAT_NV12 or FORMAT_BGR_PACKED")


def layout(fmt: Format, h: int, w: int) -> Tuple[int, ...]:
    """The shape of the array that holds an ``h`` x ``w`` image of ``fmt``."""
    check_size(fmt, h, w)
    if fmt in _PACKED3:
        return (h, w, 3)
    if fmt in _PACKED4:
        return (h, w, 4)
    if fmt in _THREE_PLANES:
        return (3, h, w)
    if fmt == F.FORMAT_GRAY:
        return (h, w)
    rows = sum(r * cols for r, cols in planes(fmt, h, w)) // max(w, 1)
    return (rows if w else h * 2, w)


def check_size(fmt: Format, h: int, w: int) -> None:
    """InvalidArgument unless ``fmt`` can hold an ``h`` x ``w`` image."""
    planes(fmt, h, w)
    if fmt in _EVEN and (h % 2 or w % 2):
        raise InvalidArgument(f"{fmt.name} needs an even width and height, not {w}x{h}")


def size_of(fmt: Format, shape: Tuple[int, ...]) -> Tuple[int, int]:
    """(height, width) of the image of ``fmt`` that an array of ``shape`` holds; InvalidArgument
    naming the expected layout if the shape is not one."""
    planes(fmt, 2, 2)  # rejects the formats with no CPU layout
    if fmt in _PACKED3 + _PACKED4:
        ok, h, w = len(shape) == 3 and shape[2] == (3 if fmt in _PACKED3 else 4), shape[0], shape[1]
    elif fmt in _THREE_PLANES:
        ok, h, w = len(shape) == 3 and shape[0] == 3, shape[1] if len(shape) == 3 else 0, shape[-1]
    elif fmt == F.FORMAT_GRAY:
        ok, h, w = len(shape) == 2, shape[0], shape[-1]
    else:
        per_row = {**{f: 3 for f in _YUV420}, **{f: 4 for f in _YUV422}, F.FORMAT_NV24: 6}[fmt]
        rows = shape[0] if shape else 0
        ok, h, w = len(shape) == 2 and (rows * 2) % per_row == 0, rows * 2 // per_row, shape[-1]
    if ok:
        try:
            check_size(fmt, h, w)
            return h, w
        except InvalidArgument:
            pass
    raise InvalidArgument(f"an array of shape {tuple(shape)} is no {fmt.name} image; expected "
                          f"{_layout_text(fmt)}")


def _layout_text(fmt: Format) -> str:
    if fmt in _PACKED3:
        return "(H, W, 3)"
    if fmt in _PACKED4:
        return "(H, W, 4)"
    if fmt in _THREE_PLANES:
        return "(3, H, W)"
    if fmt == F.FORMAT_GRAY:
        return "(H, W)"
    rows = {**{f: "H * 3 // 2" for f in _YUV420}, **{f: "H * 2" for f in _YUV422}, F.FORMAT_NV24: "H * 3"}
    return f"({rows[fmt]}, W) with H and W even"


def _cv2():
    import cv2  # imported when first needed: the rest of framebus does not need OpenCV

    return cv2


def _need(fmt: Format, what: str) -> None:
    if fmt not in CONVERTIBLE:
        raise InvalidArgument(f"{what} {fmt.name} cannot be converted on the CPU; supported: "
                              + ", ".join(f.name for f in CONVERTIBLE))


def _need_uint8(array: np.ndarray, fmt: Format) -> None:
    if array.dtype != np.uint8:
        raise InvalidArgument(f"{fmt.name} conversions need DATA_TYPE_EXT_1N_BYTE (uint8) samples, not "
                              f"{array.dtype}")


def _yuv_planes(array: np.ndarray, fmt: Format) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, U, V) of a 4:2:0 image, U and V as (H/2, W/2)."""
    h, w = size_of(fmt, array.shape)
    flat = array.reshape(-1)
    y = flat[:h * w].reshape(h, w)
    if fmt == F.FORMAT_YUV420P:
        quarter = h * w // 4
        return y, flat[h * w:h * w + quarter].reshape(h // 2, w // 2), flat[h * w + quarter:].reshape(h // 2, w // 2)
    uv = flat[h * w:].reshape(h // 2, w // 2, 2)
    return (y, uv[..., 0], uv[..., 1]) if fmt == F.FORMAT_NV12 else (y, uv[..., 1], uv[..., 0])


def _join_yuv(y: np.ndarray, u: np.ndarray, v: np.ndarray, fmt: Format) -> np.ndarray:
    h, w = y.shape
    if fmt == F.FORMAT_YUV420P:
        chroma = np.concatenate([u.reshape(-1), v.reshape(-1)])
    else:
        chroma = np.stack([u, v] if fmt == F.FORMAT_NV12 else [v, u], axis=-1).reshape(-1)
    return np.concatenate([y.reshape(-1), chroma]).reshape(h * 3 // 2, w)


def to_bgr(array: np.ndarray, fmt: Format) -> np.ndarray:
    """A BGR packed ``(H, W, 3)`` copy of the image ``array`` of ``fmt``, same dtype (YUV: uint8)."""
    _need(fmt, "format")
    if fmt in _PACKED3:
        out = array if fmt == F.FORMAT_BGR_PACKED else array[..., ::-1]
    elif fmt in _THREE_PLANES:
        out = array.transpose(1, 2, 0)
        out = out if fmt in _BGR_ORDER else out[..., ::-1]
    elif fmt == F.FORMAT_GRAY:
        out = np.repeat(array[..., None], 3, axis=2)
    else:
        _need_uint8(array, fmt)
        cv2 = _cv2()
        code = {F.FORMAT_YUV420P: cv2.COLOR_YUV2BGR_I420, F.FORMAT_NV12: cv2.COLOR_YUV2BGR_NV12,
                F.FORMAT_NV21: cv2.COLOR_YUV2BGR_NV21}[fmt]
        return cv2.cvtColor(np.ascontiguousarray(array), code)
    return array.copy() if out is array else np.ascontiguousarray(out)


def from_bgr(bgr: np.ndarray, fmt: Format) -> np.ndarray:
    """The BGR packed image ``bgr`` in the layout of ``fmt`` (a new array)."""
    _need(fmt, "format")
    if fmt in _PACKED3:
        out = bgr if fmt == F.FORMAT_BGR_PACKED else bgr[..., ::-1]
    elif fmt in _THREE_PLANES:
        out = (bgr if fmt in _BGR_ORDER else bgr[..., ::-1]).transpose(2, 0, 1)
    elif fmt == F.FORMAT_GRAY:
        if bgr.dtype == np.int8:
            raise InvalidArgument("FORMAT_GRAY conversions need uint8 or float32 samples, not int8")
        return _cv2().cvtColor(np.ascontiguousarray(bgr), _cv2().COLOR_BGR2GRAY)
    else:
        _need_uint8(bgr, fmt)
        check_size(fmt, bgr.shape[0], bgr.shape[1])
        i420 = _cv2().cvtColor(np.ascontiguousarray(bgr), _cv2().COLOR_BGR2YUV_I420)
        return i420 if fmt == F.FORMAT_YUV420P else _join_yuv(*_yuv_planes(i420, F.FORMAT_YUV420P), fmt)
    return bgr.copy() if out is bgr else np.ascontiguousarray(out)


def convert(array: np.ndarray, src: Format, dst: Format) -> np.ndarray:
    """The image ``array`` of format ``src`` as a new array of format ``dst``."""
    _need(src, "input format")
    _need(dst, "output format")
    if src == dst:
        return array.copy()
    if src in _YUV420 and dst in _YUV420:  # a reordering of the chroma samples: lossless
        return _join_yuv(*_yuv_planes(array, src), dst)
    if src in _YUV420 and dst == F.FORMAT_GRAY:  # the luma plane, as bmcv takes it
        h, w = size_of(src, array.shape)
        return array.reshape(-1)[:h * w].reshape(h, w).copy()
    return from_bgr(to_bgr(array, src), dst)
