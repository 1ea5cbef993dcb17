"""Shared helpers for tests that drive the built ./wirt binary."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIRT = os.path.join(ROOT, "wirt")
GUESTS = os.path.join(ROOT, "build", "guests")


def guest_path(name):
    return os.path.join(GUESTS, name + ".bin")


def run_wirt(args, timeout=60, stdin=None):
    """Run ./wirt with args; returns the CompletedProcess (text mode)."""
    return subprocess.run([WIRT] + args, capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def kvm_skip_reason():
    """None if KVM can run guests here, else why not (for pytest.skip)."""
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm is absent on this host: KVM tests skipped"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user: KVM tests skipped"
    return None


def kvm_is_pvm():
    """KVM-PVM only emulates non-PVM guest code in real mode and the like."""
    return os.path.isdir("/sys/module/kvm_pvm")


def qemu_path():
    return shutil.which("qemu-system-x86_64")


@pytest.fixture(scope="session")
def wirt_binary():
    if not os.access(WIRT, os.X_OK):
        pytest.fail("./wirt is not built: run make first")
    return WIRT
