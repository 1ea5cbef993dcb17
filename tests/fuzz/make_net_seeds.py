#!/usr/bin/env python3
"""Seed inputs for fuzz_net_segment: a virtio-net header (10 bytes,
little-endian) and a TCP frame to segment, over IPv4, IPv6 with a
hop-by-hop header, and IPv4 behind a VLAN tag; plus a checksum-only one.

Usage: make_net_seeds.py OUTDIR"""
import os
import struct
import sys

MACS = bytes.fromhex("525400000001525400000002")


def tcp(payload, seq=1000, flags=0x18):
    return struct.pack(">HHIIBBHHH", 40000, 80, seq, 1, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(seg):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 7, 0x4000, 64, 6, 0,
                       bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2])) + seg


def ipv6(seg):
    hbh = bytes([6, 0, 1, 4, 0, 0, 0, 0])
    return (struct.pack(">IHBB", 0x60000000, len(hbh) + len(seg), 0, 64)
            + bytes(range(16)) + bytes(range(16, 32)) + hbh + seg)


def vhdr(flags, gso, hdr_len, mss, start, off):
    return struct.pack("<BBHHHH", flags, gso, hdr_len, mss, start, off)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    data = bytes(i & 0xff for i in range(3000))
    seeds = {
        "tcp4": vhdr(1, 1, 54, 536, 34, 16) + MACS + b"\x08\x00" + ipv4(tcp(data)),
        "tcp6": vhdr(1, 4, 82, 700, 62, 16) + MACS + b"\x86\xdd" + ipv6(tcp(data)),
        "vlan": (vhdr(1, 0x81, 58, 1000, 38, 16) + MACS + b"\x81\x00\x00\x2a\x08\x00"
                 + ipv4(tcp(data, flags=0x99))),
        "csum": vhdr(1, 0, 0, 0, 34, 16) + MACS + b"\x08\x00" + ipv4(tcp(data[:100])),
    }
    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
