"""UEFI boot: Debian's OVMF (--firmware uefi) with its variable store in
wirt's pflash, an EFI system partition booting the default guest's
kernel (an EFI-stub binary) through the UEFI shell's startup.nsh, and a
UEFI variable the guest writes through efivarfs kept across a restart
in the vars= file."""
import importlib.util
import os
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, WIRT, kvm_is_pvm, kvm_skip_reason, run_wirt
from std_kernel import cpio_newc

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
GUEST_KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
GUEST_INITRD = os.path.join(ROOT, "guest", "initrd.img")

needs_ovmf = pytest.mark.skipif(not (os.path.exists(OVMF_CODE) and os.path.exists(OVMF_VARS)),
                                reason="Debian's ovmf package is not installed")

# A vendor GUID of wirt's tests, and the variable the guest writes.
TEST_GUID = "3c9a5b1e-7d41-4c2a-9a57-8f0e2b6d1c44"
TEST_VAR = "WirtTest-" + TEST_GUID


def _disk_script():
    path = os.path.join(ROOT, "scripts", "make-syslinux-disk.py")
    spec = importlib.util.spec_from_file_location("make_syslinux_disk", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_uefi_without_the_package_names_it(tmp_path):
    """--firmware uefi looks for Debian's OVMF; missing (simulated with
    WIRT_OVMF_CODE), wirt names the package and starts nothing."""
    env = dict(os.environ, WIRT_OVMF_CODE=str(tmp_path / "no-such-code.fd"))
    r = subprocess.run([WIRT, "run", "--accel", "emu", "--firmware", "uefi"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2, r.stderr
    assert "ovmf" in r.stderr and "apt-get install" in r.stderr, r.stderr
    assert "no-such-code.fd" in r.stderr


@pytest.mark.parametrize("spec,message", [
    ("bios,vars={tmp}/v.fd", "SeaBIOS keeps no variable store"),
    ("uefi,vars=", "vars= needs one file name"),
    ("{tmp}/fw.fd,vars={tmp}/missing.fd", "missing.fd"),
    ("uefi,vars={tmp}/short.fd", "has 8192 bytes, the firmware's template"),
    ("{tmp}/fw.fd,vars={tmp}/odd.fd", "whole 4 KiB blocks"),
])
def test_uefi_vars_errors(tmp_path, spec, message):
    """A vars= that cannot be the store: one clear line, no VM, and an
    existing file of the wrong size is left as it was."""
    if spec.startswith("uefi") and not os.path.exists(OVMF_VARS):
        pytest.skip("Debian's ovmf package is not installed")
    (tmp_path / "fw.fd").write_bytes(b"\xf4" * (64 << 10))
    (tmp_path / "short.fd").write_bytes(b"\x5a" * 8192)
    (tmp_path / "odd.fd").write_bytes(b"\x5a" * 5000)
    r = run_wirt(["run", "--accel", "emu", "--firmware", spec.format(tmp=tmp_path)])
    assert r.returncode in (1, 2), r.stderr
    assert message in r.stderr, r.stderr
    assert "Sanitizer" not in r.stderr
    assert (tmp_path / "short.fd").read_bytes() == b"\x5a" * 8192


def test_uefi_under_kvm():
    reason = kvm_skip_reason()
    if reason:
        pytest.skip(reason)
    if kvm_is_pvm():
        pytest.skip("KVM-PVM runs only PVM guest kernels: OVMF cannot run under it")
    if not os.path.exists(OVMF_CODE):
        pytest.skip("Debian's ovmf package is not installed")
    r = _shell_reached(["--accel", "kvm"])
    assert "UEFI Interactive Shell" in r, r[-2000:]


def _shell_reached(extra, timeout=120):
    from guest_console import GuestConsole
    g = GuestConsole([WIRT, "run", "--memory", "256M", "--firmware", "uefi"] + extra)
    try:
        return g.expect("Shell>", timeout)
    finally:
        g.kill()


def _guest_modules():
    """efivarfs.ko for the default guest's kernel (cached), or skip."""
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "fetch-guest-modules.sh"),
                        "efivarfs"], capture_output=True, text=True)
    if r.returncode:
        pytest.skip("cannot fetch the guest kernel's efivarfs module: " + r.stderr[-300:])
    return os.path.join(ROOT, r.stdout.strip())


def _boot(tmp_path, name, disk_args, vars_file):
    """Start wirt with OVMF; return the console once the guest's shell
    answers, and the seconds it took."""
    from guest_console import GuestConsole
    start = time.monotonic()
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--firmware", "uefi,vars=" + str(vars_file)] + disk_args,
                     str(tmp_path / (name + ".log")))
    try:
        g.expect("UEFI Interactive Shell", 300)
        g.expect("EFI stub: Loaded initrd from command line option", 120)
        g.expect("wirt-guest: ready", 300)
        g.expect("~ # ", 60)
    except Exception:
        g.kill()
        raise
    return g, time.monotonic() - start


def _mount_efivarfs(g):
    """Mount efivarfs; $E is its directory, $V the test variable (short
    command lines: the console echoes long ones wrapped)."""
    g.run("insmod /efivarfs.ko")
    g.run("E=/sys/firmware/efi/efivars")
    g.run("mount -t efivarfs efivarfs $E")
    g.run("V=$E/" + TEST_VAR)


