#!/usr/bin/env python3
"""Python to Python transport of 1920x1080x3 uint8 frames, queue depth 4, all systems in one run.

Systems (each a producer process and a consumer process):
  framebus-loan   framebus Producer.loan / publish: zero copy
  framebus-send   framebus Producer.send: one copy into the slot
  mp-queue        multiprocessing.Queue of NumPy arrays (what pipelines use today)
  shm-ring        hand-rolled multiprocessing.shared_memory ring of 4 slots, semaphores, no copy
  torch-mp        torch.multiprocessing Queue of tensors (file_descriptor sharing)

Latency is from the producer's time.monotonic_ns() taken before it waits for a slot to the
consumer's receipt. The consumer touches the header (frame id, stamp) and one byte. Systems are
interleaved (A B C ... A B C ...) and each figure is the median over repetitions.

  /usr/bin/python3 bench/python/transport_bench.py [--reps 3] [--seconds 2] [--json out.json]
"""

from __future__ import annotations

import os

# NumPy asks for transparent huge pages on large arrays, which makes copies of idle memory
# erratic on these machines; every system here runs with it off (set before NumPy loads).
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time

import numpy as np

SHAPE = (1080, 1920, 3)
DEPTH = 4
HEADER = 2  # int64 words at the start of each frame: frame id, producer stamp
TOUCH_PAGES = False  # --touch-pages: the consumer reads one byte per 4 KiB page, as a real reader would


def touch(frame: np.ndarray) -> int:
    return int(frame.reshape(-1)[::4096].sum()) if TOUCH_PAGES else 0


def stamp(frame: np.ndarray, frame_id: int, t_ns: int) -> None:
    header = frame.reshape(-1)[:16].view(np.int64)
    header[0] = frame_id
    header[1] = t_ns


def read_stamp(frame: np.ndarray):
    header = frame.reshape(-1)[:16].view(np.int64)
    return int(header[0]), int(header[1])


# --------------------------------------------------------------------------------------------
# Producers and consumers. Each consumer sends back (frames, seconds, latencies_ns).

def run_framebus_producer(name: str, seconds: float, zero_copy: bool, ready) -> None:
    import framebus
    tx = framebus.Producer(name, slots=DEPTH, slot_size=SHAPE[0] * SHAPE[1] * SHAPE[2], groups=["bench"], linger=30)
    source = np.zeros(SHAPE, np.uint8)
    ready.wait()
    end = time.monotonic() + seconds
    frame_id = 0
    while time.monotonic() < end:
        t = time.monotonic_ns()
        if zero_copy:
            buf = tx.loan(SHAPE)
            buf.reshape(-1)[16] = frame_id & 0xFF  # the decoder would write here; we touch a byte
            buf.publish(frame=frame_id, pts=t)
        else:
            source.reshape(-1)[16] = frame_id & 0xFF
            tx.send(source, frame=frame_id, pts=t)
        frame_id += 1
    tx.close()


def run_framebus_consumer(name: str, out, ready) -> None:
    import framebus
    rx = framebus.Consumer(name, group="bench", wait=30)
    ready.set()
    latencies = []
    first = None
    count = 0
    for msg in rx:
        now = time.monotonic_ns()
        _ = msg.array[0, 0, 0]
        touch(msg.array)
        latencies.append(now - msg.pts)
        first = first or now
        count += 1
        msg.release()
    out.send((count, (time.monotonic_ns() - first) / 1e9 if first else 0.0, latencies))


def run_queue_producer(q, seconds: float, ready, torch_tensors: bool, done) -> None:
    if torch_tensors:
        import torch
    frame = np.zeros(SHAPE, np.uint8)
    ready.wait()
    end = time.monotonic() + seconds
    frame_id = 0
    while time.monotonic() < end:
        t = time.monotonic_ns()
        stamp(frame, frame_id, t)
        q.put(torch.from_numpy(frame.copy()) if torch_tensors else frame)
        frame_id += 1
    q.put(None)
    # torch shares tensors by passing file descriptors from this process: stay until all are taken.
    done.wait(120)


