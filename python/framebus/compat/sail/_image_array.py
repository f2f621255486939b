"""sail's ``BMImageArray2D`` ... ``BMImageArray256D`` on the CPU: a fixed-size batch of images.

sail keeps a batch in one contiguous block of device memory, so ``Bmcv.bm_image_to_tensor`` can
hand it to an Engine as one ``(N, 3, H, W)`` tensor without a copy. Here the block is one NumPy
array of shape ``(N, *layout)`` (the layouts of ``_pixels``: ``(N, 3, H, W)`` for planar images)
and element ``i`` is a ``bm_image`` whose pixels are the view ``batch[i]``. The element objects
are made once and kept, so a ``bm_image`` taken with ``array[i]`` stays the array's element (as
sail returns a reference into the array).

An element can stop being a view of the block: ``attach_from`` points it at another image's
pixels, and a call that refills a bm_image (``Decoder.read_(handle, array[i])``) gives it a
private array. Calls that need the whole batch then copy the elements instead of sharing them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..._errors import InvalidArgument
from . import _pixels
from ._base import Format, Handle, ImgDtype, enum_value, int_arg
from ._image import BMImage, bm_image

# The batch sizes sail declares (bind.cpp's declareBMImageArray); there is no BMImageArray1D.
SIZES = (2, 3, 4, 8, 16, 32, 64, 128, 256)


class ArrayIndexError(InvalidArgument, IndexError):
    """An index outside ``[0, N)``. An IndexError as well, so ``for img in array`` stops at the
    end as it does on sail's arrays."""


