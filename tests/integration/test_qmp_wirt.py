"""wirt's QMP monitor beyond the protocol: stop/cont really freeze the
vCPUs, hostile clients (garbage, huge requests, disconnects mid-request)
leave the VM running, SIGTERM presses the power button, QEMU habits get a
hint."""
import os
import select
import signal
import socket
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, kvm_skip_reason, run_wirt
from qmp_client import QmpClient


def start(tmp_path, guest, accel="emu", extra=(), name="t"):
    sock = str(tmp_path / ("%s.sock" % name))
    env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
    p = subprocess.Popen([WIRT, "run", "--accel", accel, "--firmware", guest_path(guest),
                          "--qmp", sock, "--name", name] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    q = QmpClient(sock)
    q.negotiate()
    return p, q, sock


def read_for(proc, seconds):
    """What the guest prints on the serial port during the next seconds."""
    out = b""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                return out
            out += data


def finish(p, q):
    q.close()
    if p.poll() is None:
        p.kill()
    p.wait()


@pytest.mark.parametrize("accel", ["emu", "kvm"])
def test_stop_freezes_the_guest(tmp_path, wirt_binary, accel):
    if accel == "kvm" and kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    p, q, _ = start(tmp_path, "counter", accel)
    try:
        assert b"tick" in read_for(p, 1.5), "the counter guest does not count"
        q.cmd("stop")
        q.wait_event("STOP")
        read_for(p, 0.2)  # a line on its way
        assert read_for(p, 1.0) == b"", "the guest ran while stopped"
        assert q.cmd("query-status")["status"] == "paused"
        q.cmd("cont")
        q.wait_event("RESUME")
        assert b"tick" in read_for(p, 1.5), "the guest did not resume"
    finally:
        finish(p, q)


def tsc_values(out):
    """The guest's TSC readings (units of 2^20 cycles) in counter output."""
    vals = []
    for line in out.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "tick" and parts[2] == "tsc":
            vals.append(int(parts[3], 16))
    return vals


def test_guest_clock_stands_still_while_paused(tmp_path, wirt_binary):
    """Under the emulator the guest's clocks (TSC, PM timer, timers) are
    the host's less the time paused: after cont the guest goes on from
    where it stopped.  (KVM: the hardware TSC runs on; not checked.)"""
    p, q, _ = start(tmp_path, "counter")
    try:
        before = read_for(p, 1.0)
        q.cmd("stop")
        q.wait_event("STOP")
        before += read_for(p, 0.2)
        time.sleep(1.5)
        q.cmd("cont")
        after = read_for(p, 1.0)
        t0, t1 = tsc_values(before)[-1], tsc_values(after)[0]
        gap_ms = (t1 - t0) * (1 << 20) / 1e6  # the TSC runs at 1 GHz
        assert gap_ms < 500, "the guest clock jumped %.0f ms over a 1.5 s pause" % gap_ms
    finally:
        finish(p, q)


def test_reset_while_paused_stays_paused(tmp_path, wirt_binary):
    p, q, _ = start(tmp_path, "counter")
    try:
        q.cmd("stop")
        q.cmd("system_reset")
        q.wait_event("RESET")
        read_for(p, 0.3)
        assert read_for(p, 0.7) == b""
        assert q.cmd("query-status")["status"] == "paused"
        q.cmd("cont")
        assert b"tick 0000" in read_for(p, 1.5), "no fresh start after the reset"
    finally:
        finish(p, q)


def test_hmp_commands(tmp_path, wirt_binary):
    p, q, _ = start(tmp_path, "idle")
    try:
        hmp = lambda c: q.cmd("human-monitor-command", {"command-line": c})
        assert "info status" in hmp("help")
        assert hmp("info status") == "VM status: running\n"
        assert "rip" in hmp("info registers").lower() or "RIP" in hmp("info registers")
        assert hmp("info name") == "t\n"
        assert "no disks" in hmp("info block")
        assert "no network" in hmp("info network")
        assert "wirt" in hmp("info version")
        assert "unknown command" in hmp("frobnicate")
        assert hmp("stop") == ""
        assert hmp("info status") == "VM status: paused\n"
        hmp("cont")
        hmp("quit")
        assert p.wait(timeout=10) == 0
    finally:
        finish(p, q)


def test_garbage_and_huge_requests(tmp_path, wirt_binary):
    p, q, sock = start(tmp_path, "idle")
    try:
        # Garbage: an error, then the session goes on.
        bad = QmpClient(sock)
        bad.send_raw(b"\x00\xff{{{ not json at all\n")
        r = bad.reply(timeout=5)
        assert r["error"]["class"] == "GenericError"
        bad.negotiate()
        assert bad.cmd("query-status")["running"] is True
        bad.close()
        # A request longer than the limit: an error and the connection ends.
        # (The error may be lost to the reset of a socket closed with
        # unread input.)
        huge = QmpClient(sock)
        try:
            huge.send_raw(b'{"execute": "' + b"a" * (200 * 1024))
            r = huge.reply(timeout=5)
            assert r is None or r["error"]["class"] == "GenericError"
            assert huge.recv(timeout=5) is None
        except (ConnectionResetError, BrokenPipeError):
            pass
        huge.close()
        # A long line without any JSON structure end, in many small writes.
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.settimeout(5)
        try:
            for _ in range(100):
                s.sendall(b"[" * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        # Disconnects mid-request.
        for part in (b'{"execute": "query-', b'{"execute": "stop"', b'{'):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.sendall(part)
            s.close()
        # Many clients that never read.
        idle = []
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            idle.append(s)
        assert q.cmd("query-status") == {"running": True, "status": "running"}
        for s in idle:
            s.close()
        assert p.poll() is None
    finally:
        finish(p, q)


def test_sigterm_without_acpi_guest_is_forced_after_grace(tmp_path, wirt_binary):
    p, q, _ = start(tmp_path, "idle", extra=["--shutdown-timeout", "1"])
    try:
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
        q.wait_event("POWERDOWN")
        e = q.wait_event("SHUTDOWN", timeout=10)
        assert e["data"] == {"guest": False, "reason": "host-signal"}
        assert p.wait(timeout=10) == 128 + signal.SIGTERM
        assert time.monotonic() - t >= 0.9
        assert b"power off" in p.stderr.read()
    finally:
        finish(p, q)


def test_second_sigint_stops_at_once(tmp_path, wirt_binary):
    p, q, _ = start(tmp_path, "idle", extra=["--shutdown-timeout", "60"])
    try:
        p.send_signal(signal.SIGINT)
        q.wait_event("POWERDOWN")
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 128 + signal.SIGINT
    finally:
        finish(p, q)


@pytest.mark.parametrize("opt,hint", [("-nographic", "headless"), ("-kernel", "--kernel"),
                                      ("-smp", "--cpus"), ("-enable-kvm", "--accel kvm")])
def test_qemu_options_get_a_hint(wirt_binary, opt, hint):
    r = run_wirt(["run", opt, "x", "--firmware", guest_path("idle")])
    assert r.returncode == 2
    assert "QEMU option" in r.stderr and hint in r.stderr
    assert "network" not in r.stderr


def test_query_block_and_info_block(tmp_path, wirt_binary):
    raw = tmp_path / "a.raw"
    raw.write_bytes(b"\0" * (1 << 20))
    qcow = tmp_path / "b.qcow2"
    subprocess.run([WIRT, "img", "create", "-f", "qcow2", str(qcow), "16M"], check=True,
                   capture_output=True)
    p, q, _ = start(tmp_path, "idle", extra=["--disk", "%s,format=raw" % raw,
                                             "--disk", "%s,readonly=on" % qcow,
                                             "--net", "user,restrict=on"])
    try:
        blocks = q.cmd("query-block")
        assert [b["device"] for b in blocks] == ["virtio0", "virtio1"]
        assert blocks[0]["inserted"] == {"file": str(raw), "ro": False, "drv": "raw"}
        assert blocks[1]["inserted"] == {"file": str(qcow), "ro": True, "drv": "qcow2"}
        out = q.cmd("human-monitor-command", {"command-line": "info block"})
        assert out == "virtio0: %s (raw)\nvirtio1: %s (qcow2, read-only)\n" % (raw, qcow)
        out = q.cmd("human-monitor-command", {"command-line": "info network"})
        assert out == "net0: virtio-net-pci, user,restrict=on\n"
    finally:
        finish(p, q)


def test_qmp_socket_in_use_is_not_taken(tmp_path, wirt_binary):
    p, q, sock = start(tmp_path, "idle", name="first")
    try:
        r = subprocess.run([WIRT, "run", "--accel", "emu", "--firmware", guest_path("idle"),
                            "--qmp", sock], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30,
                           env=dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run")))
        assert r.returncode == 1 and "listens on that socket" in r.stderr
        assert q.cmd("query-name") == {"name": "first"}
    finally:
        finish(p, q)
    # A socket file left behind (here: by a wirt killed with SIGKILL) is reused.
    p, q, sock = start(tmp_path, "idle", name="second")
    p.kill()
    p.wait()
    q.close()
    assert os.path.exists(sock)
    p, q, sock = start(tmp_path, "idle", name="second")
    try:
        assert q.cmd("query-name") == {"name": "second"}
    finally:
        finish(p, q)


def test_stop_with_waiting_application_processors(tmp_path, wirt_binary):
    """Four vCPUs, three of them waiting for a SIPI: all park on stop."""
    p, q, _ = start(tmp_path, "counter", extra=["--cpus", "4"])
    try:
        assert b"tick" in read_for(p, 1.0)
        t = time.monotonic()
        q.cmd("stop")
        assert time.monotonic() - t < 2
        read_for(p, 0.2)
        assert read_for(p, 0.8) == b""
        assert len(q.cmd("query-cpus-fast")) == 4
        assert "CPU#3" in q.cmd("human-monitor-command", {"command-line": "info registers"})
        q.cmd("cont")
        assert b"tick" in read_for(p, 1.0)
    finally:
        finish(p, q)
