#!/usr/bin/env python3
"""wirt under KVM against qemu-system-x86_64 -accel kvm on tiny guests.

In one run, for both VMMs (best of several runs each):
  - time from process start to the first serial byte of the hello guest;
  - cost of one port-I/O exit: bench_pio (100000 OUTs to port 0x80) minus
    the hello guest, divided by the number of OUTs;
  - peak RSS of the process running the hello guest with 128 MiB of RAM.
Prints each figure and the wirt/QEMU ratio (below 1 means wirt is better).

usage: bench/kvm_vs_qemu.py [--runs N]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUESTS = os.path.join(ROOT, "build", "guests")
PIO_EXITS = 100_000


def wirt_argv(image):
    return [os.path.join(ROOT, "wirt"), "run", "--accel", "kvm",
            "--memory", "128M", "--firmware", image]


def qemu_argv(image):
    return ["qemu-system-x86_64", "-accel", "kvm", "-m", "128",
            "-display", "none", "-nodefaults", "-no-reboot",
            "-serial", "stdio", "-bios", image,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def run_once(argv):
    """Seconds to the first stdout byte and seconds to exit."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    first = proc.stdout.read(1)
    t_first = time.monotonic() - start if first else None
    proc.stdout.read()
    proc.wait()
    return t_first, time.monotonic() - start


def peak_rss_kib(argv):
    """Peak RSS through /usr/bin/time: a child forked from Python would
    count Python's own pages in its ru_maxrss."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-o", out.name, "-f", "%M"] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL)
        return int(out.read().split()[-1])


def measure(make_argv, runs):
    hello = os.path.join(GUESTS, "hello.bin")
    pio = os.path.join(GUESTS, "bench_pio.bin")
    firsts, hello_exits, rss, pio_exits = [], [], [], []
    for _ in range(runs):
        t_first, t_exit = run_once(make_argv(hello))
        if t_first is None:
            sys.exit("no serial output from: " + " ".join(make_argv(hello)))
        firsts.append(t_first)
        hello_exits.append(t_exit)
        rss.append(peak_rss_kib(make_argv(hello)))
        pio_exits.append(run_once(make_argv(pio))[1])
    per_exit = (min(pio_exits) - min(hello_exits)) / PIO_EXITS
    return {"first byte ms": min(firsts) * 1e3,
            "port I/O exit us": per_exit * 1e6,
            "peak RSS MiB": max(rss) / 1024}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("/dev/kvm is missing or not accessible: this benchmark needs KVM")
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time not found: apt-get install time")
    for name in ("hello.bin", "bench_pio.bin"):
        if not os.path.exists(os.path.join(GUESTS, name)):
            sys.exit("build/guests/%s missing: run make" % name)
    if os.path.exists("/sys/module/kvm_pvm"):
        print("note: this host's KVM is KVM-PVM; real-mode guests run in its "
              "instruction emulator, so exits cost more than on VT-x/AMD-V")
    wirt = measure(wirt_argv, args.runs)
    qemu = measure(qemu_argv, args.runs)
    print("%-18s %10s %10s %7s" % ("", "wirt", "qemu", "ratio"))
    for key in wirt:
        print("%-18s %10.2f %10.2f %6.2fx" %
              (key, wirt[key], qemu[key], wirt[key] / qemu[key]))


if __name__ == "__main__":
    main()
