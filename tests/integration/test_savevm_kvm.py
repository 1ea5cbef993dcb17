"""A running machine crosses accelerators: the counter guest is saved
under the emulator, restored under KVM, runs on, is saved again and
restored under the emulator, and its count goes on without a gap or a
repeat (the "cpu" section in the common form, the in-kernel PIC, IOAPIC
and PIT as the same devices as the emulator's).  Needs /dev/kvm with
ordinary KVM (Intel VT-x / AMD-V); skipped elsewhere."""
import os
import subprocess

import pytest

from conftest import WIRT, guest_path, kvm_is_pvm, kvm_skip_reason
from qmp_client import QmpClient
from test_qmp_wirt import finish, read_for
from test_savevm import MEMORY, ticks


def kvm_or_skip():
    why = kvm_skip_reason()
    if why:
        pytest.skip(why)
    if kvm_is_pvm():
        pytest.skip("/dev/kvm is KVM-PVM, which runs the tiny guests only in its slow "
                    "bootstrap emulation: emu <-> kvm save/restore needs ordinary KVM")


def run_counter(tmp_path, name, accel, incoming=None):
    """The counter guest under accel, optionally restored from a file."""
    sock = str(tmp_path / ("%s.sock" % name))
    args = [WIRT, "run", "--accel", accel, "--memory", MEMORY,
            "--firmware", guest_path("counter"), "--qmp", sock, "--name", name]
    if incoming:
        args += ["--incoming", "file:%s" % incoming]
    env = dict(os.environ, WIRT_RUNTIME_DIR=str(tmp_path / "run"))
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    q = QmpClient(sock, timeout=60)
    q.negotiate()
    return p, q


def save_after(p, q, path, seconds):
    """Let the guest run, save it to path; what it printed."""
    out = read_for(p, seconds)
    assert q.cmd("migrate", {"uri": "file:%s" % path}) == {}
    info = q.cmd("query-migrate")
    assert info["status"] == "completed", info
    return out + read_for(p, 0.3)


def test_emu_to_kvm_to_emu(tmp_path, wirt_binary):
    kvm_or_skip()
    first, second = tmp_path / "under-emu", tmp_path / "under-kvm"
    p, q = run_counter(tmp_path, "emu1", "emu")
    try:
        out_emu = save_after(p, q, first, 1.0)
    finally:
        finish(p, q)
    p, q = run_counter(tmp_path, "kvm", "kvm", incoming=first)
    try:
        out_kvm = save_after(p, q, second, 1.5)
    finally:
        finish(p, q)
    p, q = run_counter(tmp_path, "emu2", "emu", incoming=second)
    try:
        out_back = read_for(p, 1.5)
    finally:
        finish(p, q)
    for part, what in ((out_emu, "under emu"), (out_kvm, "under kvm"),
                       (out_back, "back under emu")):
        assert len(ticks(part)) >= 2, (what, out_emu, out_kvm, out_back)
    # One stream: each process goes on from the line the save cut.
    seq = ticks(out_emu + out_kvm + out_back)
    assert seq == list(range(seq[0], seq[0] + len(seq))), (out_emu, out_kvm, out_back)
