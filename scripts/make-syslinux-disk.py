#!/usr/bin/env python3
r"""make-syslinux-disk.py - a disk image as an installer leaves it, made
without root or loop devices: SYSLINUX's MBR, an active FAT16 boot
partition at 1 MiB holding SYSLINUX (installed with the mtools-based
`syslinux --offset`), a kernel, an initrd and a syslinux.cfg that boots
them with the serial console on COM1 — and, with --root-image, a second
(Linux) partition holding that filesystem image.

  make-syslinux-disk.py --kernel K --initrd I [--append CMDLINE]
                        [--root-image FS.img] [--boot-mib 64] OUT
  make-syslinux-disk.py --efi [--mbr] --kernel K --initrd I [--append CMDLINE]
                        [--boot-mib 32] OUT

With --efi it makes the UEFI variant instead: a GPT disk (--mbr: an MBR
one, type EFh) whose one partition is an EFI system partition (FAT16)
holding the
kernel (an EFI-stub binary, as Debian's are) as \EFI\Linux\vmlinuz.efi,
the initrd, and a startup.nsh with which the UEFI shell starts the
kernel with its command line (a kernel booted from \EFI\BOOT\BOOTX64.EFI
would get no command line).

Needs Debian's syslinux, syslinux-common, mtools and dosfstools (--efi:
mtools and dosfstools).  Used by scripts/build-debian-disk.sh and by the
firmware tests."""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import uuid
import zlib

MBR_CODE = "/usr/lib/syslinux/mbr/mbr.bin"
SECTOR = 512
FIRST = 2048                    # partitions start at 1 MiB
FAT16_LBA, LINUX, EFI_SYSTEM = 0x0e, 0x83, 0xef


