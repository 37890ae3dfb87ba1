"""The command line's thin layer: commands known before bootstrap, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

from asvrepo import ROOT


def test_the_bootstrap_knows_every_command_without_the_venv():
    # __main__ reads the commands from the parser before .venv exists: the
    # command line imports only the standard library at the top.
    code = ("import sys; sys.modules['asv'] = None; sys.modules['sqlalchemy'] = None; "
            "from scripts.cli import commands; print(' '.join(commands()))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {"history", "compare", "calibrate", "test", "setup"} <= set(proc.stdout.split())


def test_unknown_command_fails_fast_without_setting_anything_up(tmp_path):
    env = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "0"}
    proc = subprocess.run([sys.executable, "-m", "scripts", "no-such-command"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("python3 -m scripts: error: argument command")
    assert "[setup]" not in proc.stderr


def test_history_bad_input_is_one_line(tmp_path):
    env = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
    proc = subprocess.run([sys.executable, "-m", "scripts", "history", "--last", "0", "--no-publish"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --last must be at least 1"


def _one_line_error(*args: str, cwd=ROOT) -> str:
    env = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
    proc = subprocess.run([sys.executable, "-m", "scripts", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip()


def test_bad_input_is_exit_2_and_one_line_in_the_users_words(tmp_path):
    assert _one_line_error("history", "--bench", "(", "--last", "1", "--no-publish").startswith(
        "error: --bench '(': not a regular expression")
    assert _one_line_error("serve", "--port", "99999") == "error: --port 99999: a port is between 1 and 65535"
    assert _one_line_error("compare", "no-such-rev", "HEAD") == "error: no such revision: no-such-rev"
    assert _one_line_error("history", "--range", "nope..alsonope", "--no-publish") == (
        "error: no such revision or range: nope..alsonope")
    # A machine name becomes a folder of .asv/results: never a path.
    for name in ("../evil", "a/b", ".."):
        assert _one_line_error("history", "--machine", name, "--last", "1", "--no-publish") == (
            f"error: machine name {name!r}: use letters, digits, '-', '_' and '.' only (no path)")
    assert not (ROOT / ".asv" / "evil").exists()


def test_a_corrupt_asv_config_is_one_line(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", "-B", "main"], cwd=clone, check=True)  # whatever ROOT has checked out
    (clone / "asv.conf.json").write_text('{ "version": 1, ')
    error = _one_line_error("regressions", "--repo", str(clone))
    assert error.startswith(f"error: {clone / 'asv.conf.json'}: not a valid asv config:"), error
