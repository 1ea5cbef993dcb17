"""Named VMs, their runtime directories, wirt ls and wirt ctl: ten tiny
guests by name, listed and stopped; names taken twice; stale directories
of a killed wirt; unnamed VMs."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import WIRT, guest_path


@pytest.fixture
def rundir(tmp_path, monkeypatch):
    d = tmp_path / "run"
    monkeypatch.setenv("WIRT_RUNTIME_DIR", str(d))
    return d


def start(name=None, guest="idle", extra=()):
    args = [WIRT, "run", "--accel", "emu", "--memory", "32M", "--firmware", guest_path(guest)]
    if name:
        args += ["--name", name]
    return subprocess.Popen(args + list(extra), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wirt(*args, timeout=30):
    return subprocess.run([WIRT] + list(args), capture_output=True, text=True, timeout=timeout)


def ls_json():
    r = wirt("ls", "--output", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_listed(names, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        vms = {v["name"]: v for v in ls_json()}
        if all(n in vms and vms[n]["state"] == "running" for n in names):
            return vms
        if time.monotonic() > deadline:
            raise TimeoutError("not all of %s listed: %s" % (names, vms))
        time.sleep(0.1)


def test_ten_named_vms(rundir, wirt_binary):
    names = ["vm%02d" % i for i in range(10)]
    procs = {n: start(n) for n in names}
    try:
        vms = wait_listed(names)
        for n in names:
            v = vms[n]
            assert v["pid"] == procs[n].pid
            assert v["accel"] == "emu" and v["memory"] == 32 << 20 and v["cpus"] == 1
            assert 0 <= v["uptime"] < 120
        table = wirt("ls").stdout.splitlines()
        assert table[0].split() == ["NAME", "PID", "ACCEL", "MEMORY", "CPUS", "STATE", "UPTIME"]
        assert [l.split()[0] for l in table[1:]] == names
        assert wirt("ctl", "vm03", "pause").returncode == 0
        assert wirt("ctl", "vm03", "status").stdout == "paused\n"
        assert {v["name"]: v["state"] for v in ls_json()}["vm03"] == "paused"
        assert wirt("ctl", "vm03", "resume").returncode == 0
        assert wirt("ctl", "vm03", "status").stdout == "running\n"
        assert wirt("ctl", "vm04", "hmp", "info status").stdout == "VM status: running\n"
        r = wirt("ctl", "vm05", "qmp", '{"execute": "query-name"}')
        assert json.loads(r.stdout) == {"return": {"name": "vm05"}}
        r = wirt("ctl", "vm05", "qmp", "no-such-command")
        assert r.returncode == 1 and "CommandNotFound" in r.stdout
        assert wirt("ctl", "vm06", "reset").returncode == 0
        for n in names:
            r = wirt("ctl", n, "kill")
            assert r.returncode == 0, r.stderr
            assert procs[n].wait(timeout=10) == 0
        assert ls_json() == []
        assert os.listdir(rundir) == []
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


def test_a_name_is_taken_once(rundir, wirt_binary):
    p = start("twice")
    try:
        wait_listed(["twice"])
        r = subprocess.run([WIRT, "run", "--accel", "emu", "--name", "twice", "--firmware",
                            guest_path("idle")], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert "already running (pid %d)" % p.pid in r.stderr
        assert p.poll() is None
        assert wirt("ctl", "twice", "status").stdout == "running\n"
    finally:
        p.kill()
        p.wait()


def test_stale_directory_of_a_killed_wirt(rundir, wirt_binary):
    p = start("stale")
    wait_listed(["stale"])
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert (rundir / "stale" / "pid").exists()
    assert "stale" not in [v["name"] for v in ls_json()]
    assert not (rundir / "stale").exists(), "wirt ls did not clean the stale directory"
    r = wirt("ctl", "stale", "status")
    assert r.returncode == 1 and "no VM named 'stale'" in r.stderr
    # A stale directory does not keep the name from a new VM either.
    p = start("stale2")
    wait_listed(["stale2"])
    p.send_signal(signal.SIGKILL)
    p.wait()
    p = start("stale2")
    try:
        wait_listed(["stale2"])
    finally:
        p.kill()
        p.wait()


def test_unnamed_vm_gets_a_name(rundir, wirt_binary):
    p = start()
    try:
        name = "wirt-%d" % p.pid
        wait_listed([name])
        assert wirt("ctl", name, "hmp", "info name").stdout == name + "\n"
        assert wirt("ctl", name, "kill").returncode == 0
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.mark.parametrize("bad", ["", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_bad_names_are_refused(rundir, wirt_binary, bad):
    r = wirt("run", "--name", bad, "--firmware", guest_path("idle"))
    assert r.returncode == 2 and "--name" in r.stderr


def test_ctl_usage(rundir, wirt_binary):
    assert wirt("ctl", "nobody", "status").returncode == 1
    assert wirt("ctl").returncode == 2
    assert "powerdown" in wirt("ctl", "--help").stdout
    assert wirt("ls", "--bogus").returncode == 2


def test_runas_user_cleans_its_runtime_directory(wirt_binary):
    if os.geteuid() != 0:
        pytest.skip("--runas needs root")
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix="wirt-runas-")
    os.chmod(base, 0o755)
    env = dict(os.environ, WIRT_RUNTIME_DIR=os.path.join(base, "run"))
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--runas", "nobody", "--name", "ra",
                          "--firmware", guest_path("idle")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            r = subprocess.run([WIRT, "ctl", "ra", "status"], capture_output=True, text=True,
                               env=env)
            if r.stdout == "running\n" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.stdout == "running\n", r.stderr
        r = subprocess.run([WIRT, "ctl", "ra", "kill"], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert p.wait(timeout=10) == 0, p.stderr.read()
        left = os.listdir(os.path.join(base, "run", "ra")) \
            if os.path.exists(os.path.join(base, "run", "ra")) else []
        assert left == [], left
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        shutil.rmtree(base, ignore_errors=True)


def test_wirt_console_attaches_several_clients(rundir, wirt_binary):
    """wirt console NAME: input reaches the guest (which echoes it), every
    attached client and wirt's own stdout see the output."""
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--name", "echo", "--firmware",
                          guest_path("echo")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_listed(["echo"])
        watcher = subprocess.Popen([WIRT, "console", "echo"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.3)
        r = subprocess.run([WIRT, "console", "echo"], input=b"hello from a script",
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"hello from a script"
        out, _ = watcher.communicate(b"", timeout=20)  # stdin ends: it lingers, ends
        assert b"hello from a script" in out
        assert wirt("ctl", "echo", "kill").returncode == 0
        assert p.wait(timeout=10) == 0
        assert p.stdout.read() == b"echo\nhello from a script"
        r = wirt("console", "echo")
        assert r.returncode == 1 and "no VM named" in r.stderr
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_daemonize(rundir, tmp_path, wirt_binary):
    log = tmp_path / "d.log"
    t = time.monotonic()
    r = subprocess.run([WIRT, "run", "--daemonize", "--log", str(log), "-v", "--accel", "emu",
                        "--name", "daemon", "--shutdown-timeout", "1",
                        "--firmware", guest_path("echo")],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t < 20
    vms = {v["name"]: v for v in ls_json()}
    assert vms["daemon"]["state"] == "running"
    pid = vms["daemon"]["pid"]
    try:
        r = subprocess.run([WIRT, "console", "daemon"], input=b"still here",
                           capture_output=True, timeout=20)
        # The guest may still be printing its banner when the console
        # attaches (seen: b"cho\nstill here"): its tail, then the echo.
        banner_tail = r.stdout[:-len(b"still here")]
        assert r.stdout.endswith(b"still here") and b"echo\n".endswith(banner_tail), r.stdout
        # SIGTERM: the power button, then (the echo guest has no ACPI) a stop.
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while "daemon" in [v["name"] for v in ls_json()]:
            assert time.monotonic() < deadline, "the daemon did not stop"
            time.sleep(0.1)
        text = log.read_text()
        assert "sandbox: seccomp filter installed" in text
        assert "SIGTERM: asking the guest to power off" in text
        assert "\r" not in text
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Errors while building the VM still reach the terminal.
    r = subprocess.run([WIRT, "run", "--daemonize", "--accel", "emu", "--name", "broken",
                        "--firmware", "/nonexistent/fw.bin"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "/nonexistent/fw.bin" in r.stderr
