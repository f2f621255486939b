"""What the four example pipelines share: options, input checks, the JSON-lines output of the
sink, the summary and the clean-up on Ctrl-C.

Each example script is one `framebus run --topology X` written with the Python API; this module
keeps them short. Nothing here is specific to one topology. Batching, the result records and
their ordering are not here: they are the library's (framebus.Worker, framebus.InferenceResult,
framebus.ResultSink), the same code `framebus run` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing.context
import os
import re
import signal
import sys
import threading
import time
from multiprocessing import forkserver, resource_tracker
from multiprocessing.process import BaseProcess
from typing import Any, Iterable, Iterator, Optional, TextIO, Union

import framebus

# Exit statuses, as `framebus run` has them (docs/pipeline.md).
EXIT_OK = 0
EXIT_STREAM_FAILED = 1  # the run completed, but a stream ended in error or frames are missing
EXIT_SETUP_FAILED = 2  # nothing started: bad model, source or option
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


def parse_args(description: str, argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--source", action="append", required=True, metavar="SOURCE",
                   help="video file, URL or image folder (repeat for more streams)")
    p.add_argument("--model", required=True, help="ONNX image-classification model")
    p.add_argument("--labels", help="label file, one class name per line")
    p.add_argument("--workers", type=int, default=2, help="inference workers (default 2)")
    p.add_argument("--batch", type=int, default=4, help="largest batch (default 4)")
    p.add_argument("--batch-timeout", type=float, default=20.0, metavar="MS",
                   help="milliseconds a worker waits for a batch to fill (default 20)")
    p.add_argument("--top-k", type=int, default=5, help="predictions kept per frame (default 5)")
    p.add_argument("--threads", type=int, default=0,
                   help="inference threads per worker (default: cores / workers)")
    p.add_argument("--loop", type=int, default=1, help="passes over each source (default 1)")
    p.add_argument("--gap-timeout", type=float, default=30.0, metavar="S",
                   help="seconds a missing frame is waited for before it is written as a gap (default 30)")
    p.add_argument("--out", default="-", help="JSON-lines results file (default: stdout)")
    p.add_argument("--name", default=f"pyex-{os.getpid()}", help="channel name prefix")
    p.add_argument("--slot-size", default="8MiB", help="frames channel slot size (default 8MiB)")
    p.add_argument("--start-method", choices=["spawn", "forkserver", "fork"], default="spawn",
                   help="multiprocessing start method (default spawn)")
    args = p.parse_args(argv)
    for option in ("workers", "batch", "top_k", "loop"):
        if getattr(args, option) < 1:
            p.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.threads <= 0:
        args.threads = max(1, (os.cpu_count() or 1) // args.workers)
    return args


def fail(message: str, status: int = EXIT_SETUP_FAILED) -> None:
    print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
    sys.exit(status)


def check_inputs(args: argparse.Namespace) -> None:
    """Ends the program (status 2) before anything starts when the model or a source is bad."""
    for i, source in enumerate(args.source):
        if "://" not in source and not os.path.exists(source):
            fail(f"source {i} '{source}' does not exist")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,180}", args.name):
        fail(f"--name '{args.name}': use at most 180 letters, digits, '.', '_' and '-'")
    try:
        framebus.parse_size(args.slot_size)
    except framebus.InvalidArgument as error:
        fail(f"--slot-size: {error}")
    try:
        # Loading the model here names a missing file, a directory or a non-ONNX file at once,
        # instead of every worker failing on it later. The workers load their own copy.
        framebus.Classifier(args.model, args.labels)
    except (framebus.Error, OSError) as error:
        fail(str(error))


def classifier(args: argparse.Namespace) -> framebus.Classifier:
    return framebus.Classifier(args.model, args.labels, top_k=args.top_k, threads=args.threads,
                               max_batch=args.batch)


def worker(args: argparse.Namespace, channel: str, results: str, worker_id: int) -> framebus.Worker:
    """The C++ inference worker of `framebus run`: batches of up to --batch frames across streams
    from group "workers" of `channel`, classified in place, one record per frame into `results`,
    and only then the frames released (a worker killed at any point loses nothing)."""
    return framebus.Worker(classifier(args), channel, results, batch=args.batch,
                           batch_timeout=args.batch_timeout / 1000, worker_id=worker_id)


def frame_slots(args: argparse.Namespace, readers: int) -> int:
    """Enough slots for every reader to hold two batches while the decoder keeps going
    (what `framebus run` picks)."""
    batch: int = args.batch
    return max(16, 2 * readers * batch + 4)


class Results:
    """The sink: a framebus.ResultSink (the reorder buffer of `framebus run`) puts the workers'
    records back in frame order per stream, each frame once, and each frame it emits becomes one
    JSON line (in a file, or stdout for "-"), as `framebus run --out` writes it.

    A frame still missing `gap_timeout` seconds after a later one of its stream arrived is written
    as a gap; a second result for a frame (after a redelivery) is dropped and counted. The
    end-of-stream record carries the stream's frame count, so a stream is finished once that many
    frames went out, whichever worker sent it."""

    def __init__(self, path: str, sources: list[str], gap_timeout: float) -> None:
        self.to_stdout = path == "-"
        self._file: TextIO = sys.stdout if self.to_stdout else open(path, "w")
        self.sources = sources
        self.sink = framebus.ResultSink(gap_timeout)
        self.start_ns = time.monotonic_ns()

    def add(self, record: Union[framebus.InferenceResult, framebus.Message]) -> None:
        """Takes one record: an InferenceResult, or a received message of a results channel."""
        self._write(self.sink.add(record))

    def tick(self) -> None:
        """Writes the gaps whose time ran out (call it now and then while waiting)."""
        self._write(self.sink.tick())

    def finish(self) -> None:
        """Writes every frame still missing as a gap: the end of a run that did not complete."""
        self._write(self.sink.finish())

    @property
    def done(self) -> bool:
        """Every stream sent its end and was written entirely."""
        return len(self.sink.streams) >= len(self.sources) and self.sink.all_finished

    def _write(self, entries: list[framebus.SinkEntry]) -> None:
        for e in entries:
            r = e.result
            line: dict[str, Any]
            if r is None:  # a gap: the frame's result never came
                line = {"stream": e.stream, "frame": e.frame, "gap": True}
            else:
                line = {"stream": e.stream, "frame": e.frame, "pts_us": r.pts_us,
                        "top": [[c, round(s, 4)] for c, s in r.top], "latency_ms": round(e.latency_ms, 2),
                        "worker": r.worker}
            self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        if entries:
            # Flushed as they come: a reader of the file sees whole lines.
            self._file.flush()

    def close(self) -> None:
        if not self.to_stdout:
            self._file.close()


def summary(results: Results, errors: Iterable[str], interrupted: bool) -> int:
    """Prints frames, fps and latency per stream (to stdout, or stderr when the results go to
    stdout) and returns the exit status: 0 only when every frame of every stream got exactly
    one result, in order, and no stream failed."""
    errors = list(errors)
    out = sys.stderr if results.to_stdout else sys.stdout
    print(f"{'stream':<7}{'source':<28}{'frames':>8}{'frames/s':>10}{'p50 ms':>9}{'p99 ms':>9}  state", file=out)
    streams = results.sink.streams
    tallies = [streams.get(s) for s in range(len(results.sources))]
    total = sum(t.emitted for t in tallies if t is not None)
    gaps = sum(t.gaps for t in tallies if t is not None)
    last = [t.last_ns for t in tallies if t is not None and t.emitted]
    first = [t.first_ns for t in tallies if t is not None and t.emitted]
    for s, (source, t) in enumerate(zip(results.sources, tallies)):
        if t is not None and t.emitted:
            frames = t.emitted
            seconds = max(t.last_ns - results.start_ns, 1) / 1e9
            p50, p99 = t.latency_percentile(50), t.latency_percentile(99)
        else:  # nothing out of this stream yet
            frames, seconds, p50, p99 = 0, 1.0, 0.0, 0.0
        if t is not None and t.finished:
            state = "done" if not t.gaps else f"done, {t.gaps} gaps"
        else:
            count = t.frame_count if t is not None and t.frame_count is not None else "?"
            state = "interrupted" if interrupted else f"incomplete: {frames} of {count}"
        print(f"{s:<7}{os.path.basename(source.rstrip('/'))[:27]:<28}{frames:>8}{frames / seconds:>10.1f}"
              f"{p50:>9.1f}{p99:>9.1f}  {state}", file=out)
    seconds = max(max(last, default=results.start_ns) - results.start_ns, 1) / 1e9
    steady = (total - 1) / max(max(last) - min(first), 1) * 1e9 if total > 1 else 0.0
    duplicates = sum(t.duplicates for t in tallies if t is not None)
    print(f"total: {total} frames in {seconds:.2f} s, {total / seconds:.1f} frames/s "
          f"({steady:.1f} from the first result on); duplicates dropped: {duplicates}", file=out)
    for error in errors:
        print(f"error: {error}", file=out)
    if interrupted:
        print("interrupted", file=out)
        return EXIT_INTERRUPTED
    return EXIT_OK if results.done and not gaps and not errors else EXIT_STREAM_FAILED


def interrupt_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: children stopped, channels removed."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def ignore_interrupts() -> None:
    """For children: the main process decides how a Ctrl-C ends them (a terminal sends SIGINT to
    every process of the foreground group). Also unblocks what starting_children() blocked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def starting_children(context: Optional[multiprocessing.context.BaseContext] = None) -> Iterator[None]:
    """Processes started in this block begin with SIGINT blocked (the mask survives fork and
    exec), so that a Ctrl-C while a child is still importing does not end it with a traceback
    before ignore_interrupts() runs there. Here, a Ctrl-C meanwhile is only deferred.

    multiprocessing's resource tracker unblocks SIGINT in this process once it has started
    itself (the first spawn or forkserver start does that), which would undo the block for the
    very children it is meant for: it is started first, outside the block. forkserver children are
    forked by the server with its own mask and handlers, so the server is started inside the
    block with SIGINT ignored, which its children inherit (blocked signals stay pending, so
    nothing is lost here meanwhile)."""
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        if context is not None and context.get_start_method() == "forkserver":
            handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                forkserver.ensure_running()
            finally:
                signal.signal(signal.SIGINT, handler)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_processes(processes: Iterable[Optional[BaseProcess]], grace: float = 5.0) -> None:
    """Ends multiprocessing children: SIGTERM, then SIGKILL after `grace` seconds.
    framebus learns the deaths from the kernel, so frames they held are never lost to others."""
    started = [p for p in processes if p is not None and p.pid is not None]
    for p in started:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in started:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def remove_channels(names: Iterable[str]) -> None:
    """A channel is removed by the last participant that leaves it; one whose participants were
    killed stays until reclaimed. Removing the run's channels by name leaves /dev/shm clean
    whatever happened."""
    for name in names:
        try:
            framebus.remove_channel(name)
        except framebus.NotFound:
            pass


