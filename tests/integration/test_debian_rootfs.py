"""A real Debian 12 root filesystem (scripts/build-debian-image.sh) under
wirt's emulator: Debian's own kernel and initramfs-tools initrd (udevd and
kmod, dynamically linked) mount root from the virtio disk, systemd reaches
its multi-user target with no failed unit, and glibc programs (bash,
python3, apt) run, also with every code page faulted in on its own.
One boot serves every check: a systemd boot under the
emulator takes minutes.  That boot also carries a --cloud-init seed, so
the image's real cloud-init (NoCloud) runs its user-data on it.

WIRT_DEBIAN_VMM=qemu boots the same image under QEMU's TCG instead, to
check the image and these tests apart from wirt."""
import hashlib
import os
import re
import time

import pytest

import debian_image
from guest_console import GuestConsole

VMM = os.environ.get("WIRT_DEBIAN_VMM", "wirt")
BOOT_TIMEOUT = 3600
PROMPT = debian_image.PROMPT


# The image has no locales to generate (cloud-init's locale module would
# fail); the rest is what a user's first boot does.
CLOUD_USER_DATA = """#cloud-config
locale: false
write_files:
  - path: /root/from-seed
    content: "seeded by wirt\\n"
runcmd:
  - [sh, -c, "echo runcmd-ran > /root/runcmd-marker"]
"""


def sh(guest, command, timeout=600):
    """Run command in the guest's bash; return (exit status, output)."""
    out = guest.run(command + "; echo \"rc=$?\"", PROMPT, timeout)
    m = re.search(r"rc=(\d+)\s*$", out)
    assert m, out
    return int(m.group(1)), out[:m.start()].strip()


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    if not debian_image.built():
        pytest.fail("the Debian image is not built: run scripts/build-debian-image.sh")
    tmp = tmp_path_factory.mktemp("debian")
    booted = None
    disk = debian_image.copy_rootfs(tmp)
    log = tmp / "console.log"
    argv = debian_image.boot_command(disk, VMM)
    if VMM == "wirt":
        (tmp / "user-data").write_text(CLOUD_USER_DATA)
        argv += ["--cloud-init", "user-data=%s" % (tmp / "user-data")]
    start = time.monotonic()
    g = GuestConsole(argv, str(log))
    try:
        g.boot_log = g.expect(PROMPT, BOOT_TIMEOUT)
        booted = time.monotonic() - start
        # Kernel messages off the console from here: they would mix with
        # the commands' output.
        sh(g, "dmesg -n 1")
        yield g
    finally:
        g.kill()
        print("console log: %s" % log)
        if booted is not None:
            print("root shell after %.1f s" % booted)


def test_boot_used_the_images_own_initrd(guest):
    """Root came from /dev/vda via the initramfs-tools initrd, and the
    kernel is the image's own."""
    log = guest.boot_log
    assert "Run /init as init process" in log, log[-3000:]
    assert "Welcome to" in log and "Debian GNU/Linux 12" in log, log[-3000:]
    rc, out = sh(guest, "findmnt -n -o SOURCE,FSTYPE /")
    assert rc == 0 and out.split() == ["/dev/vda", "ext4"], out
    want = open(os.path.join(debian_image.DIR, "kernel-version")).read().strip()
    rc, out = sh(guest, "uname -r")
    assert out == want, out


def test_systemd_is_running_with_no_failed_units(guest):
    rc, state = sh(guest, "systemctl is-system-running --wait", timeout=1800)
    # cloud-init (the seed) writes to the console while this waits: the
    # state is the last line.
    state = state.strip().splitlines()[-1] if state.strip() else state
    if state != "running":
        _, failed = sh(guest, "systemctl --failed --no-pager --no-legend")
        _, errors = sh(guest, "journalctl -b -p err --no-pager | tail -n 60")
        pytest.fail("system state %r\nfailed units:\n%s\nerrors:\n%s"
                    % (state, failed, errors))
    assert rc == 0
    rc, out = sh(guest, "systemctl is-active multi-user.target systemd-udevd systemd-journald")
    assert out.split() == ["active"] * 3, out


def test_bash_runs_dynamically_linked(guest):
    rc, out = sh(guest, "ldd /bin/bash")
    assert rc == 0 and "libc.so.6" in out, out
    rc, out = sh(guest, "bash -c 'a=(3 5 7); s=0; for x in \"${a[@]}\"; do "
                        "s=$((s + x * x)); done; echo \"sum=$s ${BASH_VERSINFO[0]}\"'")
    assert rc == 0 and out == "sum=83 5", out


