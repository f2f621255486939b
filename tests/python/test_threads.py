"""Handles closed by one thread while another waits inside them: the waiting call raises
framebus.Closed and the interpreter lives on (closing used to unmap the memory under the waiting
thread: SIGSEGV in 12 runs of 12)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).parent / "scripts" / "close_while_waiting.py"
ROUNDS = 20


def run_rounds(name: str, way: str) -> None:
    # Its own process: a crash is this test's failure, with the signal, not pytest's death.
    proc = subprocess.run([sys.executable, str(SCRIPT), name, way, str(ROUNDS)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}{proc.stderr}"
    assert proc.stdout.split() == ["ok", str(ROUNDS)]
    assert not list(pathlib.Path("/dev/shm").glob(f"framebus.{name}-*")), "a round left its channel behind"


@pytest.mark.timeout(180)
def test_closing_a_consumer_wakes_a_thread_waiting_in_receive_with_closed(name):
    run_rounds(name, "receive")


@pytest.mark.timeout(180)
def test_closing_a_consumer_wakes_a_thread_iterating_over_it_with_closed(name):
    run_rounds(name, "iterate")


@pytest.mark.timeout(180)
def test_closing_a_producer_wakes_a_thread_blocked_in_send_with_closed(name):
    run_rounds(name, "send")


@pytest.mark.timeout(180)
def test_closing_a_producer_wakes_a_thread_blocked_in_loan_with_closed(name):
    run_rounds(name, "loan")
