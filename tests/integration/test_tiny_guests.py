"""Every tiny guest under every accelerator: same output, same exit status.

The expected output is written down here and, where QEMU behaves the same
(all guests but the unassigned-MMIO one, where QEMU's PC reads zeros, and
the PCI probe, which lists wirt's own devices),
also checked against QEMU itself as an oracle.
"""
import shutil
import subprocess

import pytest

from conftest import guest_path, kvm_is_pvm, kvm_skip_reason, qemu_path, run_wirt

# name: (expected serial output, expected exit status, needs protected mode)
GUESTS = {
    "hello": ("Hello from real mode\n", 33, False),
    "debug_exit": ("", 85, False),
    "modes": ("real mode\nprotected mode\nlong mode\n64-bit arithmetic ok\n", 35, True),
    "pio_loop": ("pio ok\n", 39, False),
    "mmio_unassigned": ("mmio ok\n", 43, True),
    "paging": ("".join("ok %s\n" % n for n in
                       ["remap32", "dirty32", "wp32", "np32", "remap_pae", "dirty_pae",
                        "nx_pae", "invlpg", "split_pf", "split_insn"]) +
               "all paging ok\n", 59, True),
    "interrupts": ("pit irq ok\nlapic timer ok\n", 51, True),
    "exceptions": ("".join("ok %s\n" % n for n in
                           ["de", "ud", "bp", "gp", "pf_read", "pf_write", "pf_wp",
                            "pf_nx", "pf_user"]) +
                   "ok ring3 iretq/syscall\nok df\nall exceptions ok\n", 47, True),
    "strings": ("rep stosq across pages ok\nrep movsb across pages ok\n"
                "overlap upwards ok\noverlap downwards ok\ndirection flag ok\n"
                "copy over code ok\n", 55, True),
    "pci_probe": ("00 8086:29c0\n01 1af4:1044\nbar0 mask ffff8000\n"
                  "caps 09 09 09 09 09 11\n", 43, False),
    "a20": ("a20 on at start: no wrap\nport 0x92 a20 off: wraps at 1 MiB\n"
            "port 0x92 reads a20 off\nport 0x92 a20 on: no wrap\ni8042 a20 off: wraps\n"
            "i8042 output port reads a20 off\ni8042 a20 on: no wrap\n"
            "i8042 output port reads a20 on\nfast reset through port 0x92\n", 0, False),
    "hpet": ("hpet capabilities ok\n"
             "legacy replacement: periodic timer 0 on ioapic pin 2 ok\n"
             "level-triggered timer 1 routed to an ioapic pin, status cleared ok\n"
             "32-bit one-shot across the wrap ok\n", 55, True),
    # The BCD hash is also what the host CPU computes (tests/unit/test_bcd_vs_host.c).
    "realmode": ("bcd hash 45105040\n" + "".join("ok %s\n" % n for n in
                 ["aam 0 raises #de", "int/iret through the ivt", "call far m16:16",
                  "jmp far m16:16", "call far imm, retf imm16", "lds", "les", "lfs, lgs",
                  "lss", "lfs m16:32", "pusha/popa", "enter/leave", "xlat",
                  "loop/jcxz/jecxz", "rep outs/ins with 16-bit addresses",
                  "effective address wraps at 64 KiB", "push with sp=0 wraps to 0xfffe",
                  "32-bit operand and address prefixes", "16-bit mul/div", "bound and #br",
                  "lock prefix on read-modify-write", "segment overrides", "unreal mode"]), 59, False),
    "realmode_limits": ("".join("ok %s\n" % n for n in
                        ["word at offset 0xffff is #gp", "word at offset 0xfffe is fine",
                         "8 bytes at offset 0xfff9 is #gp",
                         "8 bytes at offset 0xfff8 is fine", "word at ss:0xffff is #ss",
                         "lock mov is #ud"]), 59, False),
    "virtio_msix": ("request answered, msi-x interrupt taken\n"
                    "masked vector: message pending\n"
                    "unmasked vector: pending message delivered\n", 47, False),
}
# Options a guest needs besides --firmware.
EXTRA_ARGS = {"pci_probe": ["--rng"], "virtio_msix": ["--rng"], "a20": ["--no-reboot"]}
# QEMU's PC reads zeros from unassigned MMIO, has other PCI devices and lays
# out its virtio BARs differently; its TCG checks no segment limits in real
# mode and takes LOCK MOV (the SDM: #GP/#SS, #UD).
QEMU_DIFFERS = {"mmio_unassigned", "pci_probe", "virtio_msix", "realmode_limits"}
# KVM-PVM emulates real mode with KVM's instruction emulator, which lacks
# the BCD and x87 forms these use (VT-x and AMD-V hosts run them natively).
PVM_CANNOT = {"realmode", "realmode_limits"}
# KVM cannot mask A20: memory does not wrap there (test_kvm_a20_warns).
KVM_DIFFERS = {"a20"}


