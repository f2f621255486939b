"""Test media, made with the ffmpeg tool at test time."""

from __future__ import annotations

import subprocess


def ffmpeg(*args: str) -> None:
    """Runs ffmpeg quietly, overwriting its output; fails the test if ffmpeg fails."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=60)
