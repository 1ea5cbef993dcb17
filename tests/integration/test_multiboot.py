"""Multiboot (v1) kernels through --kernel, as CPU test suites use them;
checked against QEMU's multiboot loader as an oracle."""
import os
import subprocess

import pytest

from conftest import ROOT, kvm_is_pvm, kvm_skip_reason, qemu_path, run_wirt

KERNEL = os.path.join(ROOT, "build", "kernels", "multiboot_hello.elf")
EXPECTED = ("multiboot ok\ncmdline: %s hello world\nmodule text line\n" % KERNEL)


@pytest.fixture
def module(tmp_path):
    m = tmp_path / "module.txt"
    m.write_bytes(b"module text line\n\0")
    return str(m)


def test_multiboot_emu(wirt_binary, module):
    r = run_wirt(["run", "--accel", "emu", "--kernel", KERNEL, "--initrd", module,
                  "--append", "hello world"])
    assert r.stdout == EXPECTED, r.stderr
    assert r.returncode == 55


def test_multiboot_kvm(wirt_binary, module):
    why = kvm_skip_reason()
    if why:
        pytest.skip(why)
    if kvm_is_pvm():
        pytest.skip("KVM-PVM host: protected-mode guest code does not run there")
    r = run_wirt(["run", "--accel", "kvm", "--kernel", KERNEL, "--initrd", module,
                  "--append", "hello world"])
    assert r.stdout == EXPECTED, r.stderr
    assert r.returncode == 55


def test_multiboot_qemu_oracle(module):
    qemu = qemu_path()
    if not qemu:
        pytest.skip("qemu-system-x86_64 not installed: oracle check skipped")
    r = subprocess.run([qemu, "-accel", "tcg", "-kernel", KERNEL, "-initrd", module,
                        "-append", "hello world", "-display", "none", "-nodefaults",
                        "-serial", "stdio", "-no-reboot",
                        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.stdout == EXPECTED
    assert r.returncode == 55


def test_multiboot_bad_flags(wirt_binary, tmp_path):
    # Header asking for a video mode (flag 2), which wirt does not offer.
    hdr = (0x1BADB002).to_bytes(4, "little") + (4).to_bytes(4, "little") + \
          ((-(0x1BADB002 + 4)) & 0xffffffff).to_bytes(4, "little")
    f = tmp_path / "badmb.bin"
    f.write_bytes(hdr + b"\0" * 4096)
    r = run_wirt(["run", "--accel", "emu", "--kernel", str(f)])
    assert r.returncode != 0
    assert "multiboot" in r.stderr
