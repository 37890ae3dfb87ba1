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