def run_queue_consumer(q, out, ready, torch_tensors: bool, done) -> None:
    if torch_tensors:
        import torch  # noqa: F401  (rebuilds tensors from shared memory)
    ready.set()
    latencies = []
    first = None
    count = 0
    while True:
        item = q.get()
        if item is None:
            break
        now = time.monotonic_ns()
        frame = item.numpy() if torch_tensors else item
        _, t = read_stamp(frame)
        touch(frame)
        latencies.append(now - t)
        first = first or now
        count += 1
    out.send((count, (time.monotonic_ns() - first) / 1e9 if first else 0.0, latencies))
    done.set()


def run_ring_producer(shm_name: str, free, full, stop, seconds: float, ready) -> None:
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=shm_name)
    frames = np.ndarray((DEPTH, *SHAPE), np.uint8, buffer=shm.buf)
    ready.wait()
    end = time.monotonic() + seconds
    frame_id = 0
    while time.monotonic() < end:
        t = time.monotonic_ns()
        free.acquire()
        stamp(frames[frame_id % DEPTH], frame_id, t)  # header only: no copy of the frame
        full.release()
        frame_id += 1
    stop.value = frame_id
    full.release()
    del frames
    shm.close()


def run_ring_consumer(shm_name: str, free, full, stop, out, ready) -> None:
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=shm_name)
    frames = np.ndarray((DEPTH, *SHAPE), np.uint8, buffer=shm.buf)
    ready.set()
    latencies = []
    first = None
    count = 0
    while True:
        full.acquire()
        if stop.value >= 0 and count >= stop.value:
            break
        now = time.monotonic_ns()
        _, t = read_stamp(frames[count % DEPTH])
        touch(frames[count % DEPTH])
        latencies.append(now - t)
        first = first or now
        count += 1
        free.release()
    out.send((count, (time.monotonic_ns() - first) / 1e9 if first else 0.0, latencies))
    del frames
    shm.close()


# --------------------------------------------------------------------------------------------
# One measurement of one system.

