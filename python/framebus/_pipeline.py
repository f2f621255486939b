"""The pipeline pieces: result records, the sink that orders them, and the inference worker.

Everything here is the C++ pipeline (``framebus/pipeline/``) bound, not a second implementation:
``InferenceResult.encode()`` writes the bytes a ``framebus worker`` writes, so a worker written in
Python feeds a ``framebus run`` sink, and ``ResultSink`` orders what C++ workers publish.

    results = framebus.results_producer("cams.results")        # the geometry C++ workers use
    with framebus.Consumer("cams.frames", group="workers") as rx:
        for msg in rx:                                        # your own model here
            framebus.publish_result(results, framebus.InferenceResult(
                stream=msg.stream, frame=msg.frame, pts_us=msg.pts, top=[(3, 0.9)],
                published_ns=msg.publish_time_ns, worker=7))
            msg.release()                                     # after its result is out
"""

from __future__ import annotations

import time
from typing import Any, List, Optional, Union

from . import _core
from ._endpoints import Message, Producer
from ._errors import Closed, InvalidArgument

InferenceResult = _core.InferenceResult
SinkEntry = _core.SinkEntry
StreamTally = _core.StreamTally
encode_result = _core.encode_result
decode_result = _core.decode_result
encoded_result_size = _core.encoded_result_size
WorkerStats = getattr(_core, "WorkerStats", None)

#: The group a results channel declares for its sink (as ``framebus run`` and workers expect).
SINK_GROUP = "sink"


def _results_options() -> dict:
    if not hasattr(_core, "_results_channel_options"):
        raise Closed("this framebus was built without the classifier module (the pipeline's worker)")
    return _core._results_channel_options()


def results_producer(name: str, **overrides: Any) -> Producer:
    """Creates or joins results channel ``name`` with the slot geometry every worker and sink of a
    pipeline must agree on (``results_channel_options()`` of the C++ worker: 256 slots of 4 KiB,
    ``"block"``, group ``"sink"`` declared). ``overrides`` (e.g. ``linger``) go to ``Producer``;
    the geometry cannot be overridden."""
    options = _results_options()
    for key in ("slots", "slot_size"):
        if key in overrides and overrides[key] != options[key]:
            raise InvalidArgument(f"a results channel has {key}={options[key]}; workers and sinks must agree on it")
    options.update(overrides)
    return Producer(name, **options)


def publish_result(results: Producer, result: InferenceResult) -> None:
    """Publishes one record into a results channel (a ``results_producer``), encoded by the C++
    codec, with its stream, frame and pts in the message header as C++ workers publish them.
    Blocks while the sink's queue is full."""
    results.send(result.encode(), stream=result.stream, frame=result.frame, pts=result.pts_us)


def end_of_stream_result(stream: int, frame_count: int, worker: int = 0,
                         worker_pid: int = 0) -> InferenceResult:
    """The record a worker publishes for a stream's end marker (``frame`` = the frame count)."""
    return InferenceResult(kind=InferenceResult.Kind.end_of_stream, stream=stream, frame=frame_count,
                           worker=worker, worker_pid=worker_pid)


class ResultSink:
    """Puts the records of several workers back in frame order per stream, each frame once.

    ``add()`` takes a record (an ``InferenceResult``, or a received ``Message`` of a results
    channel, decoded in place) and returns the ``SinkEntry`` list it made contiguous. A second
    result for a frame is dropped and counted (``duplicates``); a frame missing for
    ``gap_timeout`` seconds once a later one (or the end marker) arrived is emitted as a gap
    (``tick()``), and ``finish()`` declares every frame still missing. Times are
    ``time.monotonic_ns()`` (CLOCK_MONOTONIC, the clock of ``publish_time_ns``) unless given.
    One thread feeds a sink.
    """

    def __init__(self, gap_timeout: float = 10.0) -> None:
        self._core = _core._ResultSink(float(gap_timeout))

    def add(self, result: Union[InferenceResult, Message, bytes], now_ns: Optional[int] = None) -> List[SinkEntry]:
        if isinstance(result, Message):
            result = decode_result(result.array)
        elif not isinstance(result, InferenceResult):
            result = decode_result(result)
        return self._core.add(result, time.monotonic_ns() if now_ns is None else int(now_ns))

    def tick(self, now_ns: Optional[int] = None) -> List[SinkEntry]:
        return self._core.tick(time.monotonic_ns() if now_ns is None else int(now_ns))

    def finish(self, now_ns: Optional[int] = None) -> List[SinkEntry]:
        return self._core.finish(time.monotonic_ns() if now_ns is None else int(now_ns))

    @property
    def all_finished(self) -> bool:
        """Every stream seen sent its end marker and was emitted entirely (streams not seen yet
        do not count: compare ``len(streams)`` with the streams expected)."""
        return self._core.all_finished

    @property
    def streams(self) -> dict:
        """``{stream: StreamTally}``: a snapshot of what the sink saw of each stream."""
        return self._core.streams

    def finished(self, stream: int) -> bool:
        tally = self._core.streams.get(stream)
        return tally is not None and tally.finished

    def __repr__(self) -> str:
        return f"<framebus.ResultSink {len(self.streams)} streams>"


class Worker:
    """The C++ inference worker: takes batches of frames from ``group`` of channel ``channel``,
    classifies them with ``classifier`` (a ``framebus.Classifier``) and publishes one record per
    frame (and per end marker) into results channel ``results``, then releases the frames.

    ``run()`` runs until the frames channel ends or ``stop()`` is called (from another thread or
    a signal handler; the current batch is finished first) and returns ``WorkerStats``; it releases
    the GIL throughout. ``batch_timeout`` and ``open_wait`` are seconds. One Worker per
    Classifier runs at a time.
    """

    def __init__(self, classifier: Any, channel: str, results: str, *, group: str = "workers", batch: int = 4,
                 batch_timeout: float = 0.02, worker_id: int = 0, copy_on_receive: bool = False,
                 open_wait: float = 30.0) -> None:
        if not hasattr(_core, "_Worker"):
            raise Closed("this framebus was built without the classifier module (the pipeline's worker)")
        if batch < 1:
            raise InvalidArgument("batch must be at least 1")
        _core.validate_name(channel)
        _core.validate_name(results)
        native = getattr(classifier, "_core", None)
        if not isinstance(native, _core._Classifier):
            raise InvalidArgument(f"Worker takes a framebus.Classifier, not {type(classifier).__name__}")
        self.classifier = classifier
        self.channel, self.results, self.group, self.worker_id = channel, results, group, int(worker_id)
        self._core = _core._Worker(native, channel, results, group, int(batch), float(batch_timeout), int(worker_id),
                                   bool(copy_on_receive), float(open_wait))

    def run(self) -> Any:
        """Runs the worker; returns its ``WorkerStats``. Raises like a ``Consumer`` does (NotFound
        when the channel did not appear within ``open_wait``, KeyboardInterrupt on Ctrl-C in the
        main thread)."""
        return self._core.run()

    def stop(self) -> None:
        """Asks ``run()`` to return after its current batch (thread- and signal-safe)."""
        self._core.stop()

    @property
    def stop_requested(self) -> bool:
        return self._core.stop_requested

    def __repr__(self) -> str:
        return f"<framebus.Worker {self.worker_id} {self.channel!r}/{self.group!r} -> {self.results!r}>"
