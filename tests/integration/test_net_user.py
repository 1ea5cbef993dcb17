"""User-mode networking (libslirp) under the emulator, judged by Linux's
virtio-net driver and busybox: the guest gets its address by DHCP, fetches
a page from an HTTP server on the host's loopback through NAT, and serves
one the host reaches through hostfwd.  The guest negotiates segmentation
offload and a large file it serves arrives intact (its 64 KiB frames are
cut to libslirp's MTU by wirt).  With restrict=on the guest's own
connection fails while the forward keeps working."""
import hashlib
import http.server
import os
import socket
import threading
import urllib.request

import pytest

from conftest import ROOT, WIRT, run_wirt
from guest_console import GuestConsole
from ports import free_port

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
BOOT_TIMEOUT = 900
PROMPT = "~ # "
HOST_PAGE = b"wirt host page\n"



@pytest.fixture(scope="module")
def host_server():
    """An HTTP server on the host's loopback only."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(HOST_PAGE)))
            self.end_headers()
            self.wfile.write(HOST_PAGE)

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()


def boot_with(tmp_path, name, net):
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", INITRD,
                      "--append", "console=ttyS0 panic=-1", "--net", net],
                     str(tmp_path / (name + ".log")))
    g.expect("wirt-guest: ready", BOOT_TIMEOUT)
    g.expect(PROMPT, 120)
    out = g.run("udhcpc -i eth0 -n -q 2>&1 | tail -1", timeout=120)
    assert "lease of 10.0.2.15 obtained" in out, out
    # A page for the host to fetch through the forward.
    g.run("mkdir -p /www; echo guest page > /www/index.html; httpd -p 80 -h /www")
    return g


def fetch(port, name="index.html"):
    return urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, name),
                                  timeout=300).read()


def negotiated_bits(g):
    """The virtio feature bits eth0's driver accepted, bit 0 first."""
    return g.run("cat /sys/class/net/eth0/device/features").strip()


def test_dhcp_nat_and_hostfwd(tmp_path, host_server):
    fwd = free_port()
    g = boot_with(tmp_path, "user", "user,hostfwd=tcp:127.0.0.1:%d-:80" % fwd)
    try:
        assert "10.0.2.2" in g.run("route -n")
        assert "nameserver 10.0.2.3" in g.run("cat /etc/resolv.conf")
        out = g.run("wget -q -O - http://10.0.2.2:%d/" % host_server, timeout=120)
        assert HOST_PAGE.decode().strip() in out, out
        assert fetch(fwd) == b"guest page\n"
        # Checksum and TCP segmentation offload (CSUM 0, HOST_TSO4 11,
        # HOST_TSO6 12) are on, so the guest sends 64 KiB frames.
        bits = negotiated_bits(g)
        assert bits[0] == "1" and bits[11] == "1" and bits[12] == "1", bits
        g.run("head -c 1048576 /dev/urandom > /www/big")
        want = g.run("md5sum /www/big").split()[0]
        assert hashlib.md5(fetch(fwd, "big")).hexdigest() == want
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        g.kill()


def test_restrict_blocks_the_guest_but_not_the_forward(tmp_path, host_server):
    fwd = free_port()
    g = boot_with(tmp_path, "restricted",
                  "user,restrict=on,hostfwd=tcp:127.0.0.1:%d-:80" % fwd)
    try:
        out = g.run("wget -q -T 10 -O - http://10.0.2.2:%d/; echo status=$?"
                    % host_server, timeout=120)
        assert HOST_PAGE.decode().strip() not in out, out
        assert "status=0" not in out, out
        assert fetch(fwd) == b"guest page\n"
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        g.kill()


@pytest.mark.parametrize("spec,message", [
    ("user,net=10.0.2.0", "give ADDR/PREFIX"),
    ("user,net=10.0.2.1/24", "give ADDR/PREFIX"),
    ("user,dns=nowhere", "is not an IPv4 address"),
    ("user,restrict=maybe", "give on or off"),
    ("user,hostfwd=tcp:2222:22", "give tcp|udp:[HOSTADDR]:HOSTPORT"),
    ("user,hostfwd=sctp::2222-:22", "give tcp|udp:[HOSTADDR]:HOSTPORT"),
    ("user,hostfwd=tcp::99999-:22", "give tcp|udp:[HOSTADDR]:HOSTPORT"),
    ("user,bogus=1", "unknown option 'bogus'"),
])
def test_bad_user_specs(spec, message):
    hello = os.path.join(ROOT, "build", "guests", "hello.bin")
    r = run_wirt(["run", "--accel", "emu", "--firmware", hello, "--net", spec])
    assert r.returncode == 1
    assert message in r.stderr, r.stderr


def test_hostfwd_port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    hello = os.path.join(ROOT, "build", "guests", "hello.bin")
    r = run_wirt(["run", "--accel", "emu", "--firmware", hello, "--net",
                  "user,hostfwd=tcp:127.0.0.1:%d-:80" % port])
    s.close()
    assert r.returncode == 1
    assert "in use" in r.stderr, r.stderr
