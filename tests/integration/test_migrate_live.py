"""Live migration over TCP between two wirt processes on this machine.

One Linux boot serves every check: while the guest runs a job that
checksums memory it filled and a region of its virtio disk (shared image
file), and keeps rewriting other memory, the source meets a refused
connection, a receiver killed mid-stream and a cancel (and runs on
unaffected each time), then moves to a receiver for real; the job goes on
there with the same sums, the disk image's lock and the hostfwd port with
it.  A receiver fed garbage exits with a clear error."""
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole
from qmp_client import QmpClient
from test_savevm_linux import JOB, PROMPT, job_lines

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
# Memory the guest keeps rewriting during the migration: pre-copy must
# go round more than once.
CHURN = ("(while true; do dd if=/dev/urandom of=/tmp/churn bs=1M count=8 "
         "2>/dev/null; done) &")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine(tmp_path, name, extra=(), fwd=None):
    net = ["--net", "user,hostfwd=tcp:127.0.0.1:%d-:80" % fwd] if fwd else []
    return [WIRT, "run", "--accel", "emu", "--memory", "256M", "--name", name,
            "--kernel", KERNEL, "--initrd", INITRD,
            "--append", "console=ttyS0 panic=-1",
            "--disk", "%s,format=raw" % (tmp_path / "disk.img")] + net + list(extra)


def fetch(port):
    return urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=120).read()


def start(args, env_dir, log_path=None):
    os.environ["WIRT_RUNTIME_DIR"] = str(env_dir)
    try:
        return GuestConsole(args, log_path)
    finally:
        del os.environ["WIRT_RUNTIME_DIR"]


def receiver(tmp_path, env_dir, name, port, fwd=None):
    """A receiver waiting on port (it says so once it listens)."""
    g = start(machine(tmp_path, name, ["--incoming", "tcp:127.0.0.1:%d" % port], fwd),
              env_dir, str(tmp_path / ("%s.log" % name)))
    g.expect("waiting for the incoming migration", 60)
    return g


