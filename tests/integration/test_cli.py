"""Command-line errors: one clear line and a non-zero exit status."""
import pytest

from conftest import guest_path, run_wirt

BAD = [
    (["run", "--accel", "xen", "--firmware", "x"], "accel"),
    (["run", "--memory", "12Q"], "memory"),
    (["run", "--memory", "1M"], "memory"),
    (["run", "--cpus", "0"], "cpus"),
    (["run", "--cpus", "many"], "cpus"),
    (["run", "--kernel", "/nonexistent/kernel"], "/nonexistent/kernel"),
    (["run", "--firmware", "/etc/hostname"], "firmware"),
    (["run", "--bogus-option"], "bogus"),
    (["frobnicate"], "frobnicate"),
]


@pytest.mark.parametrize("args,word", BAD)
def test_bad_input_one_clear_line(wirt_binary, args, word):
    r = run_wirt(args)
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) >= 1 and word in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "Segmentation" not in r.stderr


def test_help_documents_every_option(wirt_binary):
    r = run_wirt(["run", "--help"])
    assert r.returncode == 0
    for opt in ["--accel", "--memory", "--cpus", "--kernel", "--initrd", "--append",
                "--firmware", "--disk", "--net", "--no-reboot"]:
        assert opt in r.stdout, opt


def test_kernel_that_is_not_a_kernel(wirt_binary, tmp_path):
    f = tmp_path / "notakernel"
    f.write_bytes(b"\0" * 8192)
    r = run_wirt(["run", "--accel", "emu", "--kernel", str(f)])
    assert r.returncode != 0
    assert "kernel" in r.stderr


def test_triple_fault_with_no_reboot(wirt_binary, tmp_path):
    # A ROM whose reset vector loads an empty IDT and raises INT3: no
    # handler -> #GP -> #DF -> triple fault; --no-reboot ends with status 2.
    rom = bytearray(b"\xf4" * 65536)
    code = bytes([0x0f, 0x01, 0x1e, 0x08, 0xff,   # lidt [0xff08] (cs-relative below)
                  0xcc])
    # Real mode: the IDT limit is checked; a zero-limit IDT makes INT3 fault.
    # lidt m16&32 at ds:0xff08 with DS=0 would read RAM; use CS override.
    code = bytes([0x2e, 0x0f, 0x01, 0x1e, 0x00, 0xff, 0xcc])
    rom[0xff00:0xff06] = b"\x00\x00\x00\x00\x00\x00"  # limit 0, base 0
    rom[0xff10:0xff10 + len(code)] = code
    rom[0xfff0:0xfff5] = bytes([0xea, 0x10, 0xff, 0x00, 0xf0])  # jmp f000:ff10
    f = tmp_path / "triple.bin"
    f.write_bytes(bytes(rom))
    r = run_wirt(["run", "--accel", "emu", "--no-reboot", "--firmware", str(f)])
    assert r.returncode == 2, r.stderr
    assert "triple fault" in r.stderr


def host_ram_and_swap_mib():
    fields = dict(l.split(":", 1) for l in open("/proc/meminfo"))
    kib = int(fields["MemTotal"].split()[0]) + int(fields["SwapTotal"].split()[0])
    return kib // 1024


def test_memory_beyond_the_host_needs_overcommit(wirt_binary):
    """RAM the host cannot back is refused unless the user says
    --overcommit (guest RAM is only backed once touched: a tiny guest
    runs with it)."""
    too_much = "%dM" % (host_ram_and_swap_mib() + 1024)
    r = run_wirt(["run", "--accel", "emu", "--memory", too_much,
                  "--firmware", guest_path("hello")])
    assert r.returncode == 1 and "--overcommit" in r.stderr, r.stderr
    assert "Hello" not in r.stdout
    r = run_wirt(["run", "--accel", "emu", "--memory", too_much, "--overcommit",
                  "--firmware", guest_path("hello")])
    assert r.returncode == 33 and "Hello from real mode" in r.stdout, r.stderr


def test_version(wirt_binary):
    """`wirt --version` (and `wirt version`) names the release and the
    commit it was built from, as tools and bug reports want."""
    for arg in ("--version", "version"):
        r = run_wirt([arg])
        assert r.returncode == 0 and r.stdout.startswith("wirt 0."), r.stdout + r.stderr
        assert "(" in r.stdout and r.stdout.endswith(")\n"), r.stdout


def test_quiet_keeps_only_warnings_and_errors(wirt_binary):
    plain = run_wirt(["run", "--firmware", guest_path("hello")])
    assert plain.returncode == 33 and "wirt: using" in plain.stderr, plain.stderr
    quiet = run_wirt(["run", "-q", "--firmware", guest_path("hello")])
    assert quiet.returncode == 33 and quiet.stdout == plain.stdout
    assert quiet.stderr == "", quiet.stderr
    # An error still shows.
    bad = run_wirt(["run", "--quiet", "--kernel", "/nonexistent/kernel"])
    assert bad.returncode != 0 and "/nonexistent/kernel" in bad.stderr