def test_glibc_sees_x86_64_v2(guest):
    """glibc's dynamic loader checks the CPU's ISA level before it runs a
    program: the emulated CPU must offer x86-64-v2 (MMX up to SSE4.2,
    POPCNT, CMPXCHG16B, LAHF/SAHF)."""
    rc, out = sh(guest, "/lib64/ld-linux-x86-64.so.2 --help")
    assert rc == 0, out
    assert re.search(r"x86-64-v2 \(supported, searched\)", out), out
    rc, out = sh(guest, "grep -m1 '^flags' /proc/cpuinfo")
    for flag in ("mmx", "pni", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm"):
        assert flag in out.split(), out


def test_python3_computes(guest):
    want = hashlib.sha256(b"wirt" * 1000).hexdigest()
    rc, out = sh(guest, "python3 -c 'import hashlib; "
                        "print(hashlib.sha256(b\"wirt\" * 1000).hexdigest(), "
                        "sum(i * i for i in range(1000)), 2 ** 100 % 97, 1 / 3)'")
    assert rc == 0, out
    assert out.split() == [want, str(sum(i * i for i in range(1000))),
                           str(2 ** 100 % 97), repr(1 / 3)], out


def test_apt_works_offline(guest):
    rc, out = sh(guest, "apt-get check")
    assert rc == 0, out
    rc, out = sh(guest, "apt-cache policy bash")
    assert rc == 0 and re.search(r"Installed: \d", out), out
    # Resolving dependencies from dpkg's status: removing python3-minimal
    # takes nothing that needs it with it, but names it.
    rc, out = sh(guest, "apt-get -s remove python3-minimal")
    assert rc == 0 and "Remv python3-minimal" in out, out


FAULT_AROUND = "/sys/kernel/debug/fault_around_bytes"


def test_programs_run_with_page_by_page_faults(guest):
    """With fault-around off, each code page of a program is mapped by a
    fault of its own, so instructions that run into a page not mapped yet
    are common: the fetch must page-fault, not raise #UD (python3 died
    with SIGILL at random: glibc's `mov %fs:0x2f8,%rdx` at libc.so.6
    0x85ff9, its displacement on the next page)."""
    rc, old = sh(guest, "mountpoint -q /sys/kernel/debug || "
                        "mount -t debugfs none /sys/kernel/debug; cat " + FAULT_AROUND)
    if rc != 0:
        pytest.skip("no %s in this kernel: %s" % (FAULT_AROUND, old))
    want = hashlib.sha256(b"wirt").hexdigest()
    try:
        rc, out = sh(guest, "dmesg -C; echo 4096 > " + FAULT_AROUND)
        assert rc == 0, out
        for _ in range(3):
            # Cold page cache too: pages come back one at a time.
            rc, out = sh(guest, "sync; echo 3 > /proc/sys/vm/drop_caches; "
                                "python3 -c 'import hashlib; "
                                "print(hashlib.sha256(b\"wirt\").hexdigest())' && "
                                "ldd /bin/bash >/dev/null && apt-cache policy bash >/dev/null")
            assert rc == 0 and out == want, out
        rc, out = sh(guest, "dmesg | grep -E 'traps:|segfault|invalid opcode' || true")
        assert out == "", out
    finally:
        sh(guest, "echo %s > %s" % (old.strip(), FAULT_AROUND))


def test_cloud_init_ran_the_seed(guest):
    """cloud-init found wirt's cidata volume (the second virtio disk) and
    carried out its user-data: write_files and runcmd."""
    if VMM != "wirt":
        pytest.skip("the seed is wirt's --cloud-init")
    rc, out = sh(guest, "cloud-init status --wait", timeout=1800)
    assert rc == 0 and "status: done" in out, out
    rc, out = sh(guest, "cat /root/from-seed /root/runcmd-marker")
    assert out.split("\n") == ["seeded by wirt", "runcmd-ran"], out
    rc, out = sh(guest, "grep -o DataSourceNoCloud /run/cloud-init/result.json")
    assert out.startswith("DataSourceNoCloud"), out
    rc, out = sh(guest, "blkid -s LABEL -o value /dev/vdb")
    assert out == "cidata", out


def test_poweroff_ends_with_status_0(guest):
    guest.send("systemctl poweroff")
    assert guest.wait_exit(900) == 0
