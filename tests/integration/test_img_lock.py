"""Image locking: while a VM writes a disk image, a second VM, `wirt img`
commands and QEMU may not open it (readers with -U may), and wirt respects
QEMU's locks the same way; the same holds for the files of a backing
chain.  A running VM is the idle tiny guest with the disk attached."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, run_wirt


def wirt_img(*args):
    return run_wirt(["img"] + list(args))


class RunningVM:
    """`wirt run` of the idle guest with the given --disk specs."""

    def __init__(self, *disks):
        args = [WIRT, "run", "--accel", "emu", "--firmware", guest_path("idle")]
        for d in disks:
            args += ["--disk", d]
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.p.stdout.readline()
        assert "idle" in line, line + self.p.stdout.read()

    def stop(self):
        self.p.kill()
        self.p.wait()


@pytest.fixture
def images(tmp_path):
    base = str(tmp_path / "base.raw")
    top = str(tmp_path / "top.qcow2")
    disk = str(tmp_path / "disk.qcow2")
    assert wirt_img("create", "-f", "raw", base, "8M").returncode == 0
    assert wirt_img("create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", top).returncode == 0
    assert wirt_img("create", "-f", "qcow2", disk, "8M").returncode == 0
    return {"base": base, "top": top, "disk": disk}


def test_second_writer_and_readers_are_refused(images):
    vm = RunningVM(images["disk"])
    try:
        r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("idle"),
                      "--disk", images["disk"]], timeout=20)
        assert r.returncode != 0
        assert "in use by pid %d (wirt)" % vm.p.pid in r.stderr, r.stderr
        # Read-only still forbids writers, so it is refused too.
        r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("idle"),
                      "--disk", images["disk"] + ",readonly=on"], timeout=20)
        assert r.returncode != 0 and "in use" in r.stderr, r.stderr
        r = wirt_img("info", images["disk"])
        assert r.returncode == 1 and "-U (--force-share)" in r.stderr, r.stderr
        r = wirt_img("snapshot", "-c", "s1", images["disk"])
        assert r.returncode == 1 and "does not let others write to it" in r.stderr, r.stderr
        r = wirt_img("check", "-r", "-U", images["disk"])
        assert r.returncode == 1 and "only for images opened read-only" in r.stderr, r.stderr
        # Readers that say -U get in.
        r = wirt_img("info", "-U", images["disk"])
        assert r.returncode == 0 and "qcow2" in r.stdout, r.stderr
        for cmd in (["check", "-U"], ["map", "-U"], ["snapshot", "-l", "-U"],
                    ["compare", "-U", images["disk"]]):
            r = wirt_img(*cmd, images["disk"])
            assert r.returncode == 0, (cmd, r.stderr)
    finally:
        vm.stop()
    # The lock goes with the VM.
    assert wirt_img("snapshot", "-c", "s1", images["disk"]).returncode == 0


def test_readers_share(images):
    vm = RunningVM(images["disk"] + ",readonly=on")
    try:
        vm2 = RunningVM(images["disk"] + ",readonly=on")
        vm2.stop()
        assert wirt_img("info", images["disk"]).returncode == 0
        r = wirt_img("resize", images["disk"], "16M")
        assert r.returncode == 1 and "in use" in r.stderr, r.stderr
    finally:
        vm.stop()


def test_backing_files_are_locked_too(images):
    vm = RunningVM(images["base"] + ",format=raw")
    try:
        # Mapping top reads base, which forbids the VM's writes: refused.
        r = wirt_img("map", images["top"])
        assert r.returncode == 1 and "base.raw' is in use" in r.stderr, r.stderr
        assert wirt_img("map", "-U", images["top"]).returncode == 0
        assert wirt_img("info", images["top"]).returncode == 0   # no backing opened
    finally:
        vm.stop()
    # A VM on top holds base as a reader: no writer may have base.
    vm = RunningVM(images["top"])
    try:
        r = wirt_img("resize", "-f", "raw", images["base"], "16M")
        assert r.returncode == 1 and "in use" in r.stderr, r.stderr
        assert wirt_img("info", images["base"]).returncode == 0
    finally:
        vm.stop()


def test_commit_writes_into_its_own_backing_file(images):
    """One process, two opens of base: the chain's read-only one lets the
    commit's writer in."""
    r = wirt_img("commit", images["top"])
    assert r.returncode == 0, r.stderr


QEMU_SYSTEM = shutil.which("qemu-system-x86_64")
QEMU_IMG = shutil.which("qemu-img")


@pytest.mark.skipif(not QEMU_IMG or not QEMU_SYSTEM,
                    reason="QEMU is not installed (apt-get install qemu-system-x86 qemu-utils)")
def test_wirt_and_qemu_refuse_each_other(images):
    vm = RunningVM(images["disk"])
    try:
        r = subprocess.run([QEMU_IMG, "info", images["disk"]],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "lock" in r.stderr, r.stderr
        r = subprocess.run([QEMU_IMG, "info", "-U", images["disk"]],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    finally:
        vm.stop()
    q = subprocess.Popen([QEMU_SYSTEM, "-accel", "tcg", "-S", "-display", "none", "-m", "64",
                          "-monitor", "none", "-serial", "none",
                          "-drive", "file=%s,if=virtio,format=qcow2" % images["disk"]])
    try:
        # Until QEMU has the image open, watched through /proc rather than
        # by taking a lock: a reader's lock while QEMU starts would make
        # QEMU fail ("Failed to get write lock"), as it does not retry.
        deadline = time.time() + 30
        while time.time() < deadline and q.poll() is None and not any(
                os.path.realpath("/proc/%d/fd/%s" % (q.pid, fd)) == os.path.realpath(images["disk"])
                for fd in os.listdir("/proc/%d/fd" % q.pid)):
            time.sleep(0.1)
        time.sleep(1)       # its locks follow the open at once
        assert q.poll() is None, "qemu-system-x86_64 stopped"
        r = wirt_img("info", images["disk"])
        assert r.returncode == 1 and "(qemu-system-x86)" in r.stderr, r.stderr
        r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("idle"),
                      "--disk", images["disk"]], timeout=20)
        assert r.returncode != 0 and "in use by pid %d" % q.pid in r.stderr, r.stderr
        assert wirt_img("info", "-U", images["disk"]).returncode == 0
    finally:
        q.kill()
        q.wait()
