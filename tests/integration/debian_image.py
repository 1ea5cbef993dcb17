"""The Debian 12 root filesystem image (scripts/build-debian-image.sh): where
it is and how to boot it, under wirt's emulator or, to compare or to check
the image itself, under QEMU's TCG."""
import contextlib
import os
import re
import shutil
import subprocess
import time

from guest_console import GuestConsole

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIRT = os.path.join(ROOT, "wirt")
DIR = os.environ.get("WIRT_DEBIAN_DIR", os.path.join(ROOT, "guest", "debian"))
KERNEL = os.path.join(DIR, "vmlinuz")
INITRD = os.path.join(DIR, "initrd.img")
ROOTFS = os.path.join(DIR, "rootfs.img")
DISK = os.path.join(DIR, "disk.img")     # the same system, bootable (mk/debian.mk)
APPEND = "root=/dev/vda console=ttyS0 panic=-1"
PROMPT = "wirt-debian:~# "
MEMORY_MIB = 1024
VMM = os.environ.get("WIRT_DEBIAN_VMM", "wirt")   # "qemu" checks the image under TCG
BOOT_TIMEOUT = 3600


def built():
    return all(os.path.exists(f) for f in (KERNEL, INITRD, ROOTFS))


def copy_rootfs(dest_dir):
    """A scratch copy to boot: a boot writes to its root filesystem."""
    disk = os.path.join(str(dest_dir), "rootfs.img")
    subprocess.run(["cp", "--sparse=always", ROOTFS, disk], check=True)
    return disk


def boot_command(disk, vmm="wirt"):
    """argv that boots the image from disk with the serial console on stdio.
    vmm: "wirt" (--accel emu) or "qemu" (qemu-system-x86_64 -accel tcg)."""
    if vmm == "qemu":
        return [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
                "-accel", "tcg", "-m", str(MEMORY_MIB), "-kernel", KERNEL,
                "-initrd", INITRD, "-append", APPEND,
                "-drive", "file=%s,if=virtio,format=raw" % disk,
                "-display", "none", "-serial", "stdio", "-monitor", "none",
                "-nodefaults", "-no-reboot"]
    return [WIRT, "run", "--accel", "emu", "--memory", "%dM" % MEMORY_MIB,
            "--kernel", KERNEL, "--initrd", INITRD, "--append", APPEND,
            "--disk", disk + ",format=raw"]


def sh(guest, command, timeout=600):
    """Run command in the guest's bash; return (exit status, output)."""
    out = guest.run(command + "; echo \"rc=$?\"", PROMPT, timeout)
    m = re.search(r"rc=(\d+)\s*$", out)
    assert m, out
    return int(m.group(1)), out[:m.start()].strip()


@contextlib.contextmanager
def root_shell(argv, log):
    """Boot argv to the image's root shell (console log in log) and keep
    it there; the guest's boot log is in .boot_log.  Kernel messages are
    turned off the console, where they would mix with commands' output."""
    start = time.monotonic()
    g = GuestConsole(argv, str(log))
    booted = None
    try:
        g.boot_log = g.expect(PROMPT, BOOT_TIMEOUT)
        booted = time.monotonic() - start
        sh(g, "dmesg -n 1")
        yield g
    finally:
        g.kill()
        print("console log: %s" % log)
        if booted is not None:
            print("root shell after %.1f s" % booted)
