#!/usr/bin/python3
"""The baseline that pipelines built on multiprocessing queues have today: `framebus run
--topology queue` in plain Python, no framebus channel.

    OpenCV reader (one process per source) --copies--> bounded multiprocessing.Queue --> this process
                                                                    (batches, classifies, orders)

Each frame is pickled, copied down a pipe and unpickled on the other side; compare its frames/s
with shared_workers.py on the same sources. The model still runs in framebus.Classifier and the
results are ordered and written by the same sink (framebus.ResultSink), so only the transport
differs.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import queue
import sys
import time
from typing import Any, Iterator, Optional

import cv2
import numpy as np
import numpy.typing as npt

import framebus

import common

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

# What the readers put in the queue: ("frame", stream, frame, pts_us, published_ns, image),
# ("error", stream, message) and, last, ("end", stream, frame count).
Item = tuple[Any, ...]


def frames_of(source: str) -> Iterator[tuple[npt.NDArray[np.uint8], int]]:
    """Yields (BGR frame, pts in microseconds) as OpenCV decodes them: cv2.imread over a folder's
    pictures in name order, cv2.VideoCapture for anything else. Raises OSError when it cannot."""
    if os.path.isdir(source):
        files = sorted(f for f in glob.glob(os.path.join(source, "*")) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise OSError(f"no pictures in folder '{source}'")
        for index, path in enumerate(files):
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                print(f"reader: cannot decode image '{path}', skipped", file=sys.stderr)
                continue
            yield image, index
        return
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise OSError(f"OpenCV cannot open '{source}'")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame, int(capture.get(cv2.CAP_PROP_POS_MSEC) * 1000)
    finally:
        capture.release()


def read(source: str, stream: int, loop: int, frames: multiprocessing.Queue[Item]) -> None:
    """One reader process: every frame of `source` into the queue (a pickled copy each), then the
    stream's end with its frame count. put() blocks while the queue is full."""
    common.ignore_interrupts()
    count = 0
    try:
        for _ in range(loop):
            for image, pts_us in frames_of(source):
                frames.put(("frame", stream, count, pts_us, time.monotonic_ns(), image))
                count += 1
    except OSError as error:
        frames.put(("error", stream, f"stream {stream} ({source}): {error}"))
    frames.put(("end", stream, count))


def take_batch(frames: multiprocessing.Queue[Item], size: int, timeout_s: float) -> tuple[list[Item], list[Item]]:
    """Up to `size` frames (waiting for the first, then at most `timeout_s`), and the other items met."""
    batch: list[Item] = []
    others: list[Item] = []
    deadline: Optional[float] = None
    while len(batch) < size:
        try:
            item = frames.get(timeout=0.25 if deadline is None else max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            if deadline is None:
                return batch, others
            break
        if item[0] != "frame":
            others.append(item)
            break
        batch.append(item)
        if deadline is None:
            deadline = time.monotonic() + timeout_s
    return batch, others


def main() -> None:
    args = common.parse_args(__doc__.split("\n\n")[0])
    common.check_inputs(args)
    common.interrupt_on_sigterm()
    context = multiprocessing.get_context(args.start_method)
    results = common.Results(args.out, args.source, args.gap_timeout)
    # Bounded, as such pipelines bound theirs: a full queue blocks the readers.
    frames = context.Queue(maxsize=max(8, 2 * args.batch))
    readers = [context.Process(target=read, args=(source, i, args.loop, frames), name=f"reader-{i}")
               for i, source in enumerate(args.source)]
    classifier = common.classifier(args)
    errors: list[str] = []
    interrupted = False
    try:
        with common.starting_children(context):
            for reader in readers:
                reader.start()
        batches = 0
        while not results.done:
            batch, others = take_batch(frames, args.batch, args.batch_timeout / 1000)
            if batch:
                start_ns = time.monotonic_ns()
                tops = classifier.classify([item[5] for item in batch])
                end_ns = time.monotonic_ns()
                batches += 1
                for (_, stream, frame, pts_us, published_ns, _), top in zip(batch, tops):
                    results.add(framebus.InferenceResult(
                        stream=stream, frame=frame, pts_us=pts_us, top=top, published_ns=published_ns,
                        received_ns=start_ns, infer_start_ns=start_ns, infer_end_ns=end_ns, batch=batches,
                        batch_size=len(batch), worker_pid=os.getpid()))
            for item in others:
                if item[0] == "end":
                    results.add(framebus.end_of_stream_result(item[1], item[2]))
                else:
                    errors.append(item[2])
            if not batch and not others and not any(r.is_alive() for r in readers):
                errors.append("every reader ended before its stream did")
                break
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        errors.append(common.output_closed())
    finally:
        common.ignore_interrupts()  # a second Ctrl-C does not cut the clean-up short
        if results.done:
            for reader in readers:
                reader.join(10)  # they exit once the queue took their last items
        common.stop_processes(readers)
        frames.cancel_join_thread()
        results.close()
    sys.exit(common.summary(results, errors, interrupted))


if __name__ == "__main__":
    main()
