"""The VNC server (--display vnc=...), tested with the RFB client in
rfb_client.py: SeaBIOS's screen reaches two viewers exactly as the
screendump has it and an idle screen sends nothing; keys reach the guest
through the i8042's PS/2 keyboard (tests/guests/kbd_echo.S prints what
it receives, in set 1 and, with translation off, set 2); a mode change
resizes the viewer's desktop; malformed client messages cost only that
client its connection; listening beyond loopback needs a password."""
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import WIRT, guest_path, run_wirt
from rfb_client import ENC_DESKTOP_SIZE, Rfb
from test_display import SEABIOS, Vm, read_ppm, wait_screen_text
from ports import free_port



def viewer(port, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = Rfb(port)
            assert v.security == [1], v.security
            assert v.init() == 0
            return v
        except ConnectionRefusedError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.fixture
def seabios_vnc(tmp_path):
    if not os.path.exists(SEABIOS):
        pytest.skip("Debian's seabios package is not installed")
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", "bios", "--display", "vnc=127.0.0.1:%d" % port,
                       "--serial", "none"])
    yield vm, port
    vm.close()


def test_two_viewers_see_the_seabios_screen(seabios_vnc, tmp_path):
    vm, port = seabios_vnc
    wait_screen_text(vm, "No bootable device")
    # SeaBIOS now waits 60 s before retrying: the screen stays as it is.
    a, b = viewer(port), viewer(port)
    for v in (a, b):
        v.request()
        rects = v.read_update()
        if (v.w, v.h) != (720, 400):    # the first frame resized it
            assert (0, 0, 720, 400, ENC_DESKTOP_SIZE) in rects
            v.request()
            v.read_update()
        assert (v.w, v.h) == (720, 400)
    dump = tmp_path / "s.ppm"
    assert vm.qmp.execute("screendump", {"filename": str(dump)}) == {"return": {}}
    w, h, rgb = read_ppm(dump)
    assert a.rgb() == rgb and b.rgb() == rgb
    assert a.pixel(0, 0) == (0, 0, 0)
    # An idle screen: an incremental request gets no update.
    a.request(incremental=True)
    a.s.settimeout(1.5)
    with pytest.raises(socket.timeout):
        a.read_update()
    a.close()
    b.close()


# X keysyms
XK_a, XK_A, XK_Shift_L, XK_Up, XK_Return = 0x61, 0x41, 0xffe1, 0xff52, 0xff0d


def test_keys_reach_the_guest_in_set_1_and_set_2(tmp_path):
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", guest_path("kbd_echo"),
                       "--display", "vnc=:%d" % port])
    # reset: ACK, self-test passed; identify (translated): ACK AB 41
    assert vm.wait_output("ready\n") == "fa\naa\nfa\nab\n41\nready\n"
    v = viewer(port)
    v.tap(XK_a)                       # make 1e, break 9e
    v.key(XK_Up, True)                # extended: e0 48
    out = vm.wait_output("set2\n")
    assert out.endswith("ready\n1e\n9e\ne0\n48\nset2\n"), out
    v.key(XK_Up, False)               # set 2: e0 f0 75
    v.key(XK_Shift_L, True)           # 12
    v.tap(XK_A)                       # 1c, f0 1c
    v.key(XK_Shift_L, False)          # f0 12
    v.key(0xffff00, True)             # no key types this keysym: nothing
    v.tap(XK_Return)                  # 5a, f0 5a
    out = vm.wait_output("f0\n5a\n")
    assert out.endswith("set2\ne0\nf0\n75\n12\n1c\nf0\n1c\nf0\n12\n5a\nf0\n5a\n"), out
    v.close()
    vm.close()


def test_mode_change_resizes_the_viewers_desktop(tmp_path):
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", guest_path("vga_vbe"),
                       "--display", "vnc=127.0.0.1:%d" % port])
    vm.wait_output("drawn\n")
    v = viewer(port)
    v.request()
    rects = v.read_update()
    if (v.w, v.h) != (64, 48):
        assert (0, 0, 64, 48, ENC_DESKTOP_SIZE) in rects
        v.request()
        v.read_update()
    assert (v.w, v.h) == (64, 48)
    assert v.pixel(10, 5) == (0, 255, 0) and v.pixel(0, 0) == (255, 0, 0)
    # One more pixel (seen through the dirty-page log): an incremental
    # update with just that change.
    v.request(incremental=True)
    vm.proc.stdin.write(b"x")
    vm.proc.stdin.flush()
    rects = v.read_update()
    assert rects == [(63, 47, 1, 1, 0)], rects
    assert v.pixel(63, 47) == (255, 255, 255)
    v.close()
    vm.close()


