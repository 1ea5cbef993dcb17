"""Two VMs under the emulator on virtual networks (socket back end: a
multicast segment and a TCP link): Linux's virtio-net driver in each, they
ping each other and copy a file across with a matching checksum (sent in
64 KiB TCP frames the sender's wirt segments); one VM goes away, the
other runs on and reports the frames it had to drop.  Plus the command
line's answers to bad --net specifications."""
import os
import random
import re
import time

import pytest

from conftest import ROOT, WIRT, run_wirt
from guest_console import GuestConsole
from ports import free_port

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
BOOT_TIMEOUT = 900
PROMPT = "~ # "



def boot(tmp_path, name, nets):
    args = []
    for n in nets:
        args += ["--net", n]
    return GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "256M",
                         "--kernel", KERNEL, "--initrd", INITRD,
                         "--append", "console=ttyS0 panic=-1"] + args,
                        str(tmp_path / (name + ".log")))


def test_two_vms_on_multicast_and_tcp(tmp_path):
    """eth0 of both VMs on a multicast segment, eth1 on a TCP link (A
    listens, B connects); ping over both, a file over the segment; then A
    goes away and B runs on and powers off cleanly."""
    group = "239.77.%d.%d:%d" % (random.randint(1, 254), random.randint(1, 254),
                                 random.randint(20000, 60000))
    port = free_port()
    a = boot(tmp_path, "a", ["socket,mcast=%s,mac=52:54:00:00:00:0a" % group,
                             "socket,listen=127.0.0.1:%d,mac=52:54:00:00:01:0a" % port])
    b = None
    try:
        a.expect("Linux version", 120)  # A listens by now
        b = boot(tmp_path, "b", ["socket,mcast=%s,mac=52:54:00:00:00:0b" % group,
                                 "socket,connect=127.0.0.1:%d,mac=52:54:00:00:01:0b" % port])
        for g, last in ((a, 1), (b, 2)):
            g.expect("wirt-guest: ready", BOOT_TIMEOUT)
            g.expect(PROMPT, 120)
            assert "52:54:00:00:00:0" in g.run("cat /sys/class/net/eth0/address")
            g.run("ifconfig eth0 10.9.0.%d netmask 255.255.255.0 up" % last)
            g.run("ifconfig eth1 10.9.1.%d netmask 255.255.255.0 up" % last)
        out = b.run("ping -c 3 -W 10 10.9.0.1", timeout=120)
        assert "3 packets received" in out, out
        out = a.run("ping -c 2 -W 10 10.9.0.2", timeout=120)
        assert "2 packets received" in out, out
        out = b.run("ping -c 3 -W 10 10.9.1.1", timeout=120)
        assert "3 packets received" in out, out
        # B's driver took segmentation offload (HOST_TSO4 is bit 11).
        bits = b.run("cat /sys/class/net/eth0/device/features").strip()
        assert bits[11] == "1", bits
        # A file across with nc: A listens, B sends 256 KiB.
        a.send("nc -l -p 7000 > /tmp/got")
        time.sleep(2)
        b.run("head -c 262144 /dev/urandom > /tmp/sent")
        want = b.run("md5sum < /tmp/sent").split()[0]
        b.run("nc -w 5 10.9.0.1 7000 < /tmp/sent", timeout=300)
        a.expect(PROMPT, 300)
        assert a.run("md5sum < /tmp/got").split()[0] == want
        assert a.run("wc -c < /tmp/got").strip() == "262144"
        # The TCP peer vanishes: B's frames on eth1 are dropped, B runs on.
        a.send("poweroff -f")
        assert a.wait_exit(120) == 0
        out = b.run("ping -c 1 -W 2 10.9.1.1; echo done", timeout=120)
        assert "done" in out and "1 packets received" not in out, out
        assert b.run("echo alive").strip() == "alive"
        b.send("poweroff -f")
        assert b.wait_exit(120) == 0
        # The frames B sent into the dead link are counted and reported.
        tail = (b.buf + b.proc.stdout.read()).decode(errors="replace")
        assert re.search(r"net1 \(socket\): [1-9]\d* frames? from the "
                         r"guest dropped", tail), tail[-2000:]
    finally:
        a.kill()
        if b:
            b.kill()


@pytest.mark.parametrize("spec,message", [
    ("bogus", "unknown network type 'bogus'"),
    ("socket", "exactly one of mcast=, listen=, connect="),
    ("socket,mcast=10.0.0.1:5000", "give a multicast group and port"),
    ("socket,mcast=239.1.1.1", "give a multicast group and port"),
    ("socket,mcast=239.1.1.1:5000,mac=01:00:00:00:00:01", "unicast"),
    ("socket,mcast=239.1.1.1:5000,mac=zz", "six hex bytes"),
    ("socket,mcast=239.1.1.1:5000,speed=10", "unknown option 'speed'"),
    ("socket,connect=127.0.0.1:1", "start the listening VM first"),
    ("socket,listen=:99999", "give [HOST]:PORT"),
    ("socket,mcast", "is not key=value"),
])
def test_bad_net_specs(spec, message):
    hello = os.path.join(ROOT, "build", "guests", "hello.bin")
    r = run_wirt(["run", "--accel", "emu", "--firmware", hello, "--net", spec])
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr
