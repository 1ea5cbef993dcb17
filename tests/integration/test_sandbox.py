"""The run-time sandbox (src/util/sandbox.c): once the machine is built,
every thread of wirt runs under a seccomp filter (on by default, --sandbox
off to debug) with no_new_privs; a refused system call stops wirt with one
line naming it and status 4; --runas USER leaves root.  The rest of the
integration suite runs with the sandbox on: that is the test of what it
allows."""
import os
import pwd
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, run_wirt

SANDBOX_EXIT = 4


class IdleVM:
    """`wirt run` of the idle tiny guest; waits for its "idle" line."""

    def __init__(self, *extra, env=None):
        args = [WIRT, "run", "--accel", "emu", "--firmware", guest_path("idle")]
        self.p = subprocess.Popen(args + list(extra), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
        line = self.p.stdout.readline()
        assert "idle" in line, line + self.p.stderr.read()

    def status(self, task=None):
        """/proc status fields of wirt (or of one of its threads)."""
        path = "/proc/%d/%sstatus" % (self.p.pid, "task/%s/" % task if task else "")
        with open(path) as f:
            return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)

    def threads(self):
        return os.listdir("/proc/%d/task" % self.p.pid)

    def stop(self):
        self.p.kill()
        self.p.wait()


def selftest_env():
    return dict(os.environ, WIRT_SANDBOX_SELFTEST="1")


def test_every_thread_is_filtered_with_no_new_privs():
    vm = IdleVM()
    try:
        # The event loop and vCPU threads start after the filter; the
        # threads it finds (TSYNC) are covered too.
        tasks = vm.threads()
        assert len(tasks) >= 3, tasks
        for t in tasks:
            s = vm.status(t)
            assert s["Seccomp"] == "2", (t, s["Seccomp"])
            assert s["NoNewPrivs"] == "1", (t, s["NoNewPrivs"])
    finally:
        vm.stop()


def test_sandbox_off_installs_no_filter():
    vm = IdleVM("--sandbox", "off")
    try:
        for t in vm.threads():
            assert vm.status(t)["Seccomp"] == "0"
    finally:
        vm.stop()


def test_refused_system_call_stops_wirt_with_one_line():
    # The hook makes the event-loop thread call getpgid(), which the
    # filter does not allow, once the guest runs.
    r = subprocess.run([WIRT, "run", "--accel", "emu", "--firmware", guest_path("idle")],
                       capture_output=True, text=True, timeout=60, env=selftest_env(),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == SANDBOX_EXIT, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if "sandbox" in l]
    assert lines == ["wirt: the sandbox refused system call getpgid (121); wirt stops "
                     "(a bug in wirt: please report it; --sandbox off runs without "
                     "the sandbox)"], r.stderr


