#!/usr/bin/env python3
"""wirt's emulator against QEMU's TCG, same kernel, initramfs and jobs.

Boots the default guest (guest/vmlinuz + guest/initrd.img) under wirt's
translator (`wirt run --accel emu`, the default), wirt's interpreter
(`--accel emu,jit=off`) and `qemu-system-x86_64 -accel tcg`, one after
the other in the same run, then runs CPU-bound jobs in each guest's
shell, timing each from the host side (command sent -> shell prompt
back).  Prints seconds and wirt/QEMU ratios for both engines (above 1
means wirt is slower).

usage: bench/emu_vs_qemu.py [--quick]   (--quick: smaller jobs)
"""
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from guest_console import GuestConsole  # noqa: E402

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
APPEND = "console=ttyS0 panic=-1"
PROMPT = "~ # "


def jobs(quick):
    mib = 4 if quick else 1
    return [
        ("md5sum %d MiB" % (64 // mib),
         "head -c %d /dev/zero | md5sum" % ((64 << 20) // mib)),
        ("urandom %d MiB" % (32 // mib),
         "head -c %d /dev/urandom > /tmp/r" % ((32 << 20) // mib)),
        ("gzip %d MiB random" % (32 // mib), "gzip -c /tmp/r > /dev/null; rm /tmp/r"),
        ("shell loop %d" % (100000 // mib),
         "i=0; while [ $i -lt %d ]; do i=$((i+1)); done" % (100000 // mib)),
        # a new process, address space and exec each time: page tables,
        # page faults and TLB flushes (busybox's /bin/true is the
        # static busybox binary)
        ("fork/exec %d" % (4000 // mib),
         "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done" % (4000 // mib)),
    ]


def measure(name, argv, quick):
    t0 = time.monotonic()
    g = GuestConsole(argv)
    results = {}
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        results["boot to shell"] = time.monotonic() - t0
        # Untimed: the first read of /dev/urandom waits until the guest's
        # pool is seeded.  wirt's CPU has RDRAND, which seeds it at boot;
        # QEMU's default CPU has not, and its guest spins about a second
        # for jitter entropy here, which no job below should count.
        g.run("head -c 1 /dev/urandom > /dev/null", PROMPT, timeout=600)
        for label, cmd in jobs(quick):
            t = time.monotonic()
            g.run(cmd, PROMPT, timeout=1800)
            results[label] = time.monotonic() - t
        g.send("poweroff -f")
        g.wait_exit(60)
    finally:
        g.kill()
    return results


def main():
    quick = "--quick" in sys.argv
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        sys.exit("build the default guest first: make default-guest")
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    def wirt(accel):
        return measure("wirt", [os.path.join(ROOT, "wirt"), "run", "--accel", accel,
                                "--memory", "512M", "--kernel", KERNEL, "--initrd", INITRD,
                                "--append", APPEND], quick)
    jit = wirt("emu")
    interp = wirt("emu,jit=off")
    q = measure("qemu", [qemu, "-accel", "tcg", "-m", "512", "-kernel", KERNEL,
                         "-initrd", INITRD, "-append", APPEND, "-display", "none",
                         "-serial", "stdio", "-monitor", "none", "-nodefaults",
                         "-no-reboot"], quick)
    print("%-22s %10s %10s %10s %7s %7s" % ("", "wirt jit", "wirt intp", "qemu tcg",
                                            "jit/q", "intp/q"))
    for k in jit:
        print("%-22s %9.2fs %9.2fs %9.2fs %6.2fx %6.2fx" % (
            k, jit[k], interp[k], q[k], jit[k] / q[k], interp[k] / q[k]))

if __name__ == "__main__":
    main()
