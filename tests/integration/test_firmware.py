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


def make_mbr_disk(path, message=b"wirt MBR boot OK\r\n", exit_value=0x10,
                  reset_once=False):
    """A disk whose MBR boot sector prints message on COM1 and writes
    exit_value to the debug-exit port (wirt then exits with
    exit_value * 2 + 1): 16-bit code, hand-assembled.  With reset_once,
    its first run sets CMOS byte 0x40 and resets the machine through
    port 0xCF9; the run after the reset prints and exits."""
    # cli first: SeaBIOS's serial console flushes its screen copy from the
    # timer interrupt, which would interleave with the boot sector's text.
    code = bytearray(b"\xfa\x31\xc0\x8e\xd8\xfc")   # cli; xor ax,ax; mov ds,ax; cld
    if reset_once:
        code += b"\xb0\x40\xe6\x70\xe4\x71"          # CMOS index 0x40; in al,0x71
        code += b"\x3c\x5a"                          # cmp al,0x5a
        jz_at = len(code)
        code += b"\x74\x00"                          # jz after_reset
        code += b"\xb0\x40\xe6\x70\xb0\x5a\xe6\x71"  # CMOS[0x40] = 0x5a
        code += b"\xba\xf9\x0c\xb0\x06\xee"          # outb 6 -> 0xcf9: hard reset
        code += b"\xf4\xeb\xfd"                      # hlt; jmp hlt
        code[jz_at + 1] = len(code) - (jz_at + 2)
    si_at = len(code)
    code += b"\xbe\x00\x00"                          # mov si, message
    code += b"\xba\xf8\x03"                          # mov dx, 0x3f8
    loop = len(code)
    code += b"\xac\x84\xc0\x74\x03\xee"              # lodsb; test al,al; jz +3; out dx,al
    code += bytes([0xeb, (loop - (len(code) + 2)) & 0xff])   # jmp loop
    code += bytes([0xb0, exit_value]) + b"\xba\xf4\x00\xee\xf4\xeb\xfd"  # exit; hlt
    code[si_at + 1:si_at + 3] = (0x7c00 + len(code)).to_bytes(2, "little")
    code += message + b"\0"
    sector = bytearray(512)
    sector[:len(code)] = code
    sector[510:] = b"\x55\xaa"
    with open(path, "wb") as f:
        f.write(bytes(sector) + bytes(1 << 20))
    return str(path)


@needs_seabios
def test_seabios_banner_on_the_serial_console(tmp_path):
    """fw_cfg's etc/sercon-port makes SeaBIOS mirror its screen to COM1:
    the banner reaches wirt's console without a display."""
    out, _, status, err = run_until(
        ["run", "--accel", "emu", "--no-reboot", "--firmware", SEABIOS],
        lambda out, log: "No bootable device" in out)
    assert "SeaBIOS (version" in out, err
    assert "No bootable device" in out


@needs_seabios
def test_seabios_reads_fw_cfg_and_installs_wirts_acpi_tables(tmp_path):
    """SeaBIOS finds fw_cfg with DMA, takes RAM from etc/e820 and the CPU
    count from fw_cfg, moves the
    PM block through the LPC bridge, and installs wirt's tables through
    etc/table-loader (it parses the DSDT it found through the XSDT)."""
    log = tmp_path / "debugcon.log"
    _, text, _, err = run_until(
        ["run", "--accel", "emu", "--no-reboot", "--memory", "256M", "--cpus", "2",
         "--firmware", SEABIOS, "--debugcon", str(log)],
        lambda out, log: "No bootable device" in log, logfile=str(log))
    assert "Found QEMU fw_cfg" in text, err
    assert "QEMU fw_cfg DMA interface supported" in text
    assert "qemu/e820: addr 0x0000000000000000 len 0x0000000010000000 [RAM]" in text
    assert "PCI: init bdf=00:1f.0 id=8086:2918" in text
    assert "Using pmtimer, ioport 0x608" in text
    assert "ACPI: parse DSDT at" in text
    assert "sercon: using ioport 0x3f8" in text
    # fw_cfg's CPU count, and both vCPUs answered SeaBIOS's INIT-SIPI.
    assert "Found 2 cpu(s) max supported 2 cpu(s)" in text


@needs_seabios
def test_seabios_boots_a_virtio_disk_mbr(tmp_path):
    """SeaBIOS's virtio-blk driver (modern virtio, BARs it assigned
    itself) reads the MBR, which runs, prints and exits wirt."""
    disk = make_mbr_disk(tmp_path / "mbr.img")
    r = run_wirt(["run", "--accel", "emu", "--no-reboot", "--firmware", SEABIOS,
                  "--disk", disk + ",format=raw"], timeout=60)
    assert r.returncode == 33, r.stderr
    assert "SeaBIOS (version" in r.stdout
    assert "wirt MBR boot OK" in r.stdout


