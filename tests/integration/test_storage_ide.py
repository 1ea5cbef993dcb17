"""Emulated storage: the IDE controller (hw/ide.c) with ATA disks and an
ATAPI CD-ROM, driven by real clients — SeaBIOS booting an isolinux ISO
through El Torito and a SYSLINUX disk, Linux's ata_piix, sd and sr
drivers reading and writing them — and by a tiny guest that gets every
command wrong on purpose.  Also --boot order= and bootindex= as SeaBIOS
reads them from fw_cfg's bootorder."""
import gzip
import hashlib
import os
import shutil
import subprocess

import pytest

from conftest import WIRT, guest_path, kvm_skip_reason, run_wirt
from test_firmware import (GUEST_INITRD, GUEST_KERNEL, SEABIOS, make_syslinux_disk,
                           needs_seabios, run_until, syslinux_tools_missing)

TEST_INITRD = os.path.join(os.path.dirname(WIRT), "build", "guest-programs",
                           "test-initrd.img")
ISOLINUX_BIN = "/usr/lib/ISOLINUX/isolinux.bin"
LDLINUX_C32 = "/usr/lib/syslinux/modules/bios/ldlinux.c32"


def iso_tools_missing():
    if not shutil.which("xorriso"):
        return "xorriso not installed (apt-get install xorriso)"
    if not os.path.exists(ISOLINUX_BIN):
        return "%s missing (apt-get install isolinux)" % ISOLINUX_BIN
    if not os.path.exists(LDLINUX_C32):
        return "%s missing (apt-get install syslinux-common)" % LDLINUX_C32
    return None


def make_iso(path, files, bootable=True, append="console=ttyS0"):
    """An ISO 9660 image of files ({name: source path}); bootable: with
    isolinux (El Torito, no emulation) booting the default guest."""
    root = str(path) + ".d"
    os.makedirs(root)
    for name, src in files.items():
        shutil.copy(src, os.path.join(root, name))
    args = ["xorriso", "-as", "mkisofs", "-quiet", "-o", str(path), "-R", "-J"]
    if bootable:
        os.makedirs(os.path.join(root, "isolinux"))
        for src in (ISOLINUX_BIN, LDLINUX_C32):
            shutil.copy(src, os.path.join(root, "isolinux"))
        with open(os.path.join(root, "isolinux", "isolinux.cfg"), "w") as f:
            f.write("SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\n"
                    "LABEL linux\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.img %s\n"
                    % append)
        args += ["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
                 "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"]
    subprocess.run(args + [root], check=True, capture_output=True)
    return str(path)


def guest_has_ide_modules():
    """The default guest loads ata_piix, sd_mod and sr_mod (scripts/build-guest.sh)."""
    try:
        data = gzip.open(GUEST_INITRD).read()
    except OSError:
        return False
    return all(m in data for m in (b"lib/modules/ata_piix.ko", b"lib/modules/sr_mod.ko",
                                   b"lib/modules/isofs.ko"))


def md5(path, length=None):
    with open(path, "rb") as f:
        return hashlib.md5(f.read(length) if length else f.read()).hexdigest()


