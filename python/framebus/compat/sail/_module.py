"""sail's module-level functions that scripts call around their pipelines: the device count,
the print / dump / log switches and the decoder environment.

sail runs on a device it counts, times and dumps; framebus runs on the CPU. Each function
keeps sail's name, arguments and return value; where it has no CPU meaning it checks its
arguments and does nothing (each docstring says so), so a script that calls it runs unchanged.
``set_loglevel`` sets the level of the ``framebus.compat.sail`` logger, which the decoders log to.
"""

from __future__ import annotations

import logging

from ..._errors import InvalidArgument
from ._base import _SailEnum, enum_value

_log = logging.getLogger("framebus.compat.sail")


class LogLevel(_SailEnum):
    """sail.LogLevel: the log levels of ``set_loglevel`` (spdlog's levels and values)."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4
    CRITICAL = 5
    OFF = 6


# Python's logging has no TRACE; OFF is above every level a record can have.
_LOGGING_LEVEL = {LogLevel.TRACE: logging.DEBUG, LogLevel.DEBUG: logging.DEBUG, LogLevel.INFO: logging.INFO,
                  LogLevel.WARN: logging.WARNING, LogLevel.ERROR: logging.ERROR,
                  LogLevel.CRITICAL: logging.CRITICAL, LogLevel.OFF: logging.CRITICAL + 1}


def _flag(value: object, argument: str) -> bool:
    if not isinstance(value, (bool, int)):
        raise InvalidArgument(f"{argument} must be a bool (True or False), not {value!r}")
    return bool(value)


def get_available_tpu_num() -> int:
    """The number of processors sail can use: 1, the CPU (any ``tpu_id`` / ``Handle(id)`` works)."""
    return 1


def set_print_flag(print_flag: bool) -> int:
    """sail: print the time of each main step. framebus prints no timings, so this checks the
    flag and does nothing; 0."""
    _flag(print_flag, "print_flag")
    return 0


def set_dump_io_flag(dump_io_flag: bool) -> int:
    """sail: write every Engine input and output tensor to a file. framebus writes none, so
    this checks the flag and does nothing; 0."""
    _flag(dump_io_flag, "dump_io_flag")
    return 0


def set_loglevel(loglevel: LogLevel) -> int:
    """Sets the level of the ``framebus.compat.sail`` logger (TRACE logs as DEBUG, OFF logs
    nothing); 0, as sail returns on success."""
    level = enum_value(LogLevel, loglevel, "loglevel")
    _log.setLevel(_LOGGING_LEVEL[level])
    return 0


def set_decoder_env(env_name: str, env_value: str) -> int:
    """sail: an FFmpeg option of the Decoders made afterwards (rtsp_transport, stimeout, ...).
    framebus's decoders take no FFmpeg options, so this checks both are strings and does
    nothing; 0."""
    for value, argument in ((env_name, "env_name"), (env_value, "env_value")):
        if not isinstance(value, str):
            raise InvalidArgument(f"{argument} must be a str (e.g. set_decoder_env('rtsp_transport', 'tcp')), "
                                  f"not {value!r}")
    return 0


# sail exports the LogLevel members at module level (pybind11's export_values).
EXPORTED = {member.name: member for member in LogLevel}
globals().update(EXPORTED)

__all__ = ["LogLevel", "get_available_tpu_num", "set_print_flag", "set_dump_io_flag", "set_loglevel",
           "set_decoder_env", *EXPORTED]
