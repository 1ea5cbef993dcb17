"""--cloud-init: wirt writes a NoCloud seed (a FAT volume labelled cidata)
and attaches it as a read-only virtio disk; Linux's vfat driver in the
default guest mounts it and reads the files back.  (No real cloud-init
runs here: the default guest has none; test_debian_disk.py boots the
Debian image's.)"""
import os
import subprocess

import pytest

from conftest import ROOT, WIRT, run_wirt
from std_kernel import cpio_newc

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")

USER_DATA = "#cloud-config\nhostname: wirt-seeded\nssh_authorized_keys:\n  - ssh-ed25519 AAAA test\n"
NETWORK = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"


def test_cloud_init_option_errors(tmp_path):
    user_data = tmp_path / "user-data"
    user_data.write_text(USER_DATA)
    for spec, message in (("meta-data=%s" % user_data, "user-data=FILE is required"),
                          ("user-data=", "user-data needs a file name"),
                          ("userdata=x", "unknown key 'userdata=x'"),
                          ("user-data=%s" % (tmp_path / "missing.yaml"), "No such file"),
                          (str(tmp_path / "nowhere"), "not a directory")):
        r = run_wirt(["run", "--accel", "emu", "--kernel", KERNEL, "--cloud-init", spec])
        assert r.returncode == 2 and "--cloud-init" in r.stderr and message in r.stderr, \
            r.stderr
    r = run_wirt(["run", "--accel", "emu", "--kernel", KERNEL, "--cloud-init", str(tmp_path),
                  "--cloud-init", str(tmp_path)])
    assert r.returncode == 2 and "give it once" in r.stderr, r.stderr
    # A directory without user-data.
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_wirt(["run", "--accel", "emu", "--kernel", KERNEL, "--cloud-init", str(empty)])
    assert r.returncode == 2 and "has no user-data file" in r.stderr, r.stderr


def test_linux_reads_the_seed(tmp_path):
    mods = ("fat", "vfat", "nls_cp437", "nls_ascii")
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "fetch-guest-modules.sh")] +
                       list(mods), capture_output=True, text=True)
    if r.returncode:
        pytest.skip("cannot fetch the guest kernel's vfat modules: " + r.stderr[-300:])
    modules = os.path.join(ROOT, r.stdout.strip())
    initrd = tmp_path / "initrd.img"
    with open(initrd, "wb") as f:
        f.write(open(INITRD, "rb").read())
        f.write(cpio_newc({m + ".ko": open(os.path.join(modules, m + ".ko"), "rb").read()
                           for m in mods}))
    (tmp_path / "user-data").write_text(USER_DATA)
    (tmp_path / "network-config").write_text(NETWORK)
    from guest_console import GuestConsole
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", str(initrd),
                      "--append", "console=ttyS0 panic=-1 cryptomgr.notests",
                      "--cloud-init", "user-data=%s,network-config=%s"
                      % (tmp_path / "user-data", tmp_path / "network-config")],
                     str(tmp_path / "console.log"))
    try:
        g.expect("wirt-guest: ready", 300)
        g.expect("~ # ", 60)
        # The FAT volume label in the boot sector (offset 43, 11 bytes).
        assert g.run("dd if=/dev/vda bs=1 skip=43 count=11 2>/dev/null; echo").strip() \
            == "cidata"
        assert g.run("cat /sys/block/vda/ro").strip() == "1"
        g.run("for m in fat nls_cp437 nls_ascii vfat; do insmod /$m.ko; done; mkdir -p /seed")
        g.run("mount -t vfat -o ro /dev/vda /seed")
        assert sorted(g.run("ls /seed").split()) == ["meta-data", "network-config", "user-data"]
        assert g.run("cat /seed/user-data").replace("\r", "").strip() == USER_DATA.strip()
        assert g.run("cat /seed/network-config").replace("\r", "").strip() == NETWORK.strip()
        meta = g.run("cat /seed/meta-data").strip()
        assert meta.startswith("instance-id: iid-wirt-"), meta
    finally:
        g.kill()
