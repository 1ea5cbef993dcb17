#!/usr/bin/env python3
"""Seed corpora for the disk-image fuzz targets.

Usage: make_seeds.py WIRT OUTDIR

Makes small images of every format and flavour with `wirt img` and, where
Debian's qemu-utils is installed, with qemu-img and qemu-io, and puts them
in OUTDIR/{qcow2,vmdk,vdi,probe}.  Small clusters keep the inputs small, so
the fuzzer spends its time on metadata rather than on zero-filled data.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def pattern(n, seed):
    return bytes((i * 7 + seed * 13 + (i >> 9)) & 0xff for i in range(n))


class Seeds:
    def __init__(self, wirt, out, tmp):
        self.wirt, self.out, self.tmp = wirt, out, tmp
        self.qemu = shutil.which("qemu-img") and shutil.which("qemu-io")
        for d in ("qcow2", "vmdk", "vdi", "probe"):
            os.makedirs(os.path.join(out, d), exist_ok=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def keep(self, fmt, name, probe=False):
        shutil.copy(self.path(name), os.path.join(self.out, fmt, name))
        if probe:
            shutil.copy(self.path(name), os.path.join(self.out, "probe", name))

    def wirt_write(self, name, off, data):
        src = self.path("data.bin")
        with open(src, "wb") as f:
            f.write(data)
        run(self.wirt, "img", "write", self.path(name), str(off), src)

    def wirt_image(self, fmt, name, size, opts, writes):
        cmd = [self.wirt, "img", "create", "-f", fmt]
        if opts:
            cmd += ["-o", opts]
        run(*cmd, self.path(name), str(size))
        for i, (off, n) in enumerate(writes):
            self.wirt_write(name, off, pattern(n, i))

    def qemu_image(self, fmt, name, size, opts, writes, backing=None):
        cmd = ["qemu-img", "create", "-q", "-f", fmt]
        if opts:
            cmd += ["-o", opts]
        if backing:
            cmd += ["-b", backing, "-F", "raw"]
        run(*cmd, self.path(name), str(size))
        for i, (off, n) in enumerate(writes):
            run("qemu-io", "-f", fmt, "-c",
                "write -P 0x%02x %d %d" % (0x11 * (i + 1), off, n),
                self.path(name))

    def qcow2(self):
        w = [(0, 1000), (5000, 3000), (40000, 512)]
        self.wirt_image("qcow2", "w-512.qcow2", 65536, "cluster_size=512", w)
        self.keep("qcow2", "w-512.qcow2", probe=True)
        self.wirt_image("qcow2", "w-v2.qcow2", 65536,
                        "cluster_size=512,compat=0.10", w)
        self.keep("qcow2", "w-v2.qcow2")
        for bits in (1, 64):
            name = "w-rc%d.qcow2" % bits
            self.wirt_image("qcow2", name, 65536,
                            "cluster_size=512,refcount_bits=%d" % bits, w)
            self.keep("qcow2", name)
        self.wirt_image("qcow2", "w-zstd.qcow2", 1 << 20,
                        "cluster_size=1K,compression_type=zstd", w)
        self.keep("qcow2", "w-zstd.qcow2")
        run(self.wirt, "img", "snapshot", "-c", "snap",
            self.path("w-512.qcow2"))
        self.wirt_write("w-512.qcow2", 0, pattern(700, 9))
        os.rename(self.path("w-512.qcow2"), self.path("w-snap.qcow2"))
        self.keep("qcow2", "w-snap.qcow2")
        if not self.qemu:
            return
        self.qemu_image("qcow2", "q-512.qcow2", 65536, "cluster_size=512", w)
        self.keep("qcow2", "q-512.qcow2")
        self.qemu_image("qcow2", "q-lazy.qcow2", 65536,
                        "cluster_size=512,lazy_refcounts=on", w)
        self.keep("qcow2", "q-lazy.qcow2")
        self.qemu_image("qcow2", "q-extl2.qcow2", 1 << 20,
                        "cluster_size=16K,extended_l2=on", [(0, 1024), (20480, 4096)])
        self.keep("qcow2", "q-extl2.qcow2")
        # Its own backing file: names resolve in the fuzzer's directory,
        # where the read-only image is called "image".
        with open(self.path("image"), "wb") as f:
            f.write(pattern(65536, 2))
        self.qemu_image("qcow2", "q-back.qcow2", 65536, "cluster_size=512",
                        [(512, 512)], backing="image")
        self.keep("qcow2", "q-back.qcow2")
        with open(self.path("r.raw"), "wb") as f:
            f.write(pattern(8192, 3))
        run("qemu-img", "convert", "-c", "-O", "qcow2", "-o",
            "cluster_size=512", self.path("r.raw"), self.path("q-comp.qcow2"))
        self.keep("qcow2", "q-comp.qcow2")
        run("qemu-img", "snapshot", "-c", "s1", self.path("q-512.qcow2"))
        run("qemu-io", "-c", "write -P 0x77 0 1024", self.path("q-512.qcow2"))
        os.rename(self.path("q-512.qcow2"), self.path("q-snap.qcow2"))
        self.keep("qcow2", "q-snap.qcow2")

    def vmdk(self):
        w = [(0, 1000), (9000, 5000)]
        self.wirt_image("vmdk", "w-4k.vmdk", 65536, "cluster_size=4K", w)
        self.keep("vmdk", "w-4k.vmdk", probe=True)
        if not self.qemu:
            return
        self.qemu_image("vmdk", "q.vmdk", 1 << 20, None, [(0, 512)])
        self.keep("vmdk", "q.vmdk")
        with open(self.path("r.raw"), "wb") as f:
            f.write(pattern(4096, 5) + bytes(60000) + pattern(1000, 6))
        run("qemu-img", "convert", "-O", "vmdk", "-o",
            "subformat=streamOptimized", self.path("r.raw"),
            self.path("q-stream.vmdk"))
        self.keep("vmdk", "q-stream.vmdk")

    def compact_vdi(self, name):
        """Move the data blocks right behind the block map."""
        with open(self.path(name), "rb") as f:
            img = bytearray(f.read())
        off_bmap, off_data = struct.unpack_from("<II", img, 340)
        blocks, = struct.unpack_from("<I", img, 384)
        new = (off_bmap + blocks * 4 + 511) // 512 * 512
        img = img[:new] + img[off_data:]
        struct.pack_into("<I", img, 344, new)
        with open(self.path(name), "wb") as f:
            f.write(img)

    def vdi(self):
        w = [(0, 1000), (9000, 5000)]
        self.wirt_image("vdi", "w-4k.vdi", 65536, "cluster_size=4K", w)
        self.compact_vdi("w-4k.vdi")
        self.keep("vdi", "w-4k.vdi", probe=True)
        self.wirt_image("vdi", "w-fixed.vdi", 16384,
                        "cluster_size=4K,static=on", [(100, 200)])
        self.compact_vdi("w-fixed.vdi")
        self.keep("vdi", "w-fixed.vdi")
        if not self.qemu:
            return
        self.qemu_image("vdi", "q.vdi", 1 << 20, None, [])
        self.keep("vdi", "q.vdi")

    def probe(self):
        with open(os.path.join(self.out, "probe", "raw.img"), "wb") as f:
            f.write(pattern(4096, 1))


def main():
    wirt, out = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        s = Seeds(os.path.abspath(wirt), out, tmp)
        s.qcow2()
        s.vmdk()
        s.vdi()
        s.probe()


if __name__ == "__main__":
    main()
