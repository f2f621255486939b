"""framebus.Pipeline: the whole ``framebus run`` pipeline from Python.

    pipeline = framebus.Pipeline(sources=["a.mp4", "rtsp://cam/1"], model="resnet18.onnx",
                                 workers=3, batch=8, batch_timeout=0.02, topology="shared")
    for entry in pipeline:             # ordered results (SinkEntry), stream by stream in frame order
        if not entry.gap:
            print(entry.stream, entry.frame, entry.result.top)
    print(pipeline.report.exit_status, pipeline.stats()["frames"])

It is the C++ pipeline (``framebus::Pipeline``): the supervisor runs in this process, the decoder
and the workers are ``framebus`` child processes (``executable``, else ``$FRAMEBUS_EXECUTABLE``,
else the ``framebus`` of the build tree this module belongs to, or on ``PATH``).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import threading
from typing import Any, Iterator, Optional

from . import _core
from ._errors import Closed, InvalidArgument

#: Exit statuses of a run, those of ``framebus run``.
EXIT_OK = 0
EXIT_STREAM_FAILED = 1
EXIT_SETUP_FAILED = 2
EXIT_INTERRUPTED = 130


@dataclasses.dataclass(frozen=True)
class RunReport:
    """How a run ended: ``exit_status`` (``framebus run``'s: 0, 1 when a stream ended in error,
    130 when stopped) and the final ``stats`` (the keys of ``framebus run --report``)."""

    exit_status: int
    stats: dict

    @property
    def ok(self) -> bool:
        return self.exit_status == EXIT_OK


def _build_tree_executable() -> Optional[str]:
    # In a build tree the module is <build>/python/framebus/ and the tool <build>/tools/framebus.
    candidate = pathlib.Path(__file__).resolve().parents[2] / "tools" / "framebus"
    return str(candidate) if os.access(candidate, os.X_OK) else None


class Pipeline:
    """Decodes ``sources``, classifies their frames on ``workers`` and gives each stream's results
    in frame order. The keyword options are ``framebus run``'s flags with underscores: ``sources``
    (a list), ``model``, ``labels``, ``top_k``, ``input_size``, ``backend``, ``topology``
    ("shared", "per-stream", "threads" or "queue"), ``workers``, ``batch``, ``batch_timeout`` and
    ``gap_timeout`` and ``progress_interval`` (seconds or ``timedelta``), ``threads``, ``copy``,
    ``name``, ``policy`` ("block", "drop_oldest", "drop_newest"), ``slots``, ``slot_size`` (bytes
    or "8MiB"), ``loop`` (passes; ``None`` or 0 loops until stopped), ``max_fps``, ``realtime``, ``reconnect``, ``width``, ``height``,
    ``decode_threads``, ``max_restarts``; and ``executable`` (the ``framebus`` tool the children
    run) and ``collect_results`` (default True: keep the ordered results for iteration). A source
    given as a dict (``{"source": "b.mp4", "loop": 3}``) has its own decoding options (``loop``,
    ``max_fps``, ``realtime``, ``reconnect``, ``width``, ``height``, ``decode_threads``).

    A bad option raises ``ValueError`` (``framebus.InvalidArgument``) naming it; a model that does
    not load raises before anything starts. ``run()`` blocks (without the GIL) and returns a
    ``RunReport``; iterating runs the pipeline in a background thread and yields ``SinkEntry``
    objects in order; ``stop()`` (any thread, or a signal handler) ends the run promptly;
    ``stats()`` is a dict of the statistics now. Leaving the iteration early stops the run. A
    Pipeline runs once.
    """

    def __init__(self, sources: Any = None, model: Any = None, **options: Any) -> None:
        if not hasattr(_core, "_Pipeline"):
            raise Closed("this framebus was built without the decoder or the classifier module")
        if sources is None:
            raise InvalidArgument("sources: at least one source is needed")
        if model is None:
            raise InvalidArgument("model: a model file is needed")
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        options.setdefault("collect_results", True)
        if options.get("executable") is None and not os.environ.get("FRAMEBUS_EXECUTABLE"):
            options["executable"] = _build_tree_executable()
        self._core = _core._Pipeline(sources=list(sources), model=model, **options)
        self._thread: Optional[threading.Thread] = None
        self._report: Optional[RunReport] = None
        self._error: Optional[BaseException] = None
        self._lock = threading.Lock()
        self._started = False

    def _claim(self) -> None:
        with self._lock:
            if self._started:
                raise InvalidArgument("a Pipeline runs once")
            self._started = True

    def run(self) -> RunReport:
        """Runs to the end of every stream (or ``stop()``); returns the ``RunReport``. Ctrl-C in the
        main thread stops the run, waits for it to end, and raises KeyboardInterrupt."""
        self._claim()
        status, stats = self._core.run()
        self._report = RunReport(status, stats)
        return self._report

    def _run_in_background(self) -> None:
        try:
            status, stats = self._core.run()
            self._report = RunReport(status, stats)
        except BaseException as e:  # handed to the iterating thread
            self._error = e

    def start(self) -> None:
        """Starts the run in a background thread (iteration does this itself)."""
        self._claim()
        self._thread = threading.Thread(target=self._run_in_background, name="framebus-pipeline", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[Any]:
        if not self._started:
            self.start()
        elif self._thread is None and self._report is None:
            raise InvalidArgument("this Pipeline is running in run(); iterate instead of calling run()")
        try:
            while True:
                entry = self._core.next_result(0.1)
                if entry is not None:
                    yield entry
                    continue
                if self._thread is not None and self._thread.is_alive():
                    continue
                # The run is over: every result it made is queued.
                while (entry := self._core.next_result(0.0)) is not None:
                    yield entry
                break
        except GeneratorExit:
            # Leaving the loop early ends the run it started (the results would go unread).
            if self._thread is not None:
                self.stop()
                self._thread.join()
            raise
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def wait(self, timeout: Optional[float] = None) -> Optional[RunReport]:
        """Waits for a background run (``start()`` or iteration); its report, or None on timeout."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self._error is not None:
            raise self._error
        return self._report

    def stop(self) -> None:
        """Asks the run to stop: the decoder first, then the workers drain (any thread, or a
        signal handler)."""
        self._core.stop()

    def stats(self) -> dict:
        """The statistics now: ``topology``, ``seconds``, ``frames``, ``fps``, ``steady_fps``,
        ``queued``, ``workers_running``, ``workers_wanted``, ``streams`` and ``workers`` (lists of
        dicts, the rows of ``framebus run``'s summary tables) and ``errors``."""
        return self._core.stats()

    @property
    def report(self) -> Optional[RunReport]:
        """The ``RunReport`` once the run has ended, else None."""
        return self._report

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join()

    def __repr__(self) -> str:
        state = "done" if self._report else ("running" if self._started else "ready")
        return f"<framebus.Pipeline {state}>"
