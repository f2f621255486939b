#!/usr/bin/python3
"""Soak test of `framebus run`: a long run whose memory and file descriptors must stay flat.

Runs `framebus run` on --streams looping generated videos (`--loop 0`: forever) with --workers
worker processes and a small generated classifier, for --seconds. Every --interval seconds it
samples, for every process of the run (the supervisor and its descendants, found through the
parent pid in /proc/PID/stat), the resident memory (VmRSS in /proc/PID/status) and the number of
open file descriptors (entries of /proc/PID/fd). Then it stops the run with SIGINT and checks:

  - every process lived the whole run (no crash, no restart);
  - after the warm-up (the first --warmup fraction of the run, and at least until 5 s after the
    first result), the mean RSS of the last third of the samples exceeds that of the first third
    by at most --rss-bound MiB, per process. The RSS checked is VmRSS less RssShmem: the channels'
    shared slots count in VmRSS as each process first touches them (the supervisor maps the
    frames channel for a moment each second to read its queue depth), which is not growth;
  - after the warm-up, the least-squares slope of that RSS is at most --slope-bound MiB per minute,
    per process. By default 0.1 MiB/min for runs of 5 minutes or more; a shorter run has too few
    minutes for a line fitted through allocator noise to mean that much, so its bound is the slope
    that would add --rss-bound over the samples after the warm-up (about 5 MiB/min for 60 s), and
    never less than 0.1;
  - after the warm-up, the open fds do not grow: the lowest count of the last third equals that
    of the first third, and so does the median (a leaked fd stays, so it raises both; a file or
    channel opened for a moment, such as the decoder reopening a looping file, the supervisor
    reading the queue depth or a process reading another's /proc entry, shows in a sample or two
    and moves neither);
  - the run exits with status 130 (interrupted) within --stop-timeout seconds;
  - nothing of the run is left in /dev/shm;
  - results kept coming until the end (the last third produced results).

It prints a table, writes every sample to OUT/samples.csv and the samples and the verdict to
OUT/soak.json, and with --plot FILE a PNG of RSS and fds over time per process (matplotlib).
Exit status 0 when every check passes, 1 when one fails, 2 when the run could not be set up.

  bench/soak/soak.py --framebus build/tools/framebus --seconds 600 --plot docs/soak.png
"""

import argparse
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framebus", default=str(REPO / "build/tools/framebus"), help="the framebus executable")
    p.add_argument("--seconds", type=float, default=600, help="how long the run goes on before SIGINT")
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--max-fps", type=float, default=15, help="frames per second per stream (keeps 2 cores usable)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=0.2, help="fraction of the samples left out of the checks")
    p.add_argument("--rss-bound", type=float, default=4.0, help="MiB an RSS may grow from the first to the last third")
    p.add_argument("--slope-bound", type=float, default=None,
                   help="MiB/min the RSS slope after the warm-up may reach (default: 0.1 for runs of 5 min or more, "
                        "else what adds --rss-bound over the samples after the warm-up, at least 0.1)")
    p.add_argument("--stop-timeout", type=float, default=30.0, help="seconds the run has to exit after SIGINT")
    p.add_argument("--out", default=None, help="directory for samples.csv, soak.json and the run's logs (default: a temporary one)")
    p.add_argument("--plot", default=None, help="write a PNG of RSS and fds over time to this file")
    return p.parse_args()


def make_inputs(work: Path, streams: int):
    """Short test videos (2 s each, different patterns and sizes) and a small classifier."""
    patterns = ["testsrc", "testsrc2", "smptebars", "rgbtestsrc", "mandelbrot", "life", "cellauto", "yuvtestsrc"]
    sizes = ["160x120", "176x144", "192x108", "128x96"]
    videos = []
    for i in range(streams):
        out = work / f"cam{i}.mp4"
        src = f"{patterns[i % len(patterns)]}=size={sizes[i % len(sizes)]}:rate=25"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", "2",
                        "-pix_fmt", "yuv420p", "-c:v", "libx264" if i % 2 == 0 else "mpeg4", str(out)], check=True)
        videos.append(out)
    model, labels = work / "model.onnx", work / "labels.txt"
    subprocess.run(["/usr/bin/python3", str(REPO / "scripts/make_model.py"), "--out", str(model), "--labels", str(labels),
                    "--width", "8", "--classes", "10", "--input-size", "64"], check=True)
    return videos, model, labels