@needs_seabios
def test_seabios_boots_the_cdrom_and_linux_uses_ide_disk_and_cdrom(tmp_path):
    """One Linux boot for everything Linux checks: SeaBIOS boots an
    isolinux ISO from --cdrom (--boot order=dc puts it before the IDE
    disk) to the default guest's shell; there ata_piix finds the disk and
    the CD-ROM; the disk reads back what the host wrote, the guest's
    writes (DMA) reach the image once it syncs, the CD's file matches the
    host's and ejecting empties the drive."""
    missing = iso_tools_missing()
    if missing:
        pytest.skip(missing)
    if not os.path.exists(TEST_INITRD):
        pytest.fail("%s is not built: run make test-initrd" % TEST_INITRD)
    if not guest_has_ide_modules():
        pytest.skip("the default guest has no IDE modules: run make default-guest "
                    "(scripts/build-guest.sh adds ata_piix, sd_mod, sr_mod, isofs)")
    from guest_console import GuestConsole
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(300 * 1024 + 123))
    # The default guest with the test programs (cdrom_tray) appended.
    iso = make_iso(tmp_path / "boot.iso", {"vmlinuz": GUEST_KERNEL,
                                           "initrd.img": TEST_INITRD,
                                           "payload.bin": str(payload)},
                   append="console=ttyS0 cryptomgr.notests")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(os.urandom(4 << 20))
    before = md5(disk)
    log = tmp_path / "debugcon.log"
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--firmware", "bios",
                      "--debugcon", str(log), "--boot", "order=dc",
                      "--disk", "%s,format=raw,if=ide" % disk, "--cdrom", iso],
                     str(tmp_path / "console.log"))
    try:
        out = g.expect("ISOLINUX", 120)
        assert "Booting from DVD/CD" in out, out[-2000:]
        g.expect("wirt-guest: ready", 600)
        g.expect("~ # ", 120)
        text = open(log, errors="replace").read()
        assert "1: /pci@i0cf8/ide@1/drive@0/disk@1\n2: /pci@i0cf8/ide@1/drive@0/disk@0" \
            in text, text[:3000]
        dmesg = g.run("dmesg | grep -E 'ata[12]|sd |sr '")
        assert "ATA-7: WIRT HARDDISK" in dmesg and "ATAPI: WIRT DVD-ROM" in dmesg, dmesg
        assert "bmdma 0x" in dmesg, dmesg
        assert g.run("cat /sys/block/sda/size").strip() == str(4 << 11)
        assert g.run("md5sum /dev/sda").split()[0] == before
        # The guest writes 1 MiB at 1 MiB through the page cache, syncs
        # (FLUSH CACHE), and the image holds it.
        g.run("dd if=/dev/urandom of=/tmp/w bs=1024 count=1024 2>/dev/null")
        sent = g.run("md5sum /tmp/w").split()[0]
        g.run("dd if=/tmp/w of=/dev/sda bs=1024 seek=1024 conv=fsync 2>/dev/null")
        with open(disk, "rb") as f:
            f.seek(1 << 20)
            assert hashlib.md5(f.read(1 << 20)).hexdigest() == sent
        # Read back past the cache: O_DIRECT-like through drop_caches.
        g.run("echo 3 > /proc/sys/vm/drop_caches")
        assert g.run("dd if=/dev/sda bs=1024 skip=1024 count=1024 2>/dev/null | md5sum"
                     ).split()[0] == sent
        # The CD-ROM: the ISO's file as the host has it.
        g.run("mount -t iso9660 -o ro /dev/sr0 /mnt")
        assert g.run("md5sum /mnt/payload.bin").split()[0] == md5(payload)
        assert g.run("cat /sys/block/sr0/size").strip() == \
            str(os.path.getsize(iso) // 512)
        g.run("umount /mnt")
        # Eject (START STOP UNIT): the drive reports its tray open and
        # reads fail until the tray is closed again (Linux would close it
        # on open: autoclose off); locked by a mount, it refuses.
        assert g.run("cdrom_tray /dev/sr0 status") == "disc ok"
        g.run("echo 0 > /proc/sys/dev/cdrom/autoclose")
        assert g.run("cdrom_tray /dev/sr0 open") == "tray open"
        out = g.run("dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>&1; echo rc=$?")
        assert "rc=0" not in out, out
        assert g.run("cdrom_tray /dev/sr0 close") == "disc ok"
        out = g.run("dd if=/dev/sr0 bs=2048 count=1 skip=16 2>/dev/null | od -c | head -1")
        assert "C   D   0   0   1" in out, out
    finally:
        g.kill()


@needs_seabios
def test_seabios_boots_syslinux_from_an_ide_disk_by_bootindex(tmp_path):
    """SeaBIOS reads a SYSLINUX disk over IDE (its ATA driver, PIO) and
    loads the kernel from it; bootindex=0 puts the disk before the
    bootable CD that --boot order=dc names first."""
    missing = syslinux_tools_missing() or iso_tools_missing()
    if missing:
        pytest.skip(missing)
    disk = make_syslinux_disk(tmp_path / "boot.img", GUEST_KERNEL, GUEST_INITRD,
                              append="console=ttyS0 panic=-1", size_mib=32)
    iso = make_iso(tmp_path / "boot.iso", {"vmlinuz": GUEST_KERNEL,
                                           "initrd.img": GUEST_INITRD})
    out, _, status, err = run_until(
        ["run", "--accel", "emu", "--firmware", "bios", "--boot", "order=dc",
         "--cdrom", iso, "--disk", disk + ",format=raw,if=ide,bootindex=0"],
        lambda out, log: "Linux version" in out, timeout=240)
    assert "Booting from Hard Disk" in out, out[-2000:] + err
    assert "SYSLINUX" in out and "ISOLINUX" not in out, out[-2000:]
    assert "Linux version" in out, out[-2000:] + err
    assert status is None, err


@needs_seabios
def test_a_cd_that_is_not_bootable_gives_no_bootable_device(tmp_path):
    """An ISO without El Torito: SeaBIOS says so and wirt keeps running."""
    missing = iso_tools_missing()
    if missing:
        pytest.skip(missing)
    data = tmp_path / "data.bin"
    data.write_bytes(b"not a boot record\n" * 100)
    iso = make_iso(tmp_path / "data.iso", {"data.bin": str(data)}, bootable=False)
    out, _, status, err = run_until(
        ["run", "--accel", "emu", "--firmware", "bios", "--cdrom", iso],
        lambda out, log: "No bootable device" in out, timeout=60)
    assert "Booting from DVD/CD" in out and "Could not read from CDROM" in out, out
    assert "No bootable device" in out, out
    assert status is None, err


def test_hostile_guest_gets_failed_commands(tmp_path):
    """tests/guests/ide_hostile.S: bad LBAs, PRD tables and buffers outside
    RAM, a short PRD table, unknown commands, a reset mid-transfer, bad
    packet commands with their sense data; wirt keeps running."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"".join(bytes([n + 1]) * 512 for n in range(16)))
    cd = tmp_path / "cd.iso"
    cd.write_bytes(bytes(2048 * 8))
    for accel in ("emu", "emu,jit=off"):
        run_hostile(accel, disk, cd)


def run_hostile(accel, disk, cd):
    r = run_wirt(["run", "--accel", accel, "--memory", "512M",
                  "--firmware", guest_path("ide_hostile"),
                  "--disk", "%s,format=raw,if=ide" % disk,
                  "--cdrom", "%s,format=raw" % cd], timeout=60)
    assert r.stdout.endswith("still running, pio read ok\n"), r.stdout + r.stderr
    assert r.returncode == 33, r.stderr


def test_hostile_guest_under_kvm(tmp_path):
    """The same under KVM: the device model does not know the accelerator."""
    reason = kvm_skip_reason()
    if reason:
        pytest.skip(reason)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"".join(bytes([n + 1]) * 512 for n in range(16)))
    cd = tmp_path / "cd.iso"
    cd.write_bytes(bytes(2048 * 8))
    run_hostile("kvm", disk, cd)


@pytest.mark.parametrize("args, message", [
    (["--boot", "order=d", "--disk", "DISK,if=ide"], "'d' names nothing: this VM has no CD-ROM"),
    (["--boot", "order=c", "--cdrom", "DISK"], "'c' names nothing: this VM has no hard disk"),
    (["--boot", "order=n", "--disk", "DISK"], "network card with a boot ROM"),
    (["--boot", "order=x"], "--boot 'order=x': give order=LETTERS"),
    (["--boot", "dc"], "--boot 'dc': give order=LETTERS"),
    (["--disk", "DISK,if=scsi"], "bad option 'if=scsi'"),
    (["--disk", "DISK,bootindex=1", "--cdrom", "OTHER,bootindex=1"], "bootindex=1 is given to two"),
    (["--disk", "DISK,media=cdrom"], "a CD-ROM drive is on IDE"),
    (["--disk", "DISK,if=ide"] * 5, "at most 4 drives"),
])
def test_bad_storage_options_are_clear_errors(tmp_path, args, message):
    disk, other = tmp_path / "d.raw", tmp_path / "o.raw"
    disk.write_bytes(bytes(1 << 20))
    other.write_bytes(bytes(1 << 20))
    args = [a.replace("DISK", str(disk)).replace("OTHER", str(other)) for a in args]
    r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("hello")] + args)
    assert r.returncode in (1, 2) and message in r.stderr, r.stderr


def test_boot_without_firmware_is_refused(tmp_path):
    r = run_wirt(["run", "--kernel", GUEST_KERNEL, "--boot", "order=c"])
    assert r.returncode == 2 and "only firmware reads a boot order" in r.stderr, r.stderr


def test_cdrom_in_a_config_file(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text('{"firmware": "bios", "cdrom": ["a.iso"], "boot": "order=d"}')
    r = run_wirt(["run", "--config", str(cfg), "--cdrom", "b.iso", "--print-config"])
    assert r.returncode == 0, r.stderr
    assert '"cdrom": [' in r.stdout and "a.iso" in r.stdout and "b.iso" in r.stdout, r.stdout
    assert '"boot": "order=d"' in r.stdout, r.stdout
