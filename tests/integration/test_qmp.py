"""QMP conformance: one script, written from QEMU's documented protocol
(docs/interop/qmp-spec and the QAPI schema of the commands used), run
against wirt and against qemu-system-x86_64 (skipped where QEMU is
missing) to show that both speak the same protocol.  Only what the
documentation promises is checked: message shapes, error classes, ids,
events and their order, not QEMU's exact wording."""
import os
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, qemu_path
from qmp_client import QmpClient

TARGETS = ["wirt", "qemu"]


class Target:
    """A running VM with a QMP socket: wirt on a tiny guest, or QEMU."""

    def __init__(self, kind, tmp_path, name="conf-vm"):
        self.kind = kind
        self.sock = str(tmp_path / "qmp.sock")
        env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
        if kind == "wirt":
            args = [WIRT, "run", "--accel", "emu", "--firmware", guest_path("idle"),
                    "--name", name, "--qmp", self.sock]
        else:
            if not qemu_path():
                pytest.skip("qemu-system-x86_64 is not installed")
            args = [qemu_path(), "-machine", "q35", "-accel", "tcg", "-display", "none",
                    "-nodefaults", "-m", "64", "-name", name,
                    "-qmp", "unix:%s,server=on,wait=off" % self.sock]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.qmp = QmpClient(self.sock)

    def stop(self):
        self.qmp.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(params=TARGETS)
def target(request, tmp_path, wirt_binary):
    t = Target(request.param, tmp_path)
    yield t
    t.stop()


def test_greeting(target):
    g = target.qmp.greeting
    assert set(g) == {"QMP"}
    assert isinstance(g["QMP"]["capabilities"], list)
    v = g["QMP"]["version"]
    for k in ("major", "minor", "micro"):
        assert isinstance(v["qemu"][k], int)
    assert isinstance(v["package"], str)


def test_negotiation(target):
    q = target.qmp
    r = q.execute("query-status")
    assert r["error"]["class"] == "CommandNotFound"
    assert isinstance(r["error"]["desc"], str)
    assert q.execute("qmp_capabilities") == {"return": {}}
    r = q.execute("qmp_capabilities")
    assert r["error"]["class"] == "CommandNotFound"
    assert q.cmd("query-status")["status"] == "running"


def test_ids_are_echoed(target):
    q = target.qmp
    q.negotiate()
    for ident in ("abc", 17, {"a": [1, 2]}, None):
        r = q.execute("query-status", id=ident) if ident is not None else \
            q.execute("query-status")
        if ident is None:
            assert "id" not in r
        else:
            assert r["id"] == ident
    r = q.execute("no-such-command", id="x1")
    assert r["id"] == "x1"


def test_errors(target):
    q = target.qmp
    q.negotiate()
    r = q.execute("no-such-command")
    assert r["error"]["class"] == "CommandNotFound"
    for args in ({"bogus": 1},):
        r = q.execute("query-status", args)
        assert r["error"]["class"] == "GenericError", r
    r = q.execute("human-monitor-command")
    assert r["error"]["class"] == "GenericError", r
    r = q.execute("human-monitor-command", {"command-line": 5})
    assert r["error"]["class"] == "GenericError", r
    # Malformed requests: not an object, no execute, arguments not an object.
    for raw in (b'[1, 2]\n', b'{"id": 7}\n', b'{"execute": "query-status", "arguments": 3}\n',
                b'{"execute": 5}\n'):
        q.send_raw(raw)
        r = q.reply()
        assert r["error"]["class"] == "GenericError", (raw, r)
    # The session still works afterwards.
    assert q.cmd("query-status")["running"] is True


def test_commands(target):
    q = target.qmp
    q.negotiate()
    names = {c["name"] for c in q.cmd("query-commands")}
    for c in ("qmp_capabilities", "query-status", "stop", "cont", "system_powerdown",
              "system_reset", "quit", "query-version", "query-name", "query-cpus-fast",
              "query-block", "query-commands", "human-monitor-command"):
        assert c in names
    v = q.cmd("query-version")
    assert v == target.qmp.greeting["QMP"]["version"]
    assert q.cmd("query-name") == {"name": "conf-vm"}
    cpus = q.cmd("query-cpus-fast")
    assert len(cpus) == 1 and cpus[0]["cpu-index"] == 0
    assert isinstance(cpus[0]["thread-id"], int) and cpus[0]["thread-id"] > 0
    assert isinstance(q.cmd("query-block"), list)
    out = q.cmd("human-monitor-command", {"command-line": "info status"})
    assert "VM status: running" in out


def test_stop_cont_events(target):
    q = target.qmp
    q.negotiate()
    assert q.cmd("stop") == {}
    q.wait_event("STOP")
    st = q.cmd("query-status")
    assert st == {"running": False, "status": "paused"} or \
        (st["running"] is False and st["status"] == "paused")
    assert q.cmd("cont") == {}
    e = q.wait_event("RESUME")
    assert set(e["timestamp"]) == {"seconds", "microseconds"}
    assert q.cmd("query-status")["running"] is True
    out = q.cmd("human-monitor-command", {"command-line": "stop"})
    assert isinstance(out, str)
    q.wait_event("STOP")
    assert "paused" in q.cmd("human-monitor-command", {"command-line": "info status"})
    q.cmd("human-monitor-command", {"command-line": "cont"})
    q.wait_event("RESUME")


def test_events_in_order(target):
    q = target.qmp
    q.negotiate()
    q.cmd("stop")
    q.cmd("cont")
    q.cmd("system_powerdown")
    q.cmd("system_reset")
    q.wait_event("RESET")
    seen = [e["event"] for e in q.events]
    # Everything that came before RESET, in the order it happened.
    q.events.clear()
    assert seen[:3] == ["STOP", "RESUME", "POWERDOWN"], seen
    q.cmd("quit")
    e = q.wait_event("SHUTDOWN")
    assert e["data"] == {"guest": False, "reason": "host-qmp-quit"}
    assert target.proc.wait(timeout=20) == 0


def test_reset_event_data(target):
    q = target.qmp
    q.negotiate()
    q.cmd("system_reset")
    e = q.wait_event("RESET")
    assert e["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
    assert q.cmd("query-status")["status"] == "running"


def wirt_only(target):
    if target.kind != "wirt":
        pytest.skip("QEMU serves one client per -qmp socket; wirt serves several")


def test_two_clients_get_events(target):
    wirt_only(target)
    q1 = target.qmp
    q1.negotiate()
    q2 = QmpClient(target.sock)
    try:
        q2.negotiate()
        q1.cmd("stop")
        q2.wait_event("STOP")
        q1.wait_event("STOP")
        q2.cmd("cont")
        q1.wait_event("RESUME")
        q2.wait_event("RESUME")
    finally:
        q2.close()


def test_no_events_before_negotiation(target):
    wirt_only(target)
    q1 = target.qmp
    q1.negotiate()
    q2 = QmpClient(target.sock)
    try:
        q1.cmd("stop")
        q1.cmd("cont")
        q1.wait_event("RESUME")
        # q2 never negotiated: its first message is the reply to this.
        r = q2.execute("query-status")
        assert r["error"]["class"] == "CommandNotFound"
        assert q2.events == []
    finally:
        q2.close()