def test_malformed_viewers_do_not_hurt_the_vm(seabios_vnc):
    vm, port = seabios_vnc
    bad = [
        b"\xff" * 64,                                   # unknown message type
        struct.pack(">B3xI", 6, 0xffffffff),            # 4 GiB of cut text
        struct.pack(">B3xI", 6, 64 << 20) + b"x" * 4096,  # 64 MiB announced, then gone
        struct.pack(">BxH", 2, 0xffff),                 # 65535 encodings, none sent
        struct.pack(">BBHHHH", 3, 0, 65535, 65535, 65535, 65535),  # absurd request
        b"\x00\x00\x00\x00" + struct.pack(">BBBBHHHBBB3x", 7, 99, 1, 0, 0, 0, 0, 200, 200, 200),
    ]
    for msg in bad:
        v = viewer(port)
        try:
            v.s.sendall(msg)
        except OSError:
            pass
        v.close()
    # A viewer that leaves in the middle of the handshake.
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"RFB 003.008\n\x01")
    s.close()
    # The server and the VM go on: a new viewer gets the screen.
    v = viewer(port)
    v.request()
    v.read_update()
    v.close()
    assert vm.qmp.execute("query-status")["return"]["status"] == "running"
    assert vm.proc.poll() is None


def test_public_address_needs_a_password(tmp_path):
    r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("idle"),
                  "--display", "vnc=0.0.0.0:%d" % free_port()], timeout=20)
    assert r.returncode == 1
    assert "refusing to listen on 0.0.0.0" in r.stderr and "without a password" in r.stderr


def test_password_file_asks_for_vnc_authentication(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", guest_path("idle"),
                       "--display", "vnc=:%d,password-file=%s" % (port, pw)])
    v = Rfb(port)
    assert v.security == [2]          # VNC authentication only
    v.s.sendall(b"\x02")
    v.recvn(16)                       # the challenge
    v.s.sendall(bytes(16))            # not the right answer
    assert struct.unpack(">I", v.recvn(4))[0] == 1
    v.close()
    if shutil.which("openssl"):
        # The right answer: the challenge DES-encrypted with the password
        # (8 bytes, zero-padded, each byte's bits reversed) as the key.
        key = bytes(int("{:08b}".format(c)[::-1], 2) for c in b"secret\0\0")
        v = Rfb(port)
        v.s.sendall(b"\x02")
        challenge = v.recvn(16)
        r = subprocess.run(["openssl", "enc", "-des-ecb", "-nopad", "-K", key.hex(),
                            "-provider", "legacy", "-provider", "default"],
                           input=challenge, capture_output=True)
        if r.returncode == 0:
            v.s.sendall(r.stdout)
            assert struct.unpack(">I", v.recvn(4))[0] == 0
            v.s.sendall(b"\x01")
            assert struct.unpack(">HH", v.recvn(4)) == (640, 480)
        v.close()
    vm.close()


@pytest.mark.parametrize("spec,message", [
    ("vnc", "--display must be vnc=ADDRESS:DISPLAY"),
    ("sdl", "--display must be vnc=ADDRESS:DISPLAY"),
    ("vnc=", "--display vnc= needs ADDRESS:DISPLAY"),
    ("vnc=:1,password=x", "unknown option 'password=x'"),
])
def test_display_option_mistakes(spec, message):
    r = run_wirt(["run", "--firmware", guest_path("hello"), "--display", spec])
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_vnc_address_mistakes_are_named():
    r = run_wirt(["run", "--accel", "emu", "--firmware", guest_path("hello"),
                  "--display", "vnc=nohost:1"], timeout=20)
    assert r.returncode == 1 and "'nohost:1' is not ADDRESS:DISPLAY" in r.stderr


