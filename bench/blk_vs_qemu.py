#!/usr/bin/env python3
"""virtio-blk inside the guest: wirt's emulator against QEMU's TCG.

Boots the default guest under `wirt run --accel emu --disk` and under
`qemu-system-x86_64 -accel tcg` with a virtio-blk-pci disk (both on a fresh
128 MiB raw file, host page cache on), and runs bench/guest/blkio.c (built
static here and appended to the initramfs) for sequential 1 MiB and random
4 KiB O_DIRECT reads and writes.  Times come from the guest's clock (the
I/O loop only); prints MB/s or IOPS and the wirt/QEMU ratio (above 1 means
wirt is faster).

usage: bench/blk_vs_qemu.py [--quick]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from guest_console import GuestConsole  # noqa: E402

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
APPEND = "console=ttyS0 panic=-1"
PROMPT = "~ # "
DISK_SIZE = 128 << 20


def jobs(quick):
    n = 4 if quick else 1
    return [  # label, mode, block size, count, unit
        ("seq read 1M", "seq-read", 1 << 20, 64 // n, "MB/s"),
        ("seq write 1M", "seq-write", 1 << 20, 64 // n, "MB/s"),
        ("rand read 4K", "rand-read", 4096, 4000 // n, "IOPS"),
        ("rand write 4K", "rand-write", 4096, 4000 // n, "IOPS"),
    ]


def bench_initrd(tmp):
    """The default initramfs with /bin/blkio appended as a second archive."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "bin"))
    subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(root, "bin", "blkio"),
                    os.path.join(ROOT, "bench", "guest", "blkio.c")], check=True)
    extra = os.path.join(tmp, "extra.cpio.gz")
    with open(extra, "wb") as out:
        subprocess.run("find bin | cpio -o -H newc -R 0:0 --quiet | gzip -1",
                       shell=True, cwd=root, stdout=out, check=True)
    initrd = os.path.join(tmp, "initrd-bench.img")
    with open(initrd, "wb") as out:
        out.write(open(INITRD, "rb").read())
        out.write(open(extra, "rb").read())
    return initrd


def measure(argv, quick):
    g = GuestConsole(argv)
    results = {}
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        for label, mode, block, count, unit in jobs(quick):
            out = g.run("blkio /dev/vda %s %d %d" % (mode, block, count), PROMPT,
                        timeout=1800)
            m = re.search(r"blkio \S+: ([0-9.]+) s", out)
            if not m:
                sys.exit("%s failed: %s" % (label, out))
            secs = float(m.group(1))
            results[label] = (block * count / secs / 1e6 if unit == "MB/s"
                              else count / secs, unit)
        g.send("poweroff -f")
        g.wait_exit(60)
    finally:
        g.kill()
    return results


def main():
    quick = "--quick" in sys.argv
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        sys.exit("build the default guest first: make default-guest")
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    with tempfile.TemporaryDirectory() as tmp:
        initrd = bench_initrd(tmp)
        disks = []
        for name in ("wirt.raw", "qemu.raw"):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.truncate(DISK_SIZE)
            disks.append(path)
        w = measure([os.path.join(ROOT, "wirt"), "run", "--accel", "emu",
                     "--memory", "512M", "--kernel", KERNEL, "--initrd", initrd,
                     "--append", APPEND, "--disk", disks[0] + ",format=raw"], quick)
        q = measure([qemu, "-accel", "tcg", "-m", "512", "-kernel", KERNEL,
                     "-initrd", initrd, "-append", APPEND, "-display", "none",
                     "-serial", "stdio", "-monitor", "none", "-nodefaults",
                     "-no-reboot", "-drive",
                     "file=%s,format=raw,if=none,id=d0,cache=writeback" % disks[1],
                     "-device", "virtio-blk-pci,drive=d0"], quick)
    print("%-16s %12s %12s %8s" % ("", "wirt emu", "qemu tcg", "ratio"))
    for k in w:
        print("%-16s %7.1f %-4s %7.1f %-4s %7.2fx" %
              (k, w[k][0], w[k][1], q[k][0], q[k][1], w[k][0] / q[k][0]))


if __name__ == "__main__":
    main()
