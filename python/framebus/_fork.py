"""Fork awareness: a handle inherited by a forked child opens its own registration there.

The native handles refuse to work in a forked child (the registration belongs to the parent).
The Python handles count forks with ``os.register_at_fork`` and transparently reopen, by name
and options, the first time they are used in a new child process.
"""

from __future__ import annotations

import os

_generation = 0


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def generation() -> int:
    return _generation
