"""Shared fixtures: a unique channel name per test, and a check that nothing is left behind."""

from __future__ import annotations

import itertools
import os
import pathlib

import subprocess

import pytest

_counter = itertools.count()


@pytest.fixture
def name(request) -> str:
    """A channel name no other test uses; the test fails if its channel outlives it."""
    channel = f"pytest-{request.node.name[:60]}-{os.getpid()}-{next(_counter)}".replace("[", "-").replace("]", "")
    channel = "".join(c if c.isalnum() or c in "._-" else "_" for c in channel)
    yield channel
    leftover = pathlib.Path(f"/dev/shm/framebus.{channel}")
    if leftover.exists():
        leftover.unlink()
        pytest.fail(f"channel {channel} was left behind in /dev/shm")


@pytest.fixture
def processes():
    """Popen objects started by a test; any still running at its end are killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
