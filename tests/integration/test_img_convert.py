"""`wirt img convert` options: -c (compressed qcow2, zlib and zstd), -p,
-t/-T cache modes, and VMDK layouts written by wirt or by qemu-img.
Every output is checked with qemu-img (check, compare, info) and read
back by wirt too.
"""
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRT = ROOT / "wirt"
QEMU_IMG = shutil.which("qemu-img")

pytestmark = pytest.mark.skipif(
    QEMU_IMG is None, reason="qemu-img not installed (apt-get install qemu-utils)")

KiB, MiB = 1 << 10, 1 << 20


def run(*args):
    return subprocess.run([*map(str, args)], capture_output=True, text=True,
                          timeout=300)


def wirt(*args, ok=True):
    r = run(WIRT, "img", *args)
    assert r.returncode >= 0, f"wirt killed by signal {-r.returncode}"
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def qemu(*args):
    r = run(QEMU_IMG, *args)
    assert r.returncode == 0, (args, r.stdout + r.stderr)
    return r.stdout


def identical(a, b):
    r = run(QEMU_IMG, "compare", a, b)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode == 0


def one_error_line(r):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """8 MiB + 1000 bytes: compressible text, random bytes, zeros, holes."""
    path = tmp_path_factory.mktemp("src") / "src.raw"
    rng = random.Random(7)
    size = 8 * MiB + 1000
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(0)
        f.write((b"wirt compresses this line nicely. " * 40000)[:1300 * KiB])
        f.seek(2 * MiB + 123)
        f.write(rng.randbytes(300 * KiB))        # does not shrink
        f.seek(5 * MiB)
        f.write(bytes(range(256)) * 2048)
        f.seek(size - 700)
        f.write(b"tail" * 100)                    # the partial last cluster
    return path


def compressed_share(img):
    out = qemu("check", img)
    line = [l for l in out.splitlines() if "compressed clusters" in l][0]
    return float(line.split(",")[-1].split("%")[0])


@pytest.mark.parametrize("opts", [
    "", "compression_type=zstd", "cluster_size=4096",
    "cluster_size=512,compression_type=zstd", "refcount_bits=1",
    "refcount_bits=2,cluster_size=2M", "compat=0.10",
])
def test_convert_compressed_read_by_qemu(source, tmp_path, opts):
    out, plain = tmp_path / "c.qcow2", tmp_path / "p.qcow2"
    args = ["-o", opts] if opts else []
    wirt("convert", "-c", "-O", "qcow2", *args, source, out)
    wirt("convert", "-O", "qcow2", *args, source, plain)
    assert identical(out, source)
    assert compressed_share(out) > 0
    # Host space: with 1-bit refcounts clusters cannot share a host
    # cluster, but the unused rest of each is never written.
    assert out.stat().st_blocks < plain.stat().st_blocks
    info = json.loads(qemu("info", "--output=json", out))
    if "zstd" in opts:
        assert info["format-specific"]["data"]["compression-type"] == "zstd"
    back = tmp_path / "back.raw"
    wirt("convert", "-O", "raw", out, back)
    want = source.read_bytes()
    got = back.read_bytes()     # qcow2 sizes are whole sectors
    assert got[:len(want)] == want and not got[len(want):].strip(b"\0")


def test_compressed_as_small_as_qemus(source, tmp_path):
    ours, theirs = tmp_path / "w.qcow2", tmp_path / "q.qcow2"
    wirt("convert", "-c", "-O", "qcow2", source, ours)
    qemu("convert", "-c", "-O", "qcow2", source, theirs)
    assert ours.stat().st_size <= theirs.stat().st_size * 1.05


def test_compressed_image_takes_writes(source, tmp_path):
    """Overwriting compressed clusters goes through copy-on-write."""
    out = tmp_path / "c.qcow2"
    wirt("convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", source, out)
    patch = tmp_path / "patch"
    patch.write_bytes(b"\xee" * 10000)
    wirt("write", out, 5000, patch)
    data = bytearray(source.read_bytes())
    data[5000:15000] = b"\xee" * 10000
    want = tmp_path / "want.raw"
    want.write_bytes(bytes(data))
    assert identical(out, want)
    qemu("check", out)


def test_progress_on_stderr(source, tmp_path):
    r = wirt("convert", "-p", "-O", "qcow2", source, tmp_path / "o.qcow2")
    assert "(100.00/100%)" in r.stderr
    assert r.stdout == ""
    r = wirt("convert", "-O", "qcow2", source, tmp_path / "o2.qcow2")
    assert r.stderr == ""


@pytest.mark.parametrize("t,T", [("none", "none"), ("writeback", "none"),
                                 ("none", "writeback"), ("unsafe", "writeback")])
