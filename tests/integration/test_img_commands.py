"""`wirt img` map, compare, commit, rebase, bench and snapshot --output=json,
each checked against qemu-img doing the same thing on the same images.

Images are made by qemu-img/qemu-io so that both tools see identical input;
results are checked with `qemu-img compare`/`check`/`info`/`map`.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRT = ROOT / "wirt"
QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")

pytestmark = pytest.mark.skipif(
    QEMU_IMG is None or QEMU_IO is None,
    reason="qemu-img/qemu-io not installed (apt-get install qemu-utils)")

KiB, MiB = 1 << 10, 1 << 20


def run(*args, cwd=None):
    return subprocess.run([*map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def wirt(*args, ok=True, cwd=None):
    r = run(WIRT, "img", *args, cwd=cwd)
    assert r.returncode >= 0, f"wirt killed by signal {-r.returncode}"
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def qemu(*args, cwd=None):
    r = run(QEMU_IMG, *args, cwd=cwd)
    assert r.returncode == 0, (args, r.stdout + r.stderr)
    return r.stdout


def qio(img, *cmds, fmt="qcow2"):
    args = [QEMU_IO, "-f", fmt]
    for c in cmds:
        args += ["-c", c]
    r = run(*args, img)
    assert r.returncode == 0 and "error" not in r.stdout.lower(), r.stdout
    return r.stdout


def one_error_line(r):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def identical(a, b):
    r = run(QEMU_IMG, "compare", a, b)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode == 0


@pytest.fixture
def chain(tmp_path):
    """base <- mid <- top with data, zero clusters and holes at each level."""
    base, mid, top = (tmp_path / n for n in ("base.qcow2", "mid.qcow2",
                                             "top.qcow2"))
    qemu("create", "-f", "qcow2", base, "4M")
    qio(base, "write -P 1 0 1M", "write -P 2 2M 256k")
    qemu("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid)
    qio(mid, "write -P 5 128k 64k", "write -z 2M 64k")
    qemu("create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top)
    qio(top, "write -P 3 64k 64k", "write -z 512k 64k", "write -P 4 3M 100k",
        "write -P 6 2100k 5k")
    return base, mid, top


def view(img, tmp_path, name):
    out = tmp_path / name
    qemu("convert", "-O", "raw", img, out)
    return out


# ---- map ----

def test_map_json_matches_qemu(chain, tmp_path):
    base, mid, top = chain
    for img in (top, mid, base):
        want = json.loads(qemu("map", "--output=json", img.name, cwd=tmp_path))
        got = json.loads(wirt("map", "--output=json", img.name,
                              cwd=tmp_path).stdout)
        assert got == want, img.name


def test_map_human_matches_qemu(chain, tmp_path):
    top = chain[2]
    want = qemu("map", top.name, cwd=tmp_path)
    got = wirt("map", top.name, cwd=tmp_path).stdout
    assert got == want


def test_map_raw_holes_match_qemu(tmp_path):
    img = tmp_path / "r.raw"
    with open(img, "wb") as f:
        f.truncate(8 * MiB)
        f.seek(3 * MiB)
        f.write(b"\x01" * 64 * KiB)
        f.seek(8 * MiB - 4096)
        f.write(b"\x02" * 4096)
    want = json.loads(qemu("map", "--output=json", "-f", "raw", img))
    got = json.loads(wirt("map", "--output=json", "-f", "raw", img).stdout)
    assert got == want


def test_map_range_and_bad_input(chain, tmp_path):
    top = chain[2]
    got = json.loads(wirt("map", "--output=json", "--start-offset", "1M",
                          "--max-length", "1M", top).stdout)
    assert got[0]["start"] == MiB
    assert sum(e["length"] for e in got) == MiB
    r = wirt("map", "--output=xml", top, ok=False)
    assert r.returncode == 2 and "--output" in one_error_line(r)
    r = wirt("map", tmp_path / "missing.qcow2", ok=False)
    assert r.returncode == 1 and "missing.qcow2" in one_error_line(r)


# ---- compare ----

def compare_both(a, b, *opts):
    q = run(QEMU_IMG, "compare", *opts, a, b)
    w = wirt("compare", *opts, a, b, ok=False)
    assert (w.returncode, w.stdout) == (q.returncode, q.stdout), (w, q)
    return w


def test_compare_like_qemu(chain, tmp_path):
    base, mid, top = chain
    raw = view(top, tmp_path, "top.raw")
    assert compare_both(top, raw).returncode == 0
    assert compare_both(top, mid).returncode == 1
    assert compare_both(mid, base).returncode == 1
    # One byte off in the middle of a sector.
    with open(raw, "r+b") as f:
        f.seek(3 * MiB + 1000)
        f.write(b"\xff")
    w = compare_both(top, raw)
    assert w.stdout == f"Content mismatch at offset {3 * MiB + 512}!\n"


def test_compare_strict_like_qemu(chain, tmp_path):
    base, mid, top = chain
    raw = view(top, tmp_path, "top.raw")
    for a, b in ((top, raw), (raw, top), (base, top), (mid, top), (top, top),
                 (raw, raw)):
        compare_both(a, b, "-s")


def test_compare_sizes_and_strict(tmp_path):
    a, b = tmp_path / "a.raw", tmp_path / "b.qcow2"
    with open(a, "wb") as f:
        f.truncate(2 * MiB)
        f.write(b"x" * 4096)
    qemu("create", "-f", "qcow2", b, "3M")
    qio(b, "write -P 0x78 0 4k")
    assert compare_both(a, b).returncode == 0      # the extra MiB is zeros
    assert compare_both(a, b, "-s").returncode == 1
    qio(b, "write -P 1 2560k 1k")
    w = compare_both(a, b)
    assert w.stdout == ("Warning: Image size mismatch!\n"
                        f"Content mismatch at offset {2560 * KiB}!\n")
    w = compare_both(b, a)
    assert w.returncode == 1


def test_compare_errors_exit_2(tmp_path):
    a = tmp_path / "a.raw"
    a.write_bytes(b"\0" * 4096)
    r = wirt("compare", a, tmp_path / "nope.raw", ok=False)
    assert r.returncode == 2 and "nope.raw" in one_error_line(r)
    r = wirt("compare", a, ok=False)
    assert r.returncode == 2
    one_error_line(r)
    r = wirt("compare", "-T", "bogus", a, a, ok=False)
    assert r.returncode == 2 and "cache" in one_error_line(r)
    r = wirt("compare", "-q", a, a)
    assert r.stdout == ""


# ---- commit ----

def test_commit_into_backing_and_empty(chain, tmp_path):
    base, mid, top = chain
    want = view(top, tmp_path, "want.raw")
    mid_before = view(mid, tmp_path, "mid-before.raw")
    r = wirt("commit", top)
    assert r.stdout == "Image committed.\n"
    assert identical(mid, want)          # mid alone now shows top's view
    assert identical(top, want)          # top still reads the same
    assert not identical(mid_before, want)
    qemu("check", mid)
    qemu("check", top)
    info = json.loads(qemu("info", "--output=json", top))
    assert info["backing-filename"] == "mid.qcow2"
    depths = {e["depth"] for e in json.loads(qemu("map", "--output=json", top))}
    assert 0 not in depths               # emptied: nothing left in top


def test_commit_keep_and_base_deeper(chain, tmp_path):
    base, mid, top = chain
    want = view(top, tmp_path, "want.raw")
    wirt("commit", "-b", base, "-p", top)
    assert identical(base, want)
    qemu("check", base)
    # -b implies -d: top keeps its own clusters and still reads correctly.
    depths = {e["depth"] for e in json.loads(qemu("map", "--output=json", top))}
    assert 0 in depths
    assert identical(top, want)


def test_commit_same_as_qemu(chain, tmp_path):
    base, mid, top = chain
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path, copy, ignore=shutil.ignore_patterns("copy"))
    wirt("commit", "-d", top)
    qemu("commit", "-d", copy / "top.qcow2")
    assert identical(mid, copy / "mid.qcow2")
    assert identical(top, copy / "top.qcow2")


def test_commit_grows_smaller_backing(tmp_path):
    base, top = tmp_path / "b.qcow2", tmp_path / "t.qcow2"
    qemu("create", "-f", "qcow2", base, "1M")
    qio(base, "write -P 7 0 1M")
    qemu("create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", top, "3M")
    qio(top, "write -P 8 2M 512k")
    want = view(top, tmp_path, "want.raw")
    wirt("commit", top)
    assert json.loads(qemu("info", "--output=json", base))["virtual-size"] == 3 * MiB
    assert identical(base, want)


def test_commit_errors(tmp_path):
    img = tmp_path / "solo.qcow2"
    qemu("create", "-f", "qcow2", img, "1M")
    r = wirt("commit", img, ok=False)
    assert r.returncode == 1 and "no backing file" in one_error_line(r)
    r = wirt("commit", "-x", img, ok=False)
    assert r.returncode == 2
    one_error_line(r)


# ---- rebase ----

@pytest.fixture
def rebase_set(tmp_path):
    b1, b2, top = (tmp_path / n for n in ("b1.qcow2", "b2.qcow2", "top.qcow2"))
    qemu("create", "-f", "qcow2", b1, "4M")
    qio(b1, "write -P 1 0 2M")
    qemu("create", "-f", "qcow2", b2, "3M")
    qio(b2, "write -P 2 1M 2M", "write -P 1 0 64k")
    qemu("create", "-f", "qcow2", "-b", "b1.qcow2", "-F", "qcow2", top)
    qio(top, "write -P 3 64k 64k", "write -z 512k 64k", "write -P 4 3M 4k")
    return b1, b2, top


def test_rebase_safe_keeps_guest_view(rebase_set, tmp_path):
    b1, b2, top = rebase_set
    want = view(top, tmp_path, "want.raw")
    copy = tmp_path / "qtop.qcow2"
    shutil.copy(top, copy)
    wirt("rebase", "-b", "b2.qcow2", "-F", "qcow2", top)
    qemu("rebase", "-b", "b2.qcow2", "-F", "qcow2", copy)
    info = json.loads(qemu("info", "--output=json", top))
    assert info["backing-filename"] == "b2.qcow2"
    assert info["backing-filename-format"] == "qcow2"
    assert identical(top, want)
    assert identical(top, copy)
    qemu("check", top)


def test_rebase_remove_backing(rebase_set, tmp_path):
    top = rebase_set[2]
    want = view(top, tmp_path, "want.raw")
    wirt("rebase", "-b", "", top)
    info = json.loads(qemu("info", "--output=json", top))
    assert "backing-filename" not in info
    assert identical(top, want)
    qemu("check", top)


def test_rebase_unsafe_only_rewrites_header(rebase_set, tmp_path):
    b1, b2, top = rebase_set
    copy = tmp_path / "qtop.qcow2"
    shutil.copy(top, copy)
    size = top.stat().st_size
    wirt("rebase", "-u", "-b", "b2.qcow2", "-F", "qcow2", top)
    qemu("rebase", "-u", "-b", "b2.qcow2", "-F", "qcow2", copy)
    assert top.stat().st_size == size
    assert json.loads(qemu("info", "--output=json", top))[
        "backing-filename"] == "b2.qcow2"
    assert identical(top, copy)
    # The view changed where top does not define it: b2 differs from b1.
    assert not identical(top, view(b1, tmp_path, "b1.raw"))
    # Pointing it back restores the old view exactly.
    wirt("rebase", "-u", "-b", "b1.qcow2", top)
    qemu("check", top)


def test_rebase_errors(rebase_set, tmp_path):
    top = rebase_set[2]
    r = wirt("rebase", top, ok=False)
    assert r.returncode == 2 and "-b" in one_error_line(r)
    r = wirt("rebase", "-b", "nothere.qcow2", top, ok=False)
    assert r.returncode == 1 and "nothere.qcow2" in one_error_line(r)
    raw = tmp_path / "x.raw"
    raw.write_bytes(b"\0" * 4096)
    r = wirt("rebase", "-u", "-b", "b1.qcow2", raw, ok=False)
    assert r.returncode == 1 and "backing" in one_error_line(r)
    r = wirt("rebase", "-F", "nosuch", "-b", "b1.qcow2", top, ok=False)
    assert r.returncode == 2
    one_error_line(r)


# ---- snapshot -l --output=json ----

def test_snapshot_list_json(tmp_path):
    img = tmp_path / "s.qcow2"
    qemu("create", "-f", "qcow2", img, "1M")
    r = json.loads(wirt("snapshot", "-l", "--output=json", img).stdout)
    assert r == []
    qemu("snapshot", "-c", "first", img)
    wirt("snapshot", "-c", "second", img)
    got = json.loads(wirt("snapshot", "-l", "--output=json", img).stdout)
    want = json.loads(qemu("info", "--output=json", img))["snapshots"]
    assert [(s["id"], s["name"], s["date-sec"]) for s in got] == \
        [(s["id"], s["name"], s["date-sec"]) for s in want]
    r = wirt("snapshot", "-c", "x", "--output=json", img, ok=False)
    assert r.returncode == 2
    one_error_line(r)


# ---- bench ----

@pytest.mark.parametrize("extra", [[], ["-n"], ["-t", "none"],
                                   ["-t", "none", "-n", "-d", "8"]])
def test_bench_reads(tmp_path, extra):
    img = tmp_path / "b.qcow2"
    qemu("create", "-f", "qcow2", img, "16M")
    qio(img, "write -P 1 0 8M")
    r = wirt("bench", "-c", "2000", "-d", "4", *extra, img)
    assert "Sending 2000 read requests, 4096 bytes each" in r.stdout
    assert "Run completed in" in r.stdout and "IOPS:" in r.stdout


@pytest.mark.parametrize("fmt,extra", [("qcow2", []), ("qcow2", ["-n", "-t", "none"]),
                                       ("raw", ["-n"]), ("raw", [])])
def test_bench_writes_land(tmp_path, fmt, extra):
    img = tmp_path / ("w." + fmt)
    qemu("create", "-f", fmt, img, "4M")
    if fmt == "qcow2":
        qio(img, "write -P 1 0 2M")      # half in place, half allocating
    wirt("bench", "-w", "-c", "3000", "-d", "16", "--pattern", "0x5a",
         "-f", fmt, *extra, img)
    if fmt == "qcow2":
        qemu("check", img)
    data = view(img, tmp_path, "view.raw").read_bytes()
    blocks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    written = [b for b in blocks if b == b"\x5a" * 4096]
    assert len(written) > 500                 # random offsets spread out
    for i, b in enumerate(blocks):
        assert b in (b"\x5a" * 4096, b"\x01" * 4096, b"\0" * 4096), i


def test_bench_sequential_wraps(tmp_path):
    """A request that would run past the end starts over at -o (qemu-img
    fails the request there instead)."""
    img = tmp_path / "w.raw"
    img.write_bytes(b"\0" * 64 * KiB)
    wirt("bench", "-w", "-c", "6", "-d", "1", "-S", "12k", "-s", "8k",
         "-o", "4k", "--pattern", "3", "-f", "raw", img)
    data = img.read_bytes()
    # Fits at 4k, 16k, 28k, 40k, 52k; the 6th (64k) wraps to 4k.
    want = bytearray(64 * KiB)
    for off in (4, 16, 28, 40, 52):
        want[off * KiB:(off + 8) * KiB] = b"\3" * 8 * KiB
    assert data == bytes(want)


def test_bench_sequential_step(tmp_path):
    img = tmp_path / "s.raw"
    img.write_bytes(b"\0" * MiB)
    wirt("bench", "-w", "-c", "16", "-d", "1", "-S", "8192", "-s", "4096",
         "--pattern", "7", "-f", "raw", img)
    data = img.read_bytes()
    for i in range(0, 16 * 8192, 8192):
        assert data[i:i + 4096] == b"\7" * 4096
        assert data[i + 4096:i + 8192] == b"\0" * 4096


@pytest.mark.parametrize("args", [["-c", "0"], ["-d", "x"], ["-s", "0"],
                                  ["-t", "sometimes"], ["-i", "magic"],
                                  ["-o", "64M"], ["-z"]])
def test_bench_bad_input(tmp_path, args):
    img = tmp_path / "b.raw"
    img.write_bytes(b"\0" * MiB)
    r = wirt("bench", *args, img, ok=False)
    assert r.returncode in (1, 2)
    one_error_line(r)


# ---- info --output=json against qemu-img ----

@pytest.mark.parametrize("fmt,opts", [
    ("qcow2", "compat=0.10"), ("qcow2", "refcount_bits=8,cluster_size=4096"),
    ("qcow2", "compression_type=zstd"), ("vmdk", ""), ("raw", ""), ("vdi", ""),
])
def test_info_json_matches_qemu(tmp_path, fmt, opts):
    base = tmp_path / "base.qcow2"
    img = tmp_path / f"i.{fmt}"
    args = ["-o", opts] if opts else []
    if fmt == "qcow2":
        qemu("create", "-f", "qcow2", base, "3M")
        args += ["-b", "base.qcow2", "-F", "qcow2"]
    qemu("create", "-f", fmt, *args, img, "3M")
    want = json.loads(qemu("info", "--output=json", img))
    got = json.loads(wirt("info", "--output=json", img).stdout)
    for key in ("virtual-size", "format", "cluster-size", "backing-filename",
                "backing-filename-format", "dirty-flag"):
        assert got.get(key) == want.get(key), key
    if "format-specific" in want:
        w, g = want["format-specific"], got["format-specific"]
        assert g["type"] == w["type"]
        for key in ("compat", "refcount-bits", "compression-type", "corrupt",
                    "create-type"):
            assert g["data"].get(key) == w["data"].get(key), key


def test_check_json_matches_qemu(chain, tmp_path):
    base, mid, top = chain
    comp = tmp_path / "c.qcow2"
    raw = view(top, tmp_path, "top.raw")
    qemu("convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", raw, comp)
    frag = tmp_path / "f.qcow2"
    qemu("create", "-f", "qcow2", frag, "4M")
    qio(frag, "write 1M 64k", "write 0 64k", "write 3M 128k", "write -z 2M 64k")
    for img in (base, mid, top, comp, frag):
        want = json.loads(qemu("check", "--output=json", img))
        got = json.loads(wirt("check", "--output=json", img).stdout)
        for key in ("format", "check-errors", "total-clusters",
                    "allocated-clusters", "fragmented-clusters",
                    "compressed-clusters", "leaks", "corruptions"):
            assert got.get(key) == want.get(key), (img.name, key)


def test_check_json_raw_is_json(tmp_path):
    img = tmp_path / "r.raw"
    img.write_bytes(b"\0" * 4096)
    got = json.loads(wirt("check", "--output=json", img).stdout)
    assert got["format"] == "raw" and got["check-errors"] == 0


def test_map_vmdk_like_qemu(tmp_path):
    sparse = tmp_path / "s.vmdk"
    qemu("create", "-f", "vmdk", sparse, "4M")
    qio(sparse, "write -P 1 64k 100k", "write -P 2 3M 4k", fmt="vmdk")
    want = json.loads(qemu("map", "--output=json", sparse.name, cwd=tmp_path))
    got = json.loads(wirt("map", "--output=json", sparse.name,
                          cwd=tmp_path).stdout)
    assert got == want
    split = tmp_path / "t.vmdk"
    qemu("create", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
         split, "5G")
    qio(split, "write -P 1 0 64k", f"write -P 2 {(2 << 30) - 4096} 8k",
        fmt="vmdk")
    # Human output names the extent file that holds each range.
    assert wirt("map", split.name, cwd=tmp_path).stdout == \
        qemu("map", split.name, cwd=tmp_path)


def test_map_subclusters_like_qemu(tmp_path):
    base, img = tmp_path / "xb.qcow2", tmp_path / "x.qcow2"
    qemu("create", "-f", "qcow2", base, "4M")
    qio(base, "write -P 9 0 4M")
    qemu("create", "-f", "qcow2", "-o", "extended_l2=on", "-b", "xb.qcow2",
         "-F", "qcow2", img)
    qio(img, "write -P 1 4k 8k", "write -z 64k 6k", "write -P 2 1M 64k",
        "write -z 2M 128k")
    want = json.loads(qemu("map", "--output=json", img.name, cwd=tmp_path))
    got = json.loads(wirt("map", "--output=json", img.name,
                          cwd=tmp_path).stdout)
    assert got == want
    compare_both(img, view(img, tmp_path, "x.raw"), "-s")
