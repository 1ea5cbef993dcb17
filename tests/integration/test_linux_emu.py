"""The default guest (Debian's cloud kernel + busybox initramfs) under
wirt's own emulator: boot to a shell, use it, reboot, power off.  One boot
serves most checks: booting Linux under the emulator takes a while; the
boots without ACPI and with two vCPUs skip the crypto self-tests to save
time."""
import hashlib
import os
import re

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
# The default guest's initrd with the test programs of tests/guest-programs
# appended in /bin (mk/guest_programs.mk).
INITRD = os.path.join(ROOT, "build", "guest-programs", "test-initrd.img")
BOOT_TIMEOUT = 600
PROMPT = "~ # "
SMBIOS_UUID = "00112233-4455-6677-8899-aabbccddeeff"


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        pytest.fail("the default guest or the test initrd is not built: run make test-initrd")
    log = tmp_path_factory.mktemp("linux") / "console.log"
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--kernel", KERNEL, "--initrd", INITRD,
                      "--append", "console=ttyS0 panic=-1",
                      "--smbios", "type=1,serial=ds=nocloud;s=http://10.0.2.2/,uuid=" + SMBIOS_UUID,
                      "--smbios", "type=3,asset=rack-7"], str(log))
    try:
        g.boot_log = g.expect("wirt-guest: ready", BOOT_TIMEOUT)
        g.expect(PROMPT, 120)
        yield g
    finally:
        g.kill()


def test_boot_is_quiet(guest):
    """Linux probes legacy hardware (expansion ROMs, COM2-COM4, the i8042
    and its AUX port): answered as on a PC, with no wirt warning about
    unassigned addresses and no i8042 complaint."""
    log = guest.boot_log
    assert "unassigned" not in log, log
    assert "PNP0303" in log, log        # the i8042 is in the DSDT
    assert "i8042: Warning" not in log and "Failed to disable AUX" not in log, log


def test_hpet_found(guest):
    """Linux finds the HPET through the ACPI HPET table: three comparators,
    a clocksource it may switch to, and IRQ 0 ticking from timer 0 in
    legacy replacement mode until the local APIC timers take over."""
    log = guest.run("dmesg")
    assert "hpet0: 3 comparators, 64-bit 100.000000 MHz counter" in log, log
    assert "clocksource: hpet:" in log, log
    assert "FACS" in log and "Firmware Bug" not in log, log
    avail = guest.run("cat /sys/devices/system/clocksource/clocksource0/available_clocksource")
    assert "hpet" in avail.split(), avail
    irq0 = [l for l in guest.run("cat /proc/interrupts").splitlines() if l.strip().startswith("0:")]
    assert irq0 and int(irq0[0].split()[1]) > 0 and "timer" in irq0[0], irq0


def test_apic_modes_seen_by_linux(guest):
    """Linux sees x2APIC offered but, without interrupt remapping and with
    no hypervisor it knows, keeps xAPIC mode; it arms its APIC timers in
    TSC-deadline mode; the IOAPIC is version 0x20 (docs/design-notes.md)."""
    log = guest.run("dmesg")
    assert "x2apic: IRQ remapping doesn't support X2APIC mode" in log, log
    assert "TSC deadline timer available" in log, log
    assert "IOAPIC[0]: apic_id 0, version 32" in log, log
    assert "x2apic enabled" not in log, log
    dev = guest.run("cat /sys/devices/system/clockevents/clockevent0/current_device")
    assert dev.strip() == "lapic-deadline", dev


def test_smbios_tables_seen_by_linux(guest):
    """Linux finds wirt's SMBIOS entry point in the BIOS area and reads
    the --smbios strings where cloud-init and dmidecode look for them."""
    assert "DMI: wirt Standard PC (Q35 + ICH9)" in guest.boot_log, guest.boot_log[:4000]
    dmi = "/sys/class/dmi/id/"
    assert guest.run("cat %sproduct_serial" % dmi).strip() == "ds=nocloud;s=http://10.0.2.2/"
    assert guest.run("cat %sproduct_uuid" % dmi).strip() == SMBIOS_UUID
    assert guest.run("cat %schassis_asset_tag" % dmi).strip() == "rack-7"
    assert guest.run("cat %sbios_vendor" % dmi).strip() == "wirt"
    entries = guest.run("ls /sys/firmware/dmi/entries").split()
    for e in ("0-0", "1-0", "3-0", "4-0", "16-0", "17-0", "19-0", "32-0", "127-0"):
        assert e in entries, entries


