"""The default Linux guest saved and restored in a new wirt process: a
job that checksums memory it filled and a file-sized region of its virtio
disk goes on after the restore, and its checksums still match; the shell
answers, the disk and the clock still work."""
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole
from qmp_client import QmpClient

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
PROMPT = "~ # "

# The job: 24 MiB of random data in RAM (tmpfs) and 4 MiB of it on the
# disk; then, every half second, a line with a counter and both sums.
JOB = ("head -c 25165824 /dev/urandom > /tmp/mem; "
       "dd if=/tmp/mem of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null; "
       "md5sum /tmp/mem | cut -c1-32 > /tmp/mem.sum; "
       "dd if=/dev/vda bs=1M count=4 2>/dev/null | md5sum | cut -c1-32 > /tmp/disk.sum; "
       "r=READY; echo JOB-$r $(cat /tmp/mem.sum) $(cat /tmp/disk.sum); "
       "(n=0; while true; do n=$((n+1)); "
       "m=$(md5sum /tmp/mem | cut -c1-32); "
       "d=$(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | md5sum | cut -c1-32); "
       "echo JOB $n $m $d; sleep 0.5; done) &")


def machine(tmp_path, extra=()):
    return [WIRT, "run", "--accel", "emu", "--memory", "256M", "--name", "lsave",
            "--kernel", KERNEL, "--initrd", INITRD,
            "--append", "console=ttyS0 panic=-1",
            "--disk", "%s,format=raw" % (tmp_path / "disk.img")] + list(extra)


def job_lines(text):
    return [(int(n), m, d) for n, m, d in
            re.findall(r"JOB (\d+) ([0-9a-f]{32}) ([0-9a-f]{32})", text)]


def test_linux_job_survives_save_and_restore(tmp_path, wirt_binary):
    with open(tmp_path / "disk.img", "wb") as f:
        f.truncate(16 << 20)
    env_dir = tmp_path / "run"
    os.environ["WIRT_RUNTIME_DIR"] = str(env_dir)
    try:
        g = GuestConsole(machine(tmp_path), str(tmp_path / "console.log"))
    finally:
        del os.environ["WIRT_RUNTIME_DIR"]
    state = tmp_path / "state"
    try:
        g.expect(PROMPT, 300)
        g.send(JOB)
        g.expect("JOB-READY ", 300)
        mem_sum, disk_sum = g.expect("\n", 30).split()[:2]
        g.expect("JOB 2 ", 120)
        q = QmpClient(str(env_dir / "lsave" / "qmp.sock"), timeout=120)
        q.negotiate()
        assert q.cmd("migrate", {"uri": "file:%s" % state}) == {}
        assert q.cmd("query-migrate")["status"] == "completed"
        q.close()
        time.sleep(0.3)
        last = job_lines((tmp_path / "console.log").read_text(errors="replace"))[-1][0]
    finally:
        g.kill()

    os.environ["WIRT_RUNTIME_DIR"] = str(env_dir)
    try:
        g = GuestConsole(machine(tmp_path, ["--incoming", "file:%s" % state]),
                         str(tmp_path / "console2.log"))
    finally:
        del os.environ["WIRT_RUNTIME_DIR"]
    try:
        # The job goes on counting from where it was, sums unchanged.
        g.expect("JOB %d " % (last + 3), 180)
        g.expect("\n", 30)
        lines = job_lines((tmp_path / "console2.log").read_text(errors="replace"))
        # (A line the save cut in two is finished by the restored guest
        # and does not parse here.)
        nums = [n for n, _, _ in lines]
        assert nums[0] in (last + 1, last + 2), (last, lines)
        assert nums == list(range(nums[0], nums[0] + len(nums))), lines
        for n, m, d in lines:
            assert (m, d) == (mem_sum, disk_sum), lines
        # The shell answers; the memory and the disk read back the same.
        g.send("")
        g.expect(PROMPT, 60)
        out = g.run("md5sum /tmp/mem; dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | md5sum", timeout=120)
        assert mem_sum in out and disk_sum in out, out
        # The disk takes new writes after the restore.
        out = g.run("echo restored > /tmp/x; dd if=/tmp/x of=/dev/vda bs=512 seek=16384 conv=fsync 2>/dev/null; echo rc=$?")
        assert "rc=0" in out, out
    finally:
        g.kill()
    with open(tmp_path / "disk.img", "rb") as f:
        f.seek(16384 * 512)
        assert f.read(9) == b"restored\n"
