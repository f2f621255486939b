"""Byte sizes given as an int or as text such as "8MiB", "512 KiB", "6.5MB"."""

from __future__ import annotations

from ._errors import InvalidArgument


def parse_size(value: int | str) -> int:
    """Returns a size in bytes; raises InvalidArgument naming the bad value."""
    if isinstance(value, bool):
        raise InvalidArgument(f"size {value!r} is not a number of bytes")
    if isinstance(value, int):
        if value <= 0:
            raise InvalidArgument(f"size must be positive, not {value}")
        return value
    if isinstance(value, str):
        from . import _core  # one parser for C++, the CLI and Python
        return _core.parse_size(value)
    raise InvalidArgument(f"size must be an int or a string such as '8MiB', not {type(value).__name__}")
