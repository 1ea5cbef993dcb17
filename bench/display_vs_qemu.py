#!/usr/bin/env python3
"""wirt's VNC server against QEMU's, in the same run, on the same guests.

Two screens, each watched by one RFB viewer (tests/integration/
rfb_client.py: raw encoding, a new incremental update requested as soon
as the last one arrived) for --seconds:

  scroll  tests/guests/bench_vga_scroll.S: Bochs VBE 640x480x32, the
          picture moved up 16 lines and a new band drawn, at full speed
          (the guest's vCPU is busy in both, so the process's CPU use is
          mostly the guest's)
  idle    tests/guests/idle.bin: the guest halts, the screen never
          changes (what an idle desktop costs: ideally nothing)

Printed per screen and peer: frames (updates) a second, bytes of pixels
a second and per update, and the process's CPU use (user + system, from
/proc/PID/stat) over the window; then the wirt/QEMU ratios.  wirt runs
under its emulator, QEMU under TCG: -device VGA -vnc.

usage: bench/display_vs_qemu.py [--seconds S]
"""
import argparse
import os
import select
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from rfb_client import Rfb  # noqa: E402

WIRT = os.path.join(ROOT, "wirt")
GUESTS = os.path.join(ROOT, "build", "guests")
TICK = os.sysconf("SC_CLK_TCK")


def free_display():
    """A VNC display number whose port is free."""
    for n in range(40, 99):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 5900 + n))
            return n
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free VNC port")


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(peer, guest, display):
    image = os.path.join(GUESTS, guest + ".bin")
    if peer == "wirt":
        cmd = [WIRT, "run", "--accel", "emu", "--memory", "64M", "--firmware", image,
               "--display", "vnc=127.0.0.1:%d" % display]
    else:
        cmd = [shutil.which("qemu-system-x86_64"), "-accel", "tcg", "-m", "64M",
               "-bios", image, "-nodefaults", "-device", "VGA", "-serial", "stdio",
               "-vnc", "127.0.0.1:%d" % display]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def connect(port):
    deadline = time.monotonic() + 20
    while True:
        try:
            v = Rfb(port)
            v.init()
            return v
        except (ConnectionRefusedError, EOFError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def measure(peer, guest, seconds):
    display = free_display()
    p = start(peer, guest, display)
    try:
        if guest == "bench_vga_scroll":
            line = p.stdout.readline()
            assert b"scrolling" in line, line
        v = connect(5900 + display)
        v.request()
        v.read_update()
        time.sleep(0.5)
        frames = pixels = 0
        cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
        v.request(incremental=True)
        while time.monotonic() - t0 < seconds:
            # An update may never come (an idle screen): wait for its
            # first byte only, then read it whole.
            if not select.select([v.s], [], [], 0.2)[0]:
                continue
            rects = v.read_update()
            frames += 1
            pixels += sum(w * h * 4 for _, _, w, h, enc in rects if enc == 0)
            v.request(incremental=True)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(p.pid) - cpu0
        v.close()
        return frames / elapsed, pixels / elapsed, pixels / frames if frames else 0, \
            100 * cpu / elapsed
    finally:
        p.kill()
        p.wait()


def ratio(a, b):
    return "%.2fx" % (a / b) if b else ("=" if a == b else "inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("needs qemu-system-x86 (the peer)")
    for g in ("bench_vga_scroll", "idle"):
        if not os.path.exists(os.path.join(GUESTS, g + ".bin")):
            sys.exit("build the guests first: make guests")
    print("%-7s %-5s %10s %14s %14s %8s" % ("screen", "peer", "frames/s", "bytes/s",
                                           "bytes/update", "CPU %"))
    results = {}
    for screen, guest in (("scroll", "bench_vga_scroll"), ("idle", "idle")):
        for peer in ("wirt", "qemu"):
            r = results[screen, peer] = measure(peer, guest, args.seconds)
            print("%-7s %-5s %10.1f %14.0f %14.0f %8.1f" % ((screen, peer) + r))
    print()
    print("wirt/QEMU: frames/s, bytes/update, CPU (above 1: wirt more)")
    for screen in ("scroll", "idle"):
        w, q = results[screen, "wirt"], results[screen, "qemu"]
        print("  %-7s frames/s %s  bytes/update %s  CPU %s" %
              (screen, ratio(w[0], q[0]), ratio(w[2], q[2]), ratio(w[3], q[3])))


if __name__ == "__main__":
    main()
