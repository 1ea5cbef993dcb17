"""The emulator's translator from the outside: its code cache is never
writable and executable at once, and jit=off leaves it out."""
import subprocess
import time

from conftest import WIRT, guest_path


def maps_while_running(accel):
    """/proc/PID/maps of a wirt whose guest (idle: prints "idle" from
    translated code, then sleeps in HLT until killed) has run."""
    p = subprocess.Popen([WIRT, "run", "--accel", accel, "--firmware", guest_path("idle")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert "idle" in line, line + p.stderr.read()
        time.sleep(0.2)  # the sandbox is on long before the guest speaks
        assert p.poll() is None, p.stderr.read()
        with open("/proc/%d/maps" % p.pid) as f:
            return f.read().splitlines()
    finally:
        p.kill()
        p.wait()


def test_code_cache_never_writable_and_executable(wirt_binary):
    lines = maps_while_running("emu")
    wx = [l for l in lines if "w" in l.split()[1] and "x" in l.split()[1]]
    assert not wx, "\n".join(wx)
    # the translator is on by default: its memfd is mapped twice, once
    # to write (rw-s) and once to run (r-xs)
    jit = [l.split()[1] for l in lines if "wirt-jit" in l]
    assert sorted(jit) == ["r-xs", "rw-s"], "\n".join(lines)


def test_jit_off_maps_no_code_cache(wirt_binary):
    lines = maps_while_running("emu,jit=off")
    assert not [l for l in lines if "wirt-jit" in l]
    assert not [l for l in lines if "x" in l.split()[1] and "w" in l.split()[1]]
