"""The command line's thin layer: commands known before bootstrap, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

from asvrepo import ROOT


def test_bootstrap_knows_every_command():
    import runpy

    from scripts.cli import build_parser

    parser = build_parser()
    choices = set(parser._subparsers._group_actions[0].choices)
    main_globals = runpy.run_path(str(ROOT / "scripts" / "__main__.py"), run_name="not_main")
    assert set(main_globals["COMMANDS"]) == choices


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
