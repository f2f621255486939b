#!/usr/bin/python3
"""The decoder in a child process, the workers as threads of this one: `framebus run --topology
threads` with the Python API.

    decoder (child process) --frames--> worker threads 0..M-1 (this process) --results--> sink (main thread)

Threads are enough here because framebus.Worker releases the GIL for as long as it runs (waiting
for frames, classifying, publishing): M threads classify M batches at once. Each thread runs the
worker of `framebus run` with a classifier of its own; the records go through a results channel to
the main thread, whose framebus.ResultSink puts them in order.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import framebus

import common


def decode(channel: str, args: argparse.Namespace, slots: int, report: Connection) -> None:
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


def run_worker(worker: framebus.Worker, errors: list[str]) -> None:
    """One worker thread, until the frames channel ends (the decoder's exit) or worker.stop()."""
    try:
        worker.run()
    except framebus.Error as error:  # reported by the main thread, which then stops the run
        errors.append(f"worker {worker.worker_id}: {error}")


def collect(sink: framebus.Consumer, results: common.Results, threads: list[threading.Thread], decoder: BaseProcess,
            errors: list[str]) -> list[str]:
    """Takes results until every frame of every stream is out; returns the errors met."""
    while not results.done:
        msg = sink.receive(0.25)
        if msg is not None:
            results.add(msg)
            msg.release()
            continue
        results.tick()
        if errors:
            return list(errors)
        if decoder.exitcode not in (None, 0):
            return [f"the decoder process exited with status {decoder.exitcode}"]
        if not any(t.is_alive() for t in threads):
            return ["every worker thread ended before the streams did"]
    return []


def main() -> None:
    args = common.parse_args(__doc__.split("\n\n")[0])
    common.check_inputs(args)
    common.interrupt_on_sigterm()
    context = multiprocessing.get_context(args.start_method)
    channel, results_name = f"{args.name}.frames", f"{args.name}.results"
    results = common.Results(args.out, args.source, args.gap_timeout)
    statuses_in, statuses_out = context.Pipe(duplex=False)
    decoder = context.Process(target=decode, args=(channel, args, common.frame_slots(args, args.workers), statuses_out),
                              name="decoder")
    workers: list[framebus.Worker] = []
    threads: list[threading.Thread] = []
    results_channel = sink = None
    errors: list[str] = []
    worker_errors: list[str] = []
    interrupted = False
    try:
        # The results channel exists before any worker publishes; linger=0: the workers close it
        # only after the sink has had every result.
        results_channel = framebus.results_producer(results_name, linger=0)
        sink = framebus.Consumer(results_name, group="sink")
        with common.starting_children(context):
            decoder.start()
        for i in range(args.workers):
            # One worker and one classifier per thread; they share the group's frames. A worker
            # waits (open_wait) for the decoder process to create the channel.
            workers.append(common.worker(args, channel, results_name, i))
            threads.append(threading.Thread(target=run_worker, args=(workers[i], worker_errors), name=f"worker-{i}",
                                            daemon=True))
            threads[i].start()
        errors = collect(sink, results, threads, decoder, worker_errors)
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
        for w in workers:
            w.stop()  # each returns after its current batch
        if not results.done:
            # The decoder's death ends the channel for the threads (reason "producer_died").
            common.stop_processes([decoder])
        decoder.join(10)
        common.stop_processes([decoder])
        for t in threads:
            t.join(10)
        for handle in [sink, results_channel]:
            if handle is not None:
                handle.close()
        common.remove_channels([channel, results_name])
        if not interrupted:
            results.finish()  # frames that never came are written as gaps
        results.close()
    sys.exit(common.summary(results, errors, interrupted))


if __name__ == "__main__":
    main()
