"""--cloud-init: wirt builds a NoCloud seed (ISO 9660 labelled cidata,
written with xorriso) and attaches it as a read-only virtio disk; Linux
in the default guest finds the label and reads the files back.  (No
real cloud-init runs here: the default guest has none.)"""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, WIRT, run_wirt
from std_kernel import cpio_newc

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")

USER_DATA = "#cloud-config\nhostname: wirt-seeded\nssh_authorized_keys:\n  - ssh-ed25519 AAAA test\n"
NETWORK = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"


def test_cloud_init_option_errors(tmp_path):
    for spec, message in (("meta-data=%s" % tmp_path, "needs user-data=FILE"),
                          ("user-data=", "give user-data=FILE"),
                          ("userdata=x", "give user-data=FILE")):
        r = run_wirt(["run", "--accel", "emu", "--kernel", KERNEL, "--cloud-init", spec])
        assert r.returncode == 2 and message in r.stderr, r.stderr
    r = run_wirt(["run", "--accel", "emu", "--kernel", KERNEL, "--cloud-init",
                  "user-data=%s" % (tmp_path / "missing.yaml")])
    assert r.returncode == 1 and "cannot read user-data" in r.stderr, r.stderr


def test_linux_reads_the_seed(tmp_path):
    if not shutil.which("xorriso"):
        pytest.skip("xorriso not installed (apt-get install xorriso)")
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "fetch-guest-modules.sh"),
                        "cdrom", "isofs"], capture_output=True, text=True)
    if r.returncode:
        pytest.skip("cannot fetch the guest kernel's isofs module: " + r.stderr[-300:])
    modules = os.path.join(ROOT, r.stdout.strip())
    initrd = tmp_path / "initrd.img"
    with open(initrd, "wb") as f:
        f.write(open(INITRD, "rb").read())
        f.write(cpio_newc({m + ".ko": open(os.path.join(modules, m + ".ko"), "rb").read()
                           for m in ("cdrom", "isofs")}))
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
        # The ISO 9660 volume identifier (primary descriptor at 32 KiB).
        assert g.run("dd if=/dev/vda bs=1 skip=32808 count=6 2>/dev/null; echo").strip() \
            == "cidata"
        assert g.run("cat /sys/block/vda/ro").strip() == "1"
        g.run("insmod /cdrom.ko; insmod /isofs.ko; mkdir -p /seed")
        g.run("mount -t iso9660 -o ro /dev/vda /seed")
        assert sorted(g.run("ls /seed").split()) == ["meta-data", "network-config", "user-data"]
        assert g.run("cat /seed/user-data").replace("\r", "").strip() == USER_DATA.strip()
        assert g.run("cat /seed/network-config").replace("\r", "").strip() == NETWORK.strip()
        meta = g.run("cat /seed/meta-data").strip()
        assert meta.startswith("instance-id: iid-wirt-"), meta
    finally:
        g.kill()
    # The temporary files are gone (the VM kept only the open file).
    tmp = os.environ.get("TMPDIR", "/tmp")
    assert not [n for n in os.listdir(tmp) if n.startswith("wirt-cidata-") and
                os.stat(os.path.join(tmp, n)).st_mtime > os.stat(initrd).st_mtime]
