"""--serial: where the console (COM1, or hvc0 with --console virtio) goes:
stdio (default), none, file:PATH (output appended), pty (a raw
pseudo-terminal wirt names on stderr, input and output)."""
import os
import re
import select
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, run_wirt


def test_file_gets_the_output_and_stdout_nothing(tmp_path):
    out = tmp_path / "serial.log"
    out.write_text("earlier\n")
    r = run_wirt(["run", "-q", "--serial", "file:%s" % out, "--firmware", guest_path("hello")])
    assert r.returncode == 33, r.stderr
    assert r.stdout == ""
    assert out.read_text() == "earlier\nHello from real mode\n"   # appended


def test_none_drops_the_output():
    r = run_wirt(["run", "-q", "--serial", "none", "--firmware", guest_path("hello")])
    assert r.returncode == 33 and r.stdout == "" and r.stderr == "", r.stderr


def read_until(fd, want, timeout=20):
    data, deadline = b"", time.monotonic() + timeout
    while want not in data and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            data += os.read(fd, 4096)
    return data


def test_pty_carries_output_and_input():
    p = subprocess.Popen([WIRT, "run", "--accel", "emu", "--serial", "pty",
                          "--firmware", guest_path("echo")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        m = None
        for _ in range(5):
            line = p.stderr.readline().decode()
            m = re.search(r"serial console on (/dev/pts/\d+)", line)
            if m or not line:
                break
        assert m, line
        fd = os.open(m.group(1), os.O_RDWR | os.O_NOCTTY)
        try:
            assert b"echo\n" in read_until(fd, b"echo\n")
            os.write(fd, b"typed through the pty")
            # Raw mode: the guest's echo alone comes back, unchanged.
            assert read_until(fd, b"pty") == b"typed through the pty"
        finally:
            os.close(fd)
        assert p.poll() is None
    finally:
        p.kill()
        p.communicate()


@pytest.mark.parametrize("spec,what", [
    ("bogus", "--serial 'bogus': choose stdio, none, pty, file:PATH or unix:PATH"),
    ("file:", "--serial 'file:'"),
])
def test_bad_serial_specs(spec, what):
    r = run_wirt(["run", "--serial", spec, "--firmware", guest_path("hello")])
    assert r.returncode == 2 and what in r.stderr, r.stderr


def test_unwritable_file_is_a_clear_error(tmp_path):
    r = run_wirt(["run", "--serial", "file:%s" % (tmp_path / "no" / "x"),
                  "--firmware", guest_path("hello")])
    assert r.returncode == 1 and "--serial file:" in r.stderr, r.stderr


def test_unix_socket_serves_the_console(tmp_path):
    import socket
    path = str(tmp_path / "serial.sock")
    p = subprocess.Popen([WIRT, "run", "-q", "--accel", "emu", "--serial", "unix:%s" % path,
                          "--firmware", guest_path("echo")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if os.path.exists(path):
                break
            time.sleep(0.1)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"through the socket")
        got, deadline = b"", time.monotonic() + 20
        s.settimeout(1)
        while b"socket" not in got and time.monotonic() < deadline:
            try:
                got += s.recv(4096)
            except socket.timeout:
                pass
        assert got.endswith(b"through the socket"), got
        s.close()
        # The socket is taken: a second VM may not steal it.
        r = run_wirt(["run", "--accel", "emu", "--serial", "unix:%s" % path,
                      "--firmware", guest_path("hello")])
        assert r.returncode != 0 and "another program listens there" in r.stderr, r.stderr
        assert p.poll() is None
    finally:
        p.kill()
        out, _ = p.communicate()
    assert out == b""    # nothing on stdout: the console is the socket's
