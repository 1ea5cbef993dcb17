#!/usr/bin/env python3
"""wirt's emulator against QEMU's TCG on tiny CPU-bound guests.

Each guest (tests/guests/bench_*.S, built by make; the *64 ones in 64-bit
mode, bench_loop16 in real mode, the others in 32-bit protected mode)
runs a fixed amount of work and ends through the debug-exit port.  Runs
each under wirt's translator (`--accel emu`, the default), wirt's interpreter (`--accel
emu,jit=off`) and `qemu-system-x86_64 -accel tcg` in the same run, best
of three, and prints seconds, ns per loop iteration of each and the
wirt/QEMU ratios (above 1 means wirt is slower).  Start-up and exit
time, measured with a guest that exits at once, is taken off each side.

usage: bench/cpu_vs_qemu.py
"""
import os
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUESTS = os.path.join(ROOT, "build", "guests")
# guest: loop iterations it runs
BENCHES = {
    "bench_loop": 100_000_000,      # DEC + JNZ
    "bench_memcpy": 64 * 262144,    # load, store, 2 adds, DEC, JNZ
    "bench_call": 20_000_000,       # CALL, ADD, RET, DEC, JNZ
    # Real mode: ADD reg, ADD [mem], DEC, JNZ on 16-bit operands.
    "bench_loop16": 50_000_000,
    # The same in 64-bit mode, where most of the emulator's fast paths are.
    "bench_memcpy64": 128 * 131072,  # load, store, 2 adds, DEC, JNZ
    "bench_call64": 20_000_000,     # CALL, ADD, RET, DEC, JNZ
}


def best_of(argv, runs=5):
    best = None
    for _ in range(runs):
        t = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        # A blocking wait: subprocess.run(timeout=) polls with sleeps of up
        # to 50 ms, which rounded these sub-second runs to 50 ms steps.
        watchdog = threading.Timer(600, proc.kill)
        watchdog.start()
        proc.wait()
        dt = time.monotonic() - t
        watchdog.cancel()
        best = dt if best is None else min(best, dt)
    return best


def main():
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    wirt = os.path.join(ROOT, "wirt")
    print("%-14s %8s %8s %8s %8s %8s %8s %7s %7s" % (
        "guest", "jit s", "interp s", "qemu s", "jit ns", "intp ns", "qemu ns",
        "jit/q", "intp/q"))
    def wirt_argv(accel, image):
        return [wirt, "run", "--accel", accel, "--firmware", image]

    def qemu_argv(image):
        return [qemu, "-accel", "tcg", "-bios", image, "-display", "none",
                "-nodefaults", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]

    # Start-up and exit, measured with a guest that leaves at once, is
    # taken off every time below so that the ratios compare the loops.
    empty = os.path.join(GUESTS, "debug_exit.bin")
    start = {"jit": best_of(wirt_argv("emu", empty), 5),
             "interp": best_of(wirt_argv("emu,jit=off", empty), 5),
             "qemu": best_of(qemu_argv(empty), 5)}
    for name, iters in BENCHES.items():
        image = os.path.join(GUESTS, name + ".bin")
        if not os.path.exists(image):
            sys.exit("%s missing: run make" % image)
        j = best_of(wirt_argv("emu", image)) - start["jit"]
        i = best_of(wirt_argv("emu,jit=off", image)) - start["interp"]
        q = best_of(qemu_argv(image)) - start["qemu"]
        print("%-14s %8.3f %8.3f %8.3f %8.2f %8.2f %8.2f %6.2fx %6.2fx" %
              (name, j, i, q, j * 1e9 / iters, i * 1e9 / iters, q * 1e9 / iters,
               j / q, i / q))
    print("start-up and exit, taken off the times above: jit %.3f s, interpreter "
          "%.3f s, qemu %.3f s" % (start["jit"], start["interp"], start["qemu"]))


if __name__ == "__main__":
    main()