@needs_seabios
def test_seabios_with_more_than_2_75_gib(tmp_path):
    """SeaBIOS puts ECAM at 0xB0000000: with firmware and that much RAM,
    low RAM stops at 2 GiB (as on QEMU's q35) and the rest is above
    4 GiB, so ECAM lands on no RAM and the disk still boots."""
    disk = make_mbr_disk(tmp_path / "mbr.img")
    log = tmp_path / "debugcon.log"
    r = run_wirt(["run", "--accel", "emu", "--no-reboot", "--memory", "3G",
                  "--overcommit", "--firmware", SEABIOS, "--debugcon", str(log),
                  "--disk", disk + ",format=raw"], timeout=60)
    assert r.returncode == 33, r.stderr
    assert "wirt MBR boot OK" in r.stdout
    text = log.read_text(errors="replace")
    assert "addr 0x0000000000000000 len 0x0000000080000000 [RAM]" in text
    assert "addr 0x0000000100000000 len 0x0000000040000000 [RAM]" in text


@needs_seabios
def test_seabios_boots_again_after_a_reset(tmp_path):
    """A reset (port 0xCF9) puts PAM back to ROM and the chipset back as
    it was: SeaBIOS runs its POST again (its banner twice) and boots the
    disk a second time."""
    disk = make_mbr_disk(tmp_path / "mbr.img", reset_once=True)
    r = run_wirt(["run", "--accel", "emu", "--firmware", SEABIOS,
                  "--disk", disk + ",format=raw"], timeout=60)
    assert r.returncode == 33, r.stderr
    assert r.stdout.count("SeaBIOS (version") == 2, r.stdout
    assert r.stdout.count("wirt MBR boot OK") == 1


@needs_seabios
def test_seabios_boot_under_kvm(tmp_path):
    reason = kvm_skip_reason()
    if reason:
        pytest.skip(reason)
    if kvm_is_pvm():
        pytest.skip("KVM-PVM runs only PVM guest kernels: SeaBIOS's 32-bit code cannot run")
    disk = make_mbr_disk(tmp_path / "mbr.img")
    r = run_wirt(["run", "--accel", "kvm", "--no-reboot", "--firmware", SEABIOS,
                  "--disk", disk + ",format=raw"], timeout=60)
    assert r.returncode == 33, r.stderr
    assert "wirt MBR boot OK" in r.stdout


