"""Firmware boot: Debian's SeaBIOS on wirt's Q35 chipset (PAM shadowing,
PCIEXBAR, the ICH9 LPC bridge), fw_cfg, and booting disks through it."""
import os
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, kvm_is_pvm, kvm_skip_reason, run_wirt

SEABIOS = "/usr/share/seabios/bios-256k.bin"

needs_seabios = pytest.mark.skipif(not os.path.exists(SEABIOS),
                                   reason="Debian's seabios package is not installed")


def run_until(args, done, timeout=60, logfile=None):
    """Run wirt until done(stdout, log) is true or it exits; returns
    (stdout, log text, exit status or None if it was stopped)."""
    proc = subprocess.Popen([WIRT] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.set_blocking(proc.stdout.fileno(), False)
    out = b""
    deadline = time.monotonic() + timeout
    status = None
    try:
        while time.monotonic() < deadline:
            chunk = proc.stdout.read()
            if chunk:
                out += chunk
            log = open(logfile, errors="replace").read() if logfile and os.path.exists(logfile) else ""
            text = out.decode(errors="replace")
            if done(text, log):
                break
            status = proc.poll()
            if status is not None:
                rest = proc.stdout.read()
                out += rest or b""
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        err = proc.stderr.read().decode(errors="replace")
    log = open(logfile, errors="replace").read() if logfile and os.path.exists(logfile) else ""
    return out.decode(errors="replace"), log, status, err


@needs_seabios
def test_seabios_runs_to_its_boot_attempts(tmp_path):
    """SeaBIOS shadows itself into RAM through PAM (it crashes at once
    without that), finds the host bridge and moves ECAM with PCIEXBAR,
    then tries to boot: its debug log on port 0x402 says so."""
    log = tmp_path / "debugcon.log"
    out, text, status, err = run_until(
        ["run", "--accel", "emu", "--no-reboot", "--firmware", SEABIOS,
         "--debugcon", str(log)],
        lambda out, log: "No bootable device" in log, logfile=str(log))
    assert "SeaBIOS (version" in text, err
    assert "PCIe: using q35 mmconfig at 0xb0000000" in text
    assert "No bootable device" in text, text[-2000:]
    assert status is None, err
