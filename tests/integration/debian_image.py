"""The Debian 12 root filesystem image (scripts/build-debian-image.sh): where
it is and how to boot it, under wirt's emulator or, to compare or to check
the image itself, under QEMU's TCG."""
import os
import shutil
import subprocess

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
