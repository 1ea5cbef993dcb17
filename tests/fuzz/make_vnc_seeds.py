#!/usr/bin/env python3
"""Seeds for fuzz_vnc: viewers' message streams.  Each file starts with
an odd byte, which tells the target to put the handshake in front, then
holds client messages: a pixel format, the encodings to use, update
requests, keys, the pointer, cut text and a SetDesktopSize.

usage: make_vnc_seeds.py OUTDIR"""
import os
import struct
import sys

ENCODINGS = {"raw": 0, "copyrect": 1, "rre": 2, "corre": 4, "hextile": 5,
             "zlib": 6, "tight": 7, "zlibhex": 8, "ultra": 9, "trle": 15,
             "zrle": 16, "zywrle": 17}
PSEUDO = [-223, -308, -239, -224, -250, -26]  # desktop size, ext., cursor, last rect, levels


def pixel_format(bpp, depth, big, rmax, gmax, bmax, rs, gs, bs):
    return struct.pack(">BxxxBBBBHHHBBBxxx", 0, bpp, depth, big, 1, rmax, gmax, bmax,
                       rs, gs, bs)


def encodings(*codes):
    return struct.pack(">BxH", 2, len(codes)) + b"".join(struct.pack(">i", c) for c in codes)


def update(incremental, x=0, y=0, w=64, h=48):
    return struct.pack(">BBHHHH", 3, incremental, x, y, w, h)


def key(down, sym):
    return struct.pack(">BBxxI", 4, down, sym)


def pointer(mask, x, y):
    return struct.pack(">BBHH", 5, mask, x, y)


def cut_text(text):
    return struct.pack(">BxxxI", 6, len(text)) + text


def desktop_size(w, h):
    return struct.pack(">BxHHBx", 251, w, h, 1) + struct.pack(">IHHHHI", 0, 0, 0, w, h, 0)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    formats = [pixel_format(32, 24, 0, 255, 255, 255, 16, 8, 0),
               pixel_format(16, 16, 1, 31, 63, 31, 11, 5, 0),
               pixel_format(8, 8, 0, 7, 7, 3, 0, 3, 6)]
    n = 0
    for name, code in ENCODINGS.items():
        for fmt in formats:
            stream = (b"\x01" + fmt + encodings(code, *PSEUDO) + update(0) +
                      key(1, 0x61) + key(0, 0x61) + pointer(1, 10, 10) + update(1) +
                      pointer(0, 63, 47) + update(1, 8, 8, 16, 16))
            with open(os.path.join(out, "%s-%d" % (name, n)), "wb") as f:
                f.write(stream)
            n += 1
    with open(os.path.join(out, "cut-and-resize"), "wb") as f:
        f.write(b"\x01" + encodings(0, -308, -223) + update(0) + cut_text(b"hello" * 20) +
                desktop_size(800, 600) + update(1) + desktop_size(0, 0))
    with open(os.path.join(out, "handshake-only"), "wb") as f:
        f.write(b"\x00RFB 003.008\n\x01\x01" + update(0))


if __name__ == "__main__":
    main()
