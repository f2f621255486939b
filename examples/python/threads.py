#!/usr/bin/python3
"""The decoder in a child process, the workers as threads of this one: `framebus run --topology
threads` with the Python API.

    decoder (child process) --frames--> worker threads 0..M-1 (this process) --queue--> sink (main thread)

Threads are enough here because framebus releases the GIL while a worker waits in `receive` and
while the model runs in `Classifier.classify`: M threads classify M batches at once. Results stay
in the process, so a plain queue.Queue carries them to the main thread, which puts them in order.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time

import framebus

import common


def decode(channel: str, args, slots: int, report) -> None:
    """The decoder process: every source into one channel, then the streams' states to `report`."""
    common.ignore_interrupts()
    # The "workers" group is declared at creation, so frames wait for the threads to join.
    # A finished stream lingers until the workers took its last frames.
    with framebus.MultiDecoder(channel, slots=slots, slot_size=args.slot_size, groups=["workers"],
                               linger=600) as decoder:
        for source in args.source:
            decoder.add_stream(source, loop=args.loop)
        decoder.wait()
        report.send(decoder.statuses())


def worker(frames: framebus.Consumer, classifier: framebus.Classifier, args, worker_id: int,
           results: queue.Queue, stop: threading.Event) -> None:
    """One worker thread: batches across streams, classified in place, results to the queue."""
    try:
        while not stop.is_set():
            batch, ends, ended = common.take_batch(frames, args.batch, args.batch_timeout / 1000, stop.is_set)
            if batch:
                tops = classifier.classify(batch)  # the GIL is released while the model runs
                for msg, top in zip(batch, tops):
                    results.put(("frame", msg.stream, msg.frame_id, msg.pts, top, msg.publish_time_ns, worker_id))
                    msg.release()
            for marker in ends:
                # The marker's frame_id is the stream's frame count: the sink knows when it is done.
                results.put(("end", marker.stream, marker.frame_id))
                marker.release()
            if ended:
                return
    except Exception as error:  # reported by the main thread, which then stops the run
        results.put(("error", f"worker {worker_id}: {error}"))


def join_group(channel: str, decoder) -> framebus.Consumer:
    """A consumer of the "workers" group, once the decoder process has made the channel."""
    while True:
        try:
            return framebus.Consumer(channel, group="workers", wait=0.5)
        except framebus.NotFound:
            if decoder.exitcode is not None:
                raise framebus.Error(f"the decoder process exited with status {decoder.exitcode} "
                                     f"before it created channel '{channel}'") from None


def collect(results: queue.Queue, reorder: common.ReorderBuffer, threads: list, decoder) -> list[str]:
    """Takes results until every frame of every stream is out; returns the errors met."""
    while not reorder.all_finished():
        try:
            item = results.get(timeout=0.25)
        except queue.Empty:
            if decoder.exitcode not in (None, 0):
                return [f"the decoder process exited with status {decoder.exitcode}"]
            if not any(t.is_alive() for t in threads):
                return ["every worker thread ended before the streams did"]
            continue
        if item[0] == "frame":
            _, stream, frame, pts, top, published_ns, worker_id = item
            reorder.add(stream, frame, pts, top, published_ns, time.monotonic_ns(), worker_id)
        elif item[0] == "end":
            reorder.end(item[1], item[2])
        else:
            return [item[1]]
    return []


def main() -> None:
    args = common.parse_args(__doc__.split("\n\n")[0])
    common.check_inputs(args)
    common.interrupt_on_sigterm()
    context = multiprocessing.get_context(args.start_method)
    channel = f"{args.name}.frames"
    writer = common.ResultWriter(args.out, args.source)
    reorder = common.ReorderBuffer(len(args.source), writer.write)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    statuses_in, statuses_out = context.Pipe(duplex=False)
    decoder = context.Process(target=decode, args=(channel, args, common.frame_slots(args, args.workers), statuses_out),
                              name="decoder")
    consumers: list[framebus.Consumer] = []
    threads: list[threading.Thread] = []
    errors: list[str] = []
    interrupted = False
    try:
        with common.starting_children(context):
            decoder.start()
        for i in range(args.workers):
            # One consumer and one classifier per thread; the threads share the group's frames.
            consumers.append(join_group(channel, decoder))
            threads.append(threading.Thread(target=worker, name=f"worker-{i}", daemon=True,
                                            args=(consumers[i], common.classifier(args), args, i, results, stop)))
            threads[i].start()
        errors = collect(results, reorder, threads, decoder)
        if not errors:
            if not statuses_in.poll(30):
                errors.append("the decoder did not report its streams")
            else:
                errors += common.stream_errors(statuses_in.recv(), args.source)
    except KeyboardInterrupt:
        interrupted = True
    except framebus.Error as error:
        errors.append(str(error))
    except BrokenPipeError:
        errors.append(common.output_closed())
    finally:
        common.ignore_interrupts()  # a second Ctrl-C does not cut the clean-up short
        stop.set()
        if not reorder.all_finished():
            # The decoder's death ends the channel for the threads (reason "producer_died").
            common.stop_processes([decoder])
        decoder.join(10)
        common.stop_processes([decoder])
        for t in threads:
            t.join(10)
        for rx in consumers:
            rx.close()
        common.remove_channels([channel])
        writer.close()
    sys.exit(common.summary(writer, reorder, errors, interrupted))


if __name__ == "__main__":
    main()
