#!/usr/bin/env python3
"""Disks inside the guest: wirt's emulator against QEMU's TCG, with
virtio-blk (paravirtual) and IDE (emulated: PIIX3 IDE with bus-master DMA,
on QEMU's pc machine whose IDE is the same PIIX3 function).

Boots the default guest under `wirt run --accel emu --disk` and under
`qemu-system-x86_64 -accel tcg` with a virtio-blk-pci disk (both on a fresh
128 MiB raw file, host page cache on), and runs bench/guest/blkio.c (built
static here and appended to the initramfs) for sequential 1 MiB and random
4 KiB O_DIRECT reads and writes.  Times come from the guest's clock (the
I/O loop only); prints MB/s or IOPS and the wirt/QEMU ratio (above 1 means
wirt is faster).

usage: bench/blk_vs_qemu.py [--quick] [--if virtio|ide|both]

--if both measures each interface under both (four boots) and also prints
the IDE/virtio ratio: the emulated-vs-paravirtual trade-off.
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


def measure(argv, quick, dev):
    g = GuestConsole(argv)
    results = {}
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        for label, mode, block, count, unit in jobs(quick):
            out = g.run("blkio %s %s %d %d" % (dev, mode, block, count), PROMPT,
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


def run_pair(iface, initrd, tmp, qemu, quick):
    """(wirt results, QEMU results) for one disk interface."""
    disks = []
    for name in ("wirt-%s.raw" % iface, "qemu-%s.raw" % iface):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.truncate(DISK_SIZE)
        disks.append(path)
    dev = "/dev/sda" if iface == "ide" else "/dev/vda"
    w = measure([os.path.join(ROOT, "wirt"), "run", "--accel", "emu",
                 "--memory", "512M", "--kernel", KERNEL, "--initrd", initrd,
                 "--append", APPEND, "--disk",
                 disks[0] + ",format=raw" + (",if=ide" if iface == "ide" else "")],
                quick, dev)
    qdisk = ["-drive", "file=%s,format=raw,if=none,id=d0,cache=writeback" % disks[1],
             "-device", "virtio-blk-pci,drive=d0"]
    if iface == "ide":
        qdisk = ["-M", "pc", "-drive", "file=%s,format=raw,if=ide,cache=writeback" % disks[1]]
    q = measure([qemu, "-accel", "tcg", "-m", "512", "-kernel", KERNEL,
                 "-initrd", initrd, "-append", APPEND, "-display", "none",
                 "-serial", "stdio", "-monitor", "none", "-nodefaults",
                 "-no-reboot"] + qdisk, quick, dev)
    return w, q


def print_table(title, w, q):
    print("%-16s %12s %12s %8s" % (title, "wirt emu", "qemu tcg", "ratio"))
    for k in w:
        print("%-16s %7.1f %-4s %7.1f %-4s %7.2fx" %
              (k, w[k][0], w[k][1], q[k][0], q[k][1], w[k][0] / q[k][0]))


def main():
    quick = "--quick" in sys.argv
    iface = sys.argv[sys.argv.index("--if") + 1] if "--if" in sys.argv else "virtio"
    if iface not in ("virtio", "ide", "both"):
        sys.exit("--if: choose virtio, ide or both")
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        sys.exit("build the default guest first: make default-guest")
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        initrd = bench_initrd(tmp)
        for i in (("virtio", "ide") if iface == "both" else (iface,)):
            results[i] = run_pair(i, initrd, tmp, qemu, quick)
    for i, (w, q) in results.items():
        print_table(i, w, q)
    if len(results) == 2:
        print("%-16s %12s %12s" % ("ide/virtio", "wirt", "qemu"))
        for k in results["ide"][0]:
            print("%-16s %11.2fx %11.2fx" % (
                k, results["ide"][0][k][0] / results["virtio"][0][k][0],
                results["ide"][1][k][0] / results["virtio"][1][k][0]))


if __name__ == "__main__":
    main()
