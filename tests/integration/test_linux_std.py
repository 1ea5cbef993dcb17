"""Debian's standard kernel (linux-image-amd64) under the emulator: from
its bzImage and, through the PVH entry, from the vmlinux inside it.  The
default guest's initramfs provides the shell (its modules belong to the
cloud kernel, so /init reports them as not loaded): that is also a guest
without virtio drivers, which must boot with virtio devices present."""
import os
import subprocess

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole

STD = os.path.join(ROOT, "guest", "std")
INITRD = os.path.join(ROOT, "guest", "initrd.img")


@pytest.fixture(scope="module")
def kernels():
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "fetch-std-kernel.sh")],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.fail("cannot fetch linux-image-amd64: " + r.stderr[-500:])
    return os.path.join(STD, "vmlinuz"), os.path.join(STD, "vmlinux")


@pytest.mark.parametrize("which", ["bzImage", "vmlinux-pvh"])
def test_standard_kernel_boots_to_shell(kernels, which, tmp_path):
    kernel = kernels[0] if which == "bzImage" else kernels[1]
    disk = tmp_path / "unused.raw"
    disk.write_bytes(bytes(1 << 20))
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "1G", "--kernel", kernel,
                      "--initrd", INITRD, "--append", "console=ttyS0 panic=-1",
                      "--disk", "%s,format=raw" % disk, "--rng"],
                     str(tmp_path / "console.log"))
    try:
        g.expect("~ # ", 900)
        out = g.run("uname -r")
        assert out.strip().endswith("-amd64"), out
        # The virtio devices are there, unused (no driver for them).
        out = g.run("cat /sys/bus/pci/devices/*/vendor")
        assert out.count("0x1af4") == 2, out
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        g.kill()
