"""Guessed formats: an image opened without its format and guessed raw
refuses writes that would give it an image header (its next open would
guess another format, perhaps with a backing file chosen by whoever
wrote it), and a backing file whose format the image does not record
may not lead on to a backing file of its own.  The guest's side of the
first rule is in test_virtio.py."""
from conftest import run_wirt


def wirt_img(*args):
    return run_wirt(["img"] + list(args))


def test_guessed_raw_refuses_an_image_header(tmp_path):
    disk, header = str(tmp_path / "disk.raw"), tmp_path / "header.bin"
    header.write_bytes(b"QFI\xfb" + bytes(100))
    assert wirt_img("create", "-f", "raw", disk, "1M").returncode == 0
    r = wirt_img("write", disk, "0", str(header))
    assert r.returncode == 1, r.stderr
    assert "guessed-raw" in r.stderr and "look like a qcow2 image" in r.stderr, r.stderr
    # Past the first sector anything goes; and with -f raw the user says so.
    assert wirt_img("write", disk, "512", str(header)).returncode == 0
    assert "file format: raw" in wirt_img("info", disk).stdout
    assert wirt_img("write", "-f", "raw", disk, "0", str(header)).returncode == 0
    assert "file format: raw" not in wirt_img("info", disk).stdout


def test_guessed_backing_file_leads_no_further(tmp_path):
    base, mid, top = (str(tmp_path / n) for n in ("base.raw", "mid.qcow2", "top.qcow2"))
    assert wirt_img("create", "-f", "raw", base, "4M").returncode == 0
    assert wirt_img("create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", mid).returncode == 0
    assert wirt_img("create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top).returncode == 0
    assert wirt_img("map", top).returncode == 0
    # Forget the backing format top records for mid: mid is then guessed.
    assert wirt_img("rebase", "-u", "-b", "mid.qcow2", top).returncode == 0
    r = wirt_img("map", top)
    assert r.returncode == 1 and "has no recorded format" in r.stderr, r.stderr
    assert "rebase -u -b" in r.stderr and "-F qcow2" in r.stderr, r.stderr
    # A guessed backing file without one of its own is fine.
    assert wirt_img("map", mid).returncode == 0
    assert wirt_img("rebase", "-u", "-b", "mid.qcow2", "-F", "qcow2", top).returncode == 0
    assert wirt_img("map", top).returncode == 0
