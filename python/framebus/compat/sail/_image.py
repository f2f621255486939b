"""sail's ``bm_image`` and ``BMImage`` on the CPU: an image is a C-contiguous NumPy array.

A ``bm_image`` holds the pixels (the array, its format and dtype); a ``BMImage`` owns one, as in
sail. The array layouts are listed in ``_pixels``: ``(H, W, 3)`` for packed BGR/RGB,
``(3, H, W)`` for planar, ``(H, W)`` for gray, ``(H * 3 // 2, W)`` for YUV420P/NV12/NV21.
``np.asarray(image)`` is the array itself (no copy), so NumPy and OpenCV code can work on an
image in place.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..._errors import InvalidArgument
from ._base import Format, Handle, ImgDtype, enum_value, int_arg
from . import _pixels


def _handle_arg(handle: object) -> Handle:
    if not isinstance(handle, Handle):
        raise InvalidArgument(f"handle must be a sail.Handle (e.g. sail.Handle(0)), not {handle!r}")
    return handle


class bm_image:  # noqa: N801  sail's name
    """sail.bm_image: the pixels of a BMImage (``BMImage.data()``). As in sail, Python code does
    not create one directly."""

    __slots__ = ("_array", "_format", "_dtype", "_handle", "_h", "_w")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("sail.bm_image cannot be created directly; use sail.BMImage(...).data()")

    @classmethod
    def _make(cls, array: np.ndarray, fmt: Format, handle: Optional[Handle]) -> "bm_image":
        self = object.__new__(cls)
        self._handle = handle
        self._assign(array, fmt)
        return self

    def _assign(self, array: np.ndarray, fmt: Format) -> None:
        fmt = enum_value(Format, fmt, "format")
        if not isinstance(array, np.ndarray):
            raise InvalidArgument(f"an image's pixels must be a NumPy array, not {type(array).__name__}")
        h, w = _pixels.size_of(fmt, array.shape)
        dtype = _pixels.img_dtype(array.dtype)
        if not array.flags.c_contiguous or not array.flags.writeable:
            array = np.array(array, order="C", copy=True)  # sail images are writable and contiguous
        self._array, self._format, self._dtype, self._h, self._w = array, fmt, dtype, h, w

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def format(self) -> Format:
        return self._format

    def dtype(self) -> ImgDtype:
        return self._dtype

    def __repr__(self) -> str:
        return f"<sail.bm_image {self._w}x{self._h} {self._format.name} {self._dtype.name}>"


class BMImage:
    """sail.BMImage: an image (see the module docstring for the array layouts).

    Constructors, as sail's::

        BMImage()                                   # empty: 0x0, FORMAT_BGR_PLANAR, 1N_BYTE
        BMImage(bm_image)                           # shares the bm_image's pixels
        BMImage(handle, h, w, format, dtype)        # zero-filled
        BMImage(handle, buffer, h, w, format, dtype=DATA_TYPE_EXT_1N_BYTE, strides=None, offset=0)

    The last copies the pixels out of ``buffer`` (bytes, bytearray, a NumPy array or any buffer):
    ``offset`` bytes in, each plane's rows ``strides[i]`` bytes apart (default: no padding).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._owns = False
        if not args and not kwargs:
            self._img = bm_image._make(np.zeros((3, 0, 0), np.uint8), Format.FORMAT_BGR_PLANAR, None)
        elif len(args) == 1 and not kwargs and isinstance(args[0], bm_image):
            src = args[0]
            self._img = bm_image._make(src._array, src._format, src._handle)
        elif "buffer" in kwargs or (len(args) >= 2 and not isinstance(args[1], (int, np.integer))):
            self._from_buffer(*args, **kwargs)
        else:
            self._create(*args, **kwargs)

    def _create(self, handle: Handle, h: int, w: int, format: Format, dtype: ImgDtype) -> None:
        handle = _handle_arg(handle)
        h, w = int_arg(h, "h"), int_arg(w, "w")
        fmt = enum_value(Format, format, "format")
        np_type = _pixels.np_dtype(enum_value(ImgDtype, dtype, "dtype"))
        self._img = bm_image._make(np.zeros(_pixels.layout(fmt, h, w), np_type), fmt, handle)
        self._owns = True

    def _from_buffer(self, handle: Handle, buffer: Any, h: int, w: int, format: Format,
                     dtype: ImgDtype = ImgDtype.DATA_TYPE_EXT_1N_BYTE, strides: Optional[Sequence[int]] = None,
                     offset: int = 0) -> None:
        handle = _handle_arg(handle)
        h, w, offset = int_arg(h, "h"), int_arg(w, "w"), int_arg(offset, "offset")
        fmt = enum_value(Format, format, "format")
        np_type = _pixels.np_dtype(enum_value(ImgDtype, dtype, "dtype"))
        try:
            raw = np.ascontiguousarray(buffer).view(np.uint8).reshape(-1) if isinstance(buffer, np.ndarray) \
                else np.frombuffer(buffer, np.uint8)
        except TypeError:
            raise InvalidArgument(f"buffer must be bytes or a NumPy array, not {type(buffer).__name__}") from None
        shape = _pixels.layout(fmt, h, w)
        planes = _pixels.planes(fmt, h, w)
        strides = list(strides) if strides else [cols * np_type.itemsize for _, cols in planes]
        if len(strides) != len(planes):
            raise InvalidArgument(f"strides must have one entry per plane ({len(planes)} for {fmt.name}), "
                                  f"not {len(strides)}")
        parts, at = [], offset
        for (rows, cols), stride in zip(planes, strides):
            row_bytes = cols * np_type.itemsize
            if int_arg(stride, "strides") < row_bytes:
                raise InvalidArgument(f"strides entries must be >= the row size {row_bytes}, not {stride}")
            end = at + stride * (rows - 1) + row_bytes if rows else at
            if end > raw.size:
                raise InvalidArgument(f"buffer holds {raw.size} bytes; a {w}x{h} {fmt.name} image of "
                                      f"{np_type} needs {end - offset} after offset {offset}")
            plane = np.lib.stride_tricks.as_strided(raw[at:], (rows, row_bytes), (stride, 1)) if rows else raw[:0]
            parts.append(plane.reshape(-1))
            at += stride * rows
        pixels = np.concatenate(parts).view(np_type).reshape(shape)
        self._img = bm_image._make(pixels, fmt, handle)
        self._owns = True

    @classmethod
    def _from_array(cls, array: np.ndarray, fmt: Format, handle: Optional[Handle] = None) -> "BMImage":
        """An image whose pixels are ``array`` (no copy when it is C-contiguous and writable)."""
        image = cls.__new__(cls)
        image._img = bm_image._make(array, fmt, handle)
        image._owns = True
        return image

    def _assign(self, array: np.ndarray, fmt: Format) -> None:
        """Replaces the pixels and format in place (how ``Decoder.read(handle, image)`` fills it)."""
        self._img._assign(array, fmt)
        self._owns = True

    @property
    def _array(self) -> np.ndarray:
        return self._img._array

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._img._array if dtype is None else self._img._array.astype(dtype)

    def width(self) -> int:
        return self._img._w

    def height(self) -> int:
        return self._img._h

    def format(self) -> Format:
        return self._img._format

    def dtype(self) -> ImgDtype:
        return self._img._dtype

    def data(self) -> bm_image:
        """The image's bm_image (shares its pixels)."""
        return self._img

    def asmat(self) -> np.ndarray:
        """A BGR packed ``(H, W, 3)`` uint8 copy, converted from the image's format with OpenCV."""
        if self._img._dtype != ImgDtype.DATA_TYPE_EXT_1N_BYTE:
            raise InvalidArgument(f"asmat needs a DATA_TYPE_EXT_1N_BYTE image, not {self._img._dtype.name}; "
                                  "use asnumpy() for other dtypes")
        return _pixels.to_bgr(self._img._array, self._img._format)

    def asnumpy(self) -> np.ndarray:
        """A copy of the pixels in the image's own format, shaped as sail shapes them: (H, W, 3)
        packed, (H, W, 4) ARGB/ABGR, (1, H, W) gray, (3, H, W) planar and YUV444P, else flat."""
        array, fmt = self._img._array, self._img._format
        if fmt == Format.FORMAT_GRAY:
            return array.reshape(1, *array.shape).copy()
        if array.ndim == 3 and fmt not in (Format.FORMAT_RGBP_SEPARATE, Format.FORMAT_BGRP_SEPARATE):
            return array.copy()
        return array.reshape(-1).copy()

    def get_plane_num(self) -> int:
        return len(_pixels.planes(self._img._format, self._img._h, self._img._w))

    def need_to_free(self) -> bool:
        """True when the image owns its pixels (sail: it allocated them)."""
        return self._owns

    def empty_check(self) -> int:
        """0 for an image without pixels (``BMImage()``), 1 otherwise."""
        return 1 if self._img._array.size else 0

    def get_device_id(self) -> int:
        return self._img._handle.get_device_id() if self._img._handle else 0

    def get_handle(self) -> Handle:
        return self._img._handle or Handle(0)

    def align(self) -> int:
        """0 (success): NumPy images need no 64-byte row alignment."""
        return 0

    def check_align(self) -> int:
        return 1

    def unalign(self) -> int:
        return 0

    def check_contiguous_memory(self) -> int:
        """1: the planes of an image are one C-contiguous array."""
        return 1

    def __repr__(self) -> str:
        return f"<sail.BMImage {self.width()}x{self.height()} {self.format().name} {self.dtype().name}>"


__all__ = ["bm_image", "BMImage"]
