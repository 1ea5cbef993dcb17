"""A hostile guest (tests/guests/hostile_io.S) writes and reads random
values of random widths to I/O ports, PCI configuration space, the APICs,
the HPET, the BARs of the virtio devices (virtio-gpu and the tablet
among them) and the e1000 and the IDE controller's ports, the flash of a
UEFI variable store (any flash command sequence), with every kind of
device attached (once with the standard VGA, once with virtio-gpu),
under wirt built
with AddressSanitizer and UndefinedBehaviorSanitizer (build/wirt-san).
Any sanitizer report, crash or hang of the VMM fails;
the VMM must also still be running the guest when it finishes (its debug
exit arrives).  The seed is random and printed; WIRT_HOSTILE_SEED replays
one, WIRT_HOSTILE_ITERS sets the length (`make fuzz-guest` runs many)."""
import os
import random
import subprocess

import pytest

from conftest import ROOT, guest_path

WIRT_SAN = os.path.join(ROOT, "build", "wirt-san")
MARKER = b"HOSTILE-SEED"
DONE_STATUS = (0x21 << 1) | 1


def patched_guest(tmp_path, seed, iters):
    image = bytearray(open(guest_path("hostile_io"), "rb").read())
    at = image.index(MARKER) + len(MARKER)
    image[at:at + 8] = seed.to_bytes(4, "little") + iters.to_bytes(4, "little")
    path = tmp_path / "hostile.bin"
    path.write_bytes(bytes(image))
    return str(path)


# Each display adapter once (they exclude each other); the virtio-gpu run
# is shorter: its BAR is one of the many the other run already hits.
@pytest.mark.parametrize("vga,default_iters", [("std", 400000), ("virtio", 200000)])
def test_hostile_guest_cannot_hurt_the_vmm(tmp_path, vga, default_iters):
    assert os.path.exists(WIRT_SAN), "build/wirt-san is not built: make build/wirt-san"
    seed = int(os.environ.get("WIRT_HOSTILE_SEED", random.getrandbits(32)))
    iters = int(os.environ.get("WIRT_HOSTILE_ITERS", default_iters))
    raw, qcow2 = tmp_path / "d.raw", tmp_path / "d.qcow2"
    raw.write_bytes(b"\0" * (4 << 20))
    ide, cd = tmp_path / "ide.raw", tmp_path / "cd.raw"
    ide.write_bytes(b"\0" * (1 << 20))
    cd.write_bytes(b"\0" * (1 << 20))
    # A large variable store, so that a good share of the random accesses
    # to 0xFE000000 and up hit the flash below the guest's image.
    flash = tmp_path / "vars.fd"
    flash.write_bytes(b"\xff" * (8 << 20))
    subprocess.run([os.path.join(ROOT, "wirt"), "img", "create", "-f", "qcow2", str(qcow2),
                    "16M"], check=True, capture_output=True)
    # --sandbox off: LeakSanitizer's check at exit stops the threads from
    # a ptrace tracer (a new process) that reads /proc, which the sandbox
    # forbids.  test_sandbox.py runs this guest under ./wirt with it on.
    args = [WIRT_SAN, "run", "--sandbox", "off", "--accel", "emu", "--memory", "64M",
            "--firmware", patched_guest(tmp_path, seed, iters) + ",vars=%s" % flash,
            "--disk", "%s,format=raw" % raw, "--disk", "%s,format=qcow2" % qcow2,
            "--disk", "%s,format=raw,if=ide" % ide, "--cdrom", "%s,format=raw" % cd,
            "--net", "user,restrict=on", "--net", "user,restrict=on,model=e1000", "--rng",
            "--vga", vga, "--tablet", "on",
            "--channel", "org.wirt.test,path=%s" % (tmp_path / "chan.sock")]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    what = "seed %d (WIRT_HOSTILE_SEED=%d WIRT_HOSTILE_ITERS=%d)" % (seed, seed, iters)
    print(what)
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("the VMM hung: %s\n%s" % (what, e.stdout)) from None
    assert "runtime error" not in r.stderr and "Sanitizer" not in r.stderr, \
        "%s\n%s" % (what, r.stderr[-6000:])
    assert r.returncode == DONE_STATUS and "hostile io done" in r.stdout, \
        "%s: status %d\n%s\n%s" % (what, r.returncode, r.stdout[-2000:], r.stderr[-4000:])
