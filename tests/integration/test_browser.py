"""The browser console as a user meets it: headless Chromium opens the
noVNC page wirt prints for --display web=..., its screenshot holds the
guest's screen (SeaBIOS's text, pixel for pixel as the screendump), and
typing in the page reaches the guest (tests/guests/kbd_echo.S prints the
scancodes).  Chromium is driven through its DevTools protocol over the
WebSocket client of rfb_client.py."""
import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import guest_path
from rfb_client import WebSocket
from test_display import SEABIOS, Vm, png_rows, read_ppm, wait_screen_text
from ports import free_port

CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and os.path.exists("/usr/share/novnc/vnc.html") and
         shutil.which("websockify") and os.path.exists(SEABIOS)),
    reason="needs Debian's chromium, novnc, websockify and seabios")


class Browser:
    """Headless Chromium with one page, driven by DevTools commands."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--user-data-dir=%s" % (tmp_path / "chromium"),
             "--remote-debugging-port=%d" % self.port, "--window-size=1024,768",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = json.load(urllib.request.urlopen(
                    "http://127.0.0.1:%d/json" % self.port, timeout=5))
                page = next(t for t in targets if t["type"] == "page")
                break
            except (OSError, StopIteration):
                assert time.monotonic() < deadline, "Chromium did not start"
                time.sleep(0.3)
        path = page["webSocketDebuggerUrl"].split(str(self.port), 1)[1]
        self.ws = WebSocket("127.0.0.1", self.port, path=path)
        self.next_id = 0

    def call(self, method, **params):
        """The command's result; while a navigation swaps the page, the
        page answers "not attached" for a moment: asked again."""
        for attempt in range(50):
            self.next_id += 1
            self.ws.sendall(json.dumps({"id": self.next_id, "method": method,
                                        "params": params}).encode(), opcode=1)
            while True:
                msg = json.loads(self.ws.recv_message())
                if msg.get("id") == self.next_id:
                    break
            if "error" not in msg:
                return msg["result"]
            assert "Not attached" in msg["error"]["message"], msg
            time.sleep(0.2)
        raise AssertionError(msg)

    def screenshot_rows(self):
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return png_rows(png)[2]

    def type_key(self, key, code, vk):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code,
                      windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk,
                      **({"text": key} if kind == "keyDown" and len(key) == 1 else {}))

    def close(self):
        self.ws.close()
        self.proc.kill()
        self.proc.wait()


def find_image(rows, image_rows):
    """Where image_rows (RGB lines) sit inside rows, or None."""
    first = image_rows[0]
    for y, row in enumerate(rows[:len(rows) - len(image_rows) + 1]):
        x = row.find(first)
        while x >= 0:
            if x % 3 == 0 and all(rows[y + i][x:x + len(first)] == image_rows[i]
                                  for i in range(len(image_rows))):
                return x // 3, y
            x = row.find(first, x + 1)
    return None


def test_chromium_shows_the_screen_and_types_into_the_guest(tmp_path):
    web = free_port()
    bios = Vm(tmp_path, ["--firmware", "bios", "--display", "web=127.0.0.1:%d" % web,
                         "--serial", "none"])
    (tmp_path / "kbd").mkdir()
    web2 = free_port()
    echo = Vm(tmp_path / "kbd", ["--firmware", guest_path("kbd_echo"),
                                 "--display", "web=127.0.0.1:%d" % web2])
    browser = Browser(tmp_path)
    try:
        wait_screen_text(bios, "No bootable device")
        dump = tmp_path / "s.ppm"
        assert bios.qmp.execute("screendump", {"filename": str(dump)}) == {"return": {}}
        w, h, rgb = read_ppm(dump)
        screen = [rgb[y * w * 3:(y + 1) * w * 3] for y in range(h)]

        browser.call("Page.navigate",
                     url="http://127.0.0.1:%d/vnc.html?autoconnect=true&resize=off" % web)
        deadline = time.monotonic() + 60
        while (at := find_image(browser.screenshot_rows(), screen)) is None:
            assert time.monotonic() < deadline, "the page never showed the screen"
            time.sleep(0.5)

        echo.wait_output("ready\n")
        browser.call("Page.navigate",
                     url="http://127.0.0.1:%d/vnc.html?autoconnect=true&resize=off" % web2)
        # Connected once the status says so; then the keys go to the VM.
        deadline = time.monotonic() + 60
        while not browser.call("Runtime.evaluate", expression=(
                "document.getElementById('noVNC_status') !== null && "
                "document.documentElement.classList.contains('noVNC_connected')"),
                returnByValue=True)["result"].get("value"):
            assert time.monotonic() < deadline, "noVNC did not connect"
            time.sleep(0.3)
        browser.type_key("a", "KeyA", 65)
        out = echo.wait_output("9e\n")
        assert out.endswith("ready\n1e\n9e\n"), out
    finally:
        browser.close()
        echo.close()
        bios.close()