@needs_ovmf
def test_uefi_boots_an_esp_and_keeps_variables_across_restarts(tmp_path):
    """OVMF boots the default guest from an EFI system partition on a
    virtio disk (GPT); Linux sees UEFI (/sys/firmware/efi) and writes a
    variable through efivarfs, which OVMF stores in the pflash.  wirt is
    then killed (no orderly exit: the write must already be in the vars
    file), and a second run with the same vars file, booting the same
    partition from an ATAPI CD-ROM (El Torito, EFI platform), reads the
    variable back."""
    disk_script = _disk_script()
    missing = disk_script.missing_tools(efi=True)
    if missing:
        pytest.skip(missing)
    if not shutil.which("xorriso"):
        pytest.skip("xorriso not installed (apt-get install xorriso)")
    modules = _guest_modules()
    initrd = tmp_path / "initrd.img"
    with open(initrd, "wb") as f:
        f.write(open(GUEST_INITRD, "rb").read())
        f.write(cpio_newc({"efivarfs.ko": open(os.path.join(modules, "efivarfs.ko"), "rb").read()}))
    esp = disk_script.make_esp_disk(str(tmp_path / "esp.img"), GUEST_KERNEL, str(initrd),
                                    "console=ttyS0 panic=-1", boot_mib=24)
    vars_file = tmp_path / "vars.fd"
    assert not vars_file.exists()

    g, first = _boot(tmp_path, "virtio", ["--disk", esp + ",format=raw"], vars_file)
    try:
        # The store was made from the template, at the template's size.
        assert vars_file.stat().st_size == os.path.getsize(OVMF_VARS)
        assert g.run("test -d /sys/firmware/efi && echo uefi-yes").strip() == "uefi-yes"
        _mount_efivarfs(g)
        # OVMF's own variables are visible (its boot entries).
        assert "BootOrder-8be4df61" in g.run("ls $E")
        # Attributes NV|BS|RT, then the data.
        g.run("printf '\\007\\000\\000\\000wirt-pflash-ok' > $V")
        assert g.run("tail -c 14 $V; echo").strip() == "wirt-pflash-ok"
    finally:
        g.proc.kill()
        g.proc.wait()
    assert b"wirt-pflash-ok" in vars_file.read_bytes()

    # The same partition as an El Torito EFI boot image on a CD.
    isodir = tmp_path / "iso"
    isodir.mkdir()
    with open(esp, "rb") as src, open(isodir / "efiboot.img", "wb") as dst:
        src.seek(2048 * 512)
        dst.write(src.read())
    iso = tmp_path / "uefi.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso),
                    "-e", "efiboot.img", "-no-emul-boot", str(isodir)],
                   check=True, capture_output=True)
    g, second = _boot(tmp_path, "cdrom", ["--cdrom", str(iso)], vars_file)
    try:
        _mount_efivarfs(g)
        assert g.run("ls $E | grep Wirt").strip() == TEST_VAR
        assert g.run("tail -c 14 $V; echo").strip() == "wirt-pflash-ok"
    finally:
        g.kill()
    print("UEFI boot to the guest shell: %.0f s (virtio disk), %.0f s (CD-ROM)" % (first, second))


@needs_ovmf
def test_uefi_shell_migrates_with_its_flash(tmp_path):
    """The pflash's state goes with the machine: OVMF at its shell is
    saved (QMP migrate), and a new wirt started from the state (same
    --firmware, a private variable store) answers in the same shell."""
    from guest_console import GuestConsole
    from qmp_client import QmpClient
    sock = str(tmp_path / "qmp.sock")
    state = tmp_path / "state"
    machine = ["run", "--accel", "emu", "--memory", "256M", "--firmware", "uefi"]
    g = GuestConsole([WIRT] + machine + ["--qmp", sock], str(tmp_path / "src.log"))
    try:
        g.expect("Shell>", 300)
        q = QmpClient(sock, timeout=60)
        q.negotiate()
        assert q.cmd("migrate", {"uri": "file:%s" % state}) == {}
        assert q.cmd("query-migrate")["status"] == "completed"
    finally:
        g.kill()
    g = GuestConsole([WIRT] + machine + ["--incoming", "file:%s" % state],
                     str(tmp_path / "dst.log"))
    try:
        time.sleep(2)
        g.proc.stdin.write(b"echo wirt-restored\r")
        g.proc.stdin.flush()
        # The shell echoes key by key (with cursor moves between): the
        # whole word is the command's output.
        g.expect("wirt-restored\r\n", 60)
        g.expect("Shell>", 60)
    finally:
        g.kill()


@needs_ovmf
def test_uefi_boots_kernel_and_initrd_given_to_wirt(tmp_path, monkeypatch):
    """--firmware uefi with --kernel: OVMF takes the kernel, initrd and
    command line from fw_cfg, as with QEMU's -kernel, and starts Linux
    through its EFI stub; SeaBIOS's option ROM is not needed (its path
    points nowhere here)."""
    from guest_console import GuestConsole
    monkeypatch.setenv("WIRT_LINUXBOOT", str(tmp_path / "no-linuxboot.bin"))
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                      "--firmware", "uefi", "--kernel", GUEST_KERNEL,
                      "--initrd", GUEST_INITRD,
                      "--append", "console=ttyS0 panic=-1 wirt.via=ovmf"],
                     str(tmp_path / "console.log"))
    try:
        g.expect("EFI stub: Loaded initrd", 300)
        log = g.expect("wirt-guest: ready", 300)
        assert "Command line: console=ttyS0 panic=-1 wirt.via=ovmf" in log, log[-3000:]
        assert "efi: EFI v2.70 by EDK II" in log, log[-3000:]
    finally:
        g.kill()
