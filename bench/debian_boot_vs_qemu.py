#!/usr/bin/env python3
"""Booting Debian 12 (systemd) under wirt's emulator against QEMU's TCG.

Boots the Debian root filesystem image (scripts/build-debian-image.sh,
`make debian-image`) under `wirt run --accel emu` and under
`qemu-system-x86_64 -accel tcg` in the same run, each from a fresh copy of
the image, and times from process start: the login prompt on ttyS0, root's
shell (automatic login), `systemctl is-system-running --wait` answering,
and power-off (`systemctl poweroff` sent -> process exit).  Console logs go
to build/debian-boot-{wirt,qemu}.log.  Prints seconds
and wirt/QEMU ratios (above 1 means wirt is slower).

usage: bench/debian_boot_vs_qemu.py
"""
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import debian_image  # noqa: E402
from guest_console import GuestConsole  # noqa: E402

PROMPT = debian_image.PROMPT


def measure(vmm, tmp):
    disk = debian_image.copy_rootfs(tmp)
    t0 = time.monotonic()
    log = os.path.join(ROOT, "build", "debian-boot-%s.log" % vmm)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    g = GuestConsole(debian_image.boot_command(disk, vmm), log)
    results = {}
    try:
        g.expect("wirt-debian login:", 3600)
        results["login prompt"] = time.monotonic() - t0
        g.expect(PROMPT, 600)
        results["root shell"] = time.monotonic() - t0
        state = g.run("systemctl is-system-running --wait", PROMPT, 1800).strip()
        results["system running"] = time.monotonic() - t0
        if state != "running":
            print("%s: system state %r" % (vmm, state), file=sys.stderr)
        t = time.monotonic()
        g.send("systemctl poweroff")
        status = g.wait_exit(900)
        results["power-off"] = time.monotonic() - t
        if status != 0:
            print("%s: exit status %r" % (vmm, status), file=sys.stderr)
    finally:
        g.kill()
        os.unlink(disk)
    return results


def main():
    if not debian_image.built():
        sys.exit("build the Debian image first: make debian-image")
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    with tempfile.TemporaryDirectory(prefix="wirt-debian-bench-") as tmp:
        wirt = measure("wirt", tmp)
        qemu = measure("qemu", tmp)
    print("%-22s %10s %10s %8s" % ("", "wirt emu", "qemu tcg", "ratio"))
    for k in wirt:
        print("%-22s %9.2fs %9.2fs %7.1fx" % (k, wirt[k], qemu[k], wirt[k] / qemu[k]))


if __name__ == "__main__":
    main()
