"""sail's ``Bmcv`` on the CPU, with OpenCV: the image calls of classification and detection
pipelines (resize, crop, padding, colour conversion, normalisation, tensors) and drawing.

Each call gives what OpenCV gives for the same operation: a resize is ``cv2.resize`` of the
image's BGR pixels with the mapped interpolation, then stored in the output format, so results
match OpenCV pixel for pixel. As in sail, a call that makes its output uses
``FORMAT_BGR_PLANAR`` (``FORMAT_RGB_PLANAR`` for an RGB planar input) and the input's dtype; a
call given an output image keeps that image's format and dtype and only resizes it.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..._errors import InvalidArgument
from . import _pixels
from ._base import Dtype, Format, Handle, ImgDtype, PaddingAtrr, bmcv_resize_algorithm, enum_value, int_arg
from ._image import BMImage, bm_image
from ._bmcv_io import DrawingAndFiles, _cast, _cv2, _input, _output
from ._bmcv_batch import BatchOverloads
from ._tensor import Tensor

F = Format
_PLANAR = (F.FORMAT_BGR_PLANAR, F.FORMAT_RGB_PLANAR)
_PADDABLE = _PLANAR + (F.FORMAT_BGR_PACKED, F.FORMAT_RGB_PACKED)
_TO_DTYPE = {ImgDtype.DATA_TYPE_EXT_FLOAT32: Dtype.BM_FLOAT32, ImgDtype.DATA_TYPE_EXT_1N_BYTE: Dtype.BM_UINT8,
             ImgDtype.DATA_TYPE_EXT_4N_BYTE: Dtype.BM_UINT8, ImgDtype.DATA_TYPE_EXT_1N_BYTE_SIGNED: Dtype.BM_INT8,
             ImgDtype.DATA_TYPE_EXT_4N_BYTE_SIGNED: Dtype.BM_INT8}
_TO_IMG_DTYPE = {Dtype.BM_FLOAT32: ImgDtype.DATA_TYPE_EXT_FLOAT32, Dtype.BM_UINT8: ImgDtype.DATA_TYPE_EXT_1N_BYTE,
                 Dtype.BM_INT8: ImgDtype.DATA_TYPE_EXT_1N_BYTE_SIGNED}


def _store(pixels: np.ndarray, output: Optional[BMImage], handle: Handle, src: bm_image,
           fmt: Optional[Format] = None) -> BMImage:
    """Puts BGR ``pixels`` into ``output`` (keeping a filled output's format and dtype) or into a
    new image of ``fmt`` (default: planar, as sail makes its outputs) and the source's dtype."""
    if output is not None and output.empty_check():
        fmt, dtype = output.format(), _pixels.np_dtype(output.dtype())
    else:
        fmt = fmt if fmt is not None else (src._format if src._format in _PLANAR else F.FORMAT_BGR_PLANAR)
        dtype = src._array.dtype
    array = _pixels.from_bgr(_cast(pixels, dtype), fmt)
    if output is None:
        return BMImage._from_array(array, fmt, handle)
    output._assign(array, fmt)
    return output


def _window(src: bm_image, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int) -> Tuple[int, int, int, int]:
    x0, y0 = int_arg(crop_x0, "crop_x0"), int_arg(crop_y0, "crop_y0")
    w, h = int_arg(crop_w, "crop_w", 1), int_arg(crop_h, "crop_h", 1)
    if x0 + w > src._w or y0 + h > src._h:
        raise InvalidArgument(f"the crop window x={x0} y={y0} w={w} h={h} lies outside the {src._w}x{src._h} "
                              "image; keep crop_x0 + crop_w <= width and crop_y0 + crop_h <= height")
    return x0, y0, w, h


def _resize(bgr: np.ndarray, w: int, h: int, resize_alg: Any) -> np.ndarray:
    cv2 = _cv2()
    alg = enum_value(bmcv_resize_algorithm, resize_alg, "resize_alg")
    interpolation = {bmcv_resize_algorithm.BMCV_INTER_NEAREST: cv2.INTER_NEAREST,
                     bmcv_resize_algorithm.BMCV_INTER_LINEAR: cv2.INTER_LINEAR,
                     bmcv_resize_algorithm.BMCV_INTER_BICUBIC: cv2.INTER_CUBIC}[alg]
    source = np.ascontiguousarray(bgr)
    if source.dtype == np.int8:  # OpenCV does not resize int8 images: go through float32
        return _cast(cv2.resize(source.astype(np.float32), (w, h), interpolation=interpolation), source.dtype)
    return cv2.resize(source, (w, h), interpolation=interpolation)


def _crop_resized(src: bm_image, window: Tuple[int, int, int, int], w: int, h: int, resize_alg: Any) -> np.ndarray:
    x0, y0, cw, ch = window
    bgr = _pixels.to_bgr(src._array, src._format)[y0:y0 + ch, x0:x0 + cw]
    return _resize(bgr, int_arg(w, "resize_w", 1), int_arg(h, "resize_h", 1), resize_alg)


def _padded(inner: np.ndarray, padding: PaddingAtrr, w: int, h: int) -> np.ndarray:
    """An ``h`` x ``w`` BGR canvas of the padding colour with ``inner`` at the padding's corner."""
    x, y = padding.dst_crop_stx, padding.dst_crop_sty
    if x + inner.shape[1] > w or y + inner.shape[0] > h:
        raise InvalidArgument(f"padding_in places a {inner.shape[1]}x{inner.shape[0]} image at ({x}, {y}), "
                              f"outside the {w}x{h} output; keep stx + width <= resize_w and sty + height <= resize_h")
    canvas = np.empty((h, w, 3), inner.dtype)
    canvas[:] = _cast(np.array([padding.padding_b, padding.padding_g, padding.padding_r], np.float32), inner.dtype)
    canvas[y:y + inner.shape[0], x:x + inner.shape[1]] = inner
    return canvas


def _padding_arg(padding: Any) -> PaddingAtrr:
    if not isinstance(padding, PaddingAtrr):
        raise InvalidArgument(f"padding_in must be a sail.PaddingAtrr, not {type(padding).__name__}")
    if padding.dst_crop_w < 1 or padding.dst_crop_h < 1:
        raise InvalidArgument("padding_in needs a width and height >= 1 (set_w, set_h): the size the image "
                              "is resized to inside the output")
    return padding


def _alpha_beta(alpha_beta: Any) -> List[Tuple[float, float]]:
    try:
        pairs = [(float(a), float(b)) for a, b in alpha_beta]
    except (TypeError, ValueError):
        pairs = []
    if len(pairs) != 3:
        raise InvalidArgument(f"alpha_beta must be ((a0, b0), (a1, b1), (a2, b2)), one pair per channel, "
                              f"not {alpha_beta!r}")
    return pairs


class _ImageBmcv(DrawingAndFiles):
    """The single-image calls of sail.Bmcv (see the module docstring)."""

    def __init__(self, handle: Handle) -> None:
        if not isinstance(handle, Handle):
            raise InvalidArgument(f"handle must be a sail.Handle (e.g. sail.Handle(0)), not {handle!r}")
        self._handle = handle

    def get_handle(self) -> Handle:
        return self._handle

    # ---- image <-> tensor ----
    def bm_image_to_tensor(self, image: BMImage, tensor: Optional[Tensor] = None) -> Optional[Tensor]:
        """A ``(1, 3, H, W)`` tensor sharing the pixels of a BGR/RGB planar image; given ``tensor``,
        that tensor is made to share them (and None is returned)."""
        src = _input(image, "image")
        if src._format not in _PLANAR:
            raise InvalidArgument(f"bm_image_to_tensor needs a FORMAT_BGR_PLANAR or FORMAT_RGB_PLANAR image, not "
                                  f"{src._format.name}; convert it with Bmcv.convert_format first")
        array = src._array.reshape(1, 3, src._h, src._w)
        dtype = self.get_bm_data_type(src._dtype)
        if tensor is None:
            return Tensor._from_array(self._handle, array, dtype)
        if not isinstance(tensor, Tensor):
            raise InvalidArgument(f"tensor must be a sail.Tensor, not {type(tensor).__name__}")
        tensor._array, tensor._dtype = array, dtype
        return None

    def tensor_to_bm_image(self, tensor: Tensor, *args: Any, **kwargs: Any) -> Optional[BMImage]:
        """An image sharing a ``(1, 3, H, W)`` tensor's data (``(1, H, W, 3)`` with
        ``layout="nhwc"``): BGR, or RGB with ``bgr2rgb=True`` (the channels are taken as R, G, B).
        Forms: ``(tensor, bgr2rgb=False, layout="nchw")``, ``(tensor, format)``, and both with an
        ``img`` second argument, which is filled (None is returned)."""
        img = kwargs.pop("img", None)
        if img is None and args and isinstance(args[0], BMImage):
            img, args = args[0], args[1:]
        if "format" in kwargs or (args and isinstance(args[0], Format)):
            fmt = enum_value(Format, kwargs.pop("format", None) if not args else args[0], "format")
        else:
            bgr2rgb = kwargs.pop("bgr2rgb", args[0] if args else False)
            layout = kwargs.pop("layout", args[1] if len(args) > 1 else "nchw")
            if layout not in ("nchw", "nhwc"):
                raise InvalidArgument(f"layout must be 'nchw' or 'nhwc', not {layout!r}")
            fmt = {("nchw", False): F.FORMAT_BGR_PLANAR, ("nchw", True): F.FORMAT_RGB_PLANAR,
                   ("nhwc", False): F.FORMAT_BGR_PACKED, ("nhwc", True): F.FORMAT_RGB_PACKED}[(layout, bool(bgr2rgb))]
        if kwargs:
            raise TypeError(f"tensor_to_bm_image() got unexpected arguments {sorted(kwargs)}")
        if not isinstance(tensor, Tensor):
            raise InvalidArgument(f"tensor must be a sail.Tensor, not {type(tensor).__name__}")
        self.get_bm_image_data_format(tensor.dtype())  # rejects the dtypes images cannot have
        shape = tensor.shape()
        packed = fmt in (F.FORMAT_BGR_PACKED, F.FORMAT_RGB_PACKED)
        channels = 1 if fmt == F.FORMAT_GRAY else 3
        if len(shape) != 4 or shape[0] != 1 or shape[3 if packed else 1] != channels:
            want = f"(1, H, W, {channels})" if packed else f"(1, {channels}, H, W)"
            raise InvalidArgument(f"tensor has shape {shape}; a {fmt.name} image needs {want}")
        h, w = (shape[1], shape[2]) if packed else (shape[2], shape[3])
        array = tensor._array.reshape(_pixels.layout(fmt, h, w))
        if img is None:
            return BMImage._from_array(array, fmt, self._handle)
        _output(img)._assign(array, fmt)
        return None

    # ---- crop and resize ----
    def crop_and_resize(self, input: BMImage, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int, resize_w: int,
                        resize_h: int, resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST
                        ) -> BMImage:
        src = _input(input)
        window = _window(src, crop_x0, crop_y0, crop_w, crop_h)
        return _store(_crop_resized(src, window, resize_w, resize_h, resize_alg), None, self._handle, src)

    def crop(self, input: BMImage, *args: Any) -> Union[BMImage, List[BMImage]]:
        """``crop(input, crop_x0, crop_y0, crop_w, crop_h)`` -> image, or ``crop(input, rects)`` with
        rects ``[[x, y, w, h], ...]`` -> list of images."""
        if len(args) == 1:
            return [self.crop(input, *rect) for rect in args[0]]
        crop_x0, crop_y0, crop_w, crop_h = args
        return self.crop_and_resize(input, crop_x0, crop_y0, crop_w, crop_h, crop_w, crop_h)

    def resize(self, input: BMImage, resize_w: int, resize_h: int,
               resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST) -> BMImage:
        src = _input(input)
        return self.crop_and_resize(input, 0, 0, src._w, src._h, resize_w, resize_h, resize_alg)

    def vpp_crop_and_resize(self, input: BMImage, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int,
                            resize_w: int, resize_h: int,
                            resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST) -> BMImage:
        return self.crop_and_resize(input, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h, resize_alg)

    def vpp_crop(self, input: BMImage, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int) -> BMImage:
        return self.crop(input, crop_x0, crop_y0, crop_w, crop_h)

    def vpp_resize(self, input: BMImage, *args: Any, **kwargs: Any) -> Union[BMImage, int]:
        """``vpp_resize(input, resize_w, resize_h, resize_alg=NEAREST)`` -> image, or
        ``vpp_resize(input, output, resize_w, resize_h, resize_alg=NEAREST)`` -> 0."""
        output = kwargs.pop("output", None)
        if output is None and args and isinstance(args[0], BMImage):
            output, args = args[0], args[1:]
        if output is None:
            return self.resize(input, *args, **kwargs)
        src = _input(input)
        return self._into(output, src, (0, 0, src._w, src._h), *args, **kwargs)

    def _into(self, output: BMImage, src: bm_image, window: Tuple[int, int, int, int], resize_w: int,
              resize_h: int, resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST) -> int:
        _store(_crop_resized(src, window, resize_w, resize_h, resize_alg), _output(output), self._handle, src)
        return 0

    def vpp_crop_and_resize_padding(self, input: BMImage, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int,
                                    resize_w: int, resize_h: int, padding_in: PaddingAtrr,
                                    resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST
                                    ) -> BMImage:
        """The crop resized to the padding's width x height, at its (stx, sty) in a resize_w x
        resize_h output filled with its colour."""
        src = _input(input)
        padding = _padding_arg(padding_in)
        window = _window(src, crop_x0, crop_y0, crop_w, crop_h)
        w, h = int_arg(resize_w, "resize_w", 1), int_arg(resize_h, "resize_h", 1)
        inner = _crop_resized(src, window, padding.dst_crop_w, padding.dst_crop_h, resize_alg)
        return _store(_padded(inner, padding, w, h), None, self._handle, src)

    def vpp_resize_padding(self, input: BMImage, resize_w: int, resize_h: int, padding_in: PaddingAtrr,
                           resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST) -> BMImage:
        src = _input(input)
        return self.vpp_crop_and_resize_padding(input, 0, 0, src._w, src._h, resize_w, resize_h, padding_in,
                                                resize_alg)

    def crop_and_resize_padding(self, input: BMImage, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int,
                                resize_w: int, resize_h: int, padding_in: PaddingAtrr,
                                resize_alg: bmcv_resize_algorithm = bmcv_resize_algorithm.BMCV_INTER_NEAREST
                                ) -> BMImage:
        """Like vpp_crop_and_resize_padding, but keeping the crop's aspect ratio: it is scaled to
        fit inside the padding's width x height (the other side shrinks), as sail does. The
        output is DATA_TYPE_EXT_1N_BYTE."""
        src = _input(input)
        padding = _padding_arg(padding_in)
        window = _window(src, crop_x0, crop_y0, crop_w, crop_h)
        w, h = int_arg(resize_w, "resize_w", 1), int_arg(resize_h, "resize_h", 1)
        # sail's arithmetic: float32 scales, truncated sizes
        scale_w = np.float32(padding.dst_crop_w) / np.float32(window[2])
        scale_h = np.float32(padding.dst_crop_h) / np.float32(window[3])
        inner_w, inner_h = padding.dst_crop_w, padding.dst_crop_h
        if scale_w < scale_h:
            inner_h = max(1, int(np.float32(window[3]) * scale_w))
        else:
            inner_w = max(1, int(np.float32(window[2]) * scale_h))
        inner = _cast(_crop_resized(src, window, inner_w, inner_h, resize_alg), np.dtype(np.uint8))
        fmt = F.FORMAT_RGB_PLANAR if src._format == F.FORMAT_RGB_PLANAR else F.FORMAT_BGR_PLANAR
        return BMImage._from_array(_pixels.from_bgr(_padded(inner, padding, w, h), fmt), fmt, self._handle)

    # ---- formats and values ----
    def convert_format(self, input: BMImage, *args: Any, **kwargs: Any) -> Union[BMImage, int]:
        """``convert_format(input, image_format=FORMAT_BGR_PLANAR)`` -> image, or
        ``convert_format(input, output)`` -> 0 (output keeps its format if it has pixels)."""
        src = _input(input)
        target = args[0] if args else kwargs.pop("output", kwargs.pop("image_format", F.FORMAT_BGR_PLANAR))
        if isinstance(target, BMImage):
            fmt = target.format() if target.empty_check() else F.FORMAT_BGR_PLANAR
            target._assign(_pixels.convert(src._array, src._format, fmt), fmt)
            return 0
        fmt = enum_value(Format, target, "image_format")
        return BMImage._from_array(_pixels.convert(src._array, src._format, fmt), fmt, self._handle)

    def vpp_convert_format(self, input: BMImage, *args: Any, **kwargs: Any) -> Union[BMImage, int]:
        return self.convert_format(input, *args, **kwargs)

    def yuv2bgr(self, input: BMImage) -> BMImage:
        return self.convert_format(input, F.FORMAT_BGR_PLANAR)

    def convert_to(self, input: BMImage, *args: Any) -> Union[BMImage, int]:
        """``convert_to(input, alpha_beta)`` -> image, or ``convert_to(input, output, alpha_beta)``
        -> 0: channel c becomes ``a_c * x + b_c`` (``cv2.addWeighted``), saturated into the
        output dtype (the output's if it has pixels, else the input's)."""
        output = args[0] if len(args) == 2 else None
        pairs = _alpha_beta(args[-1] if args else None)
        src = _input(input)
        if src._array.ndim != 3:
            raise InvalidArgument(f"convert_to needs a 3-channel planar or packed image, not {src._format.name}")
        if output is not None and _output(output).empty_check():
            if output.format() != src._format:
                raise InvalidArgument(f"output has format {output.format().name}; convert_to keeps the input's "
                                      f"format {src._format.name}")
            dtype = _pixels.np_dtype(output.dtype())
        else:
            dtype = src._array.dtype
        cv2 = _cv2()
        depth = {np.dtype(np.uint8): cv2.CV_8U, np.dtype(np.int8): cv2.CV_8S, np.dtype(np.float32): cv2.CV_32F}[dtype]
        packed = src._array.shape[2] == 3 and src._format in (F.FORMAT_BGR_PACKED, F.FORMAT_RGB_PACKED)
        planes = [src._array[..., c] if packed else src._array[c] for c in range(3)]
        out = [cv2.addWeighted(np.ascontiguousarray(p), a, np.ascontiguousarray(p), 0.0, b, dtype=depth)
               for p, (a, b) in zip(planes, pairs)]
        result = np.stack(out, axis=2 if packed else 0)
        if output is None:
            return BMImage._from_array(result, src._format, self._handle)
        output._assign(result, src._format)
        return 0

    def get_bm_data_type(self, format: ImgDtype) -> Dtype:  # noqa: A002  sail's name
        """The tensor dtype of an image dtype."""
        return _TO_DTYPE[enum_value(ImgDtype, format, "format")]

    def get_bm_image_data_format(self, dtype: Dtype) -> ImgDtype:
        """The image dtype of a tensor dtype (BM_FLOAT32, BM_UINT8 or BM_INT8)."""
        dtype = enum_value(Dtype, dtype, "dtype")
        if dtype not in _TO_IMG_DTYPE:
            raise InvalidArgument(f"images have no {dtype.name} samples; use BM_FLOAT32, BM_UINT8 or BM_INT8")
        return _TO_IMG_DTYPE[dtype]


class Bmcv(BatchOverloads, _ImageBmcv):
    """sail.Bmcv: image processing on the CPU with OpenCV (see the module docstring). Calls
    given a BMImageArray run per image (``_bmcv_batch``); the rest are the single-image calls."""


__all__ = ["Bmcv"]