def output_closed() -> str:
    """For a BrokenPipeError: the reader of the results (`... | head`) went away. Later writes
    to stdout go nowhere, so that the run still ends cleanly; returns the error to report."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return "the results output was closed"


def stream_errors(statuses: list[dict[str, Any]], sources: list[str]) -> list[str]:
    """The decoder's streams that ended in error, each named with its source and reason."""
    return [f"stream {s['id']} ({sources[s['id']]}): {s['message']}" for s in statuses if s["state"] == "error"]


@contextlib.contextmanager
def draining(channels: Iterable[str], group: str = "workers") -> Iterator[None]:
    """Takes and releases whatever is left for `group` in the channels until they end, in
    background threads, for the duration of the block (closing a decoder whose workers are gone:
    its streams would otherwise linger for them)."""
    def drain(rx: framebus.Consumer) -> None:
        try:
            with rx:
                while True:
                    msg = rx.receive(1.0)
                    if msg is not None:
                        msg.release()
        except (framebus.EndOfChannel, framebus.Closed):
            pass

    consumers = []
    for name in dict.fromkeys(channels):
        try:
            consumers.append(framebus.Consumer(name, group=group))
        except framebus.NotFound:
            pass
    threads = [threading.Thread(target=drain, args=(rx,), daemon=True) for rx in consumers]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        for t in threads:
            t.join(10)