def proc_stat_ppid(pid: int):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields after the last ')'.
    return int(text[text.rindex(")") + 2:].split()[1])


def descendants(root: int):
    """root and every process whose chain of parents leads to it."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = proc_stat_ppid(int(entry))
            if ppid is not None:
                parent[int(entry)] = ppid
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sorted(tree)


def label_of(pid: int, root: int):
    """'run', 'decode', 'worker N' from the command line (pids change meaning only on restart)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in argv if a]
    if pid == root:
        return "run"
    if len(args) > 1 and args[1] == "worker":
        wid = args[args.index("--id") + 1] if "--id" in args else str(pid)
        return f"worker {wid}"
    if len(args) > 1:
        return args[1]
    return Path(args[0]).name if args else str(pid)


def sample(pid: int):
    """(VmRSS KiB, RssShmem KiB, open fds), or None when the process is gone."""
    try:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssShmem"):
                fields[key] = int(value.split()[0])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    if "VmRSS" not in fields:  # a zombie has no VmRSS
        return None
    return fields["VmRSS"], fields.get("RssShmem", 0), fds


def shm_entries(name: str):
    return sorted(e for e in os.listdir("/dev/shm") if name in e)


def count_lines(path: Path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def own(p):
    """A sample's RSS without the shared slots (KiB)."""
    return p[1] - p[2]


LONG_RUN_S = 300          # runs at least this long get the fixed slope bound
LONG_RUN_SLOPE = 0.1      # MiB/min: 6 MiB an hour


def slope_bound(args, window_s):
    """The RSS slope (MiB/min) a process may show over `window_s` seconds of samples after the warm-up."""
    if args.slope_bound is not None:
        return args.slope_bound
    if args.seconds >= LONG_RUN_S or window_s <= 0:
        return LONG_RUN_SLOPE
    return max(LONG_RUN_SLOPE, args.rss_bound / (window_s / 60))


def analyse(series, t_warm, args):
    """Per process: the checks on its samples after the warm-up. series: label -> [(t, rss, shm, fds)]."""
    rows, failures = [], []
    for label, points in series.items():
        n = len(points)
        kept = [p for p in points if p[0] >= t_warm]
        if len(kept) < 6:
            failures.append(f"{label}: only {len(kept)} samples after the warm-up")
            continue
        third = len(kept) // 3
        first, last = kept[:third], kept[-third:]
        rss_first = statistics.mean(own(p) for p in first) / 1024
        rss_last = statistics.mean(own(p) for p in last) / 1024
        growth = rss_last - rss_first
        # Least-squares slope over the kept samples (MiB per minute).
        ts = [p[0] for p in kept]
        rs = [own(p) / 1024 for p in kept]
        slope = 0.0
        if len(kept) > 1 and max(ts) > min(ts):
            tm, rm = statistics.mean(ts), statistics.mean(rs)
            slope = sum((t - tm) * (r - rm) for t, r in zip(ts, rs)) / sum((t - tm) ** 2 for t in ts) * 60
        fds_first = (min(p[3] for p in first), max(p[3] for p in first))
        fds_last = (min(p[3] for p in last), max(p[3] for p in last))
        fds_median_first = statistics.median(p[3] for p in first)
        fds_median_last = statistics.median(p[3] for p in last)
        bound = slope_bound(args, max(ts) - min(ts))
        failed = []
        if growth > args.rss_bound:
            failed.append("rss growth")
            failures.append(f"{label}: RSS grew {growth:.2f} MiB from the first to the last third (bound {args.rss_bound} MiB)")
        if slope > bound:
            failed.append("rss slope")
            failures.append(f"{label}: RSS rose {slope:.3f} MiB/min after the warm-up (least squares; bound {bound:.2f} MiB/min)")
        if fds_last[0] != fds_first[0] or fds_median_last > fds_median_first:
            failed.append("fds")
            failures.append(f"{label}: open fds grew: {fds_first[0]}..{fds_first[1]} (median {fds_median_first:g}) in "
                            f"the first third, {fds_last[0]}..{fds_last[1]} (median {fds_median_last:g}) in the last")
        row = {
            "process": label, "samples": n, "rss_first_third_mib": rss_first,
            "rss_last_third_mib": rss_last, "rss_growth_mib": growth, "rss_slope_mib_per_min": slope,
            "vmrss_max_mib": max(p[1] for p in points) / 1024, "shm_max_mib": max(p[2] for p in points) / 1024,
            "fds_first_third": fds_first, "fds_last_third": fds_last,
            "rss_slope_bound_mib_per_min": bound, "failed_checks": failed, "passed": not failed,
        }
        rows.append(row)
    return rows, failures


def plot(path, series, t_warm):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_rss, ax_fd) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True, dpi=80)
    for label, points in series.items():
        ts = [p[0] for p in points]
        line, = ax_rss.plot(ts, [own(p) / 1024 for p in points], label=label, linewidth=1)
        ax_fd.plot(ts, [p[3] for p in points], label=label, linewidth=1)
    for ax in (ax_rss, ax_fd):
        ax.axvline(t_warm, color="grey", linestyle=":", linewidth=1)
        ax.grid(alpha=0.3)
    ax_rss.set_ylabel("RSS less shm (MiB)")
    ax_fd.set_ylabel("open fds")
    ax_fd.set_xlabel("seconds (dotted: end of warm-up)")
    ax_rss.legend(fontsize=7, ncol=3, loc="center right")
    ax_rss.set_title("framebus run soak: memory and file descriptors per process", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    args = parse_args()
    framebus = Path(args.framebus)
    if not os.access(framebus, os.X_OK):
        print(f"soak: no framebus executable at {framebus} (build first, or --framebus)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="framebus-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="framebus-soak-media-") as tmp:
        work = Path(tmp)
        try:
            videos, model, labels = make_inputs(work, args.streams)
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"soak: could not make the inputs: {e}", file=sys.stderr)
            return 2
        return soak(args, framebus, out, videos, model, labels)


