"""Closes every handle still open when a process exits normally.

A process that is the last participant of a channel and exits without closing it leaves the
channel in /dev/shm. The main process runs ``atexit`` handlers, but a ``multiprocessing`` child
ends through ``os._exit`` after running only multiprocessing's own finalizers, so open handles
are closed from both: an ``atexit`` handler and a ``multiprocessing.util.Finalize``. A child
process clears multiprocessing's finalizers when it starts, after a spawned child has already
unpickled the handles passed to it, so the finalizer is registered again after every such start.

Handles are held through weak references: closing at exit never keeps a handle alive.
"""

from __future__ import annotations

import atexit
import weakref
from multiprocessing import util
from typing import Any

# Producers, Consumers and MultiDecoders open in this process.
_open: "weakref.WeakSet[Any]" = weakref.WeakSet()

# Before a multiprocessing Pool terminates its workers (priority 15), so consumers among them can
# still take what a closing producer lingers for.
_EXIT_PRIORITY = 20


def track(handle: Any) -> None:
    """Closes ``handle`` (through its ``_close_at_exit``) at exit unless it is gone or untracked."""
    _open.add(handle)


def untrack(handle: Any) -> None:
    _open.discard(handle)


def close_all() -> None:
    """Closes every tracked handle; an error closing one does not keep the others open."""
    for handle in list(_open):
        try:
            handle._close_at_exit()
        except Exception:  # noqa: BLE001 - exit goes on; the channel's liveness check covers the rest
            pass
        _open.discard(handle)


def _register_finalizer(_anchor: Any = None) -> None:
    util.Finalize(None, close_all, exitpriority=_EXIT_PRIORITY)


class _Anchor:
    """A live object for ``util.register_after_fork``, which holds its objects weakly."""


_anchor = _Anchor()
atexit.register(close_all)
_register_finalizer()
util.register_after_fork(_anchor, _register_finalizer)