def test_browser_console_serves_novnc_and_bridges_to_vnc(tmp_path):
    if not (os.path.exists("/usr/share/novnc/vnc.html") and shutil.which("websockify")):
        pytest.skip("Debian's novnc and websockify packages are not installed")
    if not os.path.exists(SEABIOS):
        pytest.skip("Debian's seabios package is not installed")
    import urllib.request
    from rfb_client import WebSocket
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", "bios", "--display", "web=127.0.0.1:%d" % port,
                       "--serial", "none"])
    try:
        wait_screen_text(vm, "No bootable device")
        # The one URL: noVNC's page and its scripts, with their types.
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen("http://127.0.0.1:%d/vnc.html" % port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert b"noVNC" in page.read()
        js = urllib.request.urlopen("http://127.0.0.1:%d/app/ui.js" % port, timeout=5)
        assert "javascript" in js.headers["Content-Type"]
        # Its WebSocket reaches the VNC server: the screen, as the
        # screendump has it, and a key the VM accepts.
        v = Rfb(0, sock=WebSocket("127.0.0.1", port))
        assert v.security == [1] and v.init() == 0
        v.request()
        if (0, 0, 720, 400, ENC_DESKTOP_SIZE) in v.read_update():
            v.request()
            v.read_update()
        dump = tmp_path / "s.ppm"
        assert vm.qmp.execute("screendump", {"filename": str(dump)}) == {"return": {}}
        assert v.rgb() == read_ppm(dump)[2]
        v.tap(XK_Return)
        v.close()
        helper = subprocess.run(["pgrep", "-f", "websockify.*127.0.0.1:%d" % port],
                                capture_output=True, text=True).stdout.split()
        assert len(helper) == 1
    finally:
        vm.close()
    # websockify ends with wirt.
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", "websockify.*127.0.0.1:%d" % port],
                         capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "websockify outlived wirt"
        time.sleep(0.2)


def test_nonsense_vga_programming_while_viewed(tmp_path):
    """vga_garbage.S writes random VGA ports, VBE registers and window
    bytes while a viewer asks for frames and the monitor takes
    screendumps; under the sanitizer build when it is there."""
    san = os.path.join(os.path.dirname(WIRT), "build", "wirt-san")
    binary = san if os.path.exists(san) else WIRT
    port = free_port()
    sock = str(tmp_path / "qmp.sock")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    proc = subprocess.Popen([binary, "run", "--sandbox", "off", "--accel", "emu",
                             "--firmware", guest_path("vga_garbage"), "--qmp", sock,
                             "--display", "vnc=127.0.0.1:%d" % port],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    frames = dumps = 0
    try:
        from qmp_client import QmpClient
        qmp = QmpClient(sock)
        qmp.negotiate()
        v = viewer(port)
        v.s.settimeout(2)
        while proc.poll() is None:
            v.request()
            try:
                v.read_update()
                frames += 1
            except (socket.timeout, EOFError, OSError):
                break
            try:
                r = qmp.execute("screendump", {"filename": str(tmp_path / "g.ppm")})
            except OSError:
                break
            dumps += r is not None and "return" in r
    finally:
        out, err = proc.communicate(timeout=300)
    assert "runtime error" not in err.decode() and "Sanitizer" not in err.decode(), err[-4000:]
    assert proc.returncode == 67 and b"vga garbage done" in out, (proc.returncode, err[-2000:])
    print("frames", frames, "screendumps", dumps)
    assert frames > 0 and dumps > 0


def test_pointer_reaches_the_ps2_mouse(tmp_path):
    port = free_port()
    vm = Vm(tmp_path, ["--firmware", guest_path("mouse_echo"),
                       "--display", "vnc=127.0.0.1:%d" % port])
    # AUX test passes; reset: ACK, self-test passed, ID 0; identify: ACK
    # 00; reporting on: ACK -- all marked as the mouse's but the test's.
    assert vm.wait_output("ready\n") == "00\nmfa\nmaa\nm00\nmfa\nm00\nmfa\nready\n"
    v = viewer(port)
    v.pointer(100, 100)               # where the pointer is: no motion
    v.pointer(110, 95)                # right 10, up 5: dy +5 in PS/2
    v.pointer(110, 95, buttons=1)     # left button down
    v.pointer(110, 95, buttons=4)     # right button instead
    v.pointer(110, 400)               # down 305: two packets (9-bit motion)
    out = vm.wait_output("mcf\n")
    packets = out.split("ready\n", 1)[1].split()
    assert packets == ["m08", "m00", "m00", "m08", "m0a", "m05", "m09", "m00", "m00",
                       "m0a", "m00", "m00", "m28", "m00", "m00", "m28", "m00", "mcf"], out
    v.close()
    vm.close()
