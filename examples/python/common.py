"""What the four example pipelines share: options, input checks, batching, the reorder buffer,
the JSON-lines writer, the summary and the clean-up on Ctrl-C.

Each example script is one `framebus run --topology X` written with the Python API; this module
keeps them short. Nothing here is specific to one topology.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing.context
import os
import re
import signal
import statistics
import sys
import threading
import time
from multiprocessing import forkserver, resource_tracker
from typing import Callable, Iterable, Optional, TextIO

import framebus

# Exit statuses, as `framebus run` has them (docs/pipeline.md).
EXIT_OK = 0
EXIT_STREAM_FAILED = 1  # the run completed, but a stream ended in error or frames are missing
EXIT_SETUP_FAILED = 2  # nothing started: bad model, source or option
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM

# The results of a worker are small records; this geometry is what `framebus worker` uses.
RESULT_SLOTS = 256
RESULT_SLOT_SIZE = 4096


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


def frame_slots(args: argparse.Namespace, readers: int) -> int:
    """Enough slots for every reader to hold two batches while the decoder keeps going
    (what `framebus run` picks)."""
    return max(16, 2 * readers * args.batch + 4)


def take_batch(rx: framebus.Consumer, size: int, timeout_s: float,
               stop: Callable[[], bool] = lambda: False) -> tuple[list, list, bool]:
    """Up to `size` frames from `rx`, across streams: waits as long as needed for the first one
    (asking `stop` every quarter second), then at most `timeout_s` for the batch to fill. An
    end-of-stream marker ends the batch at once, so that a stream's last frames do not wait.

    Returns (frames, end markers, channel ended)."""
    frames: list = []
    ends: list = []
    deadline = None
    try:
        while len(frames) < size:
            if deadline is None:
                msg = rx.receive(0.25)
                if msg is None:
                    if stop():
                        break
                    continue
            else:
                msg = rx.receive(max(0.0, deadline - time.monotonic()))
                if msg is None:
                    break
            if msg.end_of_stream:
                ends.append(msg)
                break
            frames.append(msg)
            if deadline is None:
                deadline = time.monotonic() + timeout_s
    except framebus.EndOfChannel:
        return frames, ends, True
    return frames, ends, False


def encode_result(msg: framebus.Message, top: list, worker: int) -> bytes:
    """A worker's record for one frame: what the sink needs besides stream, frame id and pts
    (those travel in the message header)."""
    return json.dumps({"top": top, "published_ns": msg.publish_time_ns, "worker": worker,
                       "redelivered": msg.redelivered}).encode()


class ResultWriter:
    """Writes one JSON line per frame (to a file, or stdout for "-") and keeps what the summary
    needs: frames, first and last result time, latencies per stream."""

    def __init__(self, path: str, sources: list[str]) -> None:
        self.to_stdout = path == "-"
        self._file: TextIO = sys.stdout if self.to_stdout else open(path, "w")
        self.sources = sources
        self.frames = [0] * len(sources)
        self.latency_ms: list[list[float]] = [[] for _ in sources]
        self.last_ns = [0] * len(sources)
        self.start_ns = time.monotonic_ns()
        self.first_ns = 0  # the first result's arrival: from there on the pipeline is warm

    def write(self, stream: int, frame: int, pts_us: int, top: list, published_ns: int, arrived_ns: int,
              worker: int) -> None:
        latency = round((arrived_ns - published_ns) / 1e6, 2)
        line = {"stream": stream, "frame": frame, "pts_us": pts_us,
                "top": [[int(c), round(float(s), 4)] for c, s in top], "latency_ms": latency, "worker": worker}
        # One line at a time, flushed: a reader of the file sees whole lines as they come.
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()
        self.frames[stream] += 1
        self.latency_ms[stream].append(latency)
        self.last_ns[stream] = arrived_ns
        self.first_ns = self.first_ns or arrived_ns

    def close(self) -> None:
        if not self.to_stdout:
            self._file.close()


class ReorderBuffer:
    """Puts results back in frame order per stream, each frame exactly once.

    Workers finish out of order, and a frame redelivered after a worker died may be classified
    twice. Frame n of a stream is emitted only after n-1; a second result for a frame is dropped
    and counted. The end-of-stream marker carries the stream's frame count, so the stream is
    finished once that many frames went out, whichever worker sent the marker."""

    def __init__(self, streams: int, emit: Callable[..., None]) -> None:
        self._emit = emit
        self.next = [0] * streams  # the next frame to emit, per stream
        self.pending: list[dict[int, tuple]] = [{} for _ in range(streams)]
        self.count: list[Optional[int]] = [None] * streams  # from the end marker
        self.duplicates = 0

    def add(self, stream: int, frame: int, *record) -> None:
        if frame < self.next[stream] or frame in self.pending[stream]:
            self.duplicates += 1
            return
        self.pending[stream][frame] = record
        while self.next[stream] in self.pending[stream]:
            self._emit(stream, self.next[stream], *self.pending[stream].pop(self.next[stream]))
            self.next[stream] += 1

    def end(self, stream: int, frame_count: int) -> None:
        self.count[stream] = frame_count

    def finished(self, stream: int) -> bool:
        return self.count[stream] is not None and self.next[stream] >= self.count[stream]

    def all_finished(self) -> bool:
        return all(self.finished(s) for s in range(len(self.next)))


def summary(writer: ResultWriter, reorder: ReorderBuffer, errors: Iterable[str], interrupted: bool) -> int:
    """Prints frames, fps and latency per stream (to stdout, or stderr when the results go to
    stdout) and returns the exit status: 0 only when every frame of every stream got exactly
    one result, in order, and no stream failed."""
    errors = list(errors)
    out = sys.stderr if writer.to_stdout else sys.stdout
    print(f"{'stream':<7}{'source':<28}{'frames':>8}{'frames/s':>10}{'p50 ms':>9}{'p99 ms':>9}  state", file=out)
    total = 0
    end_ns = max(writer.last_ns + [writer.start_ns])
    for s, source in enumerate(writer.sources):
        frames = writer.frames[s]
        total += frames
        seconds = max(writer.last_ns[s] - writer.start_ns, 1) / 1e9
        lat = sorted(writer.latency_ms[s]) or [0.0]
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        if reorder.finished(s):
            state = "done"
        else:
            state = "interrupted" if interrupted else f"incomplete: {frames} of {reorder.count[s] or '?'}"
        print(f"{s:<7}{os.path.basename(source.rstrip('/'))[:27]:<28}{frames:>8}{frames / seconds:>10.1f}"
              f"{statistics.median(lat):>9.1f}{p99:>9.1f}  {state}", file=out)
    seconds = max(end_ns - writer.start_ns, 1) / 1e9
    steady = (total - 1) / max(end_ns - writer.first_ns, 1) * 1e9 if total > 1 else 0.0
    print(f"total: {total} frames in {seconds:.2f} s, {total / seconds:.1f} frames/s "
          f"({steady:.1f} from the first result on); duplicates dropped: {reorder.duplicates}", file=out)
    for error in errors:
        print(f"error: {error}", file=out)
    if interrupted:
        print("interrupted", file=out)
        return EXIT_INTERRUPTED
    return EXIT_OK if reorder.all_finished() and not errors else EXIT_STREAM_FAILED


def interrupt_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: children stopped, channels removed."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def ignore_interrupts() -> None:
    """For children: the main process decides how a Ctrl-C ends them (a terminal sends SIGINT to
    every process of the foreground group). Also unblocks what starting_children() blocked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def starting_children(context: Optional[multiprocessing.context.BaseContext] = None):
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