class BMImageArray:
    """The shared implementation of ``BMImageArrayND`` (see the module docstring); ``N`` is set
    by each subclass. Constructors, as sail's::

        BMImageArrayND()                              # N empty images (0x0 FORMAT_BGR_PLANAR)
        BMImageArrayND(handle, h, w, format, dtype)   # N zero-filled images in one batch array
    """

    N: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots: List[bm_image] = [bm_image._make(np.zeros((3, 0, 0), np.uint8), Format.FORMAT_BGR_PLANAR, None)
                                       for _ in range(self.N)]
        self._batch: Optional[np.ndarray] = None
        self._views: List[np.ndarray] = []  # the arrays _bind gave the elements: batch[0], batch[1], ...
        self._need_free = False
        if args or kwargs:
            self.create(*args, **kwargs)

    # ---- storage ----
    def _bind(self, batch: np.ndarray, fmt: Format, handle: Optional[Handle]) -> None:
        """Makes ``batch`` (shape ``(N, *layout)``) the array's storage and each element its view."""
        for slot, view in zip(self._slots, batch):
            slot._handle = handle
            slot._assign(view, fmt)
        self._batch, self._views = batch, [slot._array for slot in self._slots]

    def _shared_batch(self) -> Optional[np.ndarray]:
        """The batch array when every element is still its view of it, else None."""
        if self._batch is None or any(slot._array is not view for slot, view in zip(self._slots, self._views)):
            return None
        return self._batch

    def _is_created(self) -> bool:
        return self._slots[0]._array.size > 0

    def _store(self, images: Sequence[bm_image], handle: Optional[Handle]) -> None:
        """Puts the pixels of ``images`` (one per element, all of one geometry) into the array:
        in place when its batch has that geometry (so tensors sharing it see them), else into a
        new batch."""
        first = images[0]
        for image in images[1:]:
            if (image._array.shape, image._array.dtype, image._format) != (first._array.shape, first._array.dtype,
                                                                            first._format):
                raise InvalidArgument("every image of a BMImageArray must have the same size, format and dtype")
        batch = self._shared_batch()
        if batch is not None and batch.shape[1:] == first._array.shape and batch.dtype == first._array.dtype:
            for view, image in zip(batch, images):
                view[...] = image._array
            self._bind(batch, first._format, handle)
        else:
            self._bind(np.stack([image._array for image in images]), first._format, handle)
        self._need_free = True

    @classmethod
    def _from_images(cls, images: Sequence[Any], handle: Optional[Handle]) -> "BMImageArray":
        """A new array of this class holding copies of ``images`` (BMImages or bm_images)."""
        array = cls()
        array._store([image.data() if isinstance(image, BMImage) else image for image in images], handle)
        return array

    def _stacked(self) -> np.ndarray:
        """The whole batch as one ``(N, *layout)`` array: the batch itself when the elements are
        its views, else a stacked copy of the elements."""
        batch = self._shared_batch()
        if batch is not None:
            return batch
        first = self._slots[0]
        for slot in self._slots[1:]:
            if (slot._array.shape, slot._array.dtype) != (first._array.shape, first._array.dtype):
                raise InvalidArgument("the images of the BMImageArray differ in size or dtype; give every element "
                                      f"the geometry of element 0 ({first._w}x{first._h} {first._format.name})")
        return np.stack([slot._array for slot in self._slots])

    # ---- sail's methods ----
    def create(self, handle: Handle, h: int, w: int, format: Format, dtype: ImgDtype) -> None:  # noqa: A002
        """(Re)allocates the N images: zero-filled, ``h`` x ``w``, ``format``, ``dtype``."""
        if not isinstance(handle, Handle):
            raise InvalidArgument(f"handle must be a sail.Handle (e.g. sail.Handle(0)), not {handle!r}")
        h, w = int_arg(h, "h", 1), int_arg(w, "w", 1)
        fmt = enum_value(Format, format, "format")
        np_type = _pixels.np_dtype(enum_value(ImgDtype, dtype, "dtype"))
        self._bind(np.zeros((self.N, *_pixels.layout(fmt, h, w)), np_type), fmt, handle)
        self._need_free = True

    def __len__(self) -> int:
        return self.N

    def _index(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise InvalidArgument(f"i must be an int index, not {i!r}")
        if not 0 <= i < self.N:
            raise ArrayIndexError(f"index {i} is out of range for a {type(self).__name__}; use 0 to {self.N - 1}")
        return int(i)

    def __getitem__(self, i: int) -> bm_image:
        """Element ``i`` itself (not a copy): what it shows changes with the array."""
        return self._slots[self._index(i)]

    def __setitem__(self, i: int, data: bm_image) -> None:
        """Copies the pixels of ``data`` into element ``i``. On an array without images, the
        first assignment allocates all N with ``data``'s size, format and dtype."""
        index = self._index(i)
        if isinstance(data, BMImage):
            raise InvalidArgument("data must be a sail.bm_image: assign image.data(), as in sail")
        self._copy_in(index, data, "data")

    def _copy_in(self, index: int, data: Any, argument: str) -> None:
        if not isinstance(data, bm_image):
            raise InvalidArgument(f"{argument} must be a sail.bm_image, not {type(data).__name__}")
        if data._array.size == 0:
            raise InvalidArgument(f"{argument} is an empty image; fill it (Decoder.read, Bmcv) before storing it")
        if not self._is_created():
            self._bind(np.zeros((self.N, *data._array.shape), data._array.dtype), data._format, data._handle)
            self._need_free = True
        self._check_geometry(data, argument)
        slot = self._slots[index]
        if slot._array.shape != data._array.shape:  # a refilled element of another layout: back to its view
            slot._assign(self._views[index], data._format)
        slot._array[...] = data._array

    def _check_geometry(self, data: bm_image, argument: str) -> None:
        first = self._slots[0]
        if (data._w, data._h, data._format, data._dtype) != (first._w, first._h, first._format, first._dtype):
            raise InvalidArgument(f"{argument} is {data._w}x{data._h} {data._format.name} {data._dtype.name}; this "
                                  f"{type(self).__name__} holds {first._w}x{first._h} {first._format.name} "
                                  f"{first._dtype.name} images: convert or resize it to that first")

    def copy_from(self, i: int, data: BMImage) -> int:
        """Copies the BMImage ``data`` into element ``i`` (as ``array[i] = data.data()``); 0."""
        index = self._index(i)
        if not isinstance(data, BMImage):
            raise InvalidArgument(f"data must be a sail.BMImage, not {type(data).__name__}")
        self._copy_in(index, data.data(), "data")
        return 0

    def attach_from(self, i: int, data: BMImage) -> int:
        """Makes element ``i`` share the pixels of the BMImage ``data`` (no copy: keep ``data``
        alive and unchanged while the array is used); 0."""
        index = self._index(i)
        if not isinstance(data, BMImage):
            raise InvalidArgument(f"data must be a sail.BMImage, not {type(data).__name__}")
        src = data.data()
        if src._array.size == 0:
            raise InvalidArgument("data is an empty image; fill it (Decoder.read, Bmcv) before attaching it")
        if not self._is_created():
            self._bind(np.zeros((self.N, *src._array.shape), src._array.dtype), src._format, src._handle)
        self._check_geometry(src, "data")
        self._slots[index]._assign(src._array, src._format)
        self._need_free = False  # as in sail: the array no longer owns one block for all its images
        return 0

    def get_device_id(self) -> int:
        handle = self._slots[0]._handle
        return handle.get_device_id() if handle else 0

    def check_need_free(self) -> bool:
        """True while the array owns one batch of its own (after ``create``, the first
        assignment or ``copy_from``); False when empty, after ``attach_from`` and for arrays made
        by ``Bmcv.tensor_to_bm_image``."""
        return self._need_free

    def set_need_free(self, value: bool) -> None:
        """Sets the flag ``check_need_free`` reports. On the CPU memory is freed by Python, so it
        changes nothing else."""
        self._need_free = bool(value)

    def __repr__(self) -> str:
        first = self._slots[0]
        return f"<sail.{type(self).__name__} {first._w}x{first._h} {first._format.name} {first._dtype.name}>"


def _array_class(size: int) -> type:
    return type(f"BMImageArray{size}D", (BMImageArray,),
                {"N": size, "__doc__": f"sail.BMImageArray{size}D: a batch of {size} images (see BMImageArray).",
                 "__module__": __name__})


CLASSES: Dict[str, type] = {f"BMImageArray{n}D": _array_class(n) for n in SIZES}
globals().update(CLASSES)

__all__ = [*CLASSES]
