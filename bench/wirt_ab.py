#!/usr/bin/env python3
"""Two wirt binaries side by side on the default guest's CPU-bound jobs.

    bench/wirt_ab.py OLD_WIRT NEW_WIRT [--rounds N] [JOB ...]

Boots the default guest (`make default-guest`) under each binary's
emulator, both at once, then runs each job in one guest and then the
other, N rounds (5), and prints the best and median time of each and the
ratios NEW/OLD.  Alternating in the same minutes keeps a busy host's
noise on both sides alike, which separate runs of emu_vs_qemu.py do not:
for telling whether a change to the translator helps.  The jobs default
to a shell loop, md5sum of 8 MiB and gzip of 4 MiB of random bytes.
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from guest_console import GuestConsole  # noqa: E402

JOBS = [
    "i=0; while [ $i -lt 25000 ]; do i=$((i+1)); done",
    "head -c 8388608 /dev/zero | md5sum",
    "head -c 4194304 /dev/urandom | gzip -1 > /dev/null",
]


def boot(wirt):
    g = GuestConsole([wirt, "run", "--accel", "emu", "-m", "512",
                      "--kernel", os.path.join(ROOT, "guest", "vmlinuz"),
                      "--initrd", os.path.join(ROOT, "guest", "initrd.img"),
                      "--append", "console=ttyS0 panic=-1"])
    g.expect("wirt-guest: ready", 300)
    g.expect("~ # ", 60)
    return g


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("jobs", nargs="*", default=JOBS)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_intermixed_args()
    for w in (a.old, a.new):
        if not os.access(w, os.X_OK):
            sys.exit("wirt_ab: %s is not an executable" % w)
    guests = [boot(a.old), boot(a.new)]
    times = {(k, j): [] for k in range(2) for j in a.jobs}
    try:
        for _ in range(a.rounds):
            for j in a.jobs:
                for k, g in enumerate(guests):
                    t = time.monotonic()
                    g.run(j, timeout=600)
                    times[(k, j)].append(time.monotonic() - t)
    finally:
        for g in guests:
            g.send("poweroff -f")
            g.wait_exit(60)
            g.kill()
    print("%-40s %15s %15s %13s" % ("job", "old best/med", "new best/med", "new/old"))
    for j in a.jobs:
        o, n = times[(0, j)], times[(1, j)]
        print("%-40s %6.3f %6.3f s  %6.3f %6.3f s  %5.2fx %5.2fx" % (
            j[:40], min(o), statistics.median(o), min(n), statistics.median(n),
            min(n) / min(o), statistics.median(n) / statistics.median(o)))


if __name__ == "__main__":
    main()