def test_firmware_bios_without_the_package_names_it(tmp_path):
    """--firmware bios looks for Debian's SeaBIOS; missing (simulated with
    WIRT_SEABIOS), wirt says which package to install and starts nothing."""
    env = dict(os.environ, WIRT_SEABIOS=str(tmp_path / "no-such-bios.bin"))
    r = subprocess.run([WIRT, "run", "--accel", "emu", "--firmware", "bios"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2, r.stderr
    assert "seabios" in r.stderr and "apt-get install" in r.stderr, r.stderr
    assert "no-such-bios.bin" in r.stderr


@needs_seabios
def test_firmware_bios_finds_seabios(tmp_path):
    disk = make_mbr_disk(tmp_path / "mbr.img")
    env = dict(os.environ)
    env.pop("WIRT_SEABIOS", None)
    r = subprocess.run([WIRT, "run", "--accel", "emu", "--no-reboot", "--firmware", "bios",
                        "--disk", disk + ",format=raw"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 33, r.stderr
    assert "wirt MBR boot OK" in r.stdout


@pytest.mark.parametrize("size", [1000, 60 * 1024, 256 * 1024 + 1, 17 << 20])
def test_firmware_of_a_wrong_size_is_refused(tmp_path, size):
    """Not 64 KiB-16 MiB in whole 4 KiB pages (a truncated download, the
    wrong file): one clear line, no VM."""
    f = tmp_path / "bad.bin"
    f.write_bytes(b"\xea" * size)
    r = run_wirt(["run", "--accel", "emu", "--firmware", str(f)])
    assert r.returncode == 1, r.stderr
    assert ("must be a flat image of 64 KiB to 16 MiB" in r.stderr or
            "is too large (more than 16 MiB)" in r.stderr), r.stderr
    assert "Traceback" not in r.stderr and "Sanitizer" not in r.stderr


GUEST_KERNEL = os.path.join(os.path.dirname(WIRT), "guest", "vmlinuz")
GUEST_INITRD = os.path.join(os.path.dirname(WIRT), "guest", "initrd.img")


def _syslinux_disk_module():
    import importlib.util
    path = os.path.join(os.path.dirname(WIRT), "scripts", "make-syslinux-disk.py")
    spec = importlib.util.spec_from_file_location("make_syslinux_disk", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


syslinux_disk = _syslinux_disk_module()


def make_syslinux_disk(path, kernel, initrd, append="console=ttyS0 panic=-1",
                       size_mib=64):
    """A SYSLINUX-booted disk of size_mib MiB as an installer leaves it
    (scripts/make-syslinux-disk.py), made without root."""
    return syslinux_disk.make_disk(str(path), kernel, initrd, append,
                                   boot_mib=size_mib - 1)


def syslinux_tools_missing():
    return syslinux_disk.missing_tools()


@needs_seabios
def test_seabios_syslinux_boots_the_default_guest_to_its_shell(tmp_path):
    """The whole PC boot chain: SeaBIOS -> syslinux's MBR -> SYSLINUX from
    a FAT partition (EDD reads through SeaBIOS's virtio-blk driver) ->
    the default guest's kernel and initrd -> its shell; Linux uses the
    ACPI tables SeaBIOS installed from wirt's fw_cfg."""
    missing = syslinux_tools_missing()
    if missing:
        pytest.skip(missing)
    if not (os.path.exists(GUEST_KERNEL) and os.path.exists(GUEST_INITRD)):
        pytest.fail("the default guest is not built: run make default-guest")
    from guest_console import GuestConsole
    disk = make_syslinux_disk(tmp_path / "boot.img", GUEST_KERNEL, GUEST_INITRD)
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--firmware", "bios", "--disk", disk + ",format=raw",
                      "--rng", "--net", "user,restrict=on",
                      "--smbios", "type=1,serial=through-seabios"],
                     str(tmp_path / "console.log"))
    try:
        g.expect("SYSLINUX", 60)
        log = g.expect("wirt-guest: ready", 600)
        assert "BOOT_IMAGE=vmlinuz console=ttyS0" in log
        assert "ACPI: XSDT" in log and "WIRTVM" in log, log[-3000:]
        g.expect("~ # ", 120)
        out = g.run("ls /sys/firmware/acpi/tables")
        for table in ("APIC", "DSDT", "FACP", "HPET", "MCFG"):
            assert table in out, out
        # Every virtio device works at the BARs SeaBIOS gave it (SeaBIOS
        # places them from 0xfe000000 down; wirt's own start at 0xc0000000).
        assert g.run("cat /sys/block/vda/size").strip() == str(64 << 11)
        assert g.run("head -c 512 /dev/vda | od -An -tx1 | tail -1").split()[-2:] == \
            ["55", "aa"]
        assert "eth0" in g.run("ls /sys/class/net")
        assert "virtio_rng" in g.run("cat /sys/class/misc/hw_random/rng_available")
        # SeaBIOS installed wirt's SMBIOS tables with its own BIOS structure.
        assert g.run("cat /sys/class/dmi/id/product_serial").strip() == "through-seabios"
        assert g.run("cat /sys/class/dmi/id/bios_vendor").strip() == "SeaBIOS"
        assert g.run("cat /sys/class/dmi/id/sys_vendor").strip() == "wirt"
        bars = g.run("cat /sys/bus/pci/devices/0000:00:01.0/resource | head -1")
        assert bars.startswith("0x00000000fe"), bars
    finally:
        g.kill()


@needs_seabios
def test_seabios_boots_kernel_and_initrd_given_to_wirt(tmp_path):
    """--firmware bios --kernel: the kernel, initrd and command line go to
    SeaBIOS through fw_cfg with the linuxboot_dma option ROM, first in
    the boot order, which loads them and starts the kernel."""
    if not os.path.exists("/usr/share/qemu/linuxboot_dma.bin"):
        pytest.skip("qemu-system-data's linuxboot_dma.bin is not installed")
    if not (os.path.exists(GUEST_KERNEL) and os.path.exists(GUEST_INITRD)):
        pytest.fail("the default guest is not built: run make default-guest")
    from guest_console import GuestConsole
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--firmware", "bios", "--kernel", GUEST_KERNEL,
                      "--initrd", GUEST_INITRD,
                      "--append", "console=ttyS0 panic=-1 wirt.via=firmware"],
                     str(tmp_path / "console.log"))
    try:
        log = g.expect("wirt-guest: ready", 600)
        assert "Booting from ROM" in log, log[:3000]
        assert "Command line: console=ttyS0 panic=-1 wirt.via=firmware" in log
        assert "RAMDISK: [mem" in log
        assert "ACPI: XSDT" in log
    finally:
        g.kill()


def test_kernel_through_firmware_without_the_option_rom(tmp_path):
    """Without linuxboot_dma.bin (simulated with WIRT_LINUXBOOT) wirt says
    which package provides it."""
    env = dict(os.environ, WIRT_LINUXBOOT=str(tmp_path / "none.bin"))
    r = subprocess.run([WIRT, "run", "--accel", "emu", "--firmware", guest_path("hello"),
                        "--kernel", GUEST_KERNEL],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 1, r.stderr
    assert "qemu-system-data" in r.stderr and "none.bin" in r.stderr, r.stderr
