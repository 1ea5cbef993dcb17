"""Crash safety of qcow2 writes: kill a busy writer, then check the image.

build/tests/img_crash_writer (tests/crash/img_crash_writer.c) writes and
discards at random with a flush every few operations, logging each
operation before it starts and each completed flush.  It is killed with
SIGKILL at a random moment, several rounds on the same image.  After each
kill, `wirt img check` and `qemu-img check` may report leaked clusters but
nothing worse, and every operation acknowledged before the last completed
flush must read back (through qemu-img, the independent reader) exactly;
bytes that operations after it touched hold either their old contents or
what one of those operations stores there.

A kill leaves the file as the writer's last completed system call left it,
so this finds metadata written in the wrong order (an L2 entry naming a
cluster whose refcount is not yet on disk, a cluster freed while still
referenced), not what a power cut does to unflushed data.
"""
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRT = ROOT / "wirt"
WRITER = ROOT / "build" / "tests" / "img_crash_writer"
QEMU_IMG = shutil.which("qemu-img")

PATTERN_LEN = 2 * 65536
ROUNDS = 10


@pytest.fixture(scope="module")
def writer():
    # `make integration` builds it; build it here when run on its own.
    subprocess.run(["make", "-s", "-C", str(ROOT), "wirt",
                    str(WRITER.relative_to(ROOT))], check=True)
    return WRITER


def dump(image, out):
    """The guest-visible bytes, read by qemu-img (or wirt without it)."""
    if QEMU_IMG:
        cmd = [QEMU_IMG, "convert", "-O", "raw", str(image), str(out)]
    else:
        cmd = [str(WIRT), "img", "convert", "-O", "raw", str(image), str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return bytearray(out.read_bytes())


def replay(log_text, model, pattern):
    """Apply the durable operations to model; return the operations begun
    after the last completed flush as (start, end, bytes they store)."""
    ops, durable = [], 0
    for line in log_text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "F":
            durable = int(f[1])
        elif f[0] == "B" and len(f) == 5:
            ops.append((int(f[1]), f[2], int(f[3]), int(f[4])))
    unknown = []
    for seq, kind, off, length in ops:
        if kind == "w":
            start = (seq * 4099) % 65536
            data = pattern[start:start + length]
        else:
            data = bytes(length)
        if seq > durable:
            unknown.append((off, off + length, data))
        else:
            model[off:off + length] = data
    return durable, unknown


def first_bad_byte(model, actual, unknown):
    """Offset of the first byte that is neither what the durable writes
    left nor what one of the unflushed operations stores there."""
    assert len(model) == len(actual)
    pos = 0
    for start, end, _ in sorted(unknown) + [(len(model), len(model), b"")]:
        if start > pos and model[pos:start] != actual[pos:start]:
            return next(i for i in range(pos, start) if model[i] != actual[i])
        pos = max(pos, end)
    for start, end, _ in unknown:
        if actual[start:end] == model[start:end]:
            continue
        for i in range(start, end):
            if actual[i] != model[i] and not any(
                    s <= i < e and d[i - s] == actual[i] for s, e, d in unknown):
                return i
    return None


def check_image(image, repair=False):
    """wirt and qemu-img both find at most leaks; returns wirt's status."""
    args = [str(WIRT), "img", "check"] + (["-r"] if repair else []) + [str(image)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 3), f"wirt img check: {r.returncode}\n{r.stdout}{r.stderr}"
    if QEMU_IMG:
        q = subprocess.run([QEMU_IMG, "check", str(image)], capture_output=True,
                           text=True, timeout=120)
        assert q.returncode in (0, 3), f"qemu-img check: {q.returncode}\n{q.stdout}{q.stderr}"
        if repair:
            assert q.returncode == 0, q.stdout
    return r.returncode


def crash_rounds(tmp_path, writer, image, seed):
    rng = random.Random(seed)
    pattern = bytes(rng.getrandbits(8) for _ in range(PATTERN_LEN))
    pfile = tmp_path / "pattern.bin"
    pfile.write_bytes(pattern)
    model = dump(image, tmp_path / "before.raw")
    total_durable = 0
    for rnd in range(ROUNDS):
        log = tmp_path / f"round{rnd}.log"
        proc = subprocess.Popen([str(writer), str(image), str(log), str(pfile),
                                 str(seed * 100 + rnd)],
                                stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.5))
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()

        check_image(image, repair=(rnd % 3 == 2))
        durable, unknown = replay(log.read_text(), model, pattern)
        total_durable += durable
        actual = dump(image, tmp_path / "after.raw")
        bad = first_bad_byte(model, actual, unknown)
        assert bad is None, (f"round {rnd}: byte {bad} differs from the last "
                             f"flushed write ({durable} operations durable)")
        model = actual
    # The rounds did real work: several flushes each.
    assert total_durable >= ROUNDS * 16


def create(image, *opts):
    args = [str(WIRT), "img", "create", "-f", "qcow2"]
    if opts:
        args += ["-o", ",".join(opts)]
    subprocess.run(args + [str(image), "32M"], check=True, capture_output=True)


def test_crash_small_clusters(tmp_path, writer):
    """512-byte clusters: many L2 tables and refcount blocks, and a refcount
    table that has to grow while the writer is being killed."""
    image = tmp_path / "c512.qcow2"
    create(image, "cluster_size=512")
    crash_rounds(tmp_path, writer, image, 1)


def test_crash_64k_clusters_refcount_width(tmp_path, writer):
    """64 KiB clusters with 4-bit refcounts: copy-on-write of partial
    clusters on almost every write."""
    image = tmp_path / "c64k.qcow2"
    create(image, "refcount_bits=4")
    crash_rounds(tmp_path, writer, image, 2)


@pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img not installed")
def test_crash_lazy_refcounts(tmp_path, writer):
    """An image with lazy refcounts is left dirty by the kill and repaired
    when the writer opens it again."""
    image = tmp_path / "lazy.qcow2"
    subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-o",
                    "lazy_refcounts=on,cluster_size=4096", str(image), "32M"],
                   check=True)
    crash_rounds(tmp_path, writer, image, 3)
