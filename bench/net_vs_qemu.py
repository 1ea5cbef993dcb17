#!/usr/bin/env python3
"""TCP throughput through user-mode networking: wirt's emulator against
QEMU's TCG, both with libslirp NAT and hostfwd, with the paravirtual NIC
(virtio-net) and the emulated one (e1000) — the classic comparison of the
two kinds of device, each against QEMU's same device.

Boots a guest under each (virtio: the default guest; e1000: Debian's
standard kernel with its e1000 module, which the cloud kernel lacks), gets
an address by DHCP, starts two busybox nc servers in the guest (one
swallows what it gets and answers with the byte count, one sends MiB of
zeros), and times from the host: host -> guest and guest -> host, each
through its own forwarded port.  Prints MB/s and the wirt/QEMU ratio
(above 1 means wirt is faster).

usage: bench/net_vs_qemu.py [--quick] [--model virtio|e1000]  (default: both)
"""
import os
import shutil
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import std_kernel  # noqa: E402
from guest_console import GuestConsole  # noqa: E402

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
APPEND = "console=ttyS0 panic=-1"
PROMPT = "~ # "


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(port):
    deadline = time.monotonic() + 60
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=600)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def host_to_guest(port, nbytes):
    s = connect(port)
    chunk = bytes(65536)
    t = time.monotonic()
    sent = 0
    while sent < nbytes:
        s.sendall(chunk)
        sent += len(chunk)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        d = s.recv(100)
        if not d:
            break
        reply += d
    dt = time.monotonic() - t
    s.close()
    if int(reply.split()[0]) != nbytes:
        sys.exit("guest received %r bytes, expected %d" % (reply, nbytes))
    return nbytes / dt / 1e6


def guest_to_host(port, nbytes):
    s = connect(port)
    t = time.monotonic()
    got = 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got += len(d)
    dt = time.monotonic() - t
    s.close()
    if got != nbytes:
        sys.exit("host received %d bytes, expected %d" % (got, nbytes))
    return got / dt / 1e6


def measure(argv, ports, nbytes, model):
    g = GuestConsole(argv)
    try:
        g.expect("wirt-guest: ready", 900)
        g.expect(PROMPT, 120)
        if model == "e1000":
            g.run("insmod /e1000.ko; sleep 1")
        g.run("udhcpc -i eth0 -n -q >/dev/null 2>&1", timeout=120)
        g.run("echo 'head -c %d /dev/zero' > /tmp/tx.sh; chmod +x /tmp/tx.sh" % nbytes)
        g.run("nc -l -p 5001 -e wc -c & nc -l -p 5002 -e /tmp/tx.sh &")
        time.sleep(1)
        results = {"host -> guest": host_to_guest(ports[0], nbytes),
                   "guest -> host": guest_to_host(ports[1], nbytes)}
        g.send("poweroff -f")
        g.wait_exit(60)
    finally:
        g.kill()
    return results


def compare(qemu, model, nbytes, tmp):
    kernel, initrd = KERNEL, INITRD
    if model == "e1000":
        err = std_kernel.fetch()
        if err:
            sys.exit("cannot fetch linux-image-amd64: " + err)
        kernel = std_kernel.KERNEL
        initrd = std_kernel.initrd_with_e1000(os.path.join(tmp, "initrd-e1000.img"))
    wp = (free_port(), free_port())
    w = measure([os.path.join(ROOT, "wirt"), "run", "--accel", "emu", "--memory", "512M",
                 "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
                 "--net", "user,model=%s,hostfwd=tcp:127.0.0.1:%d-:5001,"
                 "hostfwd=tcp:127.0.0.1:%d-:5002" % ((model,) + wp)], wp, nbytes, model)
    qp = (free_port(), free_port())
    q = measure([qemu, "-accel", "tcg", "-m", "512", "-kernel", kernel, "-initrd", initrd,
                 "-append", APPEND, "-display", "none", "-serial", "stdio",
                 "-monitor", "none", "-nodefaults", "-no-reboot",
                 "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:5001,"
                 "hostfwd=tcp:127.0.0.1:%d-:5002" % qp,
                 "-device", "%s,netdev=n0" % ("e1000" if model == "e1000" else "virtio-net-pci")],
                qp, nbytes, model)
    print("%-16s %10s %10s %8s" % ("%s, %d MiB" % (model, nbytes >> 20), "wirt emu",
                                   "qemu tcg", "ratio"))
    for k in w:
        print("%-16s %6.1f MB/s %6.1f MB/s %7.2fx" % (k, w[k], q[k], w[k] / q[k]))


def main():
    import tempfile
    nbytes = (8 if "--quick" in sys.argv else 32) << 20
    models = ["virtio", "e1000"]
    if "--model" in sys.argv:
        i = sys.argv.index("--model")
        if i + 1 >= len(sys.argv) or sys.argv[i + 1] not in models:
            sys.exit("--model: choose virtio or e1000")
        models = [sys.argv[i + 1]]
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        sys.exit("build the default guest first: make default-guest")
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        sys.exit("qemu-system-x86_64 not found: apt-get install qemu-system-x86")
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            compare(qemu, model, nbytes, tmp)


if __name__ == "__main__":
    main()
