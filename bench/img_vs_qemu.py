#!/usr/bin/env python3
"""`wirt img` against qemu-img on the same images in one run.

1. bench: 4 KiB requests, queue depth 32, O_DIRECT (-t none), Linux
   native AIO (-n), reads and writes, on a fully written 1 GiB raw image
   and its qcow2 copy.  qemu-img bench only walks the image in order (step
   = request size), so wirt runs that same pattern (-S 4096) for the
   ratio, and its random pattern (its default) is printed beside it.
   IOPS are computed from each tool's own "Run completed in" time, best
   of three; ratio = wirt IOPS / qemu-img IOPS (above 1: wirt faster).
2. convert: a 1 GiB raw image with every other MiB written (half
   allocated) to qcow2, and its qcow2 form back to raw, by both tools in
   their default cache mode; wall-clock seconds, best of three, runs of
   the two tools interleaved, each after a sync; ratio = qemu-img seconds
   / wirt seconds (above 1: wirt faster).
   Every output is checked with `qemu-img compare`.

Images live under build/img-bench (O_DIRECT needs a real file system, not
tmpfs) and are removed at the end.

usage: /usr/bin/python3 bench/img_vs_qemu.py [--quick]
"""
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIRT = os.path.join(ROOT, "wirt")
GiB, MiB = 1 << 30, 1 << 20


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), r.stdout + r.stderr))
    return r.stdout


def bench_seconds(argv, runs):
    """Best 'Run completed in X seconds' over several runs."""
    best = None
    for _ in range(runs):
        m = re.search(r"Run completed in ([0-9.]+) seconds", run(argv))
        if not m:
            sys.exit("no timing from: " + " ".join(argv))
        dt = float(m.group(1))
        best = dt if best is None else min(best, dt)
    return best


def wall_seconds(jobs, runs):
    """Best wall-clock seconds of each (argv, out) job; runs interleaved,
    each output removed and synced away before the next run starts, so
    neither tool pays for the other's cleanup."""
    best = [None] * len(jobs)
    for _ in range(runs):
        for k, (argv, out) in enumerate(jobs):
            if os.path.exists(out):
                os.unlink(out)
            subprocess.run(["sync"])
            time.sleep(0.5)
            t = time.monotonic()
            run(argv)
            dt = time.monotonic() - t
            best[k] = dt if best[k] is None else min(best[k], dt)
    return best


def make_images(d, size):
    full = os.path.join(d, "full.raw")
    with open(full, "wb") as f:
        for _ in range(size // (64 * MiB)):
            f.write(os.urandom(64 * MiB))
    run(["qemu-img", "convert", "-O", "qcow2", full,
         os.path.join(d, "full.qcow2")])
    half = os.path.join(d, "half.raw")
    chunk = os.urandom(MiB)
    with open(half, "wb") as f:
        f.truncate(size)
        for i in range(0, size // MiB, 2):
            f.seek(i * MiB)
            f.write(chunk)
    run(["qemu-img", "convert", "-O", "qcow2", half,
         os.path.join(d, "half.qcow2")])
    subprocess.run(["sync"])


def bench_part(d, count, runs):
    print("bench: 4 KiB, queue depth 32, -t none (O_DIRECT), -n (native AIO), "
          "%d requests, best of %d" % (count, runs))
    print("%-6s %-5s %12s %12s %7s %14s" % ("format", "op", "qemu-img IOPS",
                                           "wirt IOPS", "ratio",
                                           "wirt random"))
    common = ["-t", "none", "-n", "-d", "32", "-s", "4096", "-c", str(count)]
    for fmt in ("raw", "qcow2"):
        img = os.path.join(d, "full." + fmt)
        for op, extra in (("read", []), ("write", ["-w"])):
            q = bench_seconds(["qemu-img", "bench", "-f", fmt, *common,
                               *extra, img], runs)
            w = bench_seconds([WIRT, "img", "bench", "-f", fmt, *common,
                               "-S", "4096", *extra, img], runs)
            wr = bench_seconds([WIRT, "img", "bench", "-f", fmt, *common,
                                *extra, img], runs)
            print("%-6s %-5s %12.0f %12.0f %7.2f %14.0f" %
                  (fmt, op, count / q, count / w, q / w, count / wr))


def convert_part(d, size, runs):
    print("\nconvert: %d MiB, half allocated, default cache mode, best of %d"
          % (size // MiB, runs))
    print("%-12s %10s %10s %7s" % ("direction", "qemu-img s", "wirt s",
                                   "ratio"))
    for name, src, fmt in (("raw->qcow2", "half.raw", "qcow2"),
                           ("qcow2->raw", "half.qcow2", "raw")):
        src = os.path.join(d, src)
        qout = os.path.join(d, "q-out." + fmt)
        wout = os.path.join(d, "w-out." + fmt)
        q, w = wall_seconds(
            [(["qemu-img", "convert", "-O", fmt, src, qout], qout),
             ([WIRT, "img", "convert", "-O", fmt, src, wout], wout)], runs)
        run(["qemu-img", "compare", wout, src])
        run(["qemu-img", "compare", qout, wout])
        print("%-12s %10.3f %10.3f %7.2f" % (name, q, w, q / w))


def main():
    quick = "--quick" in sys.argv[1:]
    if not shutil.which("qemu-img"):
        sys.exit("qemu-img not found: apt-get install qemu-utils")
    if not os.path.exists(WIRT):
        sys.exit("%s missing: run make" % WIRT)
    d = os.path.join(ROOT, "build", "img-bench")
    os.makedirs(d, exist_ok=True)
    size = 256 * MiB if quick else GiB
    try:
        make_images(d, size)
        bench_part(d, 20000 if quick else 200000, 1 if quick else 3)
        convert_part(d, size, 1 if quick else 3)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
