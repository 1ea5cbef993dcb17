#!/usr/bin/env python3
"""wirt's QMP monitor against QEMU's, in the same run.

1. query-status round-trip latency: one client, N requests one after the
   other on an idle VM (wirt on the idle tiny guest, QEMU with no guest:
   -machine q35 -accel tcg -display none), median and 99th percentile in
   microseconds, and the wirt/QEMU ratio (above 1: wirt is slower).
2. Memory per idle VM: the resident set size of each process after the
   latency run (guest RAM is only counted once touched).
3. `wirt ls` with M idle tiny VMs running (it asks each over QMP), best of
   three, against a loop asking M QEMU instances the same query-status.

usage: bench/qmp_latency.py [--requests N] [--vms M]
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
IDLE = os.path.join(ROOT, "build", "guests", "idle.bin")


def start_wirt(tmp, name):
    env = dict(os.environ, WIRT_RUNTIME_DIR=os.path.join(tmp, "run"))
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--memory", "32M", "--name", name,
                          "--firmware", IDLE], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return p, os.path.join(tmp, "run", name, "qmp.sock")


def start_qemu(tmp, name):
    sock = os.path.join(tmp, name + ".qemu.sock")
    p = subprocess.Popen([shutil.which("qemu-system-x86_64"), "-machine", "q35", "-accel",
                          "tcg", "-display", "none", "-nodefaults", "-m", "32", "-name", name,
                          "-qmp", "unix:%s,server=on,wait=off" % sock],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    return p, sock


def latency(sock, n):
    q = QmpClient(sock)
    q.negotiate()
    for _ in range(50):  # warm up
        q.cmd("query-status")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        q.cmd("query-status")
        times.append(time.perf_counter() - t)
    q.close()
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stop(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--vms", type=int, default=20)
    args = ap.parse_args()
    if not os.path.exists(IDLE):
        sys.exit("build/guests/idle.bin is missing: run make first")
    have_qemu = shutil.which("qemu-system-x86_64") is not None
    tmp = tempfile.mkdtemp(prefix="qmp-bench-")

    wp, wsock = start_wirt(tmp, "lat")
    qp, qsock = start_qemu(tmp, "lat") if have_qemu else (None, None)
    try:
        w = latency(wsock, args.requests)
        print("query-status round trip, %d requests (us)" % args.requests)
        print("  wirt  median %7.1f  p99 %7.1f" % w)
        if qp:
            q = latency(qsock, args.requests)
            print("  QEMU  median %7.1f  p99 %7.1f" % q)
            print("  ratio wirt/QEMU (median) %.2f" % (w[0] / q[0]))
        print("resident memory of an idle VM (KiB, 32 MiB guest)")
        print("  wirt  %d" % rss_kib(wp.pid))
        if qp:
            print("  QEMU  %d" % rss_kib(qp.pid))
            print("  ratio wirt/QEMU %.2f" % (rss_kib(wp.pid) / rss_kib(qp.pid)))
    finally:
        stop([p for p in (wp, qp) if p])

    # Listing many VMs: wirt's alone, then QEMU's alone (idle QEMUs still
    # spin in TCG and would slow wirt ls down).
    env = dict(os.environ, WIRT_RUNTIME_DIR=os.path.join(tmp, "run"))
    procs = []
    try:
        for i in range(args.vms):
            procs.append(start_wirt(tmp, "vm%03d" % i)[0])
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run([WIRT, "ls"], capture_output=True, text=True,
                                 env=env).stdout
            if out.count(" running ") >= args.vms or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        best = None
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([WIRT, "ls"], capture_output=True, env=env)
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        print("wirt ls with %d VMs: %.1f ms" % (args.vms, best * 1e3))
    finally:
        stop(procs)
    procs, qsocks = [], []
    try:
        if have_qemu:
            for i in range(args.vms):
                p, s = start_qemu(tmp, "q%03d" % i)
                procs.append(p)
                qsocks.append(s)
            best_q = None
            for _ in range(3):
                t = time.perf_counter()
                for s in qsocks:
                    c = QmpClient(s)
                    c.negotiate()
                    c.cmd("query-status")
                    c.close()
                dt = time.perf_counter() - t
                best_q = dt if best_q is None else min(best_q, dt)
            print("query-status of %d QEMUs, one connection each (Python): %.1f ms"
                  % (args.vms, best_q * 1e3))
            print("  ratio wirt ls / QEMU loop %.2f" % (best / best_q))
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
