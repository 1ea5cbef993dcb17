"""Crash safety through the guest's own disk path: kill -9 a running wirt
while its guest writes to a qcow2 disk over virtio-blk, 20 times.

build/kernels/blk_crash_writer.elf (tests/kernels/blk_crash_writer.c) is a
guest with a virtio-blk driver of its own: it writes runs of sectors at
random places, flushes every few writes, and reports each write before
submitting it and each flush the device acknowledged.  Each sector it
writes names the write it came from.  After every kill, `wirt img check`
and `qemu-img check` may find leaked clusters but nothing worse, and every
sector holds what the last acknowledged flush made durable there, or what
one of the writes submitted after that flush stores there: an
acknowledged flush is never lost, and no sector holds anything else.

test_img_crash.py kills a host program writing through the block layer;
this one adds wirt's device model, its request completion and the guest
seeing the acknowledgement.
"""
import random
import shutil
import signal
import struct
import subprocess
import time

import pytest

from conftest import ROOT, WIRT, kvm_is_pvm, kvm_skip_reason

KERNEL = f"{ROOT}/build/kernels/blk_crash_writer.elf"
QEMU_IMG = shutil.which("qemu-img")
DISK_SIZE = 16 << 20
SECTOR = 512
MAGIC = 0x54524957
ROUNDS = 20


def decode(raw):
    """Per sector: None (never written) or the (round, seq) that wrote it."""
    out = []
    for s in range(len(raw) // SECTOR):
        sec = raw[s * SECTOR:(s + 1) * SECTOR]
        if not any(sec):
            out.append(None)
            continue
        magic, rnd, seq, num = struct.unpack_from("<4I", sec)
        assert magic == MAGIC and num == s and sec == sec[:16] * (SECTOR // 16), \
            f"sector {s} holds bytes no write stored there: {sec[:16].hex()}"
        out.append((rnd, seq))
    return out


def read_image(image, scratch):
    """The guest-visible disk, read by qemu-img (or wirt without it)."""
    tool = [QEMU_IMG] if QEMU_IMG else [WIRT, "img"]
    subprocess.run(tool + ["convert", "-O", "raw", str(image), str(scratch)],
                   check=True, capture_output=True, timeout=120)
    return scratch.read_bytes()


def check_image(image, repair):
    r = subprocess.run([WIRT, "img", "check"] + (["-r"] if repair else []) + [str(image)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 3), f"wirt img check: {r.returncode}\n{r.stdout}{r.stderr}"
    if QEMU_IMG:
        q = subprocess.run([QEMU_IMG, "check", str(image)], capture_output=True,
                           text=True, timeout=120)
        assert q.returncode in (0, 3), f"qemu-img check: {q.returncode}\n{q.stdout}{q.stderr}"


def run_and_kill(accel, image, rnd, seed, delay):
    """One guest run killed after delay seconds of writing; its report."""
    p = subprocess.Popen([WIRT, "run", "--accel", accel,
                          "--kernel", KERNEL, "--append", f"round={rnd} seed={seed}",
                          "--disk", f"{image},format=qcow2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        first = p.stdout.readline()
        assert first == b"READY\n", first + p.stderr.read()
        time.sleep(delay)
        assert p.poll() is None, p.stderr.read().decode()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    # Through the same buffered reader as READY: it may hold more lines.
    out = p.stdout.read()
    p.stdout.close()
    p.stderr.close()
    return out.decode(errors="replace")


def replay(report, rnd, model):
    """Apply the acknowledged-durable writes of one run to model; return
    per sector the writes submitted after the last acknowledged flush."""
    writes, durable = [], 0
    for line in report.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "F":
            durable = int(f[1])
        elif len(f) == 4 and f[0] == "W":
            writes.append(tuple(map(int, f[1:])))
        elif f and f[0] == "FAIL":
            pytest.fail(f"guest: {line}")
    maybe = {}
    for seq, first, count in writes:
        for s in range(first, first + count):
            if seq <= durable:
                model[s] = (rnd, seq)
                maybe.pop(s, None)
            else:
                maybe.setdefault(s, set()).add((rnd, seq))
    return durable, maybe


@pytest.mark.parametrize("accel", ["emu", "kvm"])
def test_kill_during_guest_writes(wirt_binary, tmp_path, accel):
    if accel == "kvm":
        why = kvm_skip_reason()
        if why:
            pytest.skip(why)
        if kvm_is_pvm():
            pytest.skip("KVM-PVM host: protected-mode guest code does not run there")
    subprocess.run(["make", "-s", "-C", ROOT, KERNEL[len(ROOT) + 1:]], check=True)
    image = tmp_path / "disk.qcow2"
    # Small clusters: most writes allocate, many cross clusters and L2 tables.
    subprocess.run([WIRT, "img", "create", "-f", "qcow2", "-o", "cluster_size=4096",
                    str(image), str(DISK_SIZE)], check=True, capture_output=True)
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    model = [None] * (DISK_SIZE // SECTOR)
    flushes = 0
    for rnd in range(1, ROUNDS + 1):
        report = run_and_kill(accel, image, rnd, rng.randrange(1 << 30),
                              rng.uniform(0.2, 1.2))
        check_image(image, repair=(rnd % 5 == 0))
        durable, maybe = replay(report, rnd, model)
        flushes += durable > 0
        actual = decode(read_image(image, tmp_path / "disk.raw"))
        for s, (want, got) in enumerate(zip(model, actual)):
            assert got == want or got in maybe.get(s, ()), \
                (f"seed {seed} round {rnd}: sector {s} holds {got}, the last flushed "
                 f"write there was {want} (flushed up to seq {durable})")
        model = actual
    # The runs did real work: most of them acknowledged flushes.
    assert flushes >= ROUNDS // 2, f"only {flushes} of {ROUNDS} runs acknowledged a flush"