def measure(system: str, seconds: float, rep: int) -> dict:
    ctx = mp.get_context("fork")
    recv_end, send_end = ctx.Pipe(duplex=False)
    ready = ctx.Event()
    procs = []
    cleanup = None
    if system.startswith("framebus"):
        name = f"bench-py-{os.getpid()}-{system}-{rep}"
        procs = [ctx.Process(target=run_framebus_consumer, args=(name, send_end, ready)),
                 ctx.Process(target=run_framebus_producer, args=(name, seconds, system == "framebus-loan", ready))]
    elif system in ("mp-queue", "torch-mp"):
        if system == "torch-mp":
            import torch.multiprocessing as tmp
            tmp.set_sharing_strategy("file_descriptor")
            q = tmp.get_context("fork").Queue(maxsize=DEPTH)
        else:
            q = ctx.Queue(maxsize=DEPTH)
        tensors = system == "torch-mp"
        done = ctx.Event()
        procs = [ctx.Process(target=run_queue_consumer, args=(q, send_end, ready, tensors, done)),
                 ctx.Process(target=run_queue_producer, args=(q, seconds, ready, tensors, done))]
    elif system == "shm-ring":
        from multiprocessing import shared_memory
        shm = shared_memory.SharedMemory(create=True, size=DEPTH * int(np.prod(SHAPE)))
        shm.buf[:] = b"\0" * len(shm.buf)  # pre-fault, as framebus does at open
        free, full, stop = ctx.Semaphore(DEPTH), ctx.Semaphore(0), ctx.Value("q", -1)
        procs = [ctx.Process(target=run_ring_consumer, args=(shm.name, free, full, stop, send_end, ready)),
                 ctx.Process(target=run_ring_producer, args=(shm.name, free, full, stop, seconds, ready))]
        cleanup = shm
    else:
        raise SystemExit(f"unknown system {system}")
    for p in procs:
        p.start()
    if not recv_end.poll(seconds + 120):
        for p in procs:
            p.kill()
        raise SystemExit(f"{system}: no result")
    count, elapsed, latencies = recv_end.recv()
    for p in procs:
        p.join(60)
    if cleanup is not None:
        cleanup.close()
        cleanup.unlink()
    latencies.sort()
    return {
        "system": system,
        "frames": count,
        "fps": count / elapsed if elapsed > 0 else 0.0,
        "p50_us": latencies[len(latencies) // 2] / 1e3 if latencies else float("nan"),
        "p99_us": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1e3 if latencies else float("nan"),
    }


def receive_overhead(iterations: int) -> float:
    """Python time per frame on the receive side (receive + array + release), message waiting."""
    import framebus
    name = f"bench-py-overhead-{os.getpid()}"
    with framebus.Producer(name, slots=DEPTH, slot_size=int(np.prod(SHAPE)), groups=["o"], linger=0) as tx, \
            framebus.Consumer(name, group="o") as rx:
        spent = 0
        for i in range(iterations):
            tx.loan(SHAPE).publish(frame=i)
            t0 = time.perf_counter_ns()
            msg = rx.receive(5.0)
            _ = msg.array[0, 0, 0]
            msg.release()
            spent += time.perf_counter_ns() - t0
        return spent / iterations / 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--only", default="framebus-loan,framebus-send,shm-ring,mp-queue,torch-mp")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--touch-pages", action="store_true", help="consumers read one byte per 4 KiB page")
    args = parser.parse_args()
    global TOUCH_PAGES
    TOUCH_PAGES = args.touch_pages
    systems = args.only.split(",")
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for rep in range(args.reps):
        for system in systems:  # interleaved: A B C ... A B C ...
            result = measure(system, args.seconds, rep)
            runs[system].append(result)
            print(f"  rep {rep + 1}/{args.reps} {system:14s} {result['fps']:12.1f} frames/s", file=sys.stderr, flush=True)
    rows = []
    for system in systems:
        rs = runs[system]
        rows.append({
            "system": system,
            "fps": statistics.median(r["fps"] for r in rs),
            "p50_us": statistics.median(r["p50_us"] for r in rs),
            "p99_us": statistics.median(r["p99_us"] for r in rs),
            "frames": sum(r["frames"] for r in rs),
        })
    by = {r["system"]: r for r in rows}
    overhead = receive_overhead(20000)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"\nframebus Python transport, 1920x1080x3 uint8 (6,220,800 B), queue depth {DEPTH}, "
          f"{args.reps} reps x {args.seconds:g} s, medians; {os.cpu_count()} CPUs ({cpu}); NUMPY_MADVISE_HUGEPAGE=0; "
          f"consumer reads {'one byte per page' if TOUCH_PAGES else 'the header only'}")
    print(f"{'system':16s} {'frames/s':>12s} {'p50 latency':>14s} {'p99 latency':>14s} {'x mp-queue':>11s} {'x shm-ring':>11s}")
    for r in rows:
        vs_q = r["fps"] / by["mp-queue"]["fps"] if "mp-queue" in by and by["mp-queue"]["fps"] else float("nan")
        vs_ring = r["fps"] / by["shm-ring"]["fps"] if "shm-ring" in by and by["shm-ring"]["fps"] else float("nan")
        print(f"{r['system']:16s} {r['fps']:12.1f} {r['p50_us']:11.1f} us {r['p99_us']:11.1f} us {vs_q:10.1f}x {vs_ring:10.2f}x")
    print(f"receive-side Python overhead per frame (receive + array + release): {overhead:.2f} us")
    if "framebus-loan" in by and "mp-queue" in by:
        print(f"goal: framebus zero copy >= 500x mp-queue: {by['framebus-loan']['fps'] / by['mp-queue']['fps']:.0f}x")
    if "framebus-loan" in by and "shm-ring" in by:
        print(f"goal: framebus zero copy >= shm-ring: {by['framebus-loan']['fps'] / by['shm-ring']['fps']:.2f}x")
    print(f"goal: receive overhead < 20 us: {overhead:.2f} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "runs": runs, "receive_overhead_us": overhead}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
