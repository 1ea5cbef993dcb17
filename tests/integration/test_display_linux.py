"""Linux's own drivers with the display (one boot of the default guest
with --display vnc=...): the PCI VGA is the boot VGA device, the i8042's
AUX port is there for a mouse, atkbd finds
the PS/2 keyboard ("AT Translated Set 2 keyboard", its probe commands
answered through interrupts), and a key a VNC viewer types arrives as an
evdev event of that keyboard."""
import os
import re
import time

import pytest

from conftest import ROOT, WIRT
from guest_console import GuestConsole
from test_vnc import free_port, viewer

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
PROMPT = "~ # "
XK_a = 0x61


def test_linux_keyboard_and_vga(tmp_path):
    if not (os.path.exists(KERNEL) and os.path.exists(INITRD)):
        pytest.fail("the default guest is not built: run make default-guest")
    port = free_port()
    g = GuestConsole([WIRT, "run", "--accel", "emu", "--memory", "256M",
                      "--kernel", KERNEL, "--initrd", INITRD,
                      "--append", "console=ttyS0 cryptomgr.notests panic=-1",
                      "--display", "vnc=127.0.0.1:%d" % port], str(tmp_path / "console.log"))
    try:
        g.expect(PROMPT, 600)
        dmesg = g.run("dmesg")
        assert "vgaarb: setting as boot VGA device" in dmesg, dmesg
        assert "input: AT Translated Set 2 keyboard" in dmesg, dmesg
        # The DSDT's PS2M device and the controller's AUX test: the mouse
        # port (the default guest has no psmouse module to drive it).
        assert "serio: i8042 AUX port at 0x60,0x64 irq 12" in dmesg, dmesg
        assert "0x1234" in g.run("cat /sys/bus/pci/devices/*/vendor")
        assert "0x030000" in g.run("cat /sys/bus/pci/devices/*/class")
        devices = g.run("cat /proc/bus/input/devices")
        block = next(b for b in devices.split("\n\n") if "AT Translated" in b)
        event = re.search(r"event\d+", block).group(0)

        # Press and release 'a' in a viewer: EV_KEY KEY_A (30) 1, then 0.
        g.send("hexdump -v -n 144 -e '24/1 \"%%02x \" \"\\n\"' /dev/input/%s" % event)
        time.sleep(1)
        v = viewer(port)
        v.tap(XK_a)
        out = g.expect(PROMPT, 30)
        # struct input_event: 16 bytes of time, type, code, value
        keys = [line.split()[16:24] for line in out.splitlines()
                if len(line.split()) == 24 and line.split()[16:18] == ["01", "00"]]
        assert keys == [["01", "00", "1e", "00", "01", "00", "00", "00"],
                        ["01", "00", "1e", "00", "00", "00", "00", "00"]], out
        v.close()
        g.send("poweroff -f")
        assert g.wait_exit(120) == 0
    finally:
        if g.proc.poll() is None:
            g.proc.kill()
