#!/usr/bin/env python3
"""Seed inputs for fuzz_virtq: four header bytes (log2 of the queue size,
feature and answer flags, bytes written per request) and guest RAM from
address 0 with the descriptor table at 0x0, the available ring at 0x1000
and the used ring at 0x2000.  Seeds: a plain two-buffer chain, an
indirect table, several chains with event index answered through
fill/flush, and a request given back once (unpop).

Usage: make_virtq_seeds.py OUTDIR"""
import os
import struct
import sys

DESC, AVAIL, USED, INDIR, BUF = 0x0, 0x1000, 0x2000, 0x3000, 0x4000
NEXT, WRITE, INDIRECT = 1, 2, 4
INDIRECT_F, EVENT_IDX_F, FILL_F, UNPOP_F = 1, 2, 4, 8


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def image(qsize_log2, flags, written, descs, heads, indirect=()):
    ram = bytearray(0x6000)
    for i, d in enumerate(descs):
        ram[DESC + 16 * i:DESC + 16 * i + 16] = d
    for i, d in enumerate(indirect):
        ram[INDIR + 16 * i:INDIR + 16 * i + 16] = d
    struct.pack_into("<HH", ram, AVAIL, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", ram, AVAIL + 4 + 2 * i, h)
    ram[BUF:BUF + 64] = bytes(range(64))
    return bytes([qsize_log2, flags]) + struct.pack("<H", written) + bytes(ram)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "chain": image(3, 0, 16, [desc(BUF, 4, NEXT, 1), desc(BUF + 0x100, 16, WRITE, 0)],
                       [0]),
        "indirect": image(3, INDIRECT_F, 8,
                          [desc(INDIR, 32, INDIRECT, 0)], [0],
                          [desc(BUF, 8, NEXT, 1), desc(BUF + 0x200, 8, WRITE, 0)]),
        "event_idx_fill": image(4, EVENT_IDX_F | FILL_F, 100,
                                [desc(BUF, 10, 0, 0), desc(BUF + 0x300, 64, WRITE, 0),
                                 desc(BUF + 0x10, 6, NEXT, 3),
                                 desc(BUF + 0x400, 32, WRITE, 0)],
                                [0, 1, 2]),
        "unpop": image(2, UNPOP_F, 4, [desc(BUF + 0x500, 4, WRITE, 0)], [0]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