def test_cache_modes(source, tmp_path, t, T):
    for fmt in ("qcow2", "raw"):
        out = tmp_path / f"o.{fmt}"
        wirt("convert", "-t", t, "-T", T, "-O", fmt, source, out)
        assert identical(out, source)
        if fmt == "qcow2":
            qemu("check", out)


@pytest.mark.parametrize("args,msg", [
    (["-c", "-O", "raw"], "-c needs qcow2"),
    (["-t", "fast"], "cache mode"),
    (["-T", ""], "cache mode"),
    (["-O", "raw", "-o", "subformat=streamOptimized"], "subformat"),
    (["-O", "vmdk", "-o", "subformat=twoGbMaxExtentFlat"], "subformat"),
])
def test_convert_bad_options(source, tmp_path, args, msg):
    r = wirt("convert", *args, source, tmp_path / "o.img", ok=False)
    assert r.returncode == 2
    assert msg in one_error_line(r)
    assert not (tmp_path / "o.img").exists()


# ---- VMDK layouts ----

def test_stream_optimized_written_by_wirt(source, tmp_path):
    out = tmp_path / "s.vmdk"
    wirt("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", source, out)
    assert identical(out, source)
    qemu("check", out)
    info = json.loads(qemu("info", "--output=json", out))
    assert info["format-specific"]["data"]["create-type"] == "streamOptimized"
    assert info["format-specific"]["data"]["extents"][0]["compressed"]
    theirs = tmp_path / "q.vmdk"
    qemu("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", source,
         theirs)
    assert out.stat().st_size <= theirs.stat().st_size * 1.05
    back = tmp_path / "back.raw"
    wirt("convert", "-O", "raw", out, back)
    assert identical(back, source)


def test_stream_optimized_rejects_second_write(source, tmp_path):
    out = tmp_path / "s.vmdk"
    wirt("convert", "-O", "vmdk", "-o", "subformat=streamOptimized", source, out)
    patch = tmp_path / "p"
    patch.write_bytes(b"x" * 100)
    r = wirt("write", out, 0, patch, ok=False)
    assert r.returncode == 1
    assert "streamOptimized" in one_error_line(r)
    assert identical(out, source)


def test_empty_stream_optimized(tmp_path):
    out = tmp_path / "e.vmdk"
    wirt("create", "-f", "vmdk", "-o", "subformat=streamOptimized", out, "3M")
    qemu("check", out)
    zero = tmp_path / "z.raw"
    zero.write_bytes(b"\0" * 3 * MiB)
    assert identical(out, zero)


@pytest.fixture(scope="module")
def big_vmdks(tmp_path_factory):
    """qemu-img's multi-extent layouts (5 GiB: three extent files each)
    with data across the 2 GiB extent boundaries and at the very end."""
    d = tmp_path_factory.mktemp("vmdk")
    qio = shutil.which("qemu-io")
    if qio is None:
        pytest.skip("qemu-io not installed")
    out = {}
    for sub in ("twoGbMaxExtentSparse", "twoGbMaxExtentFlat", "monolithicFlat"):
        img = d / f"{sub}.vmdk"
        size = "5G" if sub.startswith("two") else "64M"
        qemu("create", "-f", "vmdk", "-o", f"subformat={sub}", img, size)
        last = (5 << 30) if sub.startswith("two") else 64 * MiB
        cmds = ["write -P 1 0 64k", f"write -P 9 {last - 8192} 8k"]
        if sub.startswith("two"):
            cmds += [f"write -P 2 {(2 << 30) - 4096} 12k",
                     f"write -P 3 {(4 << 30) - 512} 1k"]
        args = [qio, "-f", "vmdk"]
        for c in cmds:
            args += ["-c", c]
        r = run(*args, img)
        assert r.returncode == 0, r.stdout + r.stderr
        out[sub] = img
    return out


@pytest.mark.parametrize("sub", ["twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
                                 "monolithicFlat"])
def test_split_vmdk_read_by_wirt(big_vmdks, tmp_path, sub):
    img = big_vmdks[sub]
    info = json.loads(wirt("info", "--output=json", img).stdout)
    assert info["format-specific"]["data"]["create-type"] == sub
    theirs = json.loads(qemu("info", "--output=json", img))
    assert info["virtual-size"] == theirs["virtual-size"]
    assert info["actual-size"] == theirs["actual-size"]    # extents counted
    back = tmp_path / "back.qcow2"
    wirt("convert", "-O", "qcow2", img, back)
    assert identical(back, img)
    assert wirt("compare", img, back).returncode == 0


