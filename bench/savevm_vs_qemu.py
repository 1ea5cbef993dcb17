#!/usr/bin/env python3
"""savevm, loadvm and migrate-to-a-file times of wirt against QEMU, in the
same run.

Both run the counter tiny guest (build/guests/counter.bin as firmware)
under their emulators (wirt --accel emu, QEMU -accel tcg) with --memory
MiB of RAM, nearly all of it never touched (zero pages, which both leave
out of the state), and a qcow2 disk for the snapshots.  migrate goes
through exec:cat to a file (QEMU 7.2 has no file: URI; wirt runs with
--sandbox off for exec:), then cont.

Printed: median of --runs for each operation, in ms, and wirt/QEMU
(below 1: wirt is faster).

usage: bench/savevm_vs_qemu.py [--memory MIB] [--runs N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from qmp_client import QmpClient  # noqa: E402

WIRT = os.path.join(ROOT, "wirt")
GUEST = os.path.join(ROOT, "build", "guests", "counter.bin")


def start(kind, tmp, mem):
    disk = os.path.join(tmp, kind + ".qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
    sock = os.path.join(tmp, kind + ".sock")
    if kind == "wirt":
        env = dict(os.environ, WIRT_RUNTIME_DIR=os.path.join(tmp, "run"))
        args = [WIRT, "run", "--accel", "emu", "--memory", "%dM" % mem, "--sandbox", "off",
                "--firmware", GUEST, "--disk", disk, "--qmp", sock, "--name", "bench"]
    else:
        env = None
        args = [shutil.which("qemu-system-x86_64"), "-accel", "tcg", "-m", str(mem),
                "-bios", GUEST, "-display", "none", "-serial", "null", "-nodefaults",
                "-drive", "file=%s,if=virtio" % disk,
                "-qmp", "unix:%s,server=on,wait=off" % sock]
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    q = QmpClient(sock, timeout=300)
    q.negotiate()
    return p, q


def timed(fn):
    t = time.monotonic()
    fn()
    return (time.monotonic() - t) * 1000


def hmp(q, line):
    out = q.cmd("human-monitor-command", {"command-line": line})
    if "Error" in out:
        raise RuntimeError("%s: %s" % (line, out))


def migrate(q, path):
    q.cmd("migrate", {"uri": "exec:cat > %s" % path})
    while q.cmd("query-migrate").get("status") not in ("completed", "failed"):
        time.sleep(0.01)
    q.cmd("cont")


def measure(kind, tmp, mem, runs):
    p, q = start(kind, tmp, mem)
    res = {"savevm": [], "loadvm": [], "migrate exec:": []}
    try:
        time.sleep(0.5)
        for i in range(runs):
            res["savevm"].append(timed(lambda: hmp(q, "savevm s")))
            res["loadvm"].append(timed(lambda: hmp(q, "loadvm s")))
            res["migrate exec:"].append(timed(lambda: migrate(q, os.path.join(tmp, kind + ".state"))))
    finally:
        q.close()
        p.kill()
        p.wait()
    return {k: statistics.median(v) for k, v in res.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--memory", type=int, default=512, help="guest RAM in MiB")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu-system-x86_64 is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        w = measure("wirt", tmp, a.memory, a.runs)
        q = measure("qemu", tmp, a.memory, a.runs)
    print("counter guest, %d MiB RAM (mostly zero pages), median of %d, ms" %
          (a.memory, a.runs))
    print("%-16s %10s %10s %8s" % ("operation", "wirt", "QEMU", "ratio"))
    for k in w:
        print("%-16s %10.1f %10.1f %8.2f" % (k, w[k], q[k], w[k] / q[k]))


if __name__ == "__main__":
    main()
