"""The ``BMImageArray`` overloads of ``Bmcv``'s calls (a base class of ``Bmcv``).

sail binds these for batches of 2, 3, 4 and 8 images: each call does to every image of the
array what the single-image call does, into an array of the same size. Here each overload runs
the single-image call on each element and stacks the results, so a batch call gives exactly the
per-image results. Each method checks whether its image argument is an array; if not, it hands
the call on unchanged to the single-image ``Bmcv``.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Union

from ..._errors import InvalidArgument
from ._base import Handle, PaddingAtrr, bmcv_resize_algorithm
from ._image import BMImage
from ._image_array import BMImageArray
from ._tensor import Tensor

_NEAREST = bmcv_resize_algorithm.BMCV_INTER_NEAREST


def _batch_input(images: BMImageArray, argument: str = "input") -> BMImageArray:
    if not images._is_created():
        raise InvalidArgument(f"{argument} is a {type(images).__name__} without images; fill it first "
                              "(array[i] = image.data(), copy_from, or the (handle, h, w, format, dtype) constructor)")
    return images


def _batch_output(output: Any, like: BMImageArray, argument: str = "output") -> BMImageArray:
    """``output``, checked to be an array of ``like``'s size (sail binds each size separately, so
    another size or type is no overload there)."""
    if not isinstance(output, BMImageArray) or output.N != like.N:
        raise InvalidArgument(f"{argument} must be a sail.{type(like).__name__} like the input (batch size "
                              f"{like.N}), not {type(output).__name__}")
    return output


class BatchOverloads:
    """The array forms of Bmcv's calls (see the module docstring)."""

    _handle: Handle

    # ---- helpers ----
    def _each(self, images: BMImageArray, call: Callable[[Any], Any]) -> BMImageArray:
        """A new array of ``images``' class holding ``call(element)`` for every element."""
        _batch_input(images)
        return type(images)._from_images([call(slot) for slot in images._slots], self._handle)

    def _each_into(self, images: BMImageArray, output: Any, call: Callable[[Any, BMImage], Any]) -> int:
        """Runs the single-image output form ``call(element, out)`` per element, each ``out`` an
        image with the output element's pixels (or empty, for an output without images, which
        then gets what the single-image call makes), and stores the results in ``output``."""
        _batch_input(images)
        output = _batch_output(output, images)
        created = output._is_created()
        results: List[BMImage] = []
        for i, slot in enumerate(images._slots):
            out = BMImage(output._slots[i]) if created else BMImage()
            call(slot, out)
            results.append(out)
        output._store([out.data() for out in results], self._handle)
        return 0

    # ---- image <-> tensor ----
    def bm_image_to_tensor(self, image: Any, tensor: Optional[Tensor] = None) -> Optional[Tensor]:
        """Arrays: an ``(N, 3, H, W)`` tensor of the array's BGR/RGB planar images, sharing the
        array's batch (a stacked copy when an element was attached or refilled elsewhere);
        given ``tensor``, that tensor gets it and None is returned."""
        if not isinstance(image, BMImageArray):
            return super().bm_image_to_tensor(image, tensor)  # type: ignore[misc]
        _batch_input(image, "image")
        for slot in image._slots:  # the single-image call checks the format and gives the dtype
            first = super().bm_image_to_tensor(slot)  # type: ignore[misc]
        batch = image._stacked()
        array = batch.reshape(image.N, *first.shape()[1:])
        if tensor is None:
            return Tensor._from_array(self._handle, array, first.dtype())
        if not isinstance(tensor, Tensor):
            raise InvalidArgument(f"tensor must be a sail.Tensor, not {type(tensor).__name__}")
        tensor._array, tensor._dtype = array, first.dtype()
        return None

    def tensor_to_bm_image(self, tensor: Tensor, *args: Any, **kwargs: Any) -> Optional[BMImage]:
        """Arrays: ``tensor_to_bm_image(tensor, img, bgr2rgb=False, layout="nchw")`` or
        ``(tensor, img, format)`` with ``img`` a BMImageArray: its N images share the data of an
        ``(N, ...)`` tensor, each as the single-image call makes it from ``tensor[i]``."""
        images = kwargs.get("img", args[0] if args else None)
        if not isinstance(images, BMImageArray):
            return super().tensor_to_bm_image(tensor, *args, **kwargs)  # type: ignore[misc]
        kwargs.pop("img", None)
        rest = args[1:] if args and args[0] is images else args
        if not isinstance(tensor, Tensor):
            raise InvalidArgument(f"tensor must be a sail.Tensor, not {type(tensor).__name__}")
        shape = tensor.shape()
        if not shape or shape[0] != images.N:
            raise InvalidArgument(f"tensor has shape {shape}; a {type(images).__name__} needs a batch of "
                                  f"{images.N} as its first dimension")
        parts = [Tensor._from_array(self._handle, tensor._array[i:i + 1], tensor.dtype()) for i in range(images.N)]
        # bound before the comprehension: zero-argument super() fails inside one
        single = super().tensor_to_bm_image  # type: ignore[misc]
        made = [single(part, *rest, **kwargs) for part in parts]
        fmt, layout = made[0].format(), made[0].data()._array.shape
        images._bind(tensor._array.reshape(images.N, *layout), fmt, self._handle)
        images._need_free = False  # the images live in the tensor's memory, as sail attaches them
        return None

    # ---- crop and resize ----
    def crop_and_resize(self, input: Any, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int, resize_w: int,
                        resize_h: int, resize_alg: bmcv_resize_algorithm = _NEAREST) -> Any:
        single = super().crop_and_resize  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h, resize_alg)
        return self._each(input, lambda img: single(img, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h,
                                                    resize_alg))

    def crop(self, input: Any, *args: Any) -> Any:
        """Arrays: ``crop(input, crop_x0, crop_y0, crop_w, crop_h)`` -> array."""
        single = super().crop  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, *args)
        if len(args) != 4:
            raise InvalidArgument("crop of a BMImageArray takes (input, crop_x0, crop_y0, crop_w, crop_h)")
        return self._each(input, lambda img: single(img, *args))

    def vpp_crop(self, input: Any, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int) -> Any:
        single = super().vpp_crop  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, crop_x0, crop_y0, crop_w, crop_h)
        return self._each(input, lambda img: single(img, crop_x0, crop_y0, crop_w, crop_h))

    def resize(self, input: Any, resize_w: int, resize_h: int, resize_alg: bmcv_resize_algorithm = _NEAREST) -> Any:
        single = super().resize  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, resize_w, resize_h, resize_alg)
        return self._each(input, lambda img: single(img, resize_w, resize_h, resize_alg))

    def vpp_crop_and_resize(self, input: Any, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int, resize_w: int,
                            resize_h: int, resize_alg: bmcv_resize_algorithm = _NEAREST) -> Any:
        single = super().vpp_crop_and_resize  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h, resize_alg)
        return self._each(input, lambda img: single(img, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h,
                                                    resize_alg))

    def vpp_resize(self, input: Any, *args: Any, **kwargs: Any) -> Union[Any, int]:
        """Arrays: ``vpp_resize(input, resize_w, resize_h, resize_alg=NEAREST)`` -> array, or
        ``vpp_resize(input, output, resize_w, resize_h, resize_alg)`` -> 0 (sail gives this form
        no default algorithm)."""
        single = super().vpp_resize  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, *args, **kwargs)
        output = kwargs.pop("output", None)
        if output is None and args and isinstance(args[0], (BMImageArray, BMImage)):
            output, args = args[0], args[1:]  # a BMImage output is refused by _each_into
        if output is None:
            return self._each(input, lambda img: single(img, *args, **kwargs))
        if len(args) + len(kwargs) < 3:
            raise TypeError("vpp_resize(input, output, resize_w, resize_h, resize_alg) of BMImageArrays needs "
                            "resize_alg, as in sail")
        return self._each_into(input, output, lambda img, out: single(img, out, *args, **kwargs))

    def vpp_crop_and_resize_padding(self, input: Any, crop_x0: int, crop_y0: int, crop_w: int, crop_h: int,
                                    resize_w: int, resize_h: int, padding_in: PaddingAtrr,
                                    resize_alg: bmcv_resize_algorithm = _NEAREST) -> Any:
        single = super().vpp_crop_and_resize_padding  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h, padding_in, resize_alg)
        return self._each(input, lambda img: single(img, crop_x0, crop_y0, crop_w, crop_h, resize_w, resize_h,
                                                    padding_in, resize_alg))

    def vpp_resize_padding(self, input: Any, resize_w: int, resize_h: int, padding_in: PaddingAtrr,
                           resize_alg: bmcv_resize_algorithm = _NEAREST) -> Any:
        single = super().vpp_resize_padding  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, resize_w, resize_h, padding_in, resize_alg)
        return self._each(input, lambda img: single(img, resize_w, resize_h, padding_in, resize_alg))

    # ---- formats and values ----
    def yuv2bgr(self, input: Any) -> Any:
        single = super().yuv2bgr  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input)
        return self._each(input, single)

    def convert_to(self, input: Any, *args: Any) -> Union[Any, int]:
        """Arrays: ``convert_to(input, alpha_beta)`` -> array, or ``convert_to(input, output,
        alpha_beta)`` -> 0 with ``output`` an array of the same size."""
        single = super().convert_to  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, *args)
        if len(args) == 2:
            return self._each_into(input, args[0], lambda img, out: single(img, out, args[1]))
        return self._each(input, lambda img: single(img, *args))

    # ---- copies ----
    def image_copy_to(self, input: Any, output: Any, start_x: int = 0, start_y: int = 0) -> int:
        """Arrays: each input image copied into the output image of the same index."""
        single = super().image_copy_to  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, output, start_x, start_y)
        self._pairwise(input, output, lambda img, out: single(img, out, start_x, start_y))
        return 0

    def image_copy_to_padding(self, input: Any, output: Any, padding_r: int, padding_g: int, padding_b: int,
                              start_x: int = 0, start_y: int = 0) -> int:
        single = super().image_copy_to_padding  # type: ignore[misc]
        if not isinstance(input, BMImageArray):
            return single(input, output, padding_r, padding_g, padding_b, start_x, start_y)
        self._pairwise(input, output, lambda img, out: single(img, out, padding_r, padding_g, padding_b, start_x,
                                                              start_y))
        return 0

    def _pairwise(self, images: BMImageArray, output: Any, call: Callable[[Any, BMImage], Any]) -> None:
        """``call(input[i], output[i])`` for every i; the output images are changed in place."""
        _batch_input(images)
        _batch_input(_batch_output(output, images), "output")
        for slot, out in zip(images._slots, output._slots):
            call(slot, BMImage(out))

