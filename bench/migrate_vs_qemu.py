#!/usr/bin/env python3
"""Live migration over TCP, wirt against QEMU in the same run: total time
and downtime as each reports them in query-migrate.

Each side runs a source and a receiver (--incoming / -incoming
tcp:127.0.0.1:PORT) on this machine under its emulator (wirt --accel emu,
QEMU -accel tcg) with --memory MiB of RAM and a tiny guest as firmware:
"idle" is the counter guest (build/guests/counter.bin, nearly all RAM
never touched), "writing" is build/guests/bench_dirty.bin, which keeps
rewriting 16 MiB, so pre-copy has to go round until the rest fits the
downtime limit.  Both get the same downtime-limit and max-bandwidth.

Printed: median of --runs, in ms, and wirt/QEMU (below 1: wirt is
faster or stops the guest for less).

usage: bench/migrate_vs_qemu.py [--memory MIB] [--runs N]
                                [--bandwidth MIB_PER_S] [--downtime MS]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from qmp_client import QmpClient  # noqa: E402

WIRT = os.path.join(ROOT, "wirt")
GUESTS = {"idle": os.path.join(ROOT, "build", "guests", "counter.bin"),
          "writing": os.path.join(ROOT, "build", "guests", "bench_dirty.bin")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, tmp, role, guest, mem, incoming=None):
    sock = os.path.join(tmp, "%s-%s.sock" % (kind, role))
    if kind == "wirt":
        env = dict(os.environ, WIRT_RUNTIME_DIR=os.path.join(tmp, "run"))
        args = [WIRT, "run", "--accel", "emu", "--memory", "%dM" % mem,
                "--firmware", guest, "--qmp", sock, "--name", role, "--serial", "none"]
        if incoming:
            args += ["--incoming", incoming]
    else:
        env = None
        args = [shutil.which("qemu-system-x86_64"), "-accel", "tcg", "-m", str(mem),
                "-bios", guest, "-display", "none", "-serial", "null", "-nodefaults",
                "-qmp", "unix:%s,server=on,wait=off" % sock]
        if incoming:
            args += ["-incoming", incoming]
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    q = QmpClient(sock, timeout=300, connect_wait=30)
    q.negotiate()
    return p, q


def one_migration(kind, tmp, guest, mem, bandwidth, downtime):
    port = free_port()
    src, qs = start(kind, tmp, "src", guest, mem)
    # The receiver: wirt's takes the one connection it waits for, so it
    # is not probed (it says when it listens); QEMU's QMP answers once
    # it listens.
    dst = None
    try:
        time.sleep(1.0)  # the guest gets going (and writing)
        qs.cmd("migrate-set-parameters", {"downtime-limit": downtime,
                                          "max-bandwidth": bandwidth << 20})
        if kind == "wirt":
            env = dict(os.environ, WIRT_RUNTIME_DIR=os.path.join(tmp, "run"))
            dst = subprocess.Popen([WIRT, "run", "--accel", "emu", "--memory", "%dM" % mem,
                                    "--firmware", guest, "--name", "dst", "--serial", "none",
                                    "--incoming", "tcp:127.0.0.1:%d" % port],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=env)
            # It says it waits once it listens.
            line = dst.stderr.readline()
            if b"waiting" not in line:
                raise RuntimeError("wirt receiver: %r" % line)
        else:
            dst, qd = start(kind, tmp, "dst", guest, mem, "tcp:127.0.0.1:%d" % port)
            qd.close()
        qs.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port})
        while True:
            r = qs.cmd("query-migrate")
            if r.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.02)
        if r["status"] != "completed":
            said = ""
            if kind == "wirt":
                dst.kill()
                said = dst.stderr.read().decode(errors="replace")
            raise RuntimeError("%s: migration %s: %s %s" % (kind, r["status"],
                                                            r.get("error-desc"), said))
        return r["total-time"], r["downtime"], r["ram"]["transferred"], r["ram"].get("dirty-sync-count", 0)
    finally:
        qs.close()
        for p in (src, dst):
            if p:
                p.kill()
                p.wait()


def measure(kind, tmp, guest, mem, runs, bandwidth, downtime):
    res = [one_migration(kind, tmp, guest, mem, bandwidth, downtime) for _ in range(runs)]
    return {"total": statistics.median(r[0] for r in res),
            "downtime": statistics.median(r[1] for r in res),
            "MiB sent": statistics.median(r[2] for r in res) / (1 << 20),
            "rounds": statistics.median(r[3] for r in res)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory", type=int, default=512, help="guest RAM in MiB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bandwidth", type=int, default=128, help="max-bandwidth, MiB/s")
    ap.add_argument("--downtime", type=int, default=300, help="downtime-limit, ms")
    a = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu-system-x86_64 is not installed")
    for g in GUESTS.values():
        if not os.path.exists(g):
            sys.exit("%s is missing: make guests" % g)
    print("live migration over loopback TCP, %d MiB RAM, max-bandwidth %d MiB/s, "
          "downtime-limit %d ms, median of %d" % (a.memory, a.bandwidth, a.downtime, a.runs))
    print("%-8s %-10s %10s %10s %8s" % ("guest", "figure", "wirt", "QEMU", "ratio"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, guest in GUESTS.items():
            w = measure("wirt", tmp, guest, a.memory, a.runs, a.bandwidth, a.downtime)
            q = measure("qemu", tmp, guest, a.memory, a.runs, a.bandwidth, a.downtime)
            for k in w:
                ratio = w[k] / q[k] if q[k] else float("nan")
                print("%-8s %-10s %10.1f %10.1f %8.2f" % (name, k, w[k], q[k], ratio))


if __name__ == "__main__":
    main()
