"""The Debian 12 system as a bootable disk (guest/debian/disk.img, made by
`make debian-disk`): SeaBIOS (--firmware bios) reads the MBR, SYSLINUX
loads the image's kernel and initrd from the FAT boot partition, and
Debian mounts its root from the second partition by label and reaches its
multi-user target — the way users boot a disk they installed.  The disk is
used through a qcow2 overlay (wirt img create -b), so the image stays
clean and nothing is copied.

The boot is also a cloud image's first boot: --cloud-init hands the image's
cloud-init a NoCloud seed (user-data with an SSH key, a hostname and a
command), and --net user forwards a host port to the guest's sshd; the
test logs in over ssh with the key, as a user of a cloud image would.

WIRT_DEBIAN_VMM=qemu boots the same disk under QEMU's TCG (SeaBIOS too),
to check the disk and these tests apart from wirt."""
import os
import shutil
import subprocess

import pytest

import debian_image
from ports import free_port

sh = debian_image.sh

# Only ed25519 host keys: RSA key generation is slow under the emulator.
USER_DATA = """#cloud-config
hostname: wirt-cloud
ssh_genkeytypes: [ed25519]
ssh_authorized_keys:
  - %s
runcmd:
  - [sh, -c, "echo seeded by wirt > /run/wirt-cloud-init"]
"""


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    if not os.path.exists(debian_image.DISK):
        pytest.fail("the Debian disk is not built: run make debian-disk")
    tmp = tmp_path_factory.mktemp("debian-disk")
    overlay = str(tmp / "overlay.qcow2")
    seed = tmp / "seed"
    seed.mkdir()
    key = str(tmp / "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key],
                   check=True)
    (seed / "user-data").write_text(USER_DATA % open(key + ".pub").read().strip())
    ssh_port = free_port()
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
                "--disk", overlay, "--cloud-init", str(seed),
                "--net", "user,hostfwd=tcp:127.0.0.1:%d-:22" % ssh_port]
    with debian_image.root_shell(argv, tmp / "console.log") as g:
        g.ssh_key, g.ssh_port = key, ssh_port
        # cloud-init writes to the console until it is done: wait for it
        # first, so that its lines do not mix with later commands' output.
        g.cloud_init = None
        if debian_image.VMM != "qemu":
            g.cloud_init = sh(g, "cloud-init status --wait --long", timeout=1800)
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


def test_cloud_init_used_the_seed(guest):
    if debian_image.VMM == "qemu":
        pytest.skip("the seed is wirt's --cloud-init")
    rc, out = guest.cloud_init
    assert rc == 0 and "status: done" in out, out
    # NoCloud found the seed wirt attached: the second virtio disk.
    _, ds = sh(guest, "cat /run/cloud-init/status.json")
    assert "DataSourceNoCloud" in ds and "/dev/vdb" in ds, ds
    _, label = sh(guest, "blkid -o value -s LABEL /dev/vdb")
    assert label == "cidata", label
    _, host = sh(guest, "hostname")
    assert host == "wirt-cloud", host


def test_ssh_with_the_seeded_key(guest):
    """Through hostfwd to the guest's sshd, as Debian's default cloud user
    (cloud-init put the key in ~debian/.ssh/authorized_keys)."""
    if debian_image.VMM == "qemu":
        pytest.skip("the seed is wirt's --cloud-init")
    argv = ["ssh", "-i", guest.ssh_key, "-p", str(guest.ssh_port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=120",
            "debian@127.0.0.1", "hostname; cat /run/wirt-cloud-init; id -un"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["wirt-cloud", "seeded by wirt", "debian"], r.stdout


def test_poweroff_ends_with_status_0(guest):
    guest.send("systemctl poweroff")
    assert guest.wait_exit(600) == 0