def check(accel, name):
    out, status, _ = GUESTS[name]
    r = run_wirt(["run", "--accel", accel, "--firmware", guest_path(name)] +
                 EXTRA_ARGS.get(name, []), timeout=60)
    assert r.stdout == out, r.stderr
    assert r.returncode == status, r.stderr


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_emu(wirt_binary, name):
    check("emu", name)


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_kvm(wirt_binary, name):
    why = kvm_skip_reason()
    if why:
        pytest.skip(why)
    if GUESTS[name][2] and kvm_is_pvm():
        pytest.skip("KVM-PVM host: it does not run non-PVM protected-mode guest "
                    "code (QEMU -accel kvm hangs the same way); use --accel emu")
    if name in PVM_CANNOT and kvm_is_pvm():
        pytest.skip("KVM-PVM host: its real-mode emulator cannot run this guest")
    if name in KVM_DIFFERS:
        pytest.skip("behaves differently under KVM by design; see the test of its own")
    check("kvm", name)


def test_kvm_a20_warns(wirt_binary):
    """Under KVM the A20 gate does not mask memory: wirt says so once, and
    the rest (port 0x92 and i8042 read-back, the fast reset) works."""
    why = kvm_skip_reason()
    if why:
        pytest.skip(why)
    r = run_wirt(["run", "--accel", "kvm", "--no-reboot", "--firmware", guest_path("a20")],
                 timeout=60)
    assert r.stderr.count("A20 gate off") == 1, r.stderr
    assert "port 0x92 reads a20 off\n" in r.stdout
    assert r.stdout.endswith("fast reset through port 0x92\n")
    assert r.returncode == 0


@pytest.mark.parametrize("name", sorted(set(GUESTS) - QEMU_DIFFERS))
def test_qemu_oracle_agrees(name):
    """The expectations above are what QEMU's PC does with the same image."""
    qemu = qemu_path()
    if not qemu:
        pytest.skip("qemu-system-x86_64 not installed: oracle check skipped")
    out, status, _ = GUESTS[name]
    r = subprocess.run([qemu, "-accel", "tcg", "-bios", guest_path(name), "-display", "none",
                        "-nodefaults", "-serial", "stdio", "-no-reboot",
                        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.stdout.replace("\r", "") == out
    assert r.returncode == status


def test_kvm_virtio_fast_paths(wirt_binary):
    """Under KVM, notifications reach the device through ioeventfd and its
    MSI-X messages reach the guest through irqfd: strace sees the eventfds
    registered (again after the guest moves the BAR, and on mask/unmask)
    and no KVM_SIGNAL_MSI from wirt's own threads."""
    why = kvm_skip_reason()
    if why:
        pytest.skip(why)
    strace = shutil.which("strace")
    if not strace:
        pytest.skip("strace not installed (scripts/debian-packages.txt has it)")
    out, status, _ = GUESTS["virtio_msix"]
    r = subprocess.run([strace, "-f", "-e", "trace=ioctl", "--",
                        wirt_binary, "run", "--accel", "kvm", "--firmware",
                        guest_path("virtio_msix"), "--rng"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.stdout == out, r.stderr[-3000:]
    assert r.returncode == status
    calls = [line for line in r.stderr.splitlines() if "ioctl(" in line and "= 0" in line]
    count = lambda name: sum(name + "," in line for line in calls)
    assert count("KVM_IOEVENTFD") >= 3    # at plug, removed and added at the move
    assert count("KVM_IRQFD") == 3        # routed, unrouted while masked, routed
    assert count("KVM_SIGNAL_MSI") == 0


def test_unassigned_mmio_logged_once(wirt_binary):
    r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("mmio_unassigned")])
    assert r.stderr.count("unassigned MMIO") == 1, r.stderr


def test_auto_accel_says_which(wirt_binary):
    r = run_wirt(["run", "--firmware", guest_path("hello")])
    assert r.returncode == 33
    assert "using" in r.stderr and ("KVM" in r.stderr or "emulator" in r.stderr)
