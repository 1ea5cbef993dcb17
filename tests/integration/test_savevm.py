"""Saving a running machine and restoring it in a new wirt process
(QMP migrate "file:..."/"exec:...", wirt run --incoming), with tiny
guests under the emulator: the guest goes on exactly where it was, and
states that are damaged, truncated, newer than this wirt, or of another
machine are refused with a clear message."""
import os
import re
import select
import struct
import subprocess
import time

import pytest

from conftest import WIRT, guest_path
from qmp_client import QmpClient
from test_qmp_wirt import finish, read_for

MEMORY = "32M"  # small: saving touches every page of RAM once


def start(tmp_path, name, extra=(), guest="counter"):
    sock = str(tmp_path / ("%s.sock" % name))
    env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--memory", MEMORY,
                          "--firmware", guest_path(guest), "--qmp", sock,
                          "--name", name] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    q = QmpClient(sock, timeout=60)
    q.negotiate()
    return p, q


def ticks(out):
    """The tick numbers of the counter guest's complete lines."""
    return [int(m, 16) for m in re.findall(r"^tick ([0-9a-f]{4}) tsc", out.decode(), re.M)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A counter guest saved mid-run: (state file, what it printed)."""
    d = tmp_path_factory.mktemp("saved")
    p, q = start(d, "src")
    try:
        out = read_for(p, 1.0)
        assert q.cmd("migrate", {"uri": "file:%s" % (d / "state")}) == {}
        info = q.cmd("query-migrate")
        assert info["status"] == "completed", info
        assert q.cmd("query-status")["status"] == "paused"
        out += read_for(p, 0.5)
    finally:
        finish(p, q)
    return d / "state", out


def restore(tmp_path, state, extra=(), seconds=2.0):
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--memory", MEMORY,
                          "--firmware", guest_path("counter"),
                          "--incoming", "file:%s" % state] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = read_for(p, seconds)
    if p.poll() is None:
        p.kill()
    p.wait()
    return p, out, p.stderr.read().decode()


def test_restore_continues_the_guest_exactly(tmp_path, saved, wirt_binary):
    state, before = saved
    p, after, err = restore(tmp_path, state)
    # One stream: the line cut by the save goes on in the new process.
    seq = ticks(before + after)
    assert len(ticks(before)) >= 3 and len(ticks(after)) >= 3, (before, after, err)
    assert seq == list(range(seq[0], seq[0] + len(seq))), (before, after)
    # The guest's TSC goes on from where it was: no jump over the pause.
    tsc = [int(t, 16) for t in re.findall(r"tsc ([0-9a-f]{8})", (before + after).decode())]
    gaps_ms = [(b - a) * (1 << 20) / 1e6 for a, b in zip(tsc, tsc[1:])]
    assert max(gaps_ms) < 500, gaps_ms


def test_restore_twice_from_one_state(tmp_path, saved, wirt_binary):
    """The file is not used up: a second restore starts at the same tick."""
    state, before = saved
    _, a, _ = restore(tmp_path, state, seconds=1.5)
    _, b, _ = restore(tmp_path, state, seconds=1.5)
    assert ticks(a)[:2] == ticks(b)[:2] and ticks(a), (a, b)


def test_save_while_paused_and_continue(tmp_path, wirt_binary):
    """stop, migrate, cont: the source goes on too (QEMU's postmigrate)."""
    p, q = start(tmp_path, "pc")
    try:
        q.cmd("stop")
        q.cmd("migrate", {"uri": "file:%s" % (tmp_path / "s")})
        assert q.cmd("query-status")["status"] == "paused"
        q.cmd("cont")
        assert ticks(read_for(p, 1.0)), "the source did not go on after cont"
    finally:
        finish(p, q)


def test_other_machine_is_refused(tmp_path, saved, wirt_binary):
    state, _ = saved
    p, out, err = restore(tmp_path, state, extra=["--memory", "64M"])
    assert p.returncode == 1, err
    assert "32 MiB of RAM, this one 64 MiB: start with --memory 32M" in err, err
    assert out == b""
    p, _, err = restore(tmp_path, state, extra=["--rng"])
    assert p.returncode == 1 and "start with the same devices" in err, err
    p, _, err = restore(tmp_path, state, extra=["--cpus", "2"])
    assert p.returncode == 1 and "1 vCPUs, this one 2" in err, err


def damaged(tmp_path, state, change):
    data = bytearray(state.read_bytes())
    data = change(data)
    path = tmp_path / "bad"
    path.write_bytes(bytes(data))
    return path


def section_offset(data, name):
    """Where section name's header starts."""
    i = bytes(data).find(b"SECT" + bytes([len(name)]) + name.encode())
    assert i > 0, name
    return i


@pytest.mark.parametrize("change,message", [
    (lambda d: d[: len(d) // 2], "the state is truncated"),
    (lambda d: d[:-3], "the state is truncated"),
    (lambda d: d[:16], "the state is truncated"),
    (lambda d: b"", "the state is truncated"),
    (lambda d: b"QEVM" + d[4:], "not a wirt VM state"),
    (lambda d: d[:8] + struct.pack("<I", 99) + d[12:],
     "format version 99 is newer than this wirt reads (1)"),
])
def test_bad_state_is_refused(tmp_path, saved, wirt_binary, change, message):
    state, _ = saved
    p, out, err = restore(tmp_path, damaged(tmp_path, state, change))
    assert p.returncode == 1, err
    assert message in err, err
    assert out == b"", "the guest ran from a bad state"


def test_corrupted_section_is_refused(tmp_path, saved, wirt_binary):
    state, _ = saved

    def flip(d):
        i = section_offset(d, "serial") + 4 + 1 + 6 + 16 + 2
        d[i] ^= 0x40
        return d
    p, out, err = restore(tmp_path, damaged(tmp_path, state, flip))
    assert p.returncode == 1 and "section 'serial' fails its checksum" in err, err
    assert out == b""


def test_newer_section_version_is_refused(tmp_path, saved, wirt_binary):
    state, _ = saved

    def bump(d):
        i = section_offset(d, "pit") + 4 + 1 + 3 + 4
        d[i:i + 4] = struct.pack("<I", 7)
        return d
    p, out, err = restore(tmp_path, damaged(tmp_path, state, bump))
    assert p.returncode == 1, err
    assert "the state of device 'pit' has version 7, newer than this wirt reads (1)" in err, err


def test_unknown_section_is_refused(tmp_path, saved, wirt_binary):
    state, _ = saved

    def rename(d):
        i = section_offset(d, "i8042") + 5
        d[i:i + 5] = b"i8043"
        return d
    p, _, err = restore(tmp_path, damaged(tmp_path, state, rename))
    assert p.returncode == 1 and "device 'i8043'" in err and "lacks" in err, err


def test_migrate_errors_leave_the_guest_running(tmp_path, wirt_binary):
    p, q = start(tmp_path, "err")
    try:
        r = q.execute("migrate", {"uri": "file:%s" % (tmp_path / "no" / "such" / "dir")})
        assert "cannot create" in r["error"]["desc"], r
        r = q.execute("migrate", {"uri": "udp:127.0.0.1:1"})
        assert "unsupported migration URI" in r["error"]["desc"], r
        # tcp: connects in the background, as QEMU's: query-migrate says.
        assert q.cmd("migrate", {"uri": "tcp:127.0.0.1:1"}) == {}
        for _ in range(100):
            m = q.cmd("query-migrate")
            if m["status"] == "failed":
                break
            time.sleep(0.05)
        assert "refused" in m["error-desc"], m
        # exec: starts a program, which the sandbox forbids: said clearly.
        r = q.execute("migrate", {"uri": "exec:cat > /dev/null"})
        assert "sandbox" in r["error"]["desc"], r
        assert q.cmd("query-migrate")["status"] == "failed"
        assert q.cmd("query-status")["status"] == "running"
        assert ticks(read_for(p, 1.0)), "the guest stopped after a failed migrate"
    finally:
        finish(p, q)


def test_exec_migration_without_sandbox(tmp_path, wirt_binary):
    """exec: pipes the state through a command, both ways."""
    path = tmp_path / "via-exec"
    p, q = start(tmp_path, "ex", extra=["--sandbox", "off"])
    try:
        before = read_for(p, 0.6)
        q.cmd("migrate", {"uri": "exec:gzip -c > %s" % path})
        before += read_for(p, 0.3)
    finally:
        finish(p, q)
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--memory", MEMORY,
                          "--firmware", guest_path("counter"),
                          "--incoming", "exec:gzip -dc %s" % path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    after = read_for(p, 2.0)
    p.kill()
    p.wait()
    seq = ticks(before + after)
    assert ticks(after) and seq == list(range(seq[0], seq[0] + len(seq))), (before, after)


def hmp(q, line):
    return q.cmd("human-monitor-command", {"command-line": line})


def test_savevm_loadvm_delvm(tmp_path, wirt_binary):
    """Internal snapshots with machine state in a qcow2 disk: loadvm goes
    back to the saved tick, --loadvm starts there, qemu-img agrees on the
    image and the VM state size."""
    disk = tmp_path / "d.qcow2"
    assert subprocess.run([WIRT, "img", "create", "-f", "qcow2", str(disk), "64M"],
                          capture_output=True).returncode == 0
    p, q = start(tmp_path, "snap", extra=["--disk", str(disk)])
    try:
        read_for(p, 0.6)
        assert hmp(q, "savevm s1") == ""
        saved_at = ticks(read_for(p, 0.8))
        assert saved_at, "the guest did not go on after savevm"
        assert hmp(q, "loadvm s1") == ""
        back = ticks(read_for(p, 0.8))
        # A tick printed just before loadvm may still arrive first: what
        # counts is that the counter went back to the saved point.
        assert back and min(back) < saved_at[-1], (saved_at, back)
        assert "s1" in hmp(q, "info snapshots")
        assert "no snapshot 'nope'" in hmp(q, "loadvm nope")
        assert "needs an argument" in hmp(q, "savevm")
        assert hmp(q, "savevm s2") == "" and hmp(q, "delvm s2") == ""
        assert "no snapshot 's2'" in hmp(q, "delvm s2")
    finally:
        finish(p, q)
    listing = subprocess.run([WIRT, "img", "snapshot", "-l", str(disk)],
                             capture_output=True, text=True).stdout
    size = int(re.search(r"^1\s+s1\s+(\d+)", listing, re.M).group(1))
    assert size > 4096, listing
    check = subprocess.run(["qemu-img", "check", str(disk)], capture_output=True, text=True)
    assert check.returncode == 0, check
    qlist = subprocess.run(["qemu-img", "snapshot", "-l", str(disk)],
                           capture_output=True, text=True).stdout
    assert "s1" in qlist and "KiB" in qlist, qlist
    # A new wirt starts from the snapshot.
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--memory", MEMORY,
                          "--firmware", guest_path("counter"), "--disk", str(disk),
                          "--loadvm", "s1"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    again = ticks(read_for(p, 1.5))
    p.kill()
    p.wait()
    # (the lowest of back: a tick from before loadvm may lead it)
    assert again and again[0] == min(back), (back, again)
    p = subprocess.run([WIRT, "run", "--accel", "emu", "--memory", MEMORY,
                        "--firmware", guest_path("counter"), "--disk", str(disk),
                        "--loadvm", "nope"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "--loadvm nope: no snapshot 'nope'" in p.stderr, p.stderr


def test_savevm_needs_a_qcow2_disk(tmp_path, wirt_binary):
    raw = tmp_path / "d.raw"
    raw.write_bytes(b"\0" * (1 << 20))
    p, q = start(tmp_path, "raw", extra=["--disk", "%s,format=raw" % raw])
    try:
        assert "cannot hold snapshots" in hmp(q, "savevm s1")
        assert q.cmd("query-status")["status"] == "running"
    finally:
        finish(p, q)
    p, q = start(tmp_path, "nodisk")
    try:
        assert "no writable qcow2 disk" in hmp(q, "savevm s1")
    finally:
        finish(p, q)


def test_ps2_keyboard_queue_survives_migrate(tmp_path, wirt_binary):
    """Keys typed while the guest is stopped wait in the PS/2 keyboard's
    queue; saved with it, the restored guest reads them (kbd_echo prints
    every byte)."""
    from test_vnc import XK_a, XK_Up, free_port, viewer
    from test_display import Vm
    from conftest import guest_path
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", guest_path("kbd_echo"),
                       "--display", "vnc=:%d" % port])
    state = tmp_path / "state"
    try:
        assert vm.wait_output("ready\n").endswith("ready\n")
        v = viewer(port)
        assert vm.qmp.cmd("stop") == {}
        v.tap(XK_a)                   # 1e 9e: the first in the output buffer
        v.key(XK_Up, True)            # e0 48: in the keyboard's queue
        time.sleep(0.5)
        assert vm.qmp.cmd("migrate", {"uri": "file:%s" % state}) == {}
        assert vm.qmp.cmd("query-migrate")["status"] == "completed"
        v.close()
    finally:
        vm.close()
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--firmware", guest_path("kbd_echo"),
                          "--display", "vnc=:%d" % free_port(),
                          "--incoming", "file:%s" % state],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = b""
        deadline = time.monotonic() + 30
        while b"set2\n" not in out and time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
        assert out == b"1e\n9e\ne0\n48\nset2\n", (out, p.stderr.read1(4096) if p.poll() is not None else "")
    finally:
        p.kill()
        p.wait()


def test_vga_screen_survives_migrate(tmp_path, wirt_binary):
    """A VBE mode and the pixels drawn in VRAM: the restored machine's
    screen is the saved one's, pixel for pixel."""
    from test_display import Vm
    from conftest import guest_path
    vm = Vm(tmp_path, ["--firmware", guest_path("vga_vbe"), "--vga", "std"])
    state, before, after = tmp_path / "state", tmp_path / "a.ppm", tmp_path / "b.ppm"
    try:
        vm.wait_output("drawn\n")
        assert vm.qmp.cmd("stop") == {}
        assert vm.qmp.cmd("screendump", {"filename": str(before)}) == {}
        assert vm.qmp.cmd("migrate", {"uri": "file:%s" % state}) == {}
        assert vm.qmp.cmd("query-migrate")["status"] == "completed"
    finally:
        vm.close()
    (tmp_path / "qmp.sock").unlink(missing_ok=True)
    vm = Vm(tmp_path, ["--firmware", guest_path("vga_vbe"), "--vga", "std",
                       "--incoming", "file:%s" % state])
    try:
        assert vm.qmp.cmd("stop") == {}
        assert vm.qmp.cmd("screendump", {"filename": str(after)}) == {}
        assert after.read_bytes() == before.read_bytes()
        assert b"64 48" in before.read_bytes()[:20]
    finally:
        vm.close()
