#!/usr/bin/python3
"""N streams decoded into one channel, classified by M worker processes sharing one group, the
results put back in frame order: `framebus run --topology shared` with the Python API.

    decoder (this process) --frames--> worker 0..M-1 (processes) --results--> sink (this process)

Each frame goes to exactly one worker; a worker takes a batch across streams, classifies the
frames straight from shared memory, publishes one small result per frame, and only then releases
the frames. A worker killed at any point loses nothing: its frames are redelivered to another
worker, and the sink drops the second result.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from typing import Callable

import framebus

import common

MAX_RESTARTS = 3


def worker(frames: framebus.Consumer, results: framebus.Producer, args, worker_id: int) -> None:
    """One worker process. `frames` and `results` are handles made in the parent: they pickle to
    their channel name and options and reopen here, under every start method."""
    common.ignore_interrupts()
    classifier = common.classifier(args)
    with frames, results:
        while True:
            batch, ends, ended = common.take_batch(frames, args.batch, args.batch_timeout / 1000)
            if batch:
                tops = classifier.classify(batch)  # reads the frames in place, no copy
                for msg, top in zip(batch, tops):
                    results.send(common.encode_result(msg, top, worker_id), stream=msg.stream,
                                 frame_id=msg.frame_id, pts=msg.pts)
                # Released only now that their results are out: if this process dies before this
                # line, the frames go back to the group and another worker classifies them.
                for msg in batch:
                    msg.release()
            for marker in ends:
                # The marker's frame_id is the stream's frame count: the sink knows when it is done.
                results.end_stream(marker.stream, marker.frame_id)
                marker.release()
            if ended:
                return


def collect(sink: framebus.Consumer, reorder: common.ReorderBuffer, workers: list,
            start_worker: Callable[[int], multiprocessing.Process]) -> list[str]:
    """Receives results until every frame of every stream is out; restarts a worker that died
    while there is work. Returns the errors met."""
    restarts = 0
    next_check = time.monotonic()
    while not reorder.all_finished():
        msg = sink.receive(0.25)
        if msg is not None:
            arrived_ns = time.monotonic_ns()
            if msg.end_of_stream:
                reorder.end(msg.stream, msg.frame_id)
            else:
                record = json.loads(msg.array.tobytes())
                reorder.add(msg.stream, msg.frame_id, msg.pts, record["top"], record["published_ns"], arrived_ns,
                            record["worker"])
            msg.release()
            if time.monotonic() < next_check:
                continue
        next_check = time.monotonic() + 0.2
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


def run(args, slots: int, attach: Callable[[framebus.MultiDecoder], list[framebus.Consumer]]) -> int:
    """The channel pipeline: `attach(decoder)` adds the streams and returns the frames handle of
    each worker (one shared handle, or one per stream)."""
    common.interrupt_on_sigterm()
    context = multiprocessing.get_context(args.start_method)
    writer = common.ResultWriter(args.out, args.source)
    reorder = common.ReorderBuffer(len(args.source), writer.write)
    decoder = results = sink = None
    handles: list[framebus.Consumer] = []
    workers: list[multiprocessing.Process] = []
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
        results = framebus.Producer(channels[1], slots=common.RESULT_SLOTS, slot_size=common.RESULT_SLOT_SIZE,
                                    groups=["sink"], linger=0)
        sink = framebus.Consumer(channels[1], group="sink")
        handles = attach(decoder)
        channels += [h.name for h in handles if h.name not in channels]

        def start_worker(i: int) -> multiprocessing.Process:
            process = context.Process(target=worker, args=(handles[i], results, args, i), name=f"worker-{i}")
            with common.starting_children(context):
                process.start()
            return process

        workers = [start_worker(i) for i in range(len(handles))]
        errors = collect(sink, reorder, workers, start_worker)
        errors += common.stream_errors(decoder.statuses(), args.source)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        errors.append(common.output_closed())
    except framebus.Error as error:  # e.g. a bad --name or --slot-size, /dev/shm full
        errors.append(str(error))
    finally:
        common.ignore_interrupts()  # a second Ctrl-C does not cut the clean-up short
        if not reorder.all_finished():
            common.stop_processes(workers)  # interrupted, or no worker left: nothing more will come
        if decoder is not None:
            # The end of the frames channel: the workers see it and exit. Frames still queued
            # (after Ctrl-C) are drained here, so that the decoder's streams need not linger.
            with common.draining(handles):
                decoder.close()
        deadline = time.monotonic() + 10
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
        common.stop_processes(workers)
        for handle in [sink, results, *handles]:
            if handle is not None:
                handle.close()
        common.remove_channels(channels)
        writer.close()
    return common.summary(writer, reorder, errors, interrupted)


def main() -> None:
    args = common.parse_args(__doc__.split("\n\n")[0])
    common.check_inputs(args)

    def attach(decoder: framebus.MultiDecoder) -> list[framebus.Consumer]:
        for source in args.source:
            decoder.add_stream(source, loop=args.loop)
        # One handle for every worker: each child gets its own registration in the group.
        shared = framebus.Consumer(decoder.channel, group="workers")
        return [shared] * args.workers

    sys.exit(run(args, common.frame_slots(args, args.workers), attach))


if __name__ == "__main__":
    main()
