"""The paravirtual screen and pointer judged by Linux's own drivers, in one
boot of Debian's standard kernel (the cloud kernel has no DRM) with
--vga virtio --display vnc=...: its virtio_input driver finds the tablet
and a VNC viewer's pointer arrives as absolute evdev events scaled to
0..32767; its virtio-gpu driver brings up fbcon, and the screendump is
exactly the guest's framebuffer with the text written to the console; a
viewer's SetDesktopSize (what noVNC's remote resizing sends) becomes the
guest's new mode, and the viewer's desktop follows."""
import hashlib
import os
import re
import struct
import time

import pytest

from conftest import WIRT
import std_kernel
from guest_console import GuestConsole
from qmp_client import QmpClient
from rfb_client import ENC_DESKTOP_SIZE, ENC_EXT_DESKTOP_SIZE, ENC_RAW
from test_display import read_ppm
from test_vnc import free_port, viewer

PROMPT = "~ # "


class Guest:
    def __init__(self, console, qmp, port):
        self.console, self.qmp, self.port = console, qmp, port

    def run(self, command, timeout=120):
        return self.console.run(command, timeout=timeout)

    def screendump(self, path):
        r = self.qmp.execute("screendump", {"filename": str(path)})
        assert "return" in r, r
        return read_ppm(path)


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    err = std_kernel.fetch()
    if err:
        pytest.fail("cannot fetch linux-image-amd64: " + err)
    tmp = tmp_path_factory.mktemp("virtio-display")
    modules = std_kernel.VIRTIO_PCI_MODULES + std_kernel.INPUT_MODULES + std_kernel.GPU_MODULES
    initrd = std_kernel.initrd_with_modules(tmp / "initrd.img", modules)
    port = free_port()
    qmp_path = str(tmp / "qmp.sock")
    console = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "512M",
                            "--kernel", std_kernel.KERNEL, "--initrd", initrd,
                            "--append", "console=ttyS0 cryptomgr.notests panic=-1",
                            "--qmp", qmp_path, "--vga", "virtio",
                            "--display", "vnc=127.0.0.1:%d" % port],
                           str(tmp / "console.log"))
    try:
        console.expect(PROMPT, 900)
        qmp = QmpClient(qmp_path)
        qmp.negotiate()
        # The standard kernel's modules (the initrd's own are the cloud
        # kernel's and did not load).
        out = console.run("for m in %s; do insmod /$m.ko || echo FAILED $m; done"
                          % " ".join(modules[:-len(std_kernel.GPU_MODULES)]), timeout=300)
        assert not re.search(r"FAILED \w", out), out
        yield Guest(console, qmp, port)
        console.send("poweroff -f")
        assert console.wait_exit(120) == 0
        qmp.close()
    finally:
        console.kill()


def input_events(hexdump_output):
    """(type, code, value) of each struct input_event (24 bytes on x86-64)
    printed by hexdump as 24 hex bytes a line."""
    events = []
    for line in hexdump_output.splitlines():
        b = line.split()
        if len(b) == 24 and all(len(x) == 2 for x in b):
            events.append(struct.unpack("<HHi", bytes(int(x, 16) for x in b[16:24])))
    return events


