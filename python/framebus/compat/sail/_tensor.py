"""sail's ``Tensor`` on the CPU: a NumPy array with sail's methods.

sail keeps a tensor in system memory, device memory or both, and ``sync_s2d``/``sync_d2s`` copy
between them. framebus has one memory, so those calls only copy where they name a source tensor
and are no-ops otherwise; ``own_sys_data()``/``own_dev_data()`` report the flags given.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence

import numpy as np

from ..._errors import InvalidArgument
from ._base import Dtype, Handle, enum_value, int_arg

# FLOAT16 and BFLOAT16 are held as their raw 16 bits, as sail's asnumpy returns them.
_NP = {Dtype.BM_FLOAT32: np.float32, Dtype.BM_FLOAT16: np.uint16, Dtype.BM_INT8: np.int8,
       Dtype.BM_UINT8: np.uint8, Dtype.BM_INT16: np.int16, Dtype.BM_UINT16: np.uint16,
       Dtype.BM_INT32: np.int32, Dtype.BM_UINT32: np.uint32, Dtype.BM_BFLOAT16: np.uint16}
# The array dtypes a Tensor is made from as they are; sail converts any other to float32.
_FROM_ARRAY = {np.dtype(np.float32): Dtype.BM_FLOAT32, np.dtype(np.int8): Dtype.BM_INT8,
               np.dtype(np.uint8): Dtype.BM_UINT8, np.dtype(np.int32): Dtype.BM_INT32}


def _shape_arg(shape: Any, argument: str = "shape") -> List[int]:
    try:
        dims = [int_arg(d, argument) for d in shape]
    except TypeError:
        raise InvalidArgument(f"{argument} must be a list of ints, not {shape!r}") from None
    return dims


def _array_arg(data: Any, argument: str = "data") -> np.ndarray:
    if not isinstance(data, np.ndarray):
        raise InvalidArgument(f"{argument} must be a NumPy array, not {type(data).__name__}")
    return data


class Tensor:
    """sail.Tensor. Constructors, as sail's::

        Tensor(handle, data, own_sys_data=True, own_dev_data=True)   # a copy of the array data
        Tensor(handle, shape, dtype, own_sys_data=False, own_dev_data=False)   # zero-filled
        Tensor(tensor, ranges, d2d_flag=True)       # a copy of tensor[r0[0]:r0[1], r1[0]:r1[1], ...]
        Tensor(src, shape, offset, no_copy=True)    # src's elements from offset on, as shape

    ``data`` of dtype float32, int8, uint8 or int32 keeps it; any other is converted to float32,
    as sail's bindings do.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        first = args[0] if args else kwargs.get("handle", kwargs.get("tensor", kwargs.get("src")))
        if isinstance(first, Tensor):
            if len(args) >= 3 or "offset" in kwargs:
                self._init_view(*args, **kwargs)
            else:
                self._init_ranges(*args, **kwargs)
        elif isinstance(args[1] if len(args) > 1 else kwargs.get("data"), np.ndarray):
            self._init_array(*args, **kwargs)
        else:
            self._init_shape(*args, **kwargs)

    def _init_array(self, handle: Handle, data: np.ndarray, own_sys_data: bool = True,
                    own_dev_data: bool = True) -> None:
        dtype = _FROM_ARRAY.get(data.dtype, Dtype.BM_FLOAT32)
        self._set(handle, np.array(data, dtype=_NP[dtype], order="C", copy=True), dtype,
                  own_sys_data, own_dev_data)

    def _init_shape(self, handle: Handle, shape: Sequence[int], dtype: Dtype,
                    own_sys_data: bool = False, own_dev_data: bool = False) -> None:
        dtype = enum_value(Dtype, dtype, "dtype")
        self._set(handle, np.zeros(_shape_arg(shape), _NP[dtype]), dtype, own_sys_data, own_dev_data)

    def _init_ranges(self, tensor: "Tensor", ranges: Sequence[Sequence[int]], d2d_flag: bool = True) -> None:
        try:
            bounds = [(int(start), int(stop)) for start, stop in ranges]
        except (TypeError, ValueError):
            raise InvalidArgument(f"ranges must be a list of (start, end) pairs, not {ranges!r}") from None
        shape = tensor.shape()
        if len(bounds) > len(shape) or any(not 0 <= a < b <= n for (a, b), n in zip(bounds, shape)):
            raise InvalidArgument(f"ranges {bounds} do not fit the tensor's shape {shape}; each must be "
                                  "(start, end) with 0 <= start < end <= that dimension")
        part = tensor._array[tuple(slice(a, b) for a, b in bounds)]
        self._set(tensor._handle, np.ascontiguousarray(part).copy(), tensor._dtype, True, True)

    def _init_view(self, src: "Tensor", shape: Sequence[int], offset: int, no_copy: bool = True) -> None:
        dims, offset = _shape_arg(shape), int_arg(offset, "offset")
        count = math.prod(dims)
        if offset + count > src.size():
            raise InvalidArgument(f"offset {offset} + {count} elements of shape {dims} exceed the source "
                                  f"tensor's {src.size()} elements")
        part = src._array.reshape(-1)[offset:offset + count].reshape(dims)
        self._set(src._handle, part if no_copy else part.copy(), src._dtype, True, True)

    def _set(self, handle: Handle, array: np.ndarray, dtype: Dtype, own_sys: bool, own_dev: bool) -> None:
        if not isinstance(handle, Handle):
            raise InvalidArgument(f"handle must be a sail.Handle (e.g. sail.Handle(0)), not {handle!r}")
        self._handle, self._array, self._dtype = handle, array, dtype
        self._own_sys, self._own_dev = bool(own_sys), bool(own_dev)

    @classmethod
    def _from_array(cls, handle: Handle, array: np.ndarray, dtype: Optional[Dtype] = None) -> "Tensor":
        """A tensor whose data is ``array`` itself (no copy); ``dtype`` defaults to the array's."""
        tensor = cls.__new__(cls)
        if dtype is None:
            dtype = next((d for d, t in _NP.items() if np.dtype(t) == array.dtype), None)
            if dtype is None:
                names = sorted({np.dtype(t).name for t in _NP.values()})
                raise InvalidArgument(f"a tensor array must be one of {names}, not {array.dtype}")
        tensor._set(handle, array, dtype, True, True)
        return tensor

    # ---- shape and type ----
    def shape(self) -> List[int]:
        return list(self._array.shape)

    def dtype(self) -> Dtype:
        return self._dtype

    def size(self) -> int:
        """The number of elements."""
        return int(self._array.size)

    def __len__(self) -> int:
        return self.size()

    def element_size(self) -> int:
        return int(self._array.itemsize)

    def nbytes(self) -> int:
        return int(self._array.nbytes)

    def reshape(self, shape: Sequence[int]) -> None:
        """Gives the tensor a new shape. A different element count reallocates, as sail does: the
        leading elements are kept and any new ones are zero."""
        dims = _shape_arg(shape)
        count = math.prod(dims)
        if count == self._array.size:
            self._array = self._array.reshape(dims)
            return
        grown = np.zeros(count, self._array.dtype)
        keep = min(count, self._array.size)
        grown[:keep] = self._array.reshape(-1)[:keep]
        self._array = grown.reshape(dims)

    def own_sys_data(self) -> bool:
        return self._own_sys

    def own_dev_data(self) -> bool:
        return self._own_dev

    def device_id(self) -> int:
        return self._handle.get_device_id()

    def is_sys_data_valid(self) -> bool:
        return True

    def is_dev_data_valid(self) -> bool:
        return True

    # ---- data ----
    def asnumpy(self, shape: Optional[Sequence[int]] = None) -> np.ndarray:
        """A copy of the data; with ``shape``, the leading elements in that shape. FLOAT16 and
        BFLOAT16 come back as uint16 bits, as in sail."""
        if shape is None:
            return self._array.copy()
        dims = _shape_arg(shape)
        count = math.prod(dims)
        if count > self._array.size:
            raise InvalidArgument(f"shape {dims} holds {count} elements; the tensor has {self._array.size}")
        return self._array.reshape(-1)[:count].reshape(dims).copy()

    def update_data(self, data: np.ndarray) -> None:
        """Copies ``data`` into the leading elements; the shape stays. Its dtype must be the
        tensor's (uint16 or float16 bits for FLOAT16/BFLOAT16); a wider one of the same kind
        (float64 into FLOAT32, int64 into INT32) is converted, as sail's bindings convert it."""
        data = _array_arg(data)
        target = self._array.dtype
        if data.dtype == np.float16 and self._dtype in (Dtype.BM_FLOAT16, Dtype.BM_BFLOAT16):
            data = data.view(np.uint16)
        if data.dtype != target and not (np.can_cast(data.dtype, target, "same_kind")
                                          and data.dtype.kind == target.kind):
            raise InvalidArgument(f"data has dtype {data.dtype}; this {self._dtype.name} tensor needs {target}")
        if data.size > self._array.size:
            raise InvalidArgument(f"data has {data.size} elements; the tensor holds {self._array.size} "
                                  f"(shape {self.shape()})")
        self._array.reshape(-1)[:data.size] = data.reshape(-1)

    def scale_from(self, data: np.ndarray, scale: float) -> None:
        """Stores ``data * scale`` (rounded and saturated for integer tensors)."""
        values = _array_arg(data).astype(np.float32).reshape(-1) * np.float32(scale)
        if values.size > self._array.size:
            raise InvalidArgument(f"data has {values.size} elements; the tensor holds {self._array.size}")
        if self._array.dtype.kind in "iu":
            limits = np.iinfo(self._array.dtype)
            values = np.clip(np.rint(values), limits.min, limits.max)
        self._array.reshape(-1)[:values.size] = values

    def scale_to(self, scale: float, shape: Optional[Sequence[int]] = None) -> np.ndarray:
        """The data times ``scale`` as float32 (with ``shape``: the leading elements so shaped)."""
        values = self.asnumpy(shape).astype(np.float32) * np.float32(scale)
        return values

    def memory_set(self, c: Any) -> None:
        """Fills every element with ``c``, converted to the tensor's dtype."""
        self._array.fill(c)

    def zeros(self) -> None:
        self._array.fill(0)

    def ones(self) -> None:
        self._array.fill(1)

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < self._array.size:
            raise IndexError(f"index {i} out of range for a tensor of {self._array.size} elements")
        return self._array.reshape(-1)[i].item()

    def dump_data(self, file_name: str, bin: bool = False) -> None:  # noqa: A002  sail's name
        """Writes the data to ``file_name``: raw bytes with ``bin``, else one value per line."""
        if bin:
            self._array.tofile(file_name)
        else:
            np.savetxt(file_name, self._array.reshape(-1, 1), fmt="%s" if self._array.dtype.kind in "iu" else "%.9g")

    # ---- copies between memories: one memory on the CPU ----
    def _copy(self, src: "Tensor", offset_src: int, offset_dst: int, len: int) -> None:  # noqa: A002
        if not isinstance(src, Tensor):
            raise InvalidArgument(f"src must be a sail.Tensor, not {type(src).__name__}")
        offset_src, offset_dst, count = (int_arg(offset_src, "offset_src"), int_arg(offset_dst, "offset_dst"),
                                         int_arg(len, "len"))
        if offset_src + count > src.size() or offset_dst + count > self.size():
            raise InvalidArgument(f"copying {count} elements from offset {offset_src} of {src.size()} to offset "
                                  f"{offset_dst} of {self.size()} runs past the end")
        if src._array.dtype != self._array.dtype:
            raise InvalidArgument(f"src has dtype {src._dtype.name}; this tensor is {self._dtype.name}")
        self._array.reshape(-1)[offset_dst:offset_dst + count] = src._array.reshape(-1)[offset_src:offset_src + count]

    def sync_s2d(self, *args: Any) -> None:
        """No-op (``()`` or ``(size)``); ``(src, offset_src, offset_dst, len)`` copies elements."""
        if len(args) == 4:
            self._copy(*args)

    def sync_d2s(self, *args: Any) -> None:
        """No-op (``()`` or ``(size)``); ``(src, offset_src, offset_dst, len)`` copies elements."""
        if len(args) == 4:
            self._copy(*args)

    def sync_d2d(self, src: "Tensor", offset_src: int, offset_dst: int, len: int) -> None:  # noqa: A002
        self._copy(src, offset_src, offset_dst, len)

    def sync_d2d_stride(self, src: "Tensor", stride_src: int, stride_dst: int, count: int) -> None:
        """Copies ``count`` elements, every ``stride_src``-th of ``src`` to every ``stride_dst``-th."""
        stride_src, stride_dst = int_arg(stride_src, "stride_src", 1), int_arg(stride_dst, "stride_dst", 1)
        count = int_arg(count, "count")
        if count * stride_src > src.size() or count * stride_dst > self.size():
            raise InvalidArgument("count * stride_src must be <= the source size and count * stride_dst <= "
                                  "this tensor's size")
        self._array.reshape(-1)[:count * stride_dst:stride_dst] = src._array.reshape(-1)[:count * stride_src:stride_src]

    def __repr__(self) -> str:
        return f"<sail.Tensor {self.shape()} {self._dtype.name}>"


__all__ = ["Tensor"]
