"""Checks of the arguments the Python API passes on to the native module, so that a wrong value
is refused with its name and what it takes ("stream must be an int >= 0, not -1") instead of the
binding's generic "incompatible function arguments" listing C++ types."""

from __future__ import annotations

import numbers
from typing import Any, Optional

from ._errors import InvalidArgument

_UINT32 = 2**32
_UINT64 = 2**64
_INT64 = 2**63


def integer(value: Any, name: str, low: int = 0, high: Optional[int] = None) -> int:
    """``value`` as an int in [low, high) (a bool is refused: it is rarely meant as a number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgument(f"{name} must be an int {_range(low, high)}, not {value!r}")
    value = int(value)
    if value < low or (high is not None and value >= high):
        raise InvalidArgument(f"{name} must be an int {_range(low, high)}, not {value}")
    return value


def seconds(value: Any, name: str, *, none_ok: bool = True) -> Optional[float]:
    """A number of seconds >= 0 (None where ``none_ok``: wait without limit)."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        also = " or None (no limit)" if none_ok else ""
        raise InvalidArgument(f"{name} must be a number of seconds >= 0{also}, not {value!r}")
    return float(value)


def text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a str, not {type(value).__name__} {value!r}")
    return value


def message_fields(stream: Any, frame: Any, pts: Any, user_meta: Any, flags: Any) -> tuple[int, int, int, bytes, int]:
    """The fields every published message carries, checked."""
    if not isinstance(user_meta, (bytes, bytearray, memoryview)):
        raise InvalidArgument(f"user_meta must be bytes, not {type(user_meta).__name__}")
    return (integer(stream, "stream", 0, _UINT32), integer(frame, "frame", 0, _UINT64),
            integer(pts, "pts", -_INT64, _INT64), bytes(user_meta), integer(flags, "flags", 0, _UINT32))


def _range(low: int, high: Optional[int]) -> str:
    if high is None:
        return f">= {low}"
    if low == -_INT64 and high == _INT64:
        return "in the int64 range"
    return f">= {low}" + (f" and < 2**{high.bit_length() - 1}" if high in (_UINT32, _UINT64) else f" and < {high}")