def test_threads_narrow_their_own_filters(tmp_path):
    """vCPU threads, device workers, libslirp's and the VNC server's thread
    add a filter of their kind to the process's; the event loop keeps the
    process's."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * (1 << 20))
    vm = IdleVM("--disk", "%s,format=raw" % disk, "--net", "user", "--rng",
                "--display", "vnc=127.0.0.1:%d" % (20000 + os.getpid() % 20000))
    try:
        deadline = time.monotonic() + 10
        while True:
            kinds = {}
            for t in vm.threads():
                s = vm.status(t)
                kinds.setdefault(s["Name"], []).append(s["Seccomp_filters"])
            # libslirp's thread narrows at its next wake (within a second).
            if (kinds.get("slirp") == ["2"] and kinds.get("vnc") == ["2"]) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert kinds["vcpu0"] == ["2"], kinds
        assert kinds["slirp"] == ["2"], kinds
        assert kinds["event loop"] == ["1"], kinds
        assert kinds["vnc"] == ["2"], kinds
        # Workers narrow at their first wake; the idle guest wakes none.
        for dev in ("virtio-blk", "virtio-net", "virtio-rng"):
            assert kinds[dev] == ["1"], kinds
    finally:
        vm.stop()


@pytest.mark.parametrize("kind,call,where,extra", [
    ("vcpu", "socket (41)", "in a vCPU thread", ["--firmware", guest_path("idle")]),
    ("network", "fdatasync (75)", "in a network thread",
     ["--firmware", guest_path("idle"), "--net", "user"]),
    # virtio_msix posts a buffer to the rng: its worker wakes and narrows.
    ("device", "socket (41)", "in a device worker",
     ["--firmware", guest_path("virtio_msix"), "--rng"]),
    # the VNC server's thread narrows within a quarter of a second
    ("display", "socket (41)", "in the display thread",
     ["--firmware", guest_path("idle"), "--display", "vnc=127.0.0.1:%d" % (20000 + os.getpid() % 20000)]),
])
def test_a_narrowed_thread_is_refused_what_its_kind_does_not_do(kind, call, where, extra):
    r = subprocess.run([WIRT, "run", "--accel", "emu"] + extra, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, WIRT_SANDBOX_SELFTEST=kind))
    assert r.returncode == SANDBOX_EXIT, (r.returncode, r.stderr)
    assert ("wirt: the sandbox refused system call %s %s; wirt stops" % (call, where)
            in r.stderr), r.stderr


def test_no_new_executable_memory_once_running():
    r = subprocess.run([WIRT, "run", "--accel", "emu", "--firmware", guest_path("idle")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, WIRT_SANDBOX_SELFTEST="exec"))
    assert r.returncode == SANDBOX_EXIT, (r.returncode, r.stderr)
    assert "the sandbox refused system call mmap (9)" in r.stderr, r.stderr


def test_sandbox_off_lets_the_guest_run():
    r = subprocess.run([WIRT, "run", "--sandbox", "off", "--accel", "emu",
                        "--firmware", guest_path("hello")],
                       capture_output=True, text=True, timeout=60, env=selftest_env(),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 33, r.stderr
    assert r.stdout == "Hello from real mode\n"
    assert "sandbox" not in r.stderr


def test_sandbox_option_errors_and_help():
    r = run_wirt(["run", "--sandbox", "maybe", "--firmware", guest_path("hello")])
    assert r.returncode == 2 and "--sandbox 'maybe': choose on or off" in r.stderr
    r = run_wirt(["run", "--help"])
    assert "--sandbox on|off" in r.stdout and "--runas USER" in r.stdout


def test_runas_unknown_user():
    r = run_wirt(["run", "--runas", "no-such-user-wirt", "--accel", "emu",
                  "--firmware", guest_path("hello")])
    assert r.returncode == 1
    assert "--runas no-such-user-wirt: no such user" in r.stderr, r.stderr


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="--runas changes user only when wirt starts as root")


@needs_root
def test_runas_nobody_drops_root(tmp_path):
    nobody = pwd.getpwnam("nobody")
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * (1 << 20))
    # The disk (owned by root, mode 0644) is opened read-write before
    # wirt becomes nobody.
    vm = IdleVM("--runas", "nobody", "--disk", "%s,format=raw" % disk)
    try:
        for t in vm.threads():
            s = vm.status(t)
            assert s["Uid"].split() == [str(nobody.pw_uid)] * 4, s["Uid"]
            assert s["Gid"].split() == [str(nobody.pw_gid)] * 4, s["Gid"]
            assert s["Groups"].split() == [str(nobody.pw_gid)], s["Groups"]
            assert s["Seccomp"] == "2"
    finally:
        vm.stop()


@needs_root
def test_runas_nobody_runs_a_guest():
    r = run_wirt(["run", "--runas", "nobody", "--accel", "emu", "--verbose",
                  "--firmware", guest_path("hello")])
    assert r.returncode == 33, r.stderr
    assert r.stdout == "Hello from real mode\n"
    assert "running as nobody" in r.stderr, r.stderr


def test_tap_downscript_runs_from_its_helper_even_after_a_kill(tmp_path):
    """The sandbox forbids new processes, so a helper forked at start-up
    runs the tap's downscript; it does so also when wirt is killed."""
    name = "wirt-sbx-" + os.urandom(4).hex()
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode or not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        pytest.skip("no network namespace or /dev/net/tun here: tap test skipped")
    marker = tmp_path / "down-ran"
    down = tmp_path / "down.sh"
    down.write_text("#!/bin/sh\necho \"$1\" > %s\n" % marker)
    os.chmod(down, 0o755)
    try:
        p = subprocess.Popen(["ip", "netns", "exec", name, WIRT, "run", "--accel", "emu",
                              "--firmware", guest_path("idle"),
                              "--net", "tap,ifname=wsbx0,downscript=%s" % down],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert "idle" in line, line + p.stderr.read()
        with open("/proc/%d/status" % p.pid) as f:
            assert "Seccomp:\t2\n" in f.read()
        assert not marker.exists()
        p.kill()
        p.wait()
        for _ in range(100):
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.1)
        assert marker.read_text().strip() == "wsbx0"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_hostile_guest_under_the_sandbox(tmp_path):
    """hostile_io with every device kind attached makes wirt take its
    odd paths; none of them may need a system call the sandbox refuses
    (test_hostile_guest.py runs build/wirt-san without the sandbox)."""
    import test_hostile_guest as h
    seed = int.from_bytes(os.urandom(4), "little")
    raw, qcow2 = tmp_path / "d.raw", tmp_path / "d.qcow2"
    raw.write_bytes(b"\0" * (4 << 20))
    assert run_wirt(["img", "create", "-f", "qcow2", str(qcow2), "16M"]).returncode == 0
    flash = tmp_path / "vars.fd"  # flash writes reach it from vCPU threads
    flash.write_bytes(b"\xff" * (8 << 20))
    r = run_wirt(["run", "--accel", "emu", "--memory", "64M",
                  "--firmware", h.patched_guest(tmp_path, seed, 200000) + ",vars=%s" % flash,
                  "--disk", "%s,format=raw" % raw, "--disk", "%s,format=qcow2" % qcow2,
                  "--net", "user,restrict=on", "--rng", "--vga", "virtio", "--tablet", "on",
                  "--channel", "org.wirt.test,path=%s" % (tmp_path / "chan.sock")],
                 timeout=600)
    assert "sandbox" not in r.stderr, "seed %d\n%s" % (seed, r.stderr[-3000:])
    assert r.returncode == h.DONE_STATUS and "hostile io done" in r.stdout, \
        "seed %d: status %d\n%s" % (seed, r.returncode, r.stderr[-3000:])
