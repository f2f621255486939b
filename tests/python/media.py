"""Test media and models, made at test time: videos and pictures by the ffmpeg tool, classifier
models by scripts/make_model.py (nothing is downloaded)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
# The small ResNet-18-shaped model the tests use: width 8, 10 classes, 64x64 input.
TINY = ("--width", "8", "--classes", "10", "--input-size", "64")


def ffmpeg(*args: str) -> None:
    """Runs ffmpeg quietly, overwriting its output; fails the test if ffmpeg fails."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=60)


def make_model(out: pathlib.Path, labels: pathlib.Path, *options: str, timeout: float = 120) -> None:
    """Writes an ONNX classifier and its label file with scripts/make_model.py."""
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_model.py"), "--out", str(out), "--labels",
                    str(labels), *options], check=True, timeout=timeout)
