#!/usr/bin/env python3
"""What framebus.compat.sail costs: two sail scenarios written on sail's API (through the compat
layer) and the same scenarios written directly on framebus, in one run, frames/s and the ratio.

Scenarios (640x360 BGR frames from generated MPEG-4 videos, every frame delivered once):
  one-pipe-3rx   one decode process, one pipe, 3 receiver processes.
                 sail: sail.Decoder -> IPC.sendBMImage -> 3 x IPC.receiveBMImage (usec2c=True)
                 framebus: MultiDecoder -> 3 Consumers of one group (zero-copy views)
  multidec-thr   a decoder of 3 videos feeding one pipe, read by 3 threads of another process.
                 sail: sail.MultiDecoder round-robin read -> IPC.sendBMImage -> one receiving
                 IPC shared by 3 threads
                 framebus: MultiDecoder (3 streams, one channel) -> 3 threads, a Consumer each

A receiver touches one byte of each frame (no inference: the figures are the frame path's).
Each figure is the median of --reps runs; the time runs from every receiver being ready to the
last frame received.

  /usr/bin/python3 bench/sail_compat.py [--reps 3] [--frames 240] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import framebus
from framebus.compat import sail

W, H = 640, 360
STOP = 1 << 30
CTX = mp.get_context("fork")


def make_video(path: str, frames: int) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r=25",
                    "-frames:v", str(frames), "-c:v", "mpeg4", "-q:v", "5", path], check=True, timeout=120)


def touch(array) -> int:
    return int(np.asarray(array).reshape(-1)[0])


# -- one pipe, 3 receivers ------------------------------------------------------------------------
def sail_decode(pipe: str, video: str, receivers: int, go) -> None:
    handle = sail.Handle(0)
    decoder = sail.Decoder(video, True, 0)
    ipc = sail.IPC(True, pipe, "/tmp/final", False, 16)
    go.wait()
    frame_id, img = 0, sail.BMImage()
    while decoder.read(handle, img) == 0:
        ipc.sendBMImage(img, 0, frame_id)
        frame_id += 1
    stop = sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED, sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE)
    for _ in range(receivers):
        ipc.sendBMImage(stop, 0, STOP)
    ipc.close()
    decoder.release()


def sail_receive(pipe: str, ready, counts) -> None:
    ipc = sail.IPC(False, pipe, "/tmp/final", True, 10)
    ready.release()
    n = 0
    while True:
        img, _, frame_id = ipc.receiveBMImage()
        if frame_id == STOP:
            break
        touch(img)
        n += 1
    counts.put(n)
    ipc.close()


def framebus_receive(channel: str, ready, counts) -> None:
    rx = framebus.Consumer(channel, group="infer", wait=30.0)
    ready.release()
    n = 0
    for msg in rx:
        if not msg.end_of_stream:
            touch(msg.array)
            n += 1
        msg.release()
    counts.put(n)
    rx.close()


def run_processes(receivers, start_source, n_receivers: int, ready, counts) -> tuple:
    for p in receivers:
        p.start()
    for _ in range(n_receivers):
        ready.acquire()
    t0 = time.perf_counter()
    stop_source = start_source()
    total = sum(counts.get(timeout=120) for _ in range(n_receivers))
    elapsed = time.perf_counter() - t0
    for p in receivers:
        p.join(60)
    stop_source()
    return total, elapsed


def one_pipe(system: str, video: str, frames: int, tag: str) -> float:
    ready, counts, go = CTX.Semaphore(0), CTX.Queue(), CTX.Event()
    if system == "sail":
        pipe = f"/tmp/bench-sail-{os.getpid()}-{tag}"
        receivers = [CTX.Process(target=sail_receive, args=(pipe, ready, counts)) for _ in range(3)]
        decoder = CTX.Process(target=sail_decode, args=(pipe, video, 3, go))
        decoder.start()  # the receiving IPCs wait for the pipe; frames flow once `go` is set

        def start():
            go.set()
            return lambda: decoder.join(60)
    else:
        channel = f"bench-fb-{os.getpid()}-{tag}"
        md = framebus.MultiDecoder(channel, slots=16, slot_size="1MiB", groups=["infer"])
        receivers = [CTX.Process(target=framebus_receive, args=(channel, ready, counts)) for _ in range(3)]

        def start():
            md.add_stream(video)

            def stop():
                md.wait(60)
                md.close()
            threading.Thread(target=stop).start()  # the channel ends when the decoder closes
            return lambda: None
    total, elapsed = run_processes(receivers, start, 3, ready, counts)
    assert total == frames, f"{system}: {total} of {frames} frames"
    return total / elapsed


# -- a multi decoder feeding one pipe, 3 threads ----------------------------------------------------
def sail_multi_decode(pipe: str, videos: list, frames: int, threads: int, go) -> None:
    handle = sail.Handle(0)
    multi_decoder = sail.MultiDecoder(16, 0, 0)
    channels = [multi_decoder.add_channel(v) for v in videos]
    ipc = sail.IPC(True, pipe, "/tmp/final", False, 16)
    go.wait()
    sent = dict.fromkeys(channels, 0)
    img = sail.BMImage()
    while min(sent.values()) < frames:
        for idx in channels:
            if sent[idx] < frames and multi_decoder.read(idx, img, 1) == 0:
                ipc.sendBMImage(img, idx, sent[idx])
                sent[idx] += 1
    stop = sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED, sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE)
    for _ in range(threads):
        ipc.sendBMImage(stop, channels[-1], STOP)
    ipc.close()
    multi_decoder.release()


def threaded(receive_one, threads: int, ready, counts) -> None:
    results = []
    pool = [threading.Thread(target=lambda: results.append(receive_one())) for _ in range(threads)]
    for t in pool:
        t.start()
    ready.release()
    for t in pool:
        t.join()
    counts.put(sum(results))


def sail_threads(pipe: str, threads: int, ready, counts) -> None:
    ipc = sail.IPC(False, pipe, "/tmp/final", True, 10)

    def one():
        n = 0
        while True:
            img, _, frame_id = ipc.receiveBMImage()
            if frame_id == STOP:
                return n
            touch(img)
            n += 1
    threaded(one, threads, ready, counts)
    ipc.close()


def framebus_threads(channel: str, threads: int, ready, counts) -> None:
    consumers = [framebus.Consumer(channel, group="infer", wait=30.0) for _ in range(threads)]

    def one(rx=iter(consumers)):
        mine, n = next(rx), 0
        for msg in mine:
            if not msg.end_of_stream:
                touch(msg.array)
                n += 1
            msg.release()
        mine.close()
        return n
    threaded(one, threads, ready, counts)


def multi_threads(system: str, videos: list, frames: int, tag: str) -> float:
    ready, counts, go = CTX.Semaphore(0), CTX.Queue(), CTX.Event()
    if system == "sail":
        pipe = f"/tmp/bench-sail-{os.getpid()}-{tag}"
        decoder = CTX.Process(target=sail_multi_decode, args=(pipe, videos, frames, 3, go))
        decoder.start()  # the receiving IPC waits for the pipe; frames flow once `go` is set
        receivers = [CTX.Process(target=sail_threads, args=(pipe, 3, ready, counts))]

        def start():
            go.set()
            return lambda: decoder.join(60)
    else:
        channel = f"bench-fb-{os.getpid()}-{tag}"
        md = framebus.MultiDecoder(channel, slots=16, slot_size="1MiB", groups=["infer"])
        receivers = [CTX.Process(target=framebus_threads, args=(channel, 3, ready, counts))]

        def start():
            for v in videos:
                md.add_stream(v)

            def stop():
                md.wait(60)
                md.close()
            threading.Thread(target=stop).start()
            return lambda: None
    total, elapsed = run_processes(receivers, start, 1, ready, counts)
    assert total == frames * len(videos), f"{system}: {total} of {frames * len(videos)} frames"
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=240, help="frames per video")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        videos = [os.path.join(tmp, f"v{i}.mp4") for i in range(3)]
        for v in videos:
            make_video(v, args.frames)
        rows = []
        for scenario, run in (("one-pipe-3rx", lambda s, t: one_pipe(s, videos[0], args.frames, t)),
                              ("multidec-thr", lambda s, t: multi_threads(s, videos, args.frames, t))):
            fps = {"sail": [], "framebus": []}
            for rep in range(args.reps):  # interleaved: sail, framebus, sail, framebus, ...
                for system in fps:
                    fps[system].append(run(system, f"{scenario}-{rep}"))
                    print(f"  rep {rep + 1}/{args.reps} {scenario} {system:9s} {fps[system][-1]:9.1f} frames/s",
                          file=sys.stderr, flush=True)
            row = {"scenario": scenario, **{s: statistics.median(v) for s, v in fps.items()}}
            row["ratio"] = row["sail"] / row["framebus"]
            rows.append(row)
    print(f"\nframebus.compat.sail vs framebus, {W}x{H} BGR, {args.frames} frames per video, median of {args.reps}")
    print(f"{'scenario':14s} {'sail compat':>13s} {'framebus':>13s} {'compat/framebus':>16s}")
    for r in rows:
        print(f"{r['scenario']:14s} {r['sail']:9.1f} f/s {r['framebus']:9.1f} f/s {r['ratio']:15.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
