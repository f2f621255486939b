"""The framebus exception hierarchy.

Every error raised by framebus derives from :class:`Error`; each also derives from the builtin
that fits it, so ``except FileNotFoundError`` or ``except ValueError`` work as expected.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every framebus error."""


class InvalidArgument(Error, ValueError):
    """A value passed in is out of range or malformed (size, shape, dtype, policy...)."""


class InvalidName(InvalidArgument):
    """A channel or group name breaks the naming rules (letters, digits, '.', '_', '-')."""


class PayloadTooLarge(InvalidArgument):
    """A payload does not fit into one slot of the channel."""


class NotFound(Error, FileNotFoundError):
    """The channel does not exist (and the caller did not wait for it, or gave up waiting)."""


class AlreadyExists(Error, FileExistsError):
    """The channel exists with a geometry that does not fit the request."""


class PermissionDenied(Error, PermissionError):
    """The operating system refused access to the channel's shared memory."""


class Corrupt(Error):
    """The channel's shared memory failed a consistency check."""


class VersionMismatch(Corrupt):
    """The channel was made by an incompatible framebus layout version."""


class Timeout(Error, TimeoutError):
    """A bounded wait expired (a blocked send or loan)."""


class LimitReached(Error):
    """A fixed table of the channel is full (participants, groups) or /dev/shm is full."""


class Closed(Error):
    """The handle or message was closed or released."""


class SystemFailure(Error, OSError):
    """A system call failed; the message carries the reason."""


class LingerExpired(Error):
    """``close()`` of a producer opened with ``strict=True`` discarded messages: they were queued
    for groups without a live member (or for no group) when its linger ran out. ``discarded``
    maps each group (``""``: no group had joined) to its count."""

    discarded: dict = {}


class LingerExpiredWarning(UserWarning):
    """``close()`` discarded messages queued for groups without a live member when its linger ran
    out (the message names the count per group). ``strict=True`` makes it an error."""


class EndOfChannel(Error):
    """Every producer has left and the group's queue is drained. Iteration ends on it.

    ``reason`` is ``"closed"`` (producers closed normally) or ``"producer_died"``.
    """

    reason = "closed"


class ProducerDied(EndOfChannel):
    """The channel ended because its last producer died without closing."""

    reason = "producer_died"


__all__ = [
    "Error", "InvalidArgument", "InvalidName", "PayloadTooLarge", "NotFound", "AlreadyExists",
    "PermissionDenied", "Corrupt", "VersionMismatch", "Timeout", "LimitReached", "Closed",
    "SystemFailure", "EndOfChannel", "ProducerDied", "LingerExpired", "LingerExpiredWarning",
]
