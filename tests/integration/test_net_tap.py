"""The tap back end inside a network namespace the test creates: wirt
creates the tap, the up script gives it an address, the guest and the
namespace ping each other, and the down script runs when wirt stops.
Skipped with a message where namespaces or /dev/net/tun are not permitted."""
import os
import subprocess
import uuid

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
PROMPT = "~ # "


@pytest.fixture
def netns():
    name = "wirt-" + uuid.uuid4().hex[:8]
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode:
        pytest.skip("cannot create a network namespace here (%s): tap test skipped"
                    % r.stderr.strip())
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        subprocess.run(["ip", "netns", "del", name])
        pytest.skip("/dev/net/tun is not accessible: tap test skipped")
    yield name
    subprocess.run(["ip", "netns", "del", name])


def test_tap_with_scripts_in_a_namespace(netns, tmp_path):
    up = tmp_path / "up.sh"
    down = tmp_path / "down.sh"
    marker = tmp_path / "down-ran"
    up.write_text("#!/bin/sh\nip addr add 10.77.0.1/24 dev \"$1\" && ip link set \"$1\" up\n")
    down.write_text("#!/bin/sh\necho \"$1\" > %s\n" % marker)
    os.chmod(up, 0o755)
    os.chmod(down, 0o755)
    g = GuestConsole(["ip", "netns", "exec", netns, WIRT, "run", "--accel", "emu",
                      "--memory", "256M", "--kernel", KERNEL, "--initrd", INITRD,
                      "--append", "console=ttyS0 panic=-1", "--net",
                      "tap,ifname=wtap0,script=%s,downscript=%s" % (up, down)],
                     str(tmp_path / "console.log"))
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        g.run("ifconfig eth0 10.77.0.2 netmask 255.255.255.0 up")
        out = g.run("ping -c 3 -W 10 10.77.0.1", timeout=120)
        assert "3 packets received" in out, out
        r = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "2", "-W", "10",
                            "10.77.0.2"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
        assert marker.read_text().strip() == "wtap0"
    finally:
        g.kill()
