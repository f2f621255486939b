#!/usr/bin/env python3
"""The analytics pipeline end to end: `framebus run` against today's baseline and the model alone.

Same media (4 x 720p H.264 + a folder of JPEG pictures, from scripts/make-sample-media), same
model (ResNet-18 from scripts/make-model), same cores, one run:

  model alone      framebus.Classifier on frames decoded beforehand, one process, all cores
  decode alone     framebus.MultiDecoder into a channel, frames taken and released
  decode + infer   the two above one after the other: 1 / (1/decode + 1/infer) frames/s
  shared           framebus run --topology shared (the default: 1 decoder, M workers, 1 channel)
  queue            framebus run --topology queue (OpenCV readers, a copying queue, 1 consumer)
  scaling          shared with workers 1, 2, 4 x batch 1, 4, 8
  copy             shared with --copy (workers classify private copies: copy-on-receive)

Figures are frames/s of results written by the sink, overall (start to end, model loading
included) and steady (first to last result). Ratios: shared / queue, and the pipeline's overhead
over decode + infer. The last line is the verdict on the goal (overhead under 5%), from the
steady figure of the default `shared` run.

  /usr/bin/python3 bench/pipeline/pipeline_bench.py [--build build] [--quick] [--reps N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
# The goal: the pipeline costs less than 5% over decoding and inference done one after the other.
OVERHEAD_GOAL = 0.05


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=True, **kw)


def prepare(build: pathlib.Path, seconds: int) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    media = build / "bench" / "pipeline-media"
    model_dir = build / "demo" / "model"
    sh(str(REPO / "scripts" / "make-sample-media"), "--out", str(media), "--seconds", str(seconds),
       stdout=subprocess.DEVNULL)
    model = model_dir / "resnet18.onnx"
    if not model.exists():
        model_dir.mkdir(parents=True, exist_ok=True)
        sh(str(REPO / "scripts" / "make-model"), "--out", str(model), "--labels", str(model_dir / "labels.txt"))
    return media, model, model_dir / "labels.txt"


def sources(media: pathlib.Path) -> list[str]:
    return [str(media / f"cam{i}.mp4") for i in range(4)] + [str(media / "frames")]


def decode_all(srcs: list[str], keep: bool) -> tuple[float, int, list]:
    """Decodes every source through a channel: (seconds, frames, copies of the frames if keep)."""
    import framebus

    name = f"bench-decode-{os.getpid()}"
    frames = []
    count = 0
    decoder = framebus.MultiDecoder(name, slots=16, slot_size="8MiB")
    rx = framebus.Consumer(name)
    start = time.perf_counter()
    for s in srcs:
        decoder.add_stream(s)
    ended = 0
    while ended < len(srcs):
        msg = rx.receive(60.0)
        if msg is None:
            raise RuntimeError("decoding stalled")
        if msg.end_of_stream:
            ended += 1
            continue
        count += 1
        if keep:
            frames.append(msg.array.copy())
        msg.release()
    elapsed = time.perf_counter() - start
    decoder.close()
    rx.close()
    return elapsed, count, frames


def model_alone(model: pathlib.Path, labels: pathlib.Path, frames: list, batch: int) -> float:
    import framebus

    classifier = framebus.Classifier(str(model), str(labels), threads=os.cpu_count() or 1, max_batch=batch)
    classifier.classify(frames[:batch])  # warm-up: the first inference allocates
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        classifier.classify(frames[i:i + batch])
    return len(frames) / (time.perf_counter() - start)


def run(tool: pathlib.Path, srcs: list[str], model: pathlib.Path, labels: pathlib.Path, *extra: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = pathlib.Path(tmp) / "report.json"
        args = [str(tool), "run", "--model", str(model), "--labels", str(labels), "--out", os.devnull,
                "--report", str(report), "--no-progress", *extra]
        for s in srcs:
            args += ["--source", s]
        sh(*args, stdout=subprocess.DEVNULL, timeout=1800)
        return json.loads(report.read_text())


def overhead_verdict(steady_fps: float, reference_fps: float) -> tuple[float, str]:
    """The pipeline's overhead over decode + infer, from its steady frames/s (first to last
    result: process start-up and model loading are left out, as the reference leaves them out),
    and the verdict line. A negative overhead (faster than the reference) meets the goal."""
    overhead = 1.0 - steady_fps / reference_fps
    met = "met" if overhead < OVERHEAD_GOAL else "not met"
    return overhead, (f"overhead vs decode+infer: {overhead:.1%} (goal < {OVERHEAD_GOAL:.0%}): {met} "
                      f"[steady frames/s of shared w2 b4, {steady_fps:.1f}, against {reference_fps:.1f}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="build directory with tools/framebus and python/")
    parser.add_argument("--seconds", type=int, default=3, help="length of each sample video")
    parser.add_argument("--quick", action="store_true", help="skip the scaling grid")
    parser.add_argument("--reps", type=int, default=1, help="interleaved repetitions of each run (medians are shown)")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()
    build = (REPO / args.build).resolve() if not pathlib.Path(args.build).is_absolute() else pathlib.Path(args.build)
    sys.path.insert(0, str(build / "python"))
    tool = build / "tools" / "framebus"
    media, model, labels = prepare(build, args.seconds)
    srcs = sources(media)

    results: dict = {"machine": f"{os.cpu_count()} cores", "runs": {}}
    decode_seconds, n, _ = decode_all(srcs, keep=False)
    _, _, frames = decode_all(srcs, keep=True)
    fps_decode = n / decode_seconds
    fps_model = model_alone(model, labels, frames, 4)
    del frames
    fps_reference = 1.0 / (1.0 / fps_decode + 1.0 / fps_model)
    results.update(frames=n, decode_fps=fps_decode, model_fps=fps_model, decode_plus_infer_fps=fps_reference)
    print(f"{n} frames; decode alone {fps_decode:.1f} fps; model alone (batch 4, {os.cpu_count()} threads) "
          f"{fps_model:.1f} fps; decode + infer {fps_reference:.1f} fps")

    configs = [("shared w2 b4", ["--topology", "shared", "--workers", "2", "--batch", "4"]),
               ("queue b4", ["--topology", "queue", "--batch", "4"]),
               ("shared w2 b4 --copy", ["--topology", "shared", "--workers", "2", "--batch", "4", "--copy"])]
    if not args.quick:
        configs += [(f"shared w{w} b{b}", ["--topology", "shared", "--workers", str(w), "--batch", str(b)])
                    for w in (1, 2, 4) for b in (1, 4, 8) if (w, b) != (2, 4)]
    print(f"\n{'run':<24}{'fps':>8}{'steady fps':>12}{'p50 ms':>9}{'p99 ms':>9}{'x queue':>9}{'overhead':>10}")
    reports: dict = {label: [] for label, _ in configs}
    for _ in range(args.reps):  # interleaved: A B C ... A B C, so load changes hit every run alike
        for label, extra in configs:
            report = run(tool, srcs, model, labels, *extra)
            assert report["frames"] == n, f"{label}: {report['frames']} results for {n} frames"
            reports[label].append(report)
    for label, runs in reports.items():
        runs.sort(key=lambda r: r["fps"])
        median = runs[len(runs) // 2]
        median["fps_all"] = [r["fps"] for r in runs]
        results["runs"][label] = median
    queue_fps = results["runs"]["queue b4"]["fps"]
    for label, report in results["runs"].items():
        p50 = max(s["latency_p50_ms"] for s in report["streams"])
        p99 = max(s["latency_p99_ms"] for s in report["streams"])
        overhead = 1.0 - report["fps"] / fps_reference
        report["x_queue"] = report["fps"] / queue_fps
        report["overhead_vs_decode_plus_infer"] = overhead
        print(f"{label:<24}{report['fps']:>8.1f}{report['steady_fps']:>12.1f}{p50:>9.1f}{p99:>9.1f}"
              f"{report['x_queue']:>9.2f}{overhead:>9.1%}")
    shared = results["runs"]["shared w2 b4"]
    copy = results["runs"]["shared w2 b4 --copy"]
    print(f"\nshared / queue: {shared['fps'] / queue_fps:.2f}x; zero-copy / copy-on-receive: "
          f"{shared['fps'] / copy['fps']:.3f}x; shared overhead over decode + infer: "
          f"{1 - shared['fps'] / fps_reference:.1%} (steady: {1 - shared['steady_fps'] / fps_reference:.1%})")
    overhead, verdict = overhead_verdict(shared["steady_fps"], fps_reference)
    results["overhead_steady_vs_decode_plus_infer"] = overhead
    results["overhead_goal_met"] = overhead < OVERHEAD_GOAL
    print(verdict)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
