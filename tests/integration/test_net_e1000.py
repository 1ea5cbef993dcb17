"""The emulated Intel 82540EM NIC (--net ...,model=e1000) judged by Linux's
own e1000 driver: Debian's standard kernel (the cloud kernel has no e1000)
with its e1000 module added to the default guest's initramfs.  The driver
reads the MAC from the EEPROM (bit-banged Microwire, checksum 0xBABA),
finds the PHY and the link, gets an address by DHCP through user-mode
networking, fetches a page through NAT and serves a large file through
hostfwd — sent with checksum offload and TCP segmentation (the driver's
defaults), which the back end finishes in software.  Then the machine is
saved to a file and restored in a new wirt process: the driver goes on
with the card's saved registers (rings, offload context, interrupt
mask) as if nothing happened."""
import hashlib
import os

import pytest

from conftest import ROOT, WIRT, run_wirt
import std_kernel
from guest_console import GuestConsole
from qmp_client import QmpClient
from test_net_user import HOST_PAGE, fetch, free_port, host_server  # noqa: F401

PROMPT = "~ # "


@pytest.fixture(scope="module")
def std_kernel_and_initrd(tmp_path_factory):
    err = std_kernel.fetch()
    if err:
        pytest.fail("cannot fetch linux-image-amd64: " + err)
    initrd = std_kernel.initrd_with_e1000(tmp_path_factory.mktemp("e1000") / "initrd.img")
    return std_kernel.KERNEL, initrd


def test_linux_e1000_driver_over_user_networking(std_kernel_and_initrd, host_server,
                                                 tmp_path):
    kernel, initrd = std_kernel_and_initrd
    fwd = free_port()

    def machine(port, extra=()):
        return [WIRT, "run", "--accel", "emu", "--memory", "512M",
                "--kernel", kernel, "--initrd", initrd,
                "--append", "console=ttyS0 panic=-1",
                "--qmp", str(tmp_path / "qmp.sock"),
                "--net", "user,model=e1000,mac=52:54:00:ab:cd:ef,"
                "hostfwd=tcp:127.0.0.1:%d-:80" % port] + list(extra)

    g = GuestConsole(machine(fwd), str(tmp_path / "console.log"))
    try:
        g.expect(PROMPT, 900)
        out = g.run("insmod /e1000.ko && sleep 1; dmesg | grep -i e1000", timeout=120)
        assert "Intel(R) PRO/1000 Network Connection" in out, out
        assert "52:54:00:ab:cd:ef" in out, out
        assert "EEPROM" not in out, out      # no checksum or read complaint
        out = g.run("udhcpc -i eth0 -n -q 2>&1 | tail -1", timeout=120)
        assert "lease of 10.0.2.15 obtained" in out, out
        out = g.run("dmesg | grep 'Link is Up'", timeout=60)
        assert "1000 Mbps Full Duplex" in out, out
        out = g.run("wget -q -O - http://10.0.2.2:%d/" % host_server, timeout=120)
        assert HOST_PAGE.decode().strip() in out, out
        # A large file out through hostfwd: the driver hands the NIC 64 KiB
        # TCP frames with a partial checksum (TSO); wirt segments them.
        g.run("mkdir -p /www; head -c 2097152 /dev/urandom > /www/big; httpd -p 80 -h /www")
        want = g.run("md5sum /www/big").split()[0]
        assert hashlib.md5(fetch(fwd, "big")).hexdigest() == want
        # And into the guest: the host's page many times (receive ring wraps).
        out = g.run("for i in $(seq 40); do wget -q -O - http://10.0.2.2:%d/; done | wc -l"
                    % host_server, timeout=300)
        assert out.strip().splitlines()[-1] == "40", out
        out = g.run("cd /sys/class/net/eth0/statistics; cat rx_errors tx_errors; cd /")
        assert out.split()[-2:] == ["0", "0"], out
        q = QmpClient(str(tmp_path / "qmp.sock"), timeout=120)
        q.negotiate()
        assert q.cmd("migrate", {"uri": "file:%s" % (tmp_path / "state")}) == {}
        q.close()
    finally:
        g.kill()

    # The saved machine in a new process (a new host port: hostfwd is the
    # host's side, not the card's).
    fwd = free_port()
    g = GuestConsole(machine(fwd, ["--incoming", "file:%s" % (tmp_path / "state")]),
                     str(tmp_path / "console2.log"))
    try:
        g.send("")
        g.expect(PROMPT, 120)
        out = g.run("wget -q -O - http://10.0.2.2:%d/" % host_server, timeout=120)
        assert HOST_PAGE.decode().strip() in out, out
        assert hashlib.md5(fetch(fwd, "big")).hexdigest() == want
        # The driver's watchdog saw nothing wrong.
        out = g.run("dmesg | grep -c -i -E 'e1000.*(hang|reset)'")
        assert out.split()[-1] == "0", out
        out = g.run("cd /sys/class/net/eth0/statistics; cat rx_errors tx_errors; cd /")
        assert out.split()[-2:] == ["0", "0"], out
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        g.kill()


def test_unknown_nic_model_is_refused():
    hello = os.path.join(ROOT, "build", "guests", "hello.bin")
    r = run_wirt(["run", "--accel", "emu", "--firmware", hello,
                  "--net", "user,model=rtl8139"])
    assert r.returncode == 1
    assert "model 'rtl8139': choose virtio (default) or e1000" in r.stderr, r.stderr
