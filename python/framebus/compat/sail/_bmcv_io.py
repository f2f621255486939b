"""The drawing, file and copy calls of ``Bmcv`` (a base class of it), and the helpers every
``Bmcv`` call shares.

Drawing works in every format an image can have on the CPU: a shape is drawn by OpenCV into a
mask, and the mask's pixels are set to the colour in the image's own format (in YUV images: the
colour's Y on the luma plane and its U, V on every chroma sample the shape touches). On a BGR
image this is exactly what ``cv2.rectangle`` / ``cv2.putText`` draw.
"""

from __future__ import annotations

from typing import Any, Tuple, Union

import numpy as np

from ..._errors import InvalidArgument
from . import _pixels
from ._base import Format, Handle, int_arg
from ._image import BMImage, bm_image

F = Format


def _cv2():
    import cv2  # imported when first needed: the rest of framebus does not need OpenCV

    return cv2


def _input(image: Any, argument: str = "input") -> bm_image:
    """The pixels of a BMImage or bm_image argument that holds an image."""
    if isinstance(image, BMImage):
        image = image.data()
    if not isinstance(image, bm_image):
        raise InvalidArgument(f"{argument} must be a sail.BMImage, not {type(image).__name__}")
    if image._array.size == 0:
        raise InvalidArgument(f"{argument} is an empty image (sail.BMImage() with no pixels); fill it first")
    return image


def _output(image: Any) -> BMImage:
    if not isinstance(image, BMImage):
        raise InvalidArgument(f"output must be a sail.BMImage, not {type(image).__name__}")
    return image


