"""The Debian 12 system as a bootable disk (guest/debian/disk.img, made by
`make debian-disk`): SeaBIOS (--firmware bios) reads the MBR, SYSLINUX
loads the image's kernel and initrd from the FAT boot partition, and
Debian mounts its root from the second partition by label and reaches its
multi-user target — the way users boot a disk they installed.  The disk is
used through a qcow2 overlay (wirt img create -b), so the image stays
clean and nothing is copied.

WIRT_DEBIAN_VMM=qemu boots the same disk under QEMU's TCG (SeaBIOS too),
to check the disk and these tests apart from wirt."""
import os
import shutil
import subprocess

import pytest

import debian_image

sh = debian_image.sh


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    if not os.path.exists(debian_image.DISK):
        pytest.fail("the Debian disk is not built: run make debian-disk")
    tmp = tmp_path_factory.mktemp("debian-disk")
    overlay = str(tmp / "overlay.qcow2")
    subprocess.run([debian_image.WIRT, "img", "create", "-f", "qcow2", "-b",
                    debian_image.DISK, "-F", "raw", overlay], check=True,
                   capture_output=True)
    if debian_image.VMM == "qemu":
        argv = [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
                "-accel", "tcg", "-machine", "q35", "-m", str(debian_image.MEMORY_MIB),
                "-drive", "file=%s,if=virtio,format=qcow2" % overlay,
                "-display", "none", "-serial", "stdio", "-monitor", "none",
                "-nodefaults", "-no-reboot"]
    else:
        argv = [debian_image.WIRT, "run", "--accel", "emu",
                "--memory", "%dM" % debian_image.MEMORY_MIB, "--firmware", "bios",
                "--disk", overlay]
    with debian_image.root_shell(argv, tmp / "console.log") as g:
        yield g


def test_firmware_and_boot_loader_did_the_boot(guest):
    log = guest.boot_log
    assert "SeaBIOS" in log, log[:3000]
    assert "SYSLINUX" in log, log[:5000]
    _, cmdline = sh(guest, "cat /proc/cmdline")
    assert cmdline.startswith("BOOT_IMAGE=vmlinuz"), cmdline
    assert "root=LABEL=debian-root" in cmdline, cmdline


def test_root_is_the_second_partition(guest):
    rc, out = sh(guest, "findmnt -n -o SOURCE,FSTYPE /")
    assert rc == 0 and out.split() == ["/dev/vda2", "ext4"], out
    rc, out = sh(guest, "cat /sys/block/vda/vda1/start /sys/block/vda/vda2/start")
    assert out.split() == ["2048", str(2048 + (64 << 11))], out


def test_system_running_and_smbios_from_firmware(guest):
    rc, state = sh(guest, "systemctl is-system-running --wait", timeout=1800)
    if state != "running":
        _, failed = sh(guest, "systemctl --failed --no-pager --no-legend")
        pytest.fail("system state %r; failed units:\n%s" % (state, failed))
    # SeaBIOS installed wirt's ACPI and SMBIOS tables (its own BIOS entry).
    _, vendor = sh(guest, "cat /sys/class/dmi/id/bios_vendor")
    assert vendor == "SeaBIOS", vendor


def test_poweroff_ends_with_status_0(guest):
    guest.send("systemctl poweroff")
    assert guest.wait_exit(600) == 0
