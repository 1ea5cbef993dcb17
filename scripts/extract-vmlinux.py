#!/usr/bin/env python3
"""Extract the uncompressed vmlinux (ELF) from a bzImage.

A bzImage carries the kernel as a compressed payload after its setup and
decompressor code; this finds the payload by its compression magic
(xz, gzip, zstd), decompresses it and checks that an ELF image came out.

usage: scripts/extract-vmlinux.py BZIMAGE OUTPUT
"""
import gzip
import lzma
import sys
import zlib


def candidates(data):
    for magic, kind in ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b\x08", "gzip"),
                        (b"\x28\xb5\x2f\xfd", "zstd")):
        pos = data.find(magic)
        while pos >= 0:
            yield pos, kind
            pos = data.find(magic, pos + 1)


def decompress(blob, kind):
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
    raise ValueError("zstd payloads need python3-zstandard")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    data = open(sys.argv[1], "rb").read()
    for pos, kind in candidates(data):
        try:
            out = decompress(data[pos:], kind)
        except (lzma.LZMAError, zlib.error, ValueError, EOFError):
            continue
        if out[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(out)
            print("%s: %s payload at %d, %d bytes of ELF" % (sys.argv[2], kind, pos, len(out)))
            return
    sys.exit("extract-vmlinux: no ELF kernel found in %s" % sys.argv[1])


if __name__ == "__main__":
    main()
