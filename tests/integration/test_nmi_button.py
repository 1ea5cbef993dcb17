"""The board's NMI line from wirt's console (C-a n): LINT1 of every CPU,
as the guest programmed it (tests/guests/nmi_button.S).  Escape keys work
on a terminal only, so wirt runs on a pseudo-terminal here."""
import os
import pty
import select
import subprocess
import time

from conftest import guest_path


def read_until(fd, text, buf, timeout=30):
    deadline = time.monotonic() + timeout
    while text not in buf:
        left = deadline - time.monotonic()
        assert left > 0, "did not see %r; got %r" % (text, buf)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            assert data, "wirt ended before %r; got %r" % (text, buf)
            buf += data
    return buf


def test_nmi_button_reaches_lint1(wirt_binary):
    master, slave = pty.openpty()
    proc = subprocess.Popen([wirt_binary, "run", "--accel", "emu", "--firmware",
                             guest_path("nmi_button")],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        buf = b""
        for ready in (b"ready lint1 nmi", b"ready lint1 fixed", b"ready apic disabled"):
            buf = read_until(master, ready, buf)
            time.sleep(0.2)  # the guest halts after printing
            os.write(master, b"\x01n")
        buf = read_until(master, b"nmi pin with the apic disabled", buf)
        assert proc.wait(timeout=30) == 59
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    out = buf.replace(b"\r", b"").decode()
    assert out.count("ok ") == 3 and "FAIL" not in out, out
    for line in ("ok lint1 as nmi wakes hlt with if=0", "ok lint1 as a fixed vector",
                 "ok nmi pin with the apic disabled"):
        assert line in out, out