def wait_status(q, want, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = q.cmd("query-migrate")
        if r.get("status") in want:
            return r
        time.sleep(0.1)
    raise TimeoutError("migration still %r" % r)


def wait_transferred(q, at_least, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = q.cmd("query-migrate")
        if r.get("ram", {}).get("transferred", 0) >= at_least:
            return r
        time.sleep(0.05)
    raise TimeoutError("only %r" % r)


def job_goes_on(g):
    """The job still runs: a line of it, then the next one."""
    g.expect("\nJOB ", 120)
    n = int(g.expect(" ", 10))
    g.expect("JOB %d " % (n + 1), 120)


def drain(g, quiet=1.0):
    """Read what the console has left (into its log)."""
    while g._read_some(quiet):
        pass


def test_live_migration_and_failures(tmp_path, wirt_binary):
    with open(tmp_path / "disk.img", "wb") as f:
        f.truncate(16 << 20)
    env_dir = tmp_path / "run"
    fwd = free_port()
    src = start(machine(tmp_path, "src", fwd=fwd), env_dir, str(tmp_path / "src-console.log"))
    others = []
    try:
        src.expect(PROMPT, 300)
        # A web page the host fetches through the forwarded port.
        out = src.run("udhcpc -i eth0 -n -q 2>&1 | tail -1; mkdir -p /www; "
                      "echo guest page > /www/index.html; httpd -p 80 -h /www", timeout=120)
        assert "lease of 10.0.2.15 obtained" in out, out
        assert fetch(fwd) == b"guest page\n"
        src.send(JOB)
        src.expect("JOB-READY ", 300)
        mem_sum, disk_sum = src.expect("\n", 30).split()[:2]
        src.send(CHURN)
        src.expect("JOB 2 ", 120)
        q = QmpClient(str(env_dir / "src" / "qmp.sock"), timeout=60)
        q.negotiate()
        assert q.cmd("query-migrate-parameters") == {"downtime-limit": 300,
                                                     "max-bandwidth": 128 << 20}

        # Nobody listens: failed, with the reason; the guest runs on.
        assert q.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % free_port()}) == {}
        r = wait_status(q, ("failed",))
        assert "refused" in r["error-desc"], r
        assert q.cmd("query-status")["status"] == "running"
        job_goes_on(src)

        # Slowly, so that the receiver dies mid-stream.
        assert q.cmd("migrate-set-parameters", {"max-bandwidth": 4 << 20}) == {}
        port = free_port()
        dead = receiver(tmp_path, env_dir, "dst1", port, fwd)
        others.append(dead)
        assert q.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port}) == {}
        r = wait_transferred(q, 2 << 20)
        assert r["status"] == "active", r
        assert r["ram"]["total"] == 256 << 20 and r["ram"]["remaining"] >= 0, r
        dead.kill()
        r = wait_status(q, ("failed",))
        assert r["error-desc"], r
        assert q.cmd("query-status")["status"] == "running"
        job_goes_on(src)

        # Cancelled mid-stream: the receiver says the stream ended and
        # exits; the guest runs on here.
        port = free_port()
        cut = receiver(tmp_path, env_dir, "dst2", port, fwd)
        others.append(cut)
        assert q.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port}) == {}
        wait_transferred(q, 2 << 20)
        assert q.cmd("migrate_cancel") == {}
        r = wait_status(q, ("cancelled",))
        assert cut.wait_exit(60) == 1
        drain(cut, 0.2)
        out = cut.buf.decode(errors="replace")
        assert "--incoming tcp:" in out and ("ended" in out or "truncated" in out), out
        assert q.cmd("query-status")["status"] == "running"
        job_goes_on(src)

        # The failures left the forwarded port here.
        assert fetch(fwd) == b"guest page\n"

        # For real, while the guest keeps writing memory; a small
        # downtime limit makes pre-copy go round more than once.
        assert q.cmd("migrate-set-parameters", {"max-bandwidth": 64 << 20,
                                                "downtime-limit": 5}) == {}
        port = free_port()
        dst = receiver(tmp_path, env_dir, "dst", port, fwd)
        others.append(dst)
        assert q.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port}) == {}
        r = wait_status(q, ("completed", "failed"), 300)
        assert r["status"] == "completed", r
        assert r["ram"]["dirty-sync-count"] >= 2, r
        assert r["downtime"] < 5000 and r["total-time"] >= r["downtime"], r
        assert r["ram"]["transferred"] > 24 << 20, r
        # The source stays stopped (QEMU's postmigrate).
        assert q.cmd("query-status")["status"] == "paused"
        drain(src)
        last = job_lines((tmp_path / "src-console.log").read_text(errors="replace"))[-1][0]

        # The job goes on over there, its sums unchanged.
        dst.expect("JOB %d " % (last + 2), 180)
        dst.expect("\n", 30)
        lines = job_lines((tmp_path / "dst.log").read_text(errors="replace"))
        nums = [n for n, _, _ in lines]
        assert nums and nums[0] <= last + 2, (last, lines)
        assert nums == list(range(nums[0], nums[0] + len(nums))), lines
        for n, m, d in lines:
            assert (m, d) == (mem_sum, disk_sum), lines
        # The receiver holds the image now: a writer is refused.
        img = subprocess.run(["qemu-io", "-f", "raw", "-c", "read 0 512",
                              str(tmp_path / "disk.img")], capture_output=True, text=True)
        assert img.returncode != 0 and "lock" in img.stderr, img
        # The forwarded host port went along (the source, still there,
        # let go of it): it reaches the guest over there.
        assert fetch(fwd) == b"guest page\n"
        q.close()
        src.kill()
        # ... and writes it.
        dst.send("")
        dst.expect(PROMPT, 60)
        out = dst.run("echo moved > /tmp/x; dd if=/tmp/x of=/dev/vda bs=512 seek=16384 "
                      "conv=fsync 2>/dev/null; echo rc=$?")
        assert "rc=0" in out, out
    finally:
        src.kill()
        for g in others:
            g.kill()
    with open(tmp_path / "disk.img", "rb") as f:
        f.seek(16384 * 512)
        assert f.read(6) == b"moved\n"


@pytest.mark.parametrize("junk", [b"GET / HTTP/1.0\r\n\r\n" * 8,
                                  b"WIRTVMS\n\x07\x00\x00\x00\x00\x00\x00\x00",
                                  b"WIRTVMS\n\x01\x00\x00\x00\x00\x00\x00\x00SECT"])
def test_incoming_refuses_garbage(tmp_path, wirt_binary, junk):
    """Garbage, a newer format, a stream cut in a section header: the
    receiver names the problem and exits 1 without running anything."""
    with open(tmp_path / "disk.img", "wb") as f:
        f.truncate(1 << 20)
    port = free_port()
    g = receiver(tmp_path, tmp_path / "run", "dst", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            # It may refuse (and go) before all of it arrived.
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                assert s.recv(1) in (b"", b"N")
            except OSError:
                pass
        assert g.wait_exit(30) == 1
        drain(g, 0.2)
        out = g.buf.decode(errors="replace")
        assert "--incoming tcp:127.0.0.1:%d: " % port in out, out
        # the reason, logged before the sender heard 'N'
        assert "migration: refusing the machine: " in out, out
    finally:
        g.kill()