def _cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` as ``dtype``, rounded and saturated into an integer dtype (as OpenCV casts)."""
    if array.dtype == dtype:
        return array
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        array = np.clip(np.rint(array), limits.min, limits.max)
    return array.astype(dtype)


def _color(color: Any) -> Tuple[int, int, int]:
    try:
        b, g, r = (int(c) for c in color)
    except (TypeError, ValueError):
        raise InvalidArgument(f"color must be a (b, g, r) tuple of ints, not {color!r}") from None
    return b, g, r


def _paint(img: bm_image, mask: np.ndarray, color: Tuple[int, int, int]) -> None:
    """Sets the pixels of ``img`` where ``mask`` is set to the BGR ``color``, in any format."""
    cv2, array, fmt = _cv2(), img._array, img._format
    b, g, r = color
    on = mask.astype(bool)
    if fmt in (F.FORMAT_BGR_PACKED, F.FORMAT_RGB_PACKED):
        array[on] = _cast(np.array([b, g, r] if fmt == F.FORMAT_BGR_PACKED else [r, g, b], np.float32), array.dtype)
    elif fmt in (F.FORMAT_BGR_PLANAR, F.FORMAT_RGB_PLANAR, F.FORMAT_BGRP_SEPARATE, F.FORMAT_RGBP_SEPARATE):
        order = (b, g, r) if fmt in (F.FORMAT_BGR_PLANAR, F.FORMAT_BGRP_SEPARATE) else (r, g, b)
        for plane, value in zip(array, order):
            plane[on] = _cast(np.array(value, np.float32), array.dtype)
    elif fmt in (F.FORMAT_GRAY, F.FORMAT_YUV420P, F.FORMAT_NV12, F.FORMAT_NV21):
        patch = np.array([[[b, g, r]] * 2] * 2, np.uint8)
        y, u, v = cv2.cvtColor(patch, cv2.COLOR_BGR2YUV_I420).reshape(-1)[[0, 4, 5]]
        if fmt == F.FORMAT_GRAY:
            array[on] = _cast(np.array(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)[0, 0], np.float32), array.dtype)
            return
        h, w = img._h, img._w
        flat = array.reshape(-1)
        flat[:h * w].reshape(h, w)[on] = y
        chroma_on = on.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3))
        if fmt == F.FORMAT_YUV420P:
            quarter = h * w // 4
            flat[h * w:h * w + quarter].reshape(h // 2, w // 2)[chroma_on] = u
            flat[h * w + quarter:].reshape(h // 2, w // 2)[chroma_on] = v
        else:
            uv = flat[h * w:].reshape(h // 2, w // 2, 2)
            uv[chroma_on] = (u, v) if fmt == F.FORMAT_NV12 else (v, u)
    else:
        raise InvalidArgument(f"drawing on {fmt.name} images is not supported; convert_format it first")


class DrawingAndFiles:
    """The Bmcv calls that draw on images, read and write image files, and copy images into
    others. Drawing changes the image in place and returns 0, as sail's calls do."""

    _handle: Handle

    def rectangle(self, image: Union[BMImage, bm_image], x0: int, y0: int, w: int, h: int,
                  color: Tuple[int, int, int], thickness: int = 1) -> int:
        """Draws the outline of the w x h rectangle at (x0, y0) in the (b, g, r) ``color``:
        ``cv2.rectangle(img, (x0, y0), (x0 + w - 1, y0 + h - 1), color, thickness)``."""
        return self._draw(image, x0, y0, w, h, color, int_arg(thickness, "thickness", 1))

    def fillRectangle(self, image: Union[BMImage, bm_image], x0: int, y0: int, w: int, h: int,  # noqa: N802
                      color: Tuple[int, int, int]) -> int:
        """Fills the w x h rectangle at (x0, y0) with the (b, g, r) ``color``."""
        return self._draw(image, x0, y0, w, h, color, -1)

    def _draw(self, image: Any, x0: int, y0: int, w: int, h: int, color: Any, thickness: int) -> int:
        img = _input(image, "image")
        x0, y0 = _coordinate(x0, "x0"), _coordinate(y0, "y0")
        w, h = int_arg(w, "w", 1), int_arg(h, "h", 1)
        mask = np.zeros((img._h, img._w), np.uint8)
        _cv2().rectangle(mask, (x0, y0), (x0 + w - 1, y0 + h - 1), 255, thickness)
        _paint(img, mask, _color(color))
        return 0

    def putText(self, image: Union[BMImage, bm_image], text: str, x: int, y: int,  # noqa: N802
                color: Tuple[int, int, int], fontScale: float, thickness: int = 1) -> int:  # noqa: N803
        """Writes ``text`` with its baseline starting at (x, y), in the (b, g, r) ``color``:
        ``cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, fontScale, color, thickness)``."""
        img = _input(image, "image")
        if not isinstance(text, str):
            raise InvalidArgument(f"text must be a str, not {type(text).__name__}")
        mask = np.zeros((img._h, img._w), np.uint8)
        cv2 = _cv2()
        cv2.putText(mask, text, (_coordinate(x, "x"), _coordinate(y, "y")), cv2.FONT_HERSHEY_SIMPLEX,
                    float(fontScale), 255, int_arg(thickness, "thickness", 1))
        _paint(img, mask, _color(color))
        return 0

    def imread(self, filename: str) -> BMImage:
        """Decodes an image file with OpenCV into a FORMAT_BGR_PACKED image."""
        pixels = _cv2().imread(str(filename), _cv2().IMREAD_COLOR)
        if pixels is None:
            raise InvalidArgument(f"filename {filename!r} is not a readable image file")
        return BMImage._from_array(pixels, F.FORMAT_BGR_PACKED, self._handle)

    def imdecode(self, data_bytes: bytes) -> BMImage:
        """Decodes an encoded image (JPEG, PNG, ...) into a FORMAT_BGR_PACKED image."""
        pixels = _cv2().imdecode(np.frombuffer(bytes(data_bytes), np.uint8), _cv2().IMREAD_COLOR)
        if pixels is None:
            raise InvalidArgument("data_bytes is not an encoded image OpenCV can decode")
        return BMImage._from_array(pixels, F.FORMAT_BGR_PACKED, self._handle)

    def imencode(self, ext: str, img: BMImage) -> np.ndarray:
        """The image encoded as ``ext`` (".jpg", ".png", ...): a uint8 array."""
        ok, data = _cv2().imencode(str(ext), _bgr8(_input(img, "img")))
        if not ok:
            raise InvalidArgument(f"ext {ext!r} is no image encoding OpenCV knows; use '.jpg' or '.png'")
        return data.reshape(-1)

    def imwrite(self, file_name: str, image: Union[BMImage, bm_image]) -> int:
        """Writes the image to ``file_name`` with ``cv2.imwrite`` (as BGR); returns 0."""
        cv2 = _cv2()
        try:
            ok = cv2.imwrite(str(file_name), _bgr8(_input(image, "image")))
        except cv2.error:
            ok = False
        if not ok:
            raise InvalidArgument(f"file_name {file_name!r} could not be written; its extension must name an "
                                  "image format OpenCV writes (.jpg, .png, .bmp) and its folder must exist")
        return 0

    def mat_to_bm_image(self, input_array: np.ndarray, img: BMImage = None) -> Union[BMImage, int]:
        """An OpenCV BGR image ``(H, W, 3)`` uint8 as a FORMAT_BGR_PACKED image (a copy); with
        ``img``, that image is filled and 0 returned."""
        if not isinstance(input_array, np.ndarray) or input_array.dtype != np.uint8 or input_array.ndim != 3 \
                or input_array.shape[2] != 3 or input_array.size == 0:
            raise InvalidArgument("input_array must be a non-empty (H, W, 3) uint8 BGR array, not "
                                  f"{getattr(input_array, 'shape', type(input_array).__name__)}")
        if img is None:
            return BMImage._from_array(input_array.copy(), F.FORMAT_BGR_PACKED, self._handle)
        _output(img)._assign(input_array.copy(), F.FORMAT_BGR_PACKED)
        return 0

    def image_copy_to(self, input: BMImage, output: BMImage, start_x: int = 0, start_y: int = 0) -> int:
        """Copies ``input`` into ``output`` (same format and dtype) with its corner at (start_x, start_y)."""
        self._copy_to(input, output, start_x, start_y, None)
        return 0

    def image_copy_to_padding(self, input: BMImage, output: BMImage, padding_r: int, padding_g: int,
                              padding_b: int, start_x: int = 0, start_y: int = 0) -> int:
        """As image_copy_to, with the rest of ``output`` set to the padding colour."""
        self._copy_to(input, output, start_x, start_y, (padding_b, padding_g, padding_r))
        return 0

    def _copy_to(self, input: Any, output: Any, start_x: int, start_y: int, padding: Any) -> None:
        src, dst = _input(input), _input(output, "output")
        x, y = int_arg(start_x, "start_x"), int_arg(start_y, "start_y")
        if (src._format, src._dtype) != (dst._format, dst._dtype):
            raise InvalidArgument(f"output is {dst._format.name} {dst._dtype.name}; it must have the input's format "
                                  f"and dtype ({src._format.name} {src._dtype.name})")
        if src._format not in (F.FORMAT_BGR_PACKED, F.FORMAT_RGB_PACKED, F.FORMAT_BGR_PLANAR, F.FORMAT_RGB_PLANAR,
                               F.FORMAT_GRAY):
            raise InvalidArgument(f"image_copy_to copies packed, planar or gray images, not {src._format.name}")
        if x + src._w > dst._w or y + src._h > dst._h:
            raise InvalidArgument(f"a {src._w}x{src._h} input at ({x}, {y}) does not fit the {dst._w}x{dst._h} "
                                  "output; keep start_x + input width <= output width (and so for heights)")
        if padding is not None:
            mask = np.full((dst._h, dst._w), 255, np.uint8)
            _paint(dst, mask, _color(padding))
        if src._format in (F.FORMAT_BGR_PLANAR, F.FORMAT_RGB_PLANAR):
            dst._array[:, y:y + src._h, x:x + src._w] = src._array
        else:
            dst._array[y:y + src._h, x:x + src._w] = src._array


def _coordinate(value: Any, argument: str) -> int:
    return int_arg(value, argument, -(1 << 30))


def _bgr8(img: bm_image) -> np.ndarray:
    if img._dtype.name != "DATA_TYPE_EXT_1N_BYTE":
        raise InvalidArgument(f"image files hold 8-bit images; this image is {img._dtype.name}: convert_to "
                              "a DATA_TYPE_EXT_1N_BYTE image first")
    return _pixels.to_bgr(img._array, img._format)
