#!/usr/bin/env python3
"""Firmware boot: Debian's SeaBIOS booting a virtio disk, wirt's emulator
against QEMU's TCG (q35) in the same run.

The disk's MBR boot sector (tests/integration/test_firmware.py's
make_mbr_disk) prints a line on COM1 and ends the VM through the
debug-exit port, so the time is power-on to the first boot sector
running: SeaBIOS's POST (shadowing, PCI enumeration, fw_cfg, ACPI
install through the table-loader, the virtio-blk driver) plus start-up
of each program.  Both skip the boot-menu pause and mirror the screen
to COM1 (wirt's fw_cfg sets etc/show-boot-menu to 0 and etc/sercon-port
to 0x3f8; QEMU gets the same files with -fw_cfg).  Best of
five; prints seconds and the wirt/QEMU ratio (above 1 = wirt slower).

usage: bench/firmware_boot_vs_qemu.py
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from test_firmware import SEABIOS, make_mbr_disk  # noqa: E402


def best_of(argv, expect, runs=5):
    best = None
    for _ in range(runs):
        t = time.monotonic()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, timeout=300)
        dt = time.monotonic() - t
        if expect not in r.stdout or r.returncode != 33:
            sys.exit("%s did not boot the disk (status %d): %r" %
                     (argv[0], r.returncode, r.stdout[-300:]))
        best = dt if best is None else min(best, dt)
    return best


def main():
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    if not os.path.exists(SEABIOS):
        sys.exit("%s not found: apt-get install seabios" % SEABIOS)
    wirt = os.path.join(ROOT, "wirt")
    with tempfile.TemporaryDirectory() as d:
        disk = make_mbr_disk(os.path.join(d, "mbr.img"))
        menu_off = os.path.join(d, "menu-off")
        with open(menu_off, "wb") as f:
            f.write(b"\0\0")
        sercon = os.path.join(d, "sercon")
        with open(sercon, "wb") as f:
            f.write((0x3f8).to_bytes(2, "little"))
        w = best_of([wirt, "run", "--accel", "emu", "--no-reboot", "--firmware", SEABIOS,
                     "--disk", disk + ",format=raw"], b"wirt MBR boot OK")
        q = best_of([qemu, "-machine", "q35", "-accel", "tcg", "-bios", SEABIOS,
                     "-m", "512", "-display", "none", "-nodefaults", "-no-reboot",
                     "-serial", "stdio",
                     "-drive", "file=%s,format=raw,if=virtio" % disk,
                     "-fw_cfg", "name=etc/sercon-port,file=%s" % sercon,
                     "-fw_cfg", "name=etc/show-boot-menu,file=%s" % menu_off,
                     "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
                    b"wirt MBR boot OK")
    print("%-28s %8s %8s %7s" % ("boot", "wirt s", "qemu s", "ratio"))
    print("%-28s %8.2f %8.2f %6.2fx" % ("SeaBIOS -> virtio MBR", w, q, w / q))


if __name__ == "__main__":
    main()
