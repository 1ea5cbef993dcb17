"""make install (PREFIX, DESTDIR), the manual page made from the help
texts, and the bash completion, as a user or a packager meets them."""
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, WIRT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    subprocess.run(["make", "-s", "-C", ROOT, "install", "DESTDIR=%s" % dest,
                    "PREFIX=/usr"], check=True, capture_output=True)
    return dest / "usr"


def test_install_puts_binary_page_and_completion_under_destdir(installed):
    binary = installed / "bin" / "wirt"
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("wirt "), r
    assert (installed / "share" / "man" / "man1" / "wirt.1").is_file()
    assert (installed / "share" / "bash-completion" / "completions" / "wirt").is_file()


def help_options(*cmd):
    text = subprocess.run([WIRT, *cmd, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"--[a-z][a-z0-9-]*", text))


def test_manual_page_documents_every_command_and_option(installed):
    page = (installed / "share" / "man" / "man1" / "wirt.1").read_text()
    assert page.startswith(".TH WIRT 1 ")
    for section in ("WIRT RUN", "WIRT IMG"):
        assert '.SH "%s"' % section in page
    for opt in help_options("run") | help_options("img"):
        assert opt in page, opt
    groff = shutil.which("groff")
    if groff:
        r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(installed / "share" /
                            "man" / "man1" / "wirt.1")], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr


def complete(*words):
    """What bash offers after `words` (the last one being typed)."""
    script = (
        'source "%s/scripts/wirt-completion.bash"\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _wirt\n'
        'printf "%%s\\n" "${COMPREPLY[@]}"\n' % ROOT)
    r = subprocess.run(["bash", "-c", script, "bash", WIRT, *words],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_bash_completion_follows_the_help_texts():
    assert {"run", "img", "version"} <= set(complete(""))
    assert complete("run", "--acc") == ["--accel"]
    assert complete("run", "--accel", "e") == ["emu"]
    assert set(complete("img", "co")) == {"convert", "compare", "commit"}
    assert "--start-offset" in complete("img", "map", "--")
    assert complete("img", "convert", "-O", "vm") == ["vmdk"]
    assert set(complete("ctl", "somevm", "p")) == {"pause", "powerdown"}
