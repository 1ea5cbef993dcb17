"""wirt run --config FILE (a JSON object of wirt run's long options) and
--print-config: the file's options apply, the command line overrides
them, and every mistake in the file is named with FILE:LINE."""
import json
import os
import subprocess

import pytest

from conftest import ROOT, WIRT, guest_path


def run(*args):
    return subprocess.run([WIRT, "run", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def write(tmp_path, text, name="vm.json"):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def test_config_file_runs_the_guest(tmp_path):
    cfg = write(tmp_path, '{\n  "accel": "emu",\n  "memory": "64M",\n'
                '  "firmware": "%s"\n}\n' % guest_path("hello"))
    r = run("--config", cfg)
    assert r.returncode == 33, r.stderr
    assert r.stdout == "Hello from real mode\n"


def test_command_line_overrides_and_adds(tmp_path):
    cfg = write(tmp_path, """{
        // json-c takes comments
        "memory": "64M", "cpus": 2, "firmware": "fw.bin",
        "disk": ["a.raw", "b.qcow2,readonly=on"], "rng": true, "no-reboot": false,
        "sandbox": false
    }""")
    r = run("--config", cfg, "-m", "128M", "--disk", "c.raw", "--print-config")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"memory": "128M", "cpus": "2", "firmware": "fw.bin",
                   "disk": ["a.raw", "b.qcow2,readonly=on", "c.raw"], "rng": True,
                   "sandbox": "off"}
    # What --print-config prints is itself a configuration file.
    again = run("--config", write(tmp_path, r.stdout, "again.json"), "--print-config")
    assert json.loads(again.stdout) == got


@pytest.mark.parametrize("text,where,what", [
    ('{\n "memory": "64M",\n "bogus": 1\n}', 3, 'unknown key "bogus"'),
    ('{\n "firmware": "x",\n "memory": "lots"\n}', 3, "--memory 'lots'"),
    ('{\n "rng": "yes",\n "firmware": "x"\n}', 2, '"rng" is a flag: give true or false'),
    ('{\n "firmware": "x",\n "disk": [["a"]]\n}', 3, "not nested arrays"),
    ('{\n "firmware": "x",\n "memory": \n}', 4, ""),
    ('{\n "firmware": "x"\n', 3, "unexpected end of file"),
    ('{ "firmware": "x" }\n[]\n', 2, "text after the configuration object"),
    ('["memory", "1G"]\n', 1, "a JSON object"),
    ('{\n "config": "other.json"\n}', 2, 'unknown key "config"'),
])
def test_mistakes_are_named_with_file_and_line(tmp_path, text, where, what):
    cfg = write(tmp_path, text)
    r = run("--config", cfg)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert line.startswith("wirt run: %s:%d: " % (cfg, where)), line
    assert what in line and len(r.stderr.splitlines()) == 1, line


def test_missing_and_duplicate_config_files(tmp_path):
    r = run("--config", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "none.json: No such file or directory" in r.stderr
    cfg = write(tmp_path, '{"firmware": "x"}')
    r = run("--config", cfg, "--config", cfg)
    assert r.returncode == 2 and "--config: give one file" in r.stderr


def test_annotated_example_is_valid():
    r = run("--config", os.path.join(ROOT, "docs", "vm.json"), "--print-config")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["kernel"] == "guest/vmlinuz" and got["rng"] is True
