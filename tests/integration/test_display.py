"""The standard VGA adapter (--vga std) and screendump.

SeaBIOS runs Debian's vgabios-stdvga.bin from the adapter's expansion
ROM and prints its banner on the VGA text screen: the screen's text
(x-screen-text) and a screendump of it are checked.  The tiny guest
vga_vbe.S sets a Bochs VBE mode, checks that nonsense modes are refused
and offsets clamped, and draws: the screendump has its pixels, and a
pixel drawn later shows only through the framebuffer's dirty-page log.
"""
import os
import struct
import subprocess
import time
import zlib

import pytest

from conftest import WIRT, guest_path, kvm_is_pvm, kvm_skip_reason, run_wirt
from qmp_client import QmpClient

SEABIOS = "/usr/share/seabios/bios-256k.bin"


def read_ppm(path):
    """(width, height, bytes of RGB) of a binary PPM."""
    data = open(path, "rb").read()
    magic, w, h, maxval, rest = data.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255"
    w, h = int(w), int(h)
    assert len(rest) == w * h * 3
    return w, h, rest


def pixel(img, x, y):
    w, _, rgb = img
    i = (y * w + x) * 3
    return tuple(rgb[i:i + 3])


def png_rows(path_or_data):
    """(width, height, rows of RGB) of an 8-bit RGB or RGBA PNG, decoded
    here from the PNG specification (filters 0-4) to check what libpng
    (or a browser) wrote."""
    data = path_or_data if isinstance(path_or_data, bytes) else open(path_or_data, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, bpp = 8, b"", 0, 3
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6) and body[12] == 0  # no interlace
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytes(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if bpp == 4:
            rgb = bytearray(w * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            rows.append(bytes(rgb))
        else:
            rows.append(bytes(line))
    return w, h, rows


class Vm:
    """wirt running in the background with a QMP socket."""

    def __init__(self, tmp_path, args, accel="emu"):
        self.sock = str(tmp_path / "qmp.sock")
        self.proc = subprocess.Popen([WIRT, "run", "--accel", accel, "--qmp", self.sock] + args,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.qmp = QmpClient(self.sock)
        self.qmp.negotiate()
        self.out = b""

    def wait_output(self, text, timeout=30):
        os.set_blocking(self.proc.stdout.fileno(), False)
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            assert time.monotonic() < deadline, self.out
            chunk = self.proc.stdout.read()
            if chunk:
                self.out += chunk
            else:
                time.sleep(0.05)
        return self.out.decode()

    def close(self):
        self.qmp.execute("quit")
        self.proc.wait(timeout=20)
        self.qmp.close()
        return self.proc.stderr.read().decode()


@pytest.fixture
def seabios_vm(tmp_path):
    if not os.path.exists(SEABIOS):
        pytest.skip("Debian's seabios package is not installed")
    vm = Vm(tmp_path, ["--firmware", "bios", "--vga", "std", "--serial", "none"])
    yield vm
    vm.close()


def wait_screen_text(vm, text, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        r = vm.qmp.execute("x-screen-text")
        if "return" in r and text in r["return"]:
            return r["return"]
        assert time.monotonic() < deadline, r
        time.sleep(0.2)


def test_seabios_banner_on_the_vga_text_screen(seabios_vm, tmp_path):
    vm = seabios_vm
    # the whole version: SeaBIOS prints its banner a character at a time,
    # and the screen may be read between "(version " and the number
    text = wait_screen_text(vm, "SeaBIOS (version 1.")
    lines = text.split("\n")
    assert lines[0].startswith("SeaBIOS (version 1.16"), lines[0]
    assert len(lines[0]) == 80 and len(lines) - 1 == 25

    ppm, png = tmp_path / "s.ppm", tmp_path / "s.png"
    # paused: SeaBIOS goes on writing to the screen between two dumps
    assert vm.qmp.execute("stop") == {"return": {}}
    assert vm.qmp.execute("screendump", {"filename": str(ppm)}) == {"return": {}}
    assert vm.qmp.execute("screendump", {"filename": str(png), "format": "png"}) == {"return": {}}
    assert vm.qmp.execute("cont") == {"return": {}}
    img = read_ppm(ppm)
    assert img[:2] == (720, 400)   # 80x25 cells of 9x16
    # The banner's first row has light grey glyph pixels on black where
    # there is text, and nothing where the row's text is blank.
    banner = lines[0].rstrip()
    for col, ch in enumerate(lines[0][:len(banner) + 3]):
        cell = {pixel(img, col * 9 + x, y) for x in range(9) for y in range(16)}
        if ch == " ":
            assert cell == {(0, 0, 0)}, (col, cell)
        else:
            assert cell == {(0, 0, 0), (0xaa, 0xaa, 0xaa)}, (col, ch, cell)
    # The PNG holds the same pixels.
    w, h, rows = png_rows(png)
    assert (w, h) == (720, 400)
    assert b"".join(rows) == img[2]

    # The human monitor's screendump writes the same picture.
    hmp = tmp_path / "h.ppm"
    r = vm.qmp.execute("human-monitor-command", {"command-line": f"screendump {hmp}"})
    assert r == {"return": ""}, r
    assert read_ppm(hmp)[:2] == (720, 400)


def test_screendump_mistakes_are_errors_and_the_vm_runs_on(seabios_vm, tmp_path):
    vm = seabios_vm
    r = vm.qmp.execute("screendump", {"filename": str(tmp_path / "x"), "format": "gif"})
    assert "does not accept value 'gif'" in r["error"]["desc"]
    r = vm.qmp.execute("screendump", {"filename": str(tmp_path / "no" / "such" / "dir")})
    assert "No such file or directory" in r["error"]["desc"]
    r = vm.qmp.execute("screendump", {})
    assert "filename" in r["error"]["desc"]
    assert vm.qmp.execute("query-status")["return"]["status"] == "running"


def test_screendump_without_a_display_says_so(tmp_path):
    vm = Vm(tmp_path, ["--firmware", guest_path("idle"), "--serial", "none"])
    r = vm.qmp.execute("screendump", {"filename": str(tmp_path / "x.ppm")})
    assert r["error"]["desc"] == "no display device (--vga std)"
    vm.close()


def test_vga_option_is_checked():
    r = run_wirt(["run", "--vga", "cirrus", "--firmware", guest_path("hello")])
    assert r.returncode == 2
    assert "--vga must be std, virtio or none, not 'cirrus'" in r.stderr


@pytest.mark.parametrize("accel", ["emu", "kvm"])
def test_vbe_mode_pixels_and_dirty_tracking(tmp_path, accel):
    if accel == "kvm" and kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    if accel == "kvm" and kvm_is_pvm():
        pytest.skip("KVM-PVM host: it does not run non-PVM protected-mode guest code "
                    "(vga_vbe draws from 32-bit protected mode); use --accel emu")
    vm = Vm(tmp_path, ["--firmware", guest_path("vga_vbe"), "--vga", "std"], accel)
    out = vm.wait_output("drawn\n")
    assert out == ("found\nid b0c5\nvram64k 0100\n"
                   "wide 0040\ntall 0040\ndepth 0040\n"   # refused: still off
                   "on 00c1\nyoff ffd0\nxres 0040\ndrawn\n")   # offset clamped
    dump = tmp_path / "v.ppm"
    assert vm.qmp.execute("screendump", {"filename": str(dump)}) == {"return": {}}
    img = read_ppm(dump)
    assert img[:2] == (64, 48)
    assert pixel(img, 0, 0) == (255, 0, 0)
    assert pixel(img, 63, 23) == (255, 0, 0)
    assert pixel(img, 10, 5) == (0, 255, 0)
    assert pixel(img, 0, 24) == (0, 0, 255)
    assert pixel(img, 63, 47) == (0, 0, 255)

    # The guest draws one more pixel; no register changes: only the
    # accelerator's dirty-page log (the emulator's write path, KVM's
    # KVM_GET_DIRTY_LOG of the framebuffer's slot) tells the display.
    vm.proc.stdin.write(b"x")
    vm.proc.stdin.flush()
    vm.wait_output("again\n")
    assert vm.qmp.execute("screendump", {"filename": str(dump)}) == {"return": {}}
    img = read_ppm(dump)
    assert pixel(img, 63, 47) == (255, 255, 255)
    assert pixel(img, 62, 47) == (0, 0, 255)
    vm.close()
