"""The console on a terminal (a pty): Ctrl-A c switches to the human
monitor and back; the terminal is restored however wirt ends."""
import os
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import WIRT, guest_path


class PtyWirt:
    def __init__(self, tmp_path, guest="idle"):
        self.master, self.slave = os.openpty()
        self.saved = termios.tcgetattr(self.slave)
        env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
        self.proc = subprocess.Popen([WIRT, "run", "--accel", "emu", "--firmware",
                                      guest_path(guest)],
                                     stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     env=env, start_new_session=True)
        self.buf = b""

    def expect(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r in %r" % (text, self.buf[-500:]))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    self.buf += os.read(self.master, 4096)
                except OSError:
                    break
        i = self.buf.index(text) + len(text)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def send(self, data):
        os.write(self.master, data)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def test_ctrl_a_c_monitor(tmp_path, wirt_binary):
    w = PtyWirt(tmp_path)
    try:
        w.expect(b"idle")
        w.send(b"\x01c")
        w.expect(b"(wirt) ")
        w.send(b"info status\r")
        assert b"VM status: running" in w.expect(b"(wirt) ")
        w.send(b"stop\r")
        w.expect(b"(wirt) ")
        w.send(b"info statx\x7fus\r")
        assert b"VM status: paused" in w.expect(b"(wirt) ")
        w.send(b"cont\r")
        w.expect(b"(wirt) ")
        w.send(b"help\r")
        assert b"system_powerdown" in w.expect(b"(wirt) ")
        w.send(b"\x01c")           # back to the console
        w.send(b"\x01x")
        assert w.proc.wait(timeout=10) == 0
        assert termios.tcgetattr(w.slave) == w.saved
    finally:
        w.close()


def test_monitor_quit(tmp_path, wirt_binary):
    w = PtyWirt(tmp_path)
    try:
        w.expect(b"idle")
        w.send(b"\x01c")
        w.expect(b"(wirt) ")
        w.send(b"quit\r")
        assert w.proc.wait(timeout=10) == 0
        assert termios.tcgetattr(w.slave) == w.saved
    finally:
        w.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP])
def test_terminal_restored_on_signals(tmp_path, wirt_binary, sig):
    w = PtyWirt(tmp_path)
    try:
        w.expect(b"idle")
        assert termios.tcgetattr(w.slave) != w.saved  # raw mode
        w.proc.send_signal(sig)
        w.proc.wait(timeout=10)
        assert termios.tcgetattr(w.slave) == w.saved
    finally:
        w.close()


def test_background_start_does_not_stop(tmp_path, wirt_binary):
    """wirt started in the background of a terminal (stdin the terminal,
    another process group in front) keeps running: no SIGTTOU/SIGTTIN."""
    import pty
    sock = str(tmp_path / "bg.sock")
    env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
    pid, fd = pty.fork()
    if pid == 0:  # a session leader with the pty as controlling terminal
        try:
            p = os.fork()
            if p == 0:
                os.setpgid(0, 0)  # not the foreground process group
                os.execve(WIRT, [WIRT, "run", "--accel", "emu", "--qmp", sock,
                                 "--firmware", guest_path("idle")], env)
            _, st = os.waitpid(p, os.WUNTRACED)
            if os.WIFSTOPPED(st):
                os.kill(p, signal.SIGKILL)
                os._exit(100 + os.WSTOPSIG(st))
            os._exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 99)
        finally:
            os._exit(98)
    from qmp_client import QmpClient
    try:
        q = QmpClient(sock)
        q.negotiate()
        assert q.cmd("query-status")["status"] == "running"
        # the guest's greeting first: a quit sent at once may beat it
        out = b""
        deadline = time.monotonic() + 15
        while b"idle" not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        q.cmd("quit")
        q.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    pass
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        # What is still in the pty after the exit.
        while select.select([fd], [], [], 0.3)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        assert done, "wirt did not end"
        assert os.WEXITSTATUS(st) == 0, (os.WEXITSTATUS(st), out)
        assert b"idle" in out and b"background" in out
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def test_log_lines_in_files_have_no_cr(tmp_path, wirt_binary):
    r = subprocess.run([WIRT, "run", "--accel", "emu", "-v", "--no-reboot", "--firmware",
                        guest_path("hello")], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30,
                       env=dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run")))
    assert b"wirt: " in r.stderr
    assert b"\r" not in r.stderr


def test_wirt_console_on_a_terminal_detaches(tmp_path, wirt_binary):
    env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
    vm = subprocess.Popen([WIRT, "run", "--accel", "emu", "--name", "tty-echo",
                           "--firmware", guest_path("echo")], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    master, slave = os.openpty()
    saved = termios.tcgetattr(slave)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "run" / "tty-echo" / "console.sock").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        con = subprocess.Popen([WIRT, "console", "tty-echo"], stdin=slave, stdout=slave,
                               stderr=slave, env=env, start_new_session=True)
        w = PtyWirt.__new__(PtyWirt)
        w.master, w.buf = master, b""
        w.expect(b"Ctrl-] detaches")
        os.write(master, b"ping")
        w.expect(b"ping")
        os.write(master, b"\x1d")
        assert con.wait(timeout=10) == 0
        assert termios.tcgetattr(slave) == saved
        assert vm.poll() is None  # the VM runs on
    finally:
        vm.kill()
        vm.wait()
        os.close(master)
        os.close(slave)
