"""Byte sizes given as an int or as text such as "8MiB", "512 KiB", "6.5MB"."""

from __future__ import annotations

import re

from ._errors import InvalidArgument

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: int | str) -> int:
    """Returns a size in bytes; raises InvalidArgument naming the bad value."""
    if isinstance(value, bool):
        raise InvalidArgument(f"size {value!r} is not a number of bytes")
    if isinstance(value, int):
        if value <= 0:
            raise InvalidArgument(f"size must be positive, not {value}")
        return value
    if isinstance(value, str):
        match = _PATTERN.match(value)
        unit = match.group(2).lower() if match else None
        if match and unit in _UNITS:
            size = int(float(match.group(1)) * _UNITS[unit])
            if size > 0:
                return size
        raise InvalidArgument(f"cannot read size {value!r}: use bytes or a unit such as '8MiB', '512KiB', '2GB'")
    raise InvalidArgument(f"size must be an int or a string such as '8MiB', not {type(value).__name__}")