def test_random_pool_seeded_at_boot(guest):
    """The emulated CPU offers RDRAND and RDSEED (the host's random
    numbers), so Linux seeds its pool at boot: /dev/urandom does not make
    the first reader spin for jitter entropy, and two reads differ."""
    flags = guest.run("grep -m1 '^flags' /proc/cpuinfo").split()
    assert "rdrand" in flags and "rdseed" in flags, flags
    assert "random: crng init done" in guest.boot_log, guest.boot_log[-4000:]
    a = guest.run("head -c 16 /dev/urandom | md5sum")
    b = guest.run("head -c 16 /dev/urandom | md5sum")
    assert a != b, (a, b)


def test_uname(guest):
    release = open(os.path.join(ROOT, "guest", "kernel-version")).read().strip()
    assert guest.run("uname -r").strip() == release


def test_md5sum_of_known_input(guest):
    data = "wirt emulator md5 check " * 100
    want = hashlib.md5(data.encode()).hexdigest()
    out = guest.run("yes 'wirt emulator md5 check' | head -n 100 | tr '\\n' ' ' | md5sum")
    assert want in out, out


def test_proc_and_modules(guest):
    assert "processor" in guest.run("cat /proc/cpuinfo")
    assert "virtio" in guest.run("cat /lib/modules/load-order")


def test_debug_facilities_through_ptrace(guest):
    """What gdb does, through Linux's own ptrace and debug-exception code:
    single-step (TF, also over SYSCALL), hardware watchpoints of several
    lengths and kinds and an execute breakpoint (DR0-DR3, DR7, DR6 as the
    kernel reads it, RF to step off the breakpoint), INT1.  QEMU 7.2's TCG
    passes all but INT1 (it raises #UD there: SIGILL)."""
    out = guest.run("/bin/debug_ptrace; echo rc=$?")
    assert "debug_ptrace: all ok" in out and "rc=0" in out, out


def test_reboot_brings_the_shell_back(guest):
    guest.send("reboot -f")
    guest.expect("Linux version", 60)
    guest.expect("wirt-guest: ready", BOOT_TIMEOUT)
    guest.expect(PROMPT, 120)
    assert guest.run("echo back").strip() == "back"


def test_poweroff_ends_wirt_with_status_0(guest):
    guest.send("poweroff -f")
    assert guest.wait_exit(120) == 0


def test_boots_without_acpi_on_the_8259_timer(tmp_path):
    """acpi=off: Debian's cloud kernel has no MP-table support, so it uses
    neither the local APIC nor the IOAPIC and takes its timer from the
    8259 through LINT0, which starts as ExtINT as firmware leaves it (and
    as KVM resets it).  The crypto self-tests are skipped to save time."""
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", INITRD, "--append",
                      "console=ttyS0 acpi=off cryptomgr.notests panic=-1"],
                     str(tmp_path / "console.log"))

    def timer_ticks():
        out = g.run("cat /proc/interrupts")
        m = re.search(r"^\s*0:\s+(\d+)\s+XT-PIC", out, re.M)
        assert m, out
        return int(m.group(1))

    try:
        g.expect("wirt-guest: ready", BOOT_TIMEOUT)
        g.expect(PROMPT, 120)
        first = timer_ticks()
        g.run("sleep 1")
        assert timer_ticks() > first
    finally:
        g.kill()


def test_two_vcpus(tmp_path):
    """--cpus 2: Linux brings up both vCPUs (IPIs, the APIC timer on each)
    and runs work on both at once (locked instructions between threads,
    tests/guest-programs/atomic_count.c)."""
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--cpus", "2", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", INITRD, "--append",
                      "console=ttyS0 cryptomgr.notests panic=-1"],
                     str(tmp_path / "console.log"))
    try:
        g.expect("wirt-guest: ready", BOOT_TIMEOUT)
        g.expect(PROMPT, 120)
        assert g.run("nproc").strip() == "2"
        want = hashlib.md5(b"\0" * (4 << 20)).hexdigest()
        g.run("for i in 1 2 3 4; do (head -c 4194304 /dev/zero | md5sum > /tmp/m$i) & done;"
              " wait", timeout=300)
        sums = g.run("cat /tmp/m1 /tmp/m2 /tmp/m3 /tmp/m4").split()
        assert sums == [want, "-"] * 4, sums
        # LOCK ADD, LOCK XADD, LOCK CMPXCHG, XCHG from two processes on
        # two vCPU threads (the translator runs them as host atomics)
        out = g.run("/bin/atomic_count 100000; echo rc=$?", timeout=300)
        assert "atomic_count: ok" in out and "rc=0" in out, out
        out = g.run("cat /proc/interrupts")
        assert re.search(r"LOC:\s+[1-9]\d*\s+[1-9]\d*", out), out
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        g.kill()
