"""`wirt img`: the command line, and interoperability with qemu-img.

Images wirt creates and writes must pass `qemu-img check` and read back
identically through `qemu-img convert -O raw`; images qemu-img creates and
writes (compressed clusters, backing chains, snapshots) must read back
identically through `wirt img convert -O raw`.  Tests that need qemu-img
are skipped with a message when it is not installed.
"""
import json
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRT = ROOT / "wirt"
QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")

needs_qemu = pytest.mark.skipif(
    QEMU_IMG is None,
    reason="qemu-img not installed (apt-get install qemu-utils)")
needs_qemu_io = pytest.mark.skipif(
    QEMU_IO is None or QEMU_IMG is None,
    reason="qemu-io/qemu-img not installed (apt-get install qemu-utils)")

MiB = 1 << 20


def wirt(*args, ok=True, stdin=None):
    r = subprocess.run([str(WIRT), "img", *map(str, args)], input=stdin,
                       capture_output=True, timeout=300)
    assert r.returncode >= 0, f"wirt killed by signal {-r.returncode}"
    if ok:
        assert r.returncode == 0, r.stderr.decode()
    return r


def qemu(*args, tool=None):
    r = subprocess.run([tool or QEMU_IMG, *map(str, args)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, (args, r.stdout.decode() + r.stderr.decode())
    return r.stdout.decode()


def stderr_lines(r):
    return [l for l in r.stderr.decode().replace("\r", "").splitlines() if l]


def make_raw(path, size, seed, chunks=12):
    """A sparse raw file with random data at random places; returns bytes."""
    rng = random.Random(seed)
    data = bytearray(size)
    for _ in range(chunks):
        off = rng.randrange(size)
        n = min(rng.randrange(1, 300000), size - off)
        data[off:off + n] = rng.randbytes(n)
    with open(path, "wb") as f:
        f.truncate(size)
        pos = 0
        while pos < size:
            piece = bytes(data[pos:pos + 65536])
            if piece.count(0) != len(piece):
                f.seek(pos)
                f.write(piece)
            pos += 65536
    return bytes(data)


def qemu_raw(img, tmp_path):
    out = tmp_path / "qemu-out.raw"
    if out.exists():
        out.unlink()
    qemu("convert", "-O", "raw", img, out)
    return out.read_bytes()


def wirt_raw(img, tmp_path):
    out = tmp_path / "wirt-out.raw"
    if out.exists():
        out.unlink()
    wirt("convert", "-O", "raw", img, out)
    return out.read_bytes()


def qemu_check(img):
    r = subprocess.run([QEMU_IMG, "check", str(img)], capture_output=True)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def random_writes(img, model, seed, count=40, tmp=None):
    """Write random data at random (unaligned) offsets with `wirt img write`."""
    rng = random.Random(seed)
    size = len(model)
    for i in range(count):
        off = rng.randrange(size)
        n = min(rng.randrange(1, 200000), size - off)
        data = rng.randbytes(n)
        wirt("write", img, off, "-", stdin=data)
        model[off:off + n] = data


# ---------------------------------------------------------------- CLI basics

def test_help_documents_every_command():
    r = wirt("--help")
    text = r.stdout.decode()
    for cmd in ("create", "info", "check", "convert", "resize", "snapshot",
                "write", "--output", "--shrink", "-b BACKING"):
        assert cmd in text


@pytest.mark.parametrize("cmd", ["create", "info", "check", "convert", "compare", "map",
                                 "commit", "rebase", "bench", "resize", "snapshot", "write"])
def test_each_command_has_its_own_help(cmd):
    for args in ([cmd, "--help"], [cmd, "-h"], ["help", cmd]):
        text = wirt(*args).stdout.decode()
        assert text.startswith("usage: wirt img %s " % cmd), (args, text)
        # Its own section only, not the others'.
        assert "commands:" not in text and text.count("usage:") == 1, text
        assert "wirt img --help" in text


@pytest.mark.parametrize("args,code", [
    ([], 2),
    (["frobnicate"], 2),
    (["create", "x.qcow2", "1G"], 2),                 # no -f
    (["create", "-f", "qcow3", "x.img", "1G"], 2),     # unknown format
    (["create", "-f", "qcow2", "x.img", "12Q"], 2),    # bad size
    (["create", "-f", "qcow2", "-o", "cluster_size=3000", "x.img", "1M"], 1),
    (["create", "-f", "qcow2", "-o", "bogus=1", "x.img", "1M"], 2),
    (["info"], 2),
    (["info", "--output", "xml", "x"], 2),
    (["info", "/nonexistent/image"], 1),
    (["check", "-z", "x"], 2),
    (["convert", "only-one"], 2),
    (["convert", "-O", "nope", "a", "b"], 2),
    (["resize", "x"], 2),
    (["snapshot", "x"], 2),
])
def test_bad_input_gives_one_line(tmp_path, args, code):
    r = subprocess.run([str(WIRT), "img", *args], capture_output=True,
                       cwd=tmp_path, timeout=60)
    assert r.returncode == code, r.stderr
    if code == 2 and not args:
        return      # bare `wirt img` prints the usage
    lines = stderr_lines(r)
    assert len(lines) == 1, lines
    assert lines[0].startswith("wirt: error:")


def test_info_json(tmp_path):
    img = tmp_path / "a.qcow2"
    wirt("create", "-f", "qcow2", "-o", "cluster_size=4K,refcount_bits=8",
         img, "3G")
    info = json.loads(wirt("info", "--output", "json", img).stdout)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 3 << 30
    assert info["cluster-size"] == 4096
    assert info["format-specific"]["data"]["refcount-bits"] == 8
    assert info["format-specific"]["data"]["compat"] == "1.1"
    human = wirt("info", img).stdout.decode()
    assert "virtual size: 3 GiB (3221225472 bytes)" in human


def test_raw_create_write_resize(tmp_path):
    img = tmp_path / "a.raw"
    wirt("create", "-f", "raw", img, "1M")
    assert img.stat().st_size == MiB
    wirt("write", img, "1000", "-", stdin=b"hello")
    assert img.read_bytes()[1000:1005] == b"hello"
    wirt("resize", img, "+1M")
    assert img.stat().st_size == 2 * MiB
    r = wirt("resize", img, "1M", ok=False)
    assert r.returncode == 1 and "--shrink" in r.stderr.decode()
    wirt("resize", "--shrink", img, "-512K")
    assert img.stat().st_size == 1536 * 1024
    r = wirt("write", img, str(1536 * 1024 - 2), "-", stdin=b"abc", ok=False)
    assert r.returncode == 1


def test_convert_keeps_output_sparse(tmp_path):
    src = tmp_path / "src.raw"
    data = make_raw(src, 256 * MiB, seed=1, chunks=3)
    wirt("convert", "-O", "qcow2", src, tmp_path / "o.qcow2")
    assert (tmp_path / "o.qcow2").stat().st_size < 4 * MiB
    wirt("convert", "-O", "raw", tmp_path / "o.qcow2", tmp_path / "o.raw")
    out = tmp_path / "o.raw"
    assert out.stat().st_blocks * 512 < 8 * MiB
    assert out.read_bytes() == data


def test_qcow2_write_read_check_without_qemu(tmp_path):
    img = tmp_path / "w.qcow2"
    wirt("create", "-f", "qcow2", img, "16M")
    model = bytearray(16 * MiB)
    random_writes(img, model, seed=5, count=25)
    assert wirt_raw(img, tmp_path) == bytes(model)
    r = wirt("check", img)
    assert b"No errors" in r.stdout


# ------------------------------------------- wirt writes, qemu-img reads

QCOW2_OPTS = [
    "compat=1.1",
    "compat=0.10",
    "cluster_size=512",
    "cluster_size=2M",
    "cluster_size=4K,refcount_bits=1",
    "cluster_size=16K,refcount_bits=64",
    "compression_type=zstd",
]


@needs_qemu
@pytest.mark.parametrize("opts", QCOW2_OPTS)
def test_wirt_created_image_passes_qemu_check(tmp_path, opts):
    img = tmp_path / "c.qcow2"
    wirt("create", "-f", "qcow2", "-o", opts, img, "5G")
    qemu_check(img)
    info = json.loads(qemu("info", "--output=json", img))
    assert info["virtual-size"] == 5 << 30
    assert info["format"] == "qcow2"


@needs_qemu
@pytest.mark.parametrize("opts", QCOW2_OPTS)
def test_wirt_writes_read_back_by_qemu(tmp_path, opts):
    img = tmp_path / "w.qcow2"
    size = 24 * MiB
    wirt("create", "-f", "qcow2", "-o", opts, img, size)
    model = bytearray(size)
    random_writes(img, model, seed=hash(opts) & 0xffff)
    qemu_check(img)
    assert qemu_raw(img, tmp_path) == bytes(model)


@needs_qemu
@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_wirt_backing_file_writes(tmp_path, fmt):
    base = tmp_path / f"base.{fmt}"
    src = tmp_path / "src.raw"
    data = make_raw(src, 8 * MiB, seed=7)
    if fmt == "raw":
        shutil.copy(src, base)
    else:
        wirt("convert", "-O", "qcow2", src, base)
    top = tmp_path / "top.qcow2"
    wirt("create", "-f", "qcow2", "-b", base.name, "-F", fmt, top)
    info = json.loads(wirt("info", "--output", "json", top).stdout)
    assert info["backing-filename"] == base.name
    assert info["virtual-size"] == 8 * MiB
    model = bytearray(data)
    random_writes(top, model, seed=8, count=20)
    qemu_check(top)
    assert qemu_raw(top, tmp_path) == bytes(model)
    assert wirt_raw(top, tmp_path) == bytes(model)
    assert qemu_raw(base, tmp_path) == data      # the base is untouched


@needs_qemu
def test_convert_from_raw_into_qcow2_is_identical(tmp_path):
    src = tmp_path / "src.raw"
    data = make_raw(src, 40 * MiB, seed=9)
    out = tmp_path / "o.qcow2"
    wirt("convert", "-f", "raw", "-O", "qcow2", src, out)
    qemu_check(out)
    qemu("compare", src, out)
    assert qemu_raw(out, tmp_path) == data


@needs_qemu
def test_resize_grow_seen_by_qemu(tmp_path):
    img = tmp_path / "r.qcow2"
    wirt("create", "-f", "qcow2", "-o", "cluster_size=512", img, "1M")
    wirt("write", img, "1000", "-", stdin=b"x" * 5000)
    wirt("resize", img, "+200M")
    wirt("write", img, str(201 * MiB - 10), "-", stdin=b"end-bytes!")
    qemu_check(img)
    info = json.loads(qemu("info", "--output=json", img))
    assert info["virtual-size"] == 201 * MiB
    raw = qemu_raw(img, tmp_path)
    assert raw[1000:6000] == b"x" * 5000 and raw[-10:] == b"end-bytes!"
    r = wirt("resize", img, "1M", ok=False)
    assert r.returncode == 1 and "--shrink" in r.stderr.decode()
    wirt("resize", "--shrink", img, "1M")
    qemu_check(img)
    assert json.loads(qemu("info", "--output=json", img))["virtual-size"] == MiB


# ------------------------------------------- qemu-img writes, wirt reads

@needs_qemu
@pytest.mark.parametrize("opts", QCOW2_OPTS)
@pytest.mark.parametrize("compress", [False, True])
def test_qemu_images_read_by_wirt(tmp_path, opts, compress):
    src = tmp_path / "src.raw"
    data = make_raw(src, 20 * MiB, seed=11)
    img = tmp_path / "q.qcow2"
    qemu("convert", *(["-c"] if compress else []), "-O", "qcow2", "-o", opts,
         src, img)
    assert wirt_raw(img, tmp_path) == data
    r = wirt("check", img)
    assert b"No errors" in r.stdout


@needs_qemu_io
def test_qemu_backing_chain_read_by_wirt(tmp_path):
    src = tmp_path / "src.raw"
    make_raw(src, 16 * MiB, seed=12)
    base = tmp_path / "base.qcow2"
    qemu("convert", "-c", "-O", "qcow2", src, base)
    mid = tmp_path / "mid.qcow2"
    qemu("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid)
    qemu("-c", "write -P 0xab 1000 70000", "-c", "write -z 3M 1M", mid,
         tool=QEMU_IO)
    top = tmp_path / "top.qcow2"
    qemu("create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top, "24M")
    qemu("-c", "write -P 0xcd 65530 20", "-c", "write -P 0x11 20M 1M",
         "-c", "discard 0 64k", top, tool=QEMU_IO)
    assert wirt_raw(top, tmp_path) == qemu_raw(top, tmp_path)
    # wirt writes on top of qemu's chain, qemu reads them back.
    model = bytearray(qemu_raw(top, tmp_path))
    random_writes(top, model, seed=13, count=15)
    qemu_check(top)
    assert qemu_raw(top, tmp_path) == bytes(model)


@needs_qemu
def test_v2_image_with_zero_writes(tmp_path):
    img = tmp_path / "v2.qcow2"
    qemu("create", "-f", "qcow2", "-o", "compat=0.10", img, "4M")
    model = bytearray(4 * MiB)
    random_writes(img, model, seed=14, count=10)
    qemu_check(img)
    assert qemu_raw(img, tmp_path) == bytes(model)


# ---------------------------------------------------------------- snapshots

@needs_qemu
def test_snapshots_interoperate(tmp_path):
    src = tmp_path / "src.raw"
    first = make_raw(src, 8 * MiB, seed=15)
    img = tmp_path / "s.qcow2"
    wirt("convert", "-O", "qcow2", src, img)
    wirt("snapshot", "-c", "first", img)
    model = bytearray(first)
    random_writes(img, model, seed=16, count=10)
    qemu_check(img)
    assert "first" in qemu("snapshot", "-l", img)
    qemu("snapshot", "-c", "second", img)
    listing = wirt("snapshot", "-l", img).stdout.decode()
    assert "first" in listing and "second" in listing
    wirt("snapshot", "-a", "first", img)
    qemu_check(img)
    assert qemu_raw(img, tmp_path) == first
    wirt("snapshot", "-d", "first", img)
    qemu_check(img)
    qemu("snapshot", "-a", "second", img)
    assert wirt_raw(img, tmp_path) == bytes(model)
    r = wirt("snapshot", "-d", "nope", img, ok=False)
    assert r.returncode == 1 and len(stderr_lines(r)) == 1


# ------------------------------------------------------ check and repair

def header(img):
    with open(img, "rb") as f:
        h = f.read(112)
    return {
        "cluster_bits": struct.unpack(">I", h[20:24])[0],
        "l1_offset": struct.unpack(">Q", h[40:48])[0],
        "rt_offset": struct.unpack(">Q", h[48:56])[0],
    }


def set_refcount16(img, cluster, value):
    h = header(img)
    with open(img, "r+b") as f:
        f.seek(h["rt_offset"])
        rb = struct.unpack(">Q", f.read(8))[0]
        f.seek(rb + cluster * 2)
        f.write(struct.pack(">H", value))


def test_check_finds_leak_and_corruption(tmp_path):
    img = tmp_path / "c.qcow2"
    wirt("create", "-f", "qcow2", img, "4M")
    wirt("write", img, "0", "-", stdin=b"\x42" * 200000)
    assert wirt("check", img).returncode == 0
    # Leak: a cluster past the data with refcount 1.
    size = img.stat().st_size
    with open(img, "r+b") as f:
        f.truncate(size + 65536)
    set_refcount16(img, size >> 16, 1)
    r = wirt("check", img, ok=False)
    assert r.returncode == 3 and b"1 leaked clusters" in r.stdout
    assert wirt("check", "-r", img).returncode == 0
    # Corruption: the first data cluster's refcount dropped to 0.
    h = header(img)
    with open(img, "rb") as f:
        f.seek(h["l1_offset"])
        l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
        f.seek(l2)
        data = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    set_refcount16(img, data >> 16, 0)
    r = wirt("check", "--output", "json", img, ok=False)
    assert r.returncode == 2
    assert json.loads(r.stdout)["corruptions"] >= 1
    assert wirt("check", "-r", img).returncode == 0
    if QEMU_IMG:
        qemu_check(img)
    assert wirt_raw(img, tmp_path)[:200000] == b"\x42" * 200000


def test_check_raw_has_nothing_to_check(tmp_path):
    img = tmp_path / "a.raw"
    wirt("create", "-f", "raw", img, "1M")
    assert b"no metadata" in wirt("check", img).stdout


# ------------------------------------------- malformed and unsupported

def patch(img, offset, data):
    with open(img, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("name,offset,data,message", [
    ("bad-magic", 0, b"QFI\x00", "not a qcow2 image"),
    ("version", 4, struct.pack(">I", 7), "unsupported qcow2 version 7"),
    ("cluster-bits", 20, struct.pack(">I", 40), "cluster size"),
    ("huge-size", 24, struct.pack(">Q", 1 << 62), "too large"),
    ("encrypted", 32, struct.pack(">I", 1), "encrypted"),
    ("l1-too-small", 36, struct.pack(">I", 0), "too small"),
    ("l1-past-eof", 40, struct.pack(">Q", 1 << 40), "past the end"),
    ("rt-past-eof", 48, struct.pack(">Q", 1 << 40), "past the end"),
    ("rt-huge", 56, struct.pack(">I", 1 << 30), "refcount table size"),
    ("unknown-feature", 72, struct.pack(">Q", 1 << 7), "feature bit 7"),
    ("data-file", 72, struct.pack(">Q", 1 << 2), "external data file"),
    ("refcount-order", 96, struct.pack(">I", 9), "refcount order"),
    ("header-length", 100, struct.pack(">I", 1 << 20), "header length"),
    ("snapshots", 60, struct.pack(">IQ", 3, 1 << 40), "snapshot table"),
])
def test_malformed_qcow2_fails_cleanly(tmp_path, name, offset, data, message):
    img = tmp_path / f"{name}.qcow2"
    wirt("create", "-f", "qcow2", img, "64M")
    wirt("write", img, "0", "-", stdin=b"\x01" * 100)
    patch(img, offset, data)
    for args in (["info", "-f", "qcow2", img],
                 ["convert", "-f", "qcow2", "-O", "raw", img, tmp_path / "o"]):
        r = wirt(*args, ok=False)
        assert r.returncode == 1
        lines = stderr_lines(r)
        assert len(lines) == 1 and message in lines[0], lines


def test_truncated_qcow2_fails_cleanly(tmp_path):
    img = tmp_path / "t.qcow2"
    wirt("create", "-f", "qcow2", img, "64M")
    with open(img, "r+b") as f:
        f.truncate(50)
    r = wirt("info", "-f", "qcow2", img, ok=False)
    assert r.returncode == 1 and len(stderr_lines(r)) == 1


def test_broken_l2_pointer_fails_read_cleanly(tmp_path):
    img = tmp_path / "b.qcow2"
    wirt("create", "-f", "qcow2", img, "64M")
    wirt("write", img, "0", "-", stdin=b"\x01" * 100)
    h = header(img)
    patch(img, h["l1_offset"], struct.pack(">Q", (1 << 63) | (1 << 45)))
    r = wirt("convert", "-O", "raw", img, tmp_path / "o.raw", ok=False)
    assert r.returncode == 1
    assert "past the end of the file" in r.stderr.decode()
    r = wirt("check", img, ok=False)
    assert r.returncode == 2


# ---------------------------------------------------------- vmdk and vdi

SPARSE_FORMATS = [
    ("vmdk", []),
    ("vmdk", ["-o", "cluster_size=4K"]),
    ("vdi", []),
    ("vdi", ["-o", "static=on"]),
]


@needs_qemu
@pytest.mark.parametrize("fmt,opts", SPARSE_FORMATS)
def test_wirt_vmdk_vdi_read_back_by_qemu(tmp_path, fmt, opts):
    img = tmp_path / f"w.{fmt}"
    size = 24 * MiB
    wirt("create", "-f", fmt, *opts, img, size)
    qemu_check(img)
    model = bytearray(size)
    random_writes(img, model, seed=21)
    qemu_check(img)
    info = json.loads(qemu("info", "--output=json", img))
    assert info["format"] == fmt and info["virtual-size"] == size
    assert qemu_raw(img, tmp_path) == bytes(model)
    assert wirt_raw(img, tmp_path) == bytes(model)


@needs_qemu
@pytest.mark.parametrize("fmt", ["vmdk", "vdi"])
def test_convert_into_vmdk_vdi(tmp_path, fmt):
    src = tmp_path / "src.raw"
    data = make_raw(src, 40 * MiB, seed=22, chunks=5)
    out = tmp_path / f"o.{fmt}"
    wirt("convert", "-O", fmt, src, out)
    qemu_check(out)
    qemu("compare", src, out)
    assert out.stat().st_blocks * 512 < 12 * MiB       # stays sparse
    assert wirt_raw(out, tmp_path) == data


@needs_qemu
@pytest.mark.parametrize("fmt,opts", [
    ("vmdk", []),
    ("vmdk", ["-o", "zeroed_grain=on"]),
    ("vdi", []),
    ("vdi", ["-o", "static=on"]),
])
def test_qemu_vmdk_vdi_read_by_wirt(tmp_path, fmt, opts):
    src = tmp_path / "src.raw"
    data = make_raw(src, 20 * MiB, seed=23)
    img = tmp_path / f"q.{fmt}"
    qemu("convert", "-O", fmt, *opts, src, img)
    assert wirt_raw(img, tmp_path) == data
    info = json.loads(wirt("info", "--output", "json", img).stdout)
    assert info["format"] == fmt and info["virtual-size"] == 20 * MiB
    if QEMU_IO:
        qemu("-c", "write -P 0x5c 100000 300000", "-c", "write -z 0 64k",
             img, tool=QEMU_IO)
        assert wirt_raw(img, tmp_path) == qemu_raw(img, tmp_path)


@needs_qemu
def test_vdi_grow(tmp_path):
    img = tmp_path / "g.vdi"
    wirt("create", "-f", "vdi", img, "8M")
    wirt("resize", img, "+56M")
    wirt("write", img, str(64 * MiB - 4), "-", stdin=b"last")
    qemu_check(img)
    assert qemu_raw(img, tmp_path)[-4:] == b"last"
    r = wirt("resize", img, "1T", ok=False)
    assert r.returncode == 1 and len(stderr_lines(r)) == 1


@needs_qemu
def test_stream_optimized_vmdk_is_read(tmp_path):
    src = tmp_path / "src.raw"
    data = make_raw(src, 16 * MiB, seed=25)
    img = tmp_path / "so.vmdk"
    qemu("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", src, img)
    assert wirt_raw(img, tmp_path) == data
    r = wirt("write", img, "0", "-", stdin=b"x", ok=False)
    assert r.returncode == 1 and "only be read" in r.stderr.decode()


@needs_qemu
def test_split_vmdk_subformats_are_read(tmp_path):
    """Descriptor files with separate extents (more in test_img_convert)."""
    src = tmp_path / "src.raw"
    data = make_raw(src, 4 * MiB, seed=24)
    for sub in ("twoGbMaxExtentSparse", "monolithicFlat", "twoGbMaxExtentFlat"):
        img = tmp_path / f"{sub}.vmdk"
        qemu("convert", "-O", "vmdk", "-o", f"subformat={sub}", src, img)
        assert wirt_raw(img, tmp_path) == data, sub


@needs_qemu
def test_create_lazy_refcounts_option(tmp_path):
    img = tmp_path / "lazy.qcow2"
    wirt("create", "-f", "qcow2", "-o", "lazy_refcounts=on", img, "16M")
    info = json.loads(qemu("info", "--output=json", img))
    assert info["format-specific"]["data"]["lazy-refcounts"] is True
    qemu("check", img)
    r = wirt("create", "-f", "qcow2", "-o", "lazy_refcounts=maybe",
             tmp_path / "bad.qcow2", "16M", ok=False)
    assert r.returncode != 0 and len(stderr_lines(r)) == 1
