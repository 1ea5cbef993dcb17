#!/usr/bin/env python3
"""The cost of wirt's sandbox (the seccomp filter of `wirt run`).

Boots the default guest under `wirt run --accel emu` with a raw disk, a
user network and virtio-rng, with the sandbox on (the default) and with
`--sandbox off`, alternately, and times from the host: boot to the shell,
and reading the disk in 4 KiB direct requests (one host pread, eventfd
and interrupt each: the filter is evaluated for every system call).
Best of --rounds N (default 2) per setting; prints seconds and on/off
ratios (above 1 means the sandbox costs time).

usage: bench/sandbox_cost.py [--rounds N]
"""
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from guest_console import GuestConsole  # noqa: E402

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
APPEND = "console=ttyS0 panic=-1"
PROMPT = "~ # "
DISK_MIB = 32
# The echoed command line must not hold the marker the shell prints.
READ = "dd if=/dev/vda of=/dev/null bs=4096 iflag=direct 2>/dev/null; echo read-\"done\""


def measure(disk, sandbox):
    argv = [os.path.join(ROOT, "wirt"), "run", "--accel", "emu", "--memory", "512M",
            "--kernel", KERNEL, "--initrd", INITRD, "--append", APPEND,
            "--disk", disk + ",format=raw", "--net", "user", "--rng",
            "--sandbox", sandbox]
    t0 = time.monotonic()
    g = GuestConsole(argv)
    res = {}
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        res["boot to shell"] = time.monotonic() - t0
        t = time.monotonic()
        g.run(READ, "read-done", timeout=1800)
        res["read %d MiB, 4 KiB direct" % DISK_MIB] = time.monotonic() - t
        g.expect(PROMPT, 60)
        g.send("poweroff -f")
        g.wait_exit(60)
    finally:
        g.kill()
    return res


def main():
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 2
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        sys.exit("build the default guest first: make default-guest")
    best = {"on": {}, "off": {}}
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, "disk.raw")
        with open(disk, "wb") as f:
            f.write(os.urandom(DISK_MIB << 20))
        for _ in range(rounds):
            for sandbox in ("off", "on"):
                for k, v in measure(disk, sandbox).items():
                    best[sandbox][k] = min(v, best[sandbox].get(k, v))
    print("%-28s %10s %10s %8s" % ("best of %d" % rounds, "sandbox on", "off", "ratio"))
    for k in best["on"]:
        on, off = best["on"][k], best["off"][k]
        print("%-28s %9.2fs %9.2fs %7.3fx" % (k, on, off, on / off))


if __name__ == "__main__":
    main()
