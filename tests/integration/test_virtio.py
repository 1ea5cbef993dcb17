"""PCI and virtio under the emulator, judged by Linux's own drivers: the
default guest finds virtio-blk disks (raw read-write with a serial, qcow2
read-only) and virtio-rng; writes through dd reach the host file after
sync and power-off; the read-only disk refuses writes; discard
reaches the image; /dev/hwrng delivers bytes; a disk given without its
format (guessed raw) refuses the guest's write of an image header into
its first sector and stays raw.  A second boot
puts the shell on virtio-console (hvc0) with a named port, and uses
legacy INTx interrupts instead of MSI-X.  One boot serves each group:
booting Linux under the emulator takes a while."""
import hashlib
import os
import socket
import subprocess
import time

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
BOOT_TIMEOUT = 600
PROMPT = "~ # "
DISK_SIZE = 32 << 20
SERIAL = "wirt-disk-a"
# dd writes a 1 MiB pattern (pattern_bytes) at 4 MiB into the read-write disk.
PATTERN_OFFSET = 4 << 20


def pattern_bytes():
    return b"".join(b"wirt-virtio-blk-%015d\n" % i for i in range(1 << 15))


def ro_contents():
    """Deterministic data for the read-only qcow2 disk (2 MiB)."""
    return b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(1 << 16))


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    d = tmp_path_factory.mktemp("virtio")
    rw = d / "rw.raw"
    with open(rw, "wb") as f:
        f.truncate(DISK_SIZE)
        # Something for discard and write-zeroes to clear.
        f.seek(8 << 20)
        f.write(b"\xa5" * (1 << 20))
    raw_src = d / "ro-src.raw"
    data = ro_contents()
    with open(raw_src, "wb") as f:
        f.write(data)
        f.truncate(DISK_SIZE)
    guessed = d / "guessed.raw"
    with open(guessed, "wb") as f:
        f.truncate(DISK_SIZE)
    ro = d / "ro.qcow2"
    r = subprocess.run([WIRT, "img", "convert", "-O", "qcow2", str(raw_src), str(ro)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return {"dir": d, "rw": rw, "ro": ro, "guessed": guessed, "ro_md5": hashlib.md5(data).hexdigest(),
            "ro_sha_before": hashlib.sha256(open(ro, "rb").read()).hexdigest()}


@pytest.fixture(scope="module")
def guest(disks):
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        pytest.fail("the default guest is not built: run make default-guest")
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--kernel", KERNEL, "--initrd", INITRD,
                      "--append", "console=ttyS0 panic=-1",
                      "--disk", "%s,format=raw,serial=%s" % (disks["rw"], SERIAL),
                      "--disk", "%s,readonly=on" % disks["ro"],
                      "--disk", str(disks["guessed"]),
                      "--rng"], str(disks["dir"] / "console.log"))
    try:
        g.expect("wirt-guest: ready", BOOT_TIMEOUT)
        g.expect(PROMPT, 120)
        yield g
    finally:
        g.kill()


def test_pci_devices_found(guest):
    out = guest.run("cat /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device")
    ids = out.split()
    assert ids.count("0x1af4") == 4, out
    assert ids.count("0x1042") == 3 and "0x1044" in ids, out
    # MSI-X is in use: one vector per queue plus the configuration vector.
    assert "virtio0-req.0" in guest.run("cat /proc/interrupts")


