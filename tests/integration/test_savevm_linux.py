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


def test_linux_savevm_loadvm_and_restart(tmp_path, wirt_binary):
    """savevm, the guest changes its disk and memory, loadvm: both are back
    and the job goes on with its sums; the same after a restart of wirt
    with --loadvm."""
    disk = tmp_path / "disk.qcow2"
    assert subprocess.run([WIRT, "img", "create", "-f", "qcow2", str(disk), "16M"],
                          capture_output=True).returncode == 0
    env_dir = tmp_path / "run"

    def boot(extra=(), log="console.log"):
        os.environ["WIRT_RUNTIME_DIR"] = str(env_dir)
        try:
            args = machine(tmp_path, extra)
            args[args.index("--disk") + 1] = str(disk)
            return GuestConsole(args, str(tmp_path / log))
        finally:
            del os.environ["WIRT_RUNTIME_DIR"]

    def hmp(q, line):
        return q.cmd("human-monitor-command", {"command-line": line})

    g = boot()
    try:
        g.expect(PROMPT, 300)
        g.send(JOB)
        g.expect("JOB-READY ", 300)
        mem_sum, disk_sum = g.expect("\n", 30).split()[:2]
        g.expect("JOB 1 ", 120)
        q = QmpClient(str(env_dir / "lsave" / "qmp.sock"), timeout=300)
        q.negotiate()
        assert hmp(q, "savevm s1") == ""
        # Change both after the snapshot: the job's sums would show it.
        g.expect("\n", 30)
        g.send("dd if=/dev/zero of=/dev/vda bs=1M count=1 conv=fsync 2>/dev/null;"
               " head -c 4096 /dev/zero | dd of=/tmp/mem conv=notrunc 2>/dev/null; echo CHAN""GED")
        g.expect("CHANGED", 120)
        for _ in range(2):  # the first may have started before the change
            g.expect("JOB ", 120)
            changed = g.expect("\n", 30).split()
        assert changed[1] != mem_sum and changed[2] != disk_sum, changed
        assert hmp(q, "loadvm s1") == ""
        # Lines printed before the loadvm may still be in the pipe: the
        # job's counter going back shows the restored machine.
        line = changed
        while int(line[0]) >= int(changed[0]):
            g.expect("JOB ", 120)
            line = g.expect("\n", 30).split()
        assert line[1:3] == [mem_sum, disk_sum], (line, mem_sum, disk_sum)
        q.close()
    finally:
        g.kill()
    g = boot(["--loadvm", "s1"], "console2.log")
    try:
        g.expect("JOB ", 180)
        line = g.expect("\n", 30).split()
        assert line[1:3] == [mem_sum, disk_sum], (line, mem_sum, disk_sum)
        g.send("")
        g.expect(PROMPT, 60)
        out = g.run("dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | md5sum", timeout=120)
        assert disk_sum in out, out
    finally:
        g.kill()
