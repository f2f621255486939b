#!/usr/bin/python3
"""N streams decoded into one channel, classified by M worker processes sharing one group, the
results put back in frame order: `framebus run --topology shared` with the Python API.

    decoder (this process) --frames--> worker 0..M-1 (processes) --results--> sink (this process)

Each frame goes to exactly one worker; a worker (framebus.Worker, the worker of `framebus run`)
takes a batch across streams, classifies the frames straight from shared memory, publishes one
record per frame, and only then releases the frames. A worker killed at any point loses nothing:
its frames are redelivered to another worker, and the sink (framebus.ResultSink) drops the second
result.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from multiprocessing.process import BaseProcess
from typing import Callable

import framebus

import common

MAX_RESTARTS = 3


def worker(args: argparse.Namespace, channel: str, results: str, worker_id: int) -> None:
    """One worker process: runs until the frames channel ends (the GIL is released meanwhile)."""
    common.ignore_interrupts()
    common.worker(args, channel, results, worker_id).run()


def collect(sink: framebus.Consumer, results: common.Results, workers: list[BaseProcess],
            start_worker: Callable[[int], BaseProcess]) -> list[str]:
    """Receives results until every frame of every stream is out; restarts a worker that died
    while there is work. Returns the errors met."""
    restarts = 0
    next_check = time.monotonic()
    while not results.done:
        msg = sink.receive(0.25)
        if msg is not None:
            results.add(msg)  # decoded in place, then ordered
            msg.release()
            if time.monotonic() < next_check:
                continue
        next_check = time.monotonic() + 0.2
        results.tick()
        for i, process in enumerate(workers):
            if process.exitcode is None:
                continue
            # Workers only exit at the end of the frames channel, which comes after the last result.
            if restarts == MAX_RESTARTS:
                return [f"worker {i} exited with status {process.exitcode}; {MAX_RESTARTS} restarts used up"]
            restarts += 1
            print(f"worker {i} exited with status {process.exitcode}; restarting it", file=sys.stderr)
            workers[i] = start_worker(i)
    return []


def run(args: argparse.Namespace, slots: int, attach: Callable[[framebus.MultiDecoder], list[str]]) -> int:
    """The channel pipeline: `attach(decoder)` adds the streams and returns the frames channel of
    each worker (one shared channel, or one per stream)."""
    common.interrupt_on_sigterm()
    context = multiprocessing.get_context(args.start_method)
    results = common.Results(args.out, args.source, args.gap_timeout)
    decoder = results_channel = sink = None
    frame_channels: list[str] = []
    workers: list[BaseProcess] = []
    channels = [f"{args.name}.frames", f"{args.name}.results"]
    errors: list[str] = []
    interrupted = False
    try:
        # Both channels exist, with their groups declared, before any worker joins or any frame is
        # published. A finished stream waits (lingers) until the workers took its last frames.
        decoder = framebus.MultiDecoder(channels[0], slots=slots, slot_size=args.slot_size, groups=["workers"],
                                        linger=600)
        # Results go through a framebus channel rather than a multiprocessing.Queue: a worker
        # killed with SIGKILL can leave a Queue's lock held or a record half-written, while here
        # its published results stay, its frames are redelivered, and the sink sees both.
        # linger=0: workers close it only after the sink has had every result.
        results_channel = framebus.results_producer(channels[1], linger=0)
        sink = framebus.Consumer(channels[1], group="sink")
        frame_channels = attach(decoder)
        channels += [c for c in frame_channels if c not in channels]

        def start_worker(i: int) -> BaseProcess:
            process: BaseProcess = context.Process(target=worker, args=(args, frame_channels[i], channels[1], i),
                                                   name=f"worker-{i}")
            with common.starting_children(context):
                process.start()
            return process

        workers = [start_worker(i) for i in range(len(frame_channels))]
        errors = collect(sink, results, workers, start_worker)
        errors += common.stream_errors(decoder.statuses(), args.source)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        errors.append(common.output_closed())
    except framebus.Error as error:  # e.g. a bad --name or --slot-size, /dev/shm full
        errors.append(str(error))
    finally:
        common.ignore_interrupts()  # a second Ctrl-C does not cut the clean-up short
        if not results.done:
            common.stop_processes(workers)  # interrupted, or no worker left: nothing more will come
        if decoder is not None:
            # The end of the frames channel: the workers see it and exit. Frames still queued
            # (after Ctrl-C) are drained here, so that the decoder's streams need not linger.
            with common.draining(frame_channels):
                decoder.close()
        deadline = time.monotonic() + 10
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
        common.stop_processes(workers)
        for handle in [sink, results_channel]:
            if handle is not None:
                handle.close()
        common.remove_channels(channels)
        if not interrupted:
            results.finish()  # frames that never came are written as gaps
        results.close()
    return common.summary(results, errors, interrupted)


def main() -> None:
    args = common.parse_args(__doc__.split("\n\n")[0])
    common.check_inputs(args)

    def attach(decoder: framebus.MultiDecoder) -> list[str]:
        for source in args.source:
            decoder.add_stream(source, loop=args.loop)
        return [decoder.channel] * args.workers  # every worker joins the one group "workers"

    sys.exit(run(args, common.frame_slots(args, args.workers), attach))


if __name__ == "__main__":
    main()
