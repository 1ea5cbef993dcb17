"""Debugging inside the default Linux guest under wirt's emulator, as gdb
does it: tests/linux/ptrace_debug.c, built static on the host and added to
the initramfs as a second cpio archive, sets a hardware breakpoint and a
watchpoint through ptrace (Linux's hw_breakpoint writes DR0-DR7) and
single-steps a child through system calls (RFLAGS.TF across SYSCALL and
the return to user mode)."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
SOURCE = os.path.join(ROOT, "tests", "linux", "ptrace_debug.c")
PROMPT = "~ # "


def build_initrd(tmp):
    """The default initramfs with /ptrace_debug appended (Linux unpacks
    concatenated archives in order)."""
    prog = tmp / "ptrace_debug"
    r = subprocess.run(["cc", "-static", "-O2", "-o", str(prog), SOURCE],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot build a static test program (libc6-dev's libc.a?): " + r.stderr)
    cpio = shutil.which("cpio")
    if not cpio:
        pytest.skip("cpio not installed")
    extra = subprocess.run([cpio, "-o", "-H", "newc", "--quiet"], input=b"ptrace_debug\n",
                           cwd=str(tmp), capture_output=True, check=True).stdout
    initrd = tmp / "initrd-debug.img"
    with open(INITRD, "rb") as f:
        base = f.read()
    # The appended archive starts on a 4-byte boundary.
    initrd.write_bytes(base + b"\0" * (-len(base) % 4) + extra)
    return initrd


def test_gdb_style_debugging(tmp_path):
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        pytest.fail("the default guest is not built: run scripts/build-guest.sh")
    initrd = build_initrd(tmp_path)
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--kernel", KERNEL, "--initrd", str(initrd),
                      "--append", "console=ttyS0 panic=-1 cryptomgr.notests"],
                     str(tmp_path / "console.log"))
    try:
        g.expect("wirt-guest: ready", 600)
        g.expect(PROMPT, 120)
        out = g.run("/ptrace_debug; echo status $?", timeout=120)
    finally:
        g.kill()
    assert out.splitlines() == [
        "ok execute breakpoint stops at the function",
        "ok write watchpoint stops after the first store",
        "ok write watchpoint stops after the second store",
        "ok single steps run the last store",
        "ok every single step moves on",
        "ok single steps reach the exit",
        "status 0",
    ], out
