"""Host block devices and partitions as raw images: size from the
BLKGETSIZE64 ioctl, reads, writes and O_DIRECT, convert into a device.
Uses loop devices; skipped with a message where losetup is not permitted
(not root, no loop driver, a container without /dev/loop-control)."""
import json
import os
import random
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRT = ROOT / "wirt"
QEMU_IMG = shutil.which("qemu-img")
LOSETUP = shutil.which("losetup")
MiB = 1 << 20


def run(*args):
    return subprocess.run([*map(str, args)], capture_output=True, text=True,
                          timeout=120)


def wirt(*args, ok=True):
    r = run(WIRT, "img", *args)
    assert r.returncode >= 0, f"wirt killed by signal {-r.returncode}"
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def attach(path, *opts):
    if LOSETUP is None:
        pytest.skip("losetup not installed: block device tests skipped")
    r = run(LOSETUP, "-f", "--show", *opts, path)
    if r.returncode != 0:
        pytest.skip(f"losetup not permitted here ({r.stderr.strip()}): "
                    "block device tests skipped")
    return r.stdout.strip()


@pytest.fixture
def loopdev(tmp_path):
    devs = []

    def make(path, *opts):
        dev = attach(path, *opts)
        devs.append(dev)
        return dev
    yield make
    for d in devs:
        run(LOSETUP, "-d", d)


def disk_file(tmp_path, size, seed):
    path = tmp_path / "disk.img"
    data = bytearray(random.Random(seed).randbytes(size))
    data[MiB:3 * MiB] = bytes(2 * MiB)
    path.write_bytes(data)
    return path, bytes(data)


def test_device_size_info_and_read(tmp_path, loopdev):
    path, data = disk_file(tmp_path, 12 * MiB + 512, 1)
    dev = loopdev(path)
    info = json.loads(wirt("info", "--output=json", dev).stdout)
    assert info["format"] == "raw"
    assert info["virtual-size"] == len(data)      # BLKGETSIZE64
    out = tmp_path / "copy.raw"
    wirt("convert", "-O", "raw", dev, out)
    assert out.read_bytes() == data
    for cache in ("none", "writeback"):
        out2 = tmp_path / f"c-{cache}.qcow2"
        wirt("convert", "-T", cache, "-O", "qcow2", dev, out2)
        assert wirt("compare", out2, path).returncode == 0
    if QEMU_IMG:
        q = json.loads(run(QEMU_IMG, "info", "--output=json", "-f", "raw",
                           dev).stdout)
        assert q["virtual-size"] == info["virtual-size"]


def test_convert_into_device_and_write(tmp_path, loopdev):
    target = tmp_path / "target.img"
    target.write_bytes(b"\xff" * 8 * MiB)         # not zeros: all is written
    dev = loopdev(target)
    src = tmp_path / "src.qcow2"
    wirt("create", "-f", "qcow2", src, "6M")
    patch = tmp_path / "p"
    patch.write_bytes(b"data" * 1000)
    wirt("write", src, 100000, patch)
    wirt("convert", "-t", "none", "-O", "raw", src, dev)
    got = target.read_bytes()
    want = bytearray(6 * MiB)
    want[100000:104000] = b"data" * 1000
    assert got[:6 * MiB] == bytes(want)
    assert got[6 * MiB:] == b"\xff" * 2 * MiB        # past the image: untouched
    # Unaligned write through O_DIRECT on the device (bounce buffers).
    wirt("bench", "-w", "-c", "50", "-d", "4", "-t", "none", "-s", "4096",
         "-f", "raw", dev)
    r = wirt("resize", dev, "16M", ok=False)
    assert r.returncode == 1
    assert len([l for l in r.stderr.splitlines() if l]) == 1


def test_device_too_small_for_convert(tmp_path, loopdev):
    target = tmp_path / "small.img"
    target.write_bytes(bytes(MiB))
    dev = loopdev(target)
    src = tmp_path / "src.raw"
    src.write_bytes(bytes(2 * MiB))
    r = wirt("convert", "-O", "raw", src, dev, ok=False)
    assert r.returncode == 1
    assert "holds only" in r.stderr


def write_mbr(path, start, sectors):
    """One primary Linux partition at start (sectors), for partition tests."""
    entry = struct.pack("<8BII", 0, 0, 0, 0, 0x83, 0, 0, 0, start, sectors)
    with open(path, "r+b") as f:
        f.seek(446)
        f.write(entry)
        f.seek(510)
        f.write(b"\x55\xaa")


def test_partition_as_raw(tmp_path, loopdev):
    path, data = disk_file(tmp_path, 16 * MiB, 2)
    data = bytearray(data)
    write_mbr(path, 2048, 8192)
    data[446:512] = path.read_bytes()[446:512]
    dev = loopdev(path, "-P")
    part = dev + "p1"
    for _ in range(20):
        if os.path.exists(part):
            break
        time.sleep(0.1)
    if not os.path.exists(part):
        # No partition scanning here (containers): the same byte range as
        # a loop device of its own is what the kernel would expose.
        part = loopdev(path, "--offset", str(2048 * 512), "--sizelimit",
                       str(8192 * 512))
    info = json.loads(wirt("info", "--output=json", part).stdout)
    assert info["virtual-size"] == 8192 * 512
    out = tmp_path / "part.raw"
    wirt("convert", "-T", "none", "-O", "raw", part, out)
    assert out.read_bytes() == bytes(data[MiB:MiB + 4 * MiB])