def test_disks_sizes_and_serial(guest):
    assert guest.run("cat /sys/block/vda/size").strip() == str(DISK_SIZE // 512)
    assert guest.run("cat /sys/block/vdb/size").strip() == str(DISK_SIZE // 512)
    assert guest.run("cat /sys/block/vda/serial; echo").strip() == SERIAL
    assert guest.run("cat /sys/block/vda/ro /sys/block/vdb/ro").split() == ["0", "1"]


def test_qcow2_disk_reads_back(guest, disks):
    out = guest.run("dd if=/dev/vdb bs=65536 count=32 2>/dev/null | md5sum")
    assert disks["ro_md5"] in out, out


def test_readonly_disk_refuses_writes(guest):
    out = guest.run("dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct"
                    " 2>&1; echo status=$?")
    assert "status=0" not in out, out


def test_guessed_raw_disk_refuses_an_image_header(guest, disks):
    """A guest writing a qcow2 header into a disk whose format wirt
    guessed would make the next start open it as qcow2, with a backing
    file of the guest's choosing: refused (EIO in the guest).  Other
    writes to the first sector (a partition table) go through."""
    out = guest.run("printf 'QFI\\373' | dd of=/dev/vdc bs=512 conv=sync,fsync"
                    " 2>&1; echo status=$?")
    assert "status=0" not in out, out
    out = guest.run("printf 'not an image header' | dd of=/dev/vdc bs=512 conv=sync,fsync"
                    " 2>&1; echo status=$?")
    assert "status=0" in out, out
    with open(disks["guessed"], "rb") as f:
        assert f.read(19) == b"not an image header"
    r = subprocess.run([WIRT, "img", "info", "-U", str(disks["guessed"])],
                       capture_output=True, text=True)
    assert "file format: raw" in r.stdout, r.stdout + r.stderr


def test_hwrng_delivers_bytes(guest):
    assert "virtio_rng" in guest.run("cat /sys/class/misc/hw_random/rng_current")
    # (Short commands: the shell's echo of a long one wraps.)
    assert guest.run("head -c 4096 /dev/hwrng | wc -c").strip() == "4096"
    first = guest.run("head -c 32 /dev/hwrng | md5sum")
    second = guest.run("head -c 32 /dev/hwrng | md5sum")
    assert len(first.split()[0]) == 32 and first != second


def test_write_pattern_discard_zeroes(guest):
    # The pattern is generated inside the guest the same way as on the host.
    guest.run("i=0; while [ $i -lt 32768 ]; do printf 'wirt-virtio-blk-%015d\\n' $i;"
              " i=$((i+1)); done > /tmp/pattern", timeout=600)
    assert guest.run("wc -c < /tmp/pattern").strip() == str(1 << 20)
    out = guest.run("dd if=/tmp/pattern of=/dev/vda bs=65536 seek=64 conv=fsync"
                    " 2>&1; echo status=$?")
    assert "status=0" in out, out
    # Discard 1 MiB at 8 MiB: the raw file gets a hole there.
    out = guest.run("blkdiscard -o 8388608 -l 1048576 /dev/vda; echo status=$?")
    assert "status=0" in out, out
    assert guest.run("sync; echo done").strip() == "done"


def test_poweroff_keeps_the_data(guest, disks):
    guest.send("poweroff -f")
    assert guest.wait_exit(120) == 0
    data = open(disks["rw"], "rb").read()
    assert data[PATTERN_OFFSET:PATTERN_OFFSET + (1 << 20)] == pattern_bytes()
    # Discarded range of a raw file reads as zeros (punched hole).
    assert data[8 << 20:9 << 20] == bytes(1 << 20)
    # The read-only image was not modified.
    assert hashlib.sha256(open(disks["ro"], "rb").read()).hexdigest() == \
        disks["ro_sha_before"]


def test_virtio_console_channel_and_intx(tmp_path):
    """The shell on hvc0, a named port whose host end is a unix socket, and
    (with pci=nomsi) legacy INTx interrupts routed by the ACPI _PRT."""
    sock_path = str(tmp_path / "channel.sock")
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", INITRD, "--rng",
                      "--console", "virtio", "--append", "console=hvc0 pci=nomsi panic=-1",
                      "--channel", "org.wirt.test,path=" + sock_path],
                     str(tmp_path / "console.log"))
    try:
        g.expect("wirt-guest: ready", BOOT_TIMEOUT)
        g.expect(PROMPT, 120)
        assert g.run("tty").strip() == "/dev/hvc0"
        assert "hvc0" in g.run("cat /proc/consoles")
        assert g.run("echo $((6 * 7))").strip() == "42"
        # No MSI-X: both devices interrupt through IOAPIC pins 16-19.
        irqs = g.run("grep virtio /proc/interrupts")
        assert irqs.count("IO-APIC") == 2 and "fasteoi" in irqs, irqs
        assert g.run("head -c 64 /dev/hwrng | wc -c").strip() == "64"
        # The named port, both directions.
        assert g.run("cat /sys/class/virtio-ports/vport0p1/name").strip() == \
            "org.wirt.test"
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
        s.settimeout(30)
        time.sleep(1)
        g.run("echo from-guest > /dev/vport0p1")
        got = b""
        while not got.endswith(b"\n"):
            got += s.recv(100)
        assert got == b"from-guest\n"
        g.send("head -n 1 /dev/vport0p1")
        time.sleep(2)
        s.sendall(b"from-host\n")
        assert "from-host" in g.expect(PROMPT, 60)
        s.close()
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        g.kill()