def soak(args, framebus, out, videos, model, labels):
    name = f"soak-{os.getpid()}"
    results = out / "results.jsonl"
    cmd = [str(framebus), "run", "--name", name, "--workers", str(args.workers), "--model", str(model),
           "--labels", str(labels), "--loop", "0", "--max-fps", str(args.max_fps), "--out", str(results),
           "--report", str(out / "report.json"), "--no-progress"]
    for v in videos:
        cmd += ["--source", str(v)]
    print("soak:", " ".join(cmd), flush=True)
    stderr_log = open(out / "run.stderr", "wb")
    stdout_log = open(out / "run.stdout", "wb")
    run = subprocess.Popen(cmd, stdout=stdout_log, stderr=stderr_log, start_new_session=True)
    series = {}      # label -> [(t, VmRSS KiB, RssShmem KiB, fds)]
    pids = {}        # label -> every pid seen with that label
    produced = []    # (t, result lines so far)
    failures = []
    t0 = time.monotonic()
    next_sample = t0
    try:
        while True:
            now = time.monotonic()
            if now - t0 >= args.seconds:
                break
            if run.poll() is not None:
                failures.append(f"framebus run ended early with status {run.returncode} after {now - t0:.1f} s")
                break
            t = now - t0
            for pid in descendants(run.pid):
                label = label_of(pid, run.pid)
                s = sample(pid)
                if label is None or s is None:
                    continue
                series.setdefault(label, []).append((t, *s))
                pids.setdefault(label, set()).add(pid)
            produced.append((t, count_lines(results)))
            next_sample += args.interval
            time.sleep(max(0.0, next_sample - time.monotonic()))
        # Stop as a user would, with Ctrl-C (SIGINT to the supervisor only; it stops its children).
        run.send_signal(signal.SIGINT)
        try:
            status = run.wait(timeout=args.stop_timeout)
        except subprocess.TimeoutExpired:
            failures.append(f"framebus run did not exit within {args.stop_timeout} s of SIGINT")
            os.killpg(run.pid, signal.SIGKILL)
            status = run.wait()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        stderr_log.close()
        stdout_log.close()
    elapsed = time.monotonic() - t0
    if status != 130:
        failures.append(f"framebus run exited with status {status}, not 130 (interrupted)")
    left = shm_entries(name)
    if left:
        failures.append(f"left in /dev/shm: {left}")
    expected = {"run", "decode"} | {f"worker {i}" for i in range(args.workers)}
    missing = expected - set(series)
    if missing:
        failures.append(f"never seen: {sorted(missing)}")
    for label, seen in sorted(pids.items()):
        if len(seen) > 1:
            failures.append(f"{label}: restarted (pids {sorted(seen)})")
    for label, points in series.items():
        if points and points[-1][0] < args.seconds - 3 * args.interval and len(produced) > 3:
            failures.append(f"{label}: gone at {points[-1][0]:.0f} s, before the end")
    # Warm-up: the first --warmup of the run, and at least until 5 s after the first result.
    first_result = next((t for t, n in produced if n > 0), None)
    if first_result is None:
        failures.append("no results at all")
        first_result = 0.0
    t_warm = max(args.seconds * args.warmup, first_result + 5.0)
    rows, check_failures = analyse(series, t_warm, args) if series else ([], ["no samples"])
    failures += check_failures
    # Results must keep flowing: the last third of the run must have produced some.
    total = count_lines(results)
    third = produced[len(produced) * 2 // 3] if produced else (0.0, 0)
    if total - third[1] <= 0:
        failures.append("no results in the last third of the run")
    results_per_s = total / elapsed if elapsed > 0 else 0.0

    print_table(rows, t_warm, args)
    print(f"\nresults: {total} frames classified in {elapsed:.0f} s ({results_per_s:.1f}/s), "
          f"{len(next(iter(series.values()), []))} samples per process, exit status {status}, "
          f"/dev/shm: {'clean' if not left else left}")
    with open(out / "samples.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "process", "pid", "vmrss_kib", "rss_shmem_kib", "fds"])
        for label, points in series.items():
            for t, rss, shm, fds in points:
                w.writerow([f"{t:.2f}", label, min(pids[label]), rss, shm, fds])
    verdict = {
        "command": cmd, "seconds": args.seconds, "elapsed_s": elapsed, "exit_status": status,
        "results": total, "results_per_s": results_per_s, "rss_bound_mib": args.rss_bound, "warmup_s": t_warm,
        "slope_bound_mib_per_min": args.slope_bound,
        "processes": rows, "failures": failures, "passed": not failures,
        "samples": {label: [{"t": t, "vmrss_kib": r, "rss_shmem_kib": sh, "fds": fd} for t, r, sh, fd in pts]
                    for label, pts in series.items()},
    }
    (out / "soak.json").write_text(json.dumps(verdict, indent=1))
    if args.plot:
        plot(args.plot, series, t_warm)
        print(f"plot: {args.plot}")
    print(f"samples: {out / 'samples.csv'}, {out / 'soak.json'}")
    for f in failures:
        print(f"FAIL: {f}")
    print("soak: PASS" if not failures else "soak: FAIL")
    return 0 if not failures else 1


def print_table(rows, t_warm, args):
    bounds = sorted({round(r["rss_slope_bound_mib_per_min"], 2) for r in rows})
    print(f"\nafter the warm-up ({t_warm:.0f} s); RSS less shared memory, MiB; fds as lowest..highest; "
          f"bounds: growth {args.rss_bound} MiB, slope {', '.join(f'{b:.2f}' for b in bounds)} MiB/min")
    print(f"{'process':<10} {'samples':>7} {'1st third':>10} {'last third':>10} {'growth':>8} {'slope/min':>10} "
          f"{'VmRSS max':>10} {'shm max':>8} {'fds 1st':>8} {'fds last':>8}  verdict")
    for r in rows:
        verdict = "PASS" if r["passed"] else "FAIL (" + ", ".join(r["failed_checks"]) + ")"
        print(f"{r['process']:<10} {r['samples']:>7} {r['rss_first_third_mib']:>10.1f} {r['rss_last_third_mib']:>10.1f} "
              f"{r['rss_growth_mib']:>+8.2f} {r['rss_slope_mib_per_min']:>+10.3f} {r['vmrss_max_mib']:>10.1f} "
              f"{r['shm_max_mib']:>8.1f} {'%d..%d' % r['fds_first_third']:>8} {'%d..%d' % r['fds_last_third']:>8}  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
