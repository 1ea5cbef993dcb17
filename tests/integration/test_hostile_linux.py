"""A hostile driver in a real guest: Linux, as root, writes random values
of random widths all over every PCI function's configuration space
through sysfs and unbinds and rebinds the virtio drivers, round after
round (tests/guest-programs/pci_garbage.c), with every kind of virtio
device attached, under wirt built with AddressSanitizer and
UndefinedBehaviorSanitizer.  Whatever becomes of the guest's devices, the
VMM must report no error, keep the guest's shell (on the serial port)
running and power off cleanly.  WIRT_HOSTILE_SEED replays a seed."""
import os
import random
import subprocess

from conftest import ROOT
from guest_console import GuestConsole

WIRT_SAN = os.path.join(ROOT, "build", "wirt-san")
KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "build", "guest-programs", "test-initrd.img")
PROMPT = "~ # "


def test_pci_garbage_from_linux(tmp_path):
    assert os.path.exists(WIRT_SAN), "build/wirt-san is not built: make build/wirt-san"
    assert os.path.exists(INITRD), "the test initrd is not built: make test-initrd"
    seed = int(os.environ.get("WIRT_HOSTILE_SEED", random.getrandbits(31)))
    raw, qcow2 = tmp_path / "d.raw", tmp_path / "d.qcow2"
    raw.write_bytes(b"\0" * (4 << 20))
    subprocess.run([os.path.join(ROOT, "wirt"), "img", "create", "-f", "qcow2", str(qcow2),
                    "16M"], check=True, capture_output=True)
    log = tmp_path / "console.log"
    # --sandbox off: LeakSanitizer's check at exit needs a ptrace tracer
    # process, which the sandbox forbids (see test_hostile_guest.py).
    g = GuestConsole([WIRT_SAN, "run", "--sandbox", "off", "--accel", "emu", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", INITRD,
                      "--append", "console=ttyS0 panic=-1 cryptomgr.notests",
                      "--disk", "%s,format=raw" % raw, "--disk", "%s,format=qcow2" % qcow2,
                      "--net", "user,restrict=on", "--rng",
                      "--channel", "org.wirt.test,path=%s" % (tmp_path / "chan.sock")],
                     str(log))
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        out = g.run("/bin/pci_garbage %d 30; echo rc=$?" % seed, timeout=900)
        assert "pci_garbage: done" in out and "rc=0" in out, "seed %d: %s" % (seed, out)
        assert "alive" in g.run("echo alive"), "seed %d" % seed
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0, "seed %d" % seed
    finally:
        g.kill()
    text = open(log, errors="replace").read()
    assert "runtime error" not in text and "Sanitizer" not in text, \
        "seed %d:\n%s" % (seed, text[-6000:])