def missing_tools(efi=False):
    """A line naming what is missing, or None."""
    for tool in ("mcopy", "mkfs.fat") if efi else ("syslinux", "mcopy", "mkfs.fat"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            return "%s not installed (apt-get install syslinux mtools dosfstools)" % tool
    if not efi and not os.path.exists(MBR_CODE):
        return "%s missing (apt-get install syslinux-common)" % MBR_CODE
    return None


def partition_entry(active, ptype, start, count):
    # CHS fields say "use LBA" (all ones), as for disks beyond 8 GiB.
    return struct.pack("<B3sB3sII", 0x80 if active else 0, b"\xfe\xff\xff",
                       ptype, b"\xfe\xff\xff", start, count)


def run(argv):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit("make-syslinux-disk: %s failed: %s" % (argv[0], r.stderr.strip()))


def make_disk(out, kernel, initrd, append, root_image=None, boot_mib=64):
    boot_sectors = (boot_mib << 20) // SECTOR
    root_start = FIRST + boot_sectors
    root_sectors = 0
    if root_image:
        root_sectors = -(-os.path.getsize(root_image) // SECTOR)
    total = root_start + root_sectors
    mbr = bytearray(open(MBR_CODE, "rb").read()[:440])
    mbr += bytes(446 - len(mbr))
    mbr += partition_entry(True, FAT16_LBA, FIRST, boot_sectors)
    mbr += partition_entry(False, LINUX, root_start, root_sectors) if root_image \
        else bytes(16)
    mbr += bytes(32) + b"\x55\xaa"
    with open(out, "wb") as f:
        f.write(mbr)
        f.truncate(total * SECTOR)
    run(["mkfs.fat", "-F", "16", "-n", "BOOT", "--offset", str(FIRST), out,
         str(boot_sectors * SECTOR // 1024)])
    run(["syslinux", "--offset", str(FIRST * SECTOR), "--install", out])
    cfg = out + ".syslinux.cfg"
    with open(cfg, "w") as f:
        f.write("SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\n"
                "LABEL linux\n  KERNEL vmlinuz\n  INITRD initrd.img\n"
                "  APPEND %s\n" % append)
    try:
        for src, name in ((kernel, "vmlinuz"), (initrd, "initrd.img"),
                          (cfg, "syslinux.cfg")):
            run(["mcopy", "-i", "%s@@%d" % (out, FIRST * SECTOR), src, "::/" + name])
    finally:
        os.unlink(cfg)
    if root_image:
        # Sparse copy: skip the image's holes, as cp --sparse does.
        with open(root_image, "rb") as src, open(out, "r+b") as dst:
            off = 0
            while True:
                block = src.read(1 << 20)
                if not block:
                    break
                if block.count(0) != len(block):
                    dst.seek(root_start * SECTOR + off)
                    dst.write(block)
                off += len(block)
    return out


def fat_copy(out, files):
    """Copy {source: "::/DIR/NAME"} into the FAT file system at FIRST."""
    image = "%s@@%d" % (out, FIRST * SECTOR)
    dirs = sorted({d.rsplit("/", 1)[0] for d in files.values()} - {"::"})
    for d in dirs:
        parts = d[3:].split("/")
        for i in range(len(parts)):
            run(["mmd", "-D", "s", "-i", image, "::/" + "/".join(parts[:i + 1])])
    for src, dst in files.items():
        run(["mcopy", "-i", image, src, dst])


ESP_TYPE = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
GPT_ENTRIES, GPT_ENTRY_SIZE = 128, 128
GPT_ENTRY_SECTORS = GPT_ENTRIES * GPT_ENTRY_SIZE // SECTOR


def gpt_header(current, backup, entries_lba, total, disk_guid, entries_crc):
    """A GPT header sector (UEFI spec, "GUID Partition Table")."""
    fields = [b"EFI PART", 0x00010000, 92, 0, 0, current, backup,
              2 + GPT_ENTRY_SECTORS, total - 2 - GPT_ENTRY_SECTORS,
              disk_guid.bytes_le, entries_lba, GPT_ENTRIES, GPT_ENTRY_SIZE,
              entries_crc]
    fmt = "<8sIIIIQQQQ16sQIII"
    crc = zlib.crc32(struct.pack(fmt, *fields))
    fields[3] = crc
    return struct.pack(fmt, *fields).ljust(SECTOR, b"\0")


def write_gpt(f, total, first, count, name):
    """Protective MBR, primary and backup GPT with one ESP partition."""
    mbr = bytearray(446)
    mbr += partition_entry(False, 0xee, 1, min(total - 1, 0xffffffff))
    mbr += bytes(48) + b"\x55\xaa"
    entry = struct.pack("<16s16sQQQ72s", ESP_TYPE.bytes_le, uuid.uuid4().bytes_le,
                        first, first + count - 1, 0, name.encode("utf-16-le"))
    entries = entry.ljust(GPT_ENTRIES * GPT_ENTRY_SIZE, b"\0")
    crc = zlib.crc32(entries)
    disk = uuid.uuid4()
    f.write(mbr)
    f.write(gpt_header(1, total - 1, 2, total, disk, crc))
    f.write(entries)
    f.seek((total - 1 - GPT_ENTRY_SECTORS) * SECTOR)
    f.write(entries)
    f.write(gpt_header(total - 1, 1, total - 1 - GPT_ENTRY_SECTORS, total, disk, crc))


def make_esp_disk(out, kernel, initrd, append, boot_mib=32, gpt=True):
    """A GPT (or MBR) disk whose EFI system partition boots kernel
    through the UEFI shell's startup.nsh (see the module's comment)."""
    boot_sectors = (boot_mib << 20) // SECTOR
    total = FIRST + boot_sectors + (GPT_ENTRY_SECTORS + 1 if gpt else 0)
    with open(out, "wb") as f:
        f.truncate(total * SECTOR)
        if gpt:
            write_gpt(f, total, FIRST, boot_sectors, "EFI system partition")
        else:
            f.write(bytes(446) + partition_entry(False, EFI_SYSTEM, FIRST, boot_sectors)
                    + bytes(48) + b"\x55\xaa")
    run(["mkfs.fat", "-F", "16", "-n", "ESP", "--offset", str(FIRST), out,
         str(boot_sectors * SECTOR // 1024)])
    nsh = out + ".startup.nsh"
    with open(nsh, "w") as f:
        # fs0: is the first file system the shell maps: this partition.
        f.write("fs0:\r\n\\EFI\\Linux\\vmlinuz.efi initrd=\\EFI\\Linux\\initrd.img %s\r\n"
                % append)
    try:
        fat_copy(out, {kernel: "::/EFI/Linux/vmlinuz.efi",
                       initrd: "::/EFI/Linux/initrd.img",
                       nsh: "::/startup.nsh"})
    finally:
        os.unlink(nsh)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kernel", required=True)
    p.add_argument("--initrd", required=True)
    p.add_argument("--append", default="console=ttyS0")
    p.add_argument("--root-image")
    p.add_argument("--boot-mib", type=int, default=64)
    p.add_argument("--efi", action="store_true",
                   help="an EFI system partition booted through startup.nsh")
    p.add_argument("--mbr", action="store_true",
                   help="with --efi: an MBR partition table instead of GPT")
    p.add_argument("out")
    a = p.parse_args()
    why = missing_tools(a.efi)
    if why:
        sys.exit("make-syslinux-disk: " + why)
    for f in (a.kernel, a.initrd, a.root_image):
        if f and not os.path.isfile(f):
            sys.exit("make-syslinux-disk: no such file: %s" % f)
    if not 8 <= a.boot_mib <= 1024:
        sys.exit("make-syslinux-disk: --boot-mib: give 8 to 1024")
    if a.efi:
        if a.root_image:
            sys.exit("make-syslinux-disk: --efi takes no --root-image")
        make_esp_disk(a.out, a.kernel, a.initrd, a.append, a.boot_mib, not a.mbr)
    else:
        make_disk(a.out, a.kernel, a.initrd, a.append, a.root_image, a.boot_mib)


if __name__ == "__main__":
    main()
