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

With --linux, also the whole chain to a shell: SeaBIOS -> SYSLINUX from
a FAT partition (test_firmware.py's make_syslinux_disk) -> the default
guest's kernel and initrd -> "wirt-guest: ready" on the console; one run
each (minutes under the emulator).

With --uefi, Debian's OVMF instead of SeaBIOS (wirt's --firmware uefi,
QEMU with the same OVMF_CODE_4M.fd and a copy of OVMF_VARS_4M.fd as its
two pflash drives): power-on to the UEFI shell's banner, best of three;
with --linux too, an EFI system partition (make-syslinux-disk.py --efi)
through the shell's startup.nsh (after its 5 s countdown, in both) to
the default guest's shell, one run each.

usage: bench/firmware_boot_vs_qemu.py [--linux] [--uefi]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from test_firmware import (GUEST_INITRD, GUEST_KERNEL, SEABIOS,  # noqa: E402
                           make_mbr_disk, make_syslinux_disk)


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


def time_to(argv, marker, timeout=900):
    """Seconds from start until marker appears on stdout (then killed)."""
    t = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.PIPE)
    seen = b""
    try:
        while marker not in seen:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                sys.exit("%s ended before %r" % (argv[0], marker))
            seen = seen[-4096:] + chunk
            if time.monotonic() - t > timeout:
                sys.exit("%s: no %r after %d s" % (argv[0], marker, timeout))
        return time.monotonic() - t
    finally:
        proc.kill()
        proc.wait()


OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def uefi_rows(qemu, wirt, d):
    """OVMF under both: to its shell, and (--linux) to the guest's shell."""
    if not os.path.exists(OVMF_CODE):
        sys.exit("%s not found: apt-get install ovmf" % OVMF_CODE)

    def qemu_argv(extra):
        vars_copy = os.path.join(d, "qemu-vars.fd")
        shutil.copyfile(OVMF_VARS, vars_copy)
        return [qemu, "-machine", "q35", "-accel", "tcg", "-m", "512",
                "-display", "none", "-nodefaults", "-serial", "stdio",
                "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
                "-drive", "if=pflash,format=raw,file=" + vars_copy] + extra

    wirt_argv = [wirt, "run", "--accel", "emu", "--memory", "512M", "--firmware", "uefi"]
    banner = b"UEFI Interactive Shell"
    rows = [("OVMF -> UEFI shell",
             min(time_to(wirt_argv, banner) for _ in range(3)),
             min(time_to(qemu_argv([]), banner) for _ in range(3)))]
    if "--linux" in sys.argv[1:]:
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "make_syslinux_disk", os.path.join(ROOT, "scripts", "make-syslinux-disk.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        esp = mod.make_esp_disk(os.path.join(d, "esp.img"), GUEST_KERNEL, GUEST_INITRD,
                                "console=ttyS0 panic=-1", boot_mib=24)
        drive = ["-drive", "file=%s,format=raw,if=virtio" % esp]
        rows.append(("OVMF -> ESP -> shell",
                     time_to(wirt_argv + ["--disk", esp + ",format=raw"],
                             b"wirt-guest: ready"),
                     time_to(qemu_argv(drive), b"wirt-guest: ready")))
    return rows


def print_rows(rows):
    print("%-28s %8s %8s %7s" % ("boot", "wirt s", "qemu s", "ratio"))
    for name, w, q in rows:
        print("%-28s %8.2f %8.2f %6.2fx" % (name, w, q, w / q))


def main():
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    if "--uefi" in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as d:
            print_rows(uefi_rows(qemu, os.path.join(ROOT, "wirt"), d))
        return
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
        rows = [("SeaBIOS -> virtio MBR", w, q)]
        if "--linux" in sys.argv[1:]:
            disk = make_syslinux_disk(os.path.join(d, "boot.img"), GUEST_KERNEL, GUEST_INITRD)
            w = time_to([wirt, "run", "--accel", "emu", "--memory", "512M",
                         "--firmware", SEABIOS, "--disk", disk + ",format=raw"],
                        b"wirt-guest: ready")
            q = time_to([qemu, "-machine", "q35", "-accel", "tcg", "-bios", SEABIOS,
                         "-m", "512", "-display", "none", "-nodefaults", "-serial", "stdio",
                         "-drive", "file=%s,format=raw,if=virtio" % disk,
                         "-fw_cfg", "name=etc/sercon-port,file=%s" % sercon,
                         "-fw_cfg", "name=etc/show-boot-menu,file=%s" % menu_off],
                        b"wirt-guest: ready")
            rows.append(("SeaBIOS -> SYSLINUX -> shell", w, q))
    print_rows(rows)


if __name__ == "__main__":
    main()
