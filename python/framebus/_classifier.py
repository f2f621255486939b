"""Classifier: image classification of NumPy pictures and received frames with an ONNX model."""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._errors import Closed, InvalidArgument

PathLike = Union[str, "os.PathLike[str]"]


def _input_size(size: Union[None, int, Sequence[int]]) -> Tuple[int, int]:
    if size is None:
        return 0, 0
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    width, height = size
    return int(width), int(height)


class Classifier:
    """Classifies pictures with ``model`` (an ONNX file; OpenCV DNN on the CPU by default).

    Each picture is resized to the model's input size (``input_size``: an int, ``(width,
    height)``, or None for the model's own), normalised with ``mean`` and ``std`` (R, G, B, on the
    [0, 1] scale) and fed as RGB (``swap_rb=True``) or BGR. ``labels`` is an optional file with one
    class name per line. ``threads`` > 0 sets OpenCV's thread count (process-wide); ``max_batch``
    is the largest batch run at once.
    """

    def __init__(self, model: PathLike, labels: Optional[PathLike] = None, *, top_k: int = 5,
                 input_size: Union[None, int, Sequence[int]] = None,
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
                 swap_rb: bool = True, threads: int = 0, backend: str = "opencv", max_batch: int = 8) -> None:
        if not hasattr(_core, "_Classifier"):
            raise Closed("this framebus was built without the classifier module (OpenCV)")
        width, height = _input_size(input_size)
        if len(mean) != 3 or len(std) != 3:
            raise InvalidArgument("mean and std take three values (R, G, B)")
        if top_k < 1 or max_batch < 1 or width < 0 or height < 0:
            raise InvalidArgument("top_k and max_batch must be at least 1, input_size positive")
        self._core = _core._Classifier(os.fspath(model), os.fspath(labels) if labels is not None else "", backend,
                                       width, height, tuple(float(m) for m in mean),
                                       tuple(float(s) for s in std), bool(swap_rb), int(top_k), int(threads),
                                       int(max_batch))

    def classify(self, images: Iterable) -> List[List[Tuple[int, float]]]:
        """One list of ``(class_id, score)`` per picture, best first.

        ``images`` holds H x W x 3 (BGR) or H x W (gray) uint8 arrays, or image Messages received
        from a channel (read in place, no copy); an N x H x W x 3 array is N pictures. Scores are
        probabilities. The GIL is released while the model runs.
        """
        if isinstance(images, np.ndarray) and images.ndim != 4:
            raise InvalidArgument(f"classify() takes a list of pictures (or an N x H x W x 3 array), "
                                  f"not one array of shape {images.shape}")
        return self._core.classify(images)

    @property
    def labels(self) -> List[str]:
        """Class names by class id (empty without a label file)."""
        return self._core.labels

    @property
    def classes(self) -> int:
        return self._core.classes

    @property
    def input_size(self) -> Tuple[int, int]:
        """(width, height) pictures are resized to."""
        return self._core.input_size

    def __repr__(self) -> str:
        width, height = self.input_size
        return f"<framebus.Classifier {self.classes} classes, input {width}x{height}>"