def test_tablet_reports_the_viewers_pointer_as_absolute_positions(guest):
    devices = guest.run("cat /proc/bus/input/devices")
    block = next((b for b in devices.split("\n\n") if "wirt Virtio Tablet" in b), None)
    assert block, devices
    assert "Bus=0006 Vendor=0627 Product=0003" in block, block
    event = re.search(r"event\d+", block).group(0)
    caps = guest.run("cd /sys/class/input/%s/device/capabilities; cat abs key rel; cd /"
                     % event).splitlines()[-3:]
    # ABS_X and ABS_Y; BTN_LEFT, BTN_RIGHT, BTN_MIDDLE (0x110-0x112); REL_WHEEL
    assert caps == ["3", "70000 0 0 0 0", "100"], caps

    # The viewer's screen is 1280x800 (the display info's size, black
    # until the GPU driver sets a mode): pixel (640, 400) with the left
    # button is ABS_X 640*32767/1279, ABS_Y 400*32767/799, BTN_LEFT 1,
    # SYN_REPORT; then the release at the bottom-right corner.
    v = viewer(guest.port)
    assert (v.w, v.h) == (1280, 800)
    guest.console.send("hexdump -v -n 168 -e '24/1 \"%%02x \" \"\\n\"' /dev/input/%s" % event)
    time.sleep(2)
    v.pointer(640, 400, buttons=1)
    v.pointer(1279, 799, buttons=0)
    out = guest.console.expect(PROMPT, 60)
    assert input_events(out) == [(3, 0, 640 * 32767 // 1279), (3, 1, 400 * 32767 // 799),
                                 (1, 0x110, 1), (0, 0, 0),
                                 (3, 0, 32767), (3, 1, 32767), (1, 0x110, 0)], out
    v.close()


def test_virtio_gpu_console_is_what_the_screendump_shows(guest, tmp_path):
    out = guest.run("for m in %s; do insmod /$m.ko || echo FAILED $m; done; dmesg | grep -i drm"
                    % " ".join(std_kernel.GPU_MODULES), timeout=300)
    assert not re.search(r"FAILED \w", out), out
    assert "Initialized virtio_gpu" in out, out
    assert "fb0: virtio_gpudrmfb frame buffer device" in out, out
    modes = guest.run("cat /sys/class/drm/card0-Virtual-1/modes")
    assert modes.split()[0] == "1280x800", modes

    # Text on the framebuffer console, then the guest's own framebuffer
    # against the screendump, byte for byte (XRGB8888: bytes B, G, R, 0).
    guest.run("printf '\\033[2J\\033[Hwirt virtio-gpu console\\n' > /dev/tty1")
    deadline = time.monotonic() + 60
    while True:
        time.sleep(1)
        want = guest.run("md5sum /dev/fb0").split()[0]
        w, h, rgb = guest.screendump(tmp_path / "screen.ppm")
        assert (w, h) == (1280, 800)
        xrgb = bytearray(w * h * 4)
        xrgb[0::4], xrgb[1::4], xrgb[2::4] = rgb[2::3], rgb[1::3], rgb[0::3]
        if hashlib.md5(xrgb).hexdigest() == want or time.monotonic() > deadline:
            break
    assert hashlib.md5(xrgb).hexdigest() == want
    # The first text row (16 lines of an 8x16 font) holds the 23
    # characters and nothing right of them; the rest of the screen is
    # black but for the cursor on the second row.
    lit = [x for y in range(16) for x in range(w) if any(rgb[(y * w + x) * 3:(y * w + x) * 3 + 3])]
    assert lit and min(lit) < 8 and max(lit) < 23 * 8, (min(lit), max(lit))
    assert not any(rgb[32 * w * 3:])


def test_viewer_resize_becomes_the_guests_mode(guest, tmp_path):
    v = viewer(guest.port)
    v.set_encodings(ENC_RAW, ENC_DESKTOP_SIZE, ENC_EXT_DESKTOP_SIZE)
    v.set_desktop_size(1024, 768)
    # The driver probes again (VIRTIO_GPU_EVENT_DISPLAY), the new size is
    # its preferred mode and fbcon sets it: the viewer gets the desktop
    # resized to what it asked for.
    deadline = time.monotonic() + 120
    while (v.w, v.h) != (1024, 768):
        assert time.monotonic() < deadline, (v.w, v.h)
        v.request(incremental=True)
        v.read_update()
    modes = guest.run("cat /sys/class/drm/card0-Virtual-1/modes")
    assert modes.split()[0] == "1024x768", modes
    w, h, _ = guest.screendump(tmp_path / "resized.ppm")
    assert (w, h) == (1024, 768)
    # A size no screen can have is refused, and the mode stays.
    v.set_desktop_size(0, 0)
    time.sleep(1)
    assert guest.run("cat /sys/class/drm/card0-Virtual-1/modes").split()[0] == "1024x768"
    v.close()
