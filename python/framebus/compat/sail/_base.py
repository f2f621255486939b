"""sail's enums, ``Handle`` and ``PaddingAtrr`` for ``framebus.compat.sail``.

The enums are ``enum.IntEnum``s with sail's member names and numeric values (the values of the
SOPHON headers they wrap), so code that compares or stores them as integers keeps working. Like
sail, every member is also a module-level name (``sail.FORMAT_BGR_PLANAR``, ``sail.BM_FLOAT32``).
"""

from __future__ import annotations

import enum

from ..._errors import InvalidArgument


class _SailEnum(enum.IntEnum):
    """An IntEnum that prints as pybind11 prints sail's enums: ``Format.FORMAT_BGR_PLANAR``."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Format(_SailEnum):
    """sail.Format (bm_image_format_ext): the pixel format of an image."""

    FORMAT_YUV420P = 0
    FORMAT_YUV422P = 1
    FORMAT_YUV444P = 2
    FORMAT_NV12 = 3
    FORMAT_NV21 = 4
    FORMAT_NV16 = 5
    FORMAT_NV61 = 6
    FORMAT_NV24 = 7
    FORMAT_RGB_PLANAR = 8
    FORMAT_BGR_PLANAR = 9
    FORMAT_RGB_PACKED = 10
    FORMAT_BGR_PACKED = 11
    FORMAT_RGBP_SEPARATE = 12
    FORMAT_BGRP_SEPARATE = 13
    FORMAT_GRAY = 14
    FORMAT_COMPRESSED = 15
    FORMAT_ARGB_PACKED = 17
    FORMAT_ABGR_PACKED = 18


class ImgDtype(_SailEnum):
    """sail.ImgDtype (bm_image_data_format_ext): the data type of an image's samples."""

    DATA_TYPE_EXT_FLOAT32 = 0
    DATA_TYPE_EXT_1N_BYTE = 1
    DATA_TYPE_EXT_4N_BYTE = 2
    DATA_TYPE_EXT_1N_BYTE_SIGNED = 3
    DATA_TYPE_EXT_4N_BYTE_SIGNED = 4


class Dtype(_SailEnum):
    """sail.Dtype (bm_data_type_t): the data type of a tensor."""

    BM_FLOAT32 = 0
    BM_FLOAT16 = 1
    BM_INT8 = 2
    BM_UINT8 = 3
    BM_INT16 = 4
    BM_UINT16 = 5
    BM_INT32 = 6
    BM_UINT32 = 7
    BM_BFLOAT16 = 8


class IOMode(_SailEnum):
    """sail.IOMode: where an Engine's input and output tensors live (one memory on the CPU)."""

    SYSI = 0
    SYSO = 1
    SYSIO = 2
    DEVIO = 3


class bmcv_resize_algorithm(_SailEnum):  # noqa: N801  sail's name
    """sail.bmcv_resize_algorithm: the interpolation of Bmcv's resizes."""

    BMCV_INTER_NEAREST = 0
    BMCV_INTER_LINEAR = 1
    BMCV_INTER_BICUBIC = 2


def enum_value(kind: type, value: object, argument: str) -> enum.IntEnum:
    """``value`` as a member of the IntEnum ``kind``; InvalidArgument naming ``argument`` if it is
    not one (an int with a member's value is accepted, as sail's bindings accept them)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return kind(value)
        except ValueError:
            pass
    raise InvalidArgument(f"{argument} must be a sail.{kind.__name__} member "
                          f"(e.g. sail.{kind.__name__}.{next(iter(kind)).name}), not {value!r}")


def int_arg(value: object, argument: str, minimum: int = 0) -> int:
    """``value`` as an int of at least ``minimum``; InvalidArgument naming ``argument`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise InvalidArgument(f"{argument} must be an int, not {value!r}")
    value = int(value.__index__())
    if value < minimum:
        raise InvalidArgument(f"{argument} must be >= {minimum}, not {value}")
    return value


class Handle:
    """sail.Handle: a device handle. framebus runs on the CPU, so the id is only remembered (and
    reported back by ``get_device_id``); any id >= 0 is accepted."""

    def __init__(self, tpu_id: int) -> None:
        self._id = int_arg(tpu_id, "tpu_id")

    def get_device_id(self) -> int:
        """The id the handle was made with."""
        return self._id

    def get_sn(self) -> str:
        """A serial number: there is no device, so ``"CPU<id>"``."""
        return f"CPU{self._id}"

    def get_target(self) -> str:
        """The processor type: ``"CPU"`` (sail returns a chip name such as ``"BM1684X"``)."""
        return "CPU"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"Handle({self._id})"


class PaddingAtrr:  # sail's spelling
    """sail.PaddingAtrr: where a resized image goes inside a padded output, and the padding colour.

    ``stx``/``sty``: the resized image's top-left corner in the output; ``w``/``h``: its size;
    ``r``/``g``/``b``: the colour of the rest of the output.
    """

    def __init__(self, stx: int = 0, sty: int = 0, width: int = 0, height: int = 0, r: int = 0,
                 g: int = 0, b: int = 0) -> None:
        self.dst_crop_stx = int_arg(stx, "stx")
        self.dst_crop_sty = int_arg(sty, "sty")
        self.dst_crop_w = int_arg(width, "width")
        self.dst_crop_h = int_arg(height, "height")
        self.padding_r = int_arg(r, "r")
        self.padding_g = int_arg(g, "g")
        self.padding_b = int_arg(b, "b")

    def set_stx(self, stx: int) -> None:
        self.dst_crop_stx = int_arg(stx, "stx")

    def set_sty(self, sty: int) -> None:
        self.dst_crop_sty = int_arg(sty, "sty")

    def set_w(self, width: int) -> None:
        self.dst_crop_w = int_arg(width, "width")

    def set_h(self, height: int) -> None:
        self.dst_crop_h = int_arg(height, "height")

    def set_r(self, r: int) -> None:
        self.padding_r = int_arg(r, "r")

    def set_g(self, g: int) -> None:
        self.padding_g = int_arg(g, "g")

    def set_b(self, b: int) -> None:
        self.padding_b = int_arg(b, "b")

    def __repr__(self) -> str:
        return (f"PaddingAtrr(stx={self.dst_crop_stx}, sty={self.dst_crop_sty}, width={self.dst_crop_w}, "
                f"height={self.dst_crop_h}, r={self.padding_r}, g={self.padding_g}, b={self.padding_b})")


# sail exports every enum member at module level (pybind11's export_values).
EXPORTED = {member.name: member for kind in (Format, ImgDtype, Dtype, IOMode, bmcv_resize_algorithm)
            for member in kind}
globals().update(EXPORTED)

__all__ = ["Format", "ImgDtype", "Dtype", "IOMode", "bmcv_resize_algorithm", "Handle", "PaddingAtrr",
           *EXPORTED]