@pytest.mark.parametrize("sub", ["twoGbMaxExtentFlat", "twoGbMaxExtentSparse"])
def test_split_vmdk_written_by_wirt(tmp_path, sub):
    img = tmp_path / "w.vmdk"
    qemu("create", "-f", "vmdk", "-o", f"subformat={sub}", img, "5G")
    patch = tmp_path / "p"
    patch.write_bytes(b"\x77" * 16384)          # across an extent boundary
    wirt("write", img, (2 << 30) - 8192, patch)
    wirt("write", img, (5 << 30) - 16384, patch)
    for off in ((2 << 30) - 8192, (5 << 30) - 16384):
        r = run(shutil.which("qemu-io"), "-f", "vmdk", "-c",
                f"read -P 0x77 {off} 16k", img)
        assert r.returncode == 0 and "failed" not in r.stdout, r.stdout
    r = run(shutil.which("qemu-io"), "-f", "vmdk", "-c",
            f"read -P 0 {(2 << 30) - 16384} 8k", img)
    assert "failed" not in r.stdout, r.stdout
    if sub.endswith("Sparse"):
        qemu("check", img)


def test_broken_descriptor_fails_cleanly(tmp_path):
    desc = tmp_path / "d.vmdk"
    desc.write_text('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
                    'RW 2048 FLAT "missing-flat.vmdk" 0\n')
    r = wirt("info", desc, ok=False)
    assert r.returncode == 1 and "missing-flat.vmdk" in one_error_line(r)
    (tmp_path / "short-flat.vmdk").write_bytes(b"\0" * 4096)
    desc.write_text('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
                    'RW 2048 FLAT "short-flat.vmdk" 0\n')
    r = wirt("info", desc, ok=False)
    assert r.returncode == 1 and "shorter" in one_error_line(r)
    desc.write_text('# Disk DescriptorFile\nversion=1\ncreateType="vmfs"\n'
                    'RW 2048 VMFS "x.vmdk"\n')
    r = wirt("info", desc, ok=False)
    assert r.returncode == 1 and "vmfs" in one_error_line(r)
    desc.write_text('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
                    'RW 2048 FLAT "d.vmdk" 0\n')
    r = wirt("info", desc, ok=False)        # names itself
    assert r.returncode == 1
    one_error_line(r)


# ---- -l / -s: convert an internal snapshot ----

@pytest.fixture
def snapshotted(tmp_path):
    """A qcow2 whose snapshot 'before' (id 1) holds pattern 0x11 in the
    first MiB and nothing at 8 MiB; afterwards the image changed both and
    grew."""
    img = tmp_path / "s.qcow2"
    qemu("create", "-q", "-f", "qcow2", img, "16M")
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", str(img)],
                   check=True, capture_output=True)
    qemu("snapshot", "-c", "before", img)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 512k",
                    "-c", "write -P 0x33 8M 1M", str(img)], check=True, capture_output=True)
    qemu("resize", "-q", img, "32M")
    return img


@pytest.mark.parametrize("sel", [["-l", "snapshot.name=before"], ["-l", "snapshot.id=1"],
                                 ["-l", "snapshot.id=1,snapshot.name=before"],
                                 ["-l", "before"], ["-s", "before"], ["-s", "1"]])
def test_convert_snapshot_as_qemu_img(tmp_path, snapshotted, sel):
    want, got = tmp_path / "qemu.raw", tmp_path / "wirt.raw"
    before = (snapshotted.read_bytes())
    # QEMU 7.2's qemu-img dropped -s (older ones had it): its -l takes
    # the same id or name.
    qemu("convert", *(["-l", sel[1]] if sel[0] == "-s" else sel), "-O", "raw",
         snapshotted, want)
    wirt("convert", *sel, "-O", "raw", snapshotted, got)
    assert got.read_bytes() == want.read_bytes()
    data = got.read_bytes()
    # (qemu-img keeps the image's current size.)
    assert len(data) == 32 * MiB and data[:MiB] == b"\x11" * MiB
    assert data[MiB:] == bytes(31 * MiB)
    # Read only: the image is as it was.
    assert snapshotted.read_bytes() == before
    qemu("check", snapshotted)


@pytest.mark.parametrize("sel,said", [
    (["-l", "snapshot.name=nope"], "no snapshot named 'nope'"),
    (["-l", "snapshot.id=1,snapshot.name=other"], "no snapshot with id '1' and name 'other'"),
    (["-l", "snapshot.size=3"], "give snapshot.id=ID"),
    (["-s", "9"], "no snapshot '9'")])
def test_convert_snapshot_errors(tmp_path, snapshotted, sel, said):
    r = wirt("convert", *sel, "-O", "raw", snapshotted, tmp_path / "out.raw", ok=False)
    assert r.returncode in (1, 2) and said in r.stderr, r.stderr


def test_convert_snapshot_of_raw_is_refused(tmp_path):
    raw = tmp_path / "r.raw"
    raw.write_bytes(bytes(MiB))
    r = wirt("convert", "-f", "raw", "-s", "x", "-O", "raw", raw, tmp_path / "o.raw", ok=False)
    assert r.returncode == 1 and "snapshot" in r.stderr, r.stderr
