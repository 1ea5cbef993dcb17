"""The ACPI power button with the default Linux guest: QMP's
system_powerdown makes Linux shut down cleanly and wirt exit 0.

The default guest (scripts/build-guest.sh) loads Debian's ACPI button and
evdev drivers and starts busybox acpid, whose handler for the power
button powers off, as a distribution's init would."""
import os
import time

from conftest import ROOT, WIRT
from guest_console import GuestConsole
from qmp_client import QmpClient

KERNEL = os.path.join(ROOT, "guest", "vmlinuz")
INITRD = os.path.join(ROOT, "guest", "initrd.img")
PROMPT = "~ # "


def test_system_powerdown_shuts_linux_down(tmp_path, wirt_binary):
    env_dir = tmp_path / "run"
    os.environ["WIRT_RUNTIME_DIR"] = str(env_dir)
    try:
        g = GuestConsole([WIRT, "run", "--accel", "emu", "--name", "linux-pd",
                          "--kernel", KERNEL, "--initrd", INITRD,
                          "--append", "console=ttyS0 panic=-1"], str(tmp_path / "console.log"))
    finally:
        del os.environ["WIRT_RUNTIME_DIR"]
    try:
        g.expect(PROMPT, 300)
        q = QmpClient(str(env_dir / "linux-pd" / "qmp.sock"))
        q.negotiate()
        assert q.cmd("query-status")["status"] == "running"
        t = time.monotonic()
        assert q.cmd("system_powerdown") == {}
        q.wait_event("POWERDOWN")
        e = q.wait_event("SHUTDOWN", timeout=120)
        assert e["data"] == {"guest": True, "reason": "guest-shutdown"}
        assert g.wait_exit(60) == 0
        assert time.monotonic() - t < 120
        assert "Power down" in g.buf.decode(errors="replace")
        # The runtime directory went with it.
        assert not (env_dir / "linux-pd").exists()
    finally:
        g.kill()