def stop_processes(processes: Iterable, grace: float = 5.0) -> None:
    """Ends multiprocessing children: SIGTERM, then SIGKILL after `grace` seconds.
    framebus learns the deaths from the kernel, so frames they held are never lost to others."""
    processes = [p for p in processes if p is not None and p.pid is not None]
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
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
            framebus.remove(name)
        except framebus.NotFound:
            pass


def output_closed() -> str:
    """For a BrokenPipeError: the reader of the results (`... | head`) went away. Later writes
    to stdout go nowhere, so that the run still ends cleanly; returns the error to report."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return "the results output was closed"


def stream_errors(statuses: list[dict], sources: list[str]) -> list[str]:
    """The decoder's streams that ended in error, each named with its source and reason."""
    return [f"stream {s['id']} ({sources[s['id']]}): {s['message']}" for s in statuses if s["state"] == "error"]


@contextlib.contextmanager
def draining(consumers: Iterable[framebus.Consumer]):
    """Takes and releases whatever is left in the consumers' channels until they end, in
    background threads, for the duration of the block (closing a decoder whose workers are gone)."""
    def drain(rx: framebus.Consumer) -> None:
        try:
            while True:
                msg = rx.receive(1.0)
                if msg is not None:
                    msg.release()
        except (framebus.EndOfChannel, framebus.Closed):
            pass

    threads = [threading.Thread(target=drain, args=(rx,), daemon=True) for rx in {id(c): c for c in consumers}.values()]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        for t in threads:
            t.join(10)
