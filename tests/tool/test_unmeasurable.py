"""Why a side could not be measured, in one line (issue 37): the install says it, the gate and the history
repeat it."""

from __future__ import annotations

import subprocess
import sys

from tests_helpers import ROOT

from scripts.asvtool import InstallErrors
from scripts.gate.pull_request import name_the_unmeasurable
from scripts.history.run import ErrorLines
from scripts.judging.verdict import Verdict
from scripts.lockenv import why

UV_NO_VERSION = """  × No solution found when resolving dependencies:
  ╰─▶ Because there is no version of sqlalchemy==2.0.999 and you require sqlalchemy==2.0.999, we can
      conclude that your requirements are unsatisfiable.
"""
HEAD = "c" * 40


def test_uv_s_useful_line_is_the_reason():
    assert why(UV_NO_VERSION) == "no version of sqlalchemy==2.0.999"
    assert why("error: Failed to fetch: `https://pypi.org/simple/flask/`\n  Caused by: dns error\n") == \
        "Caused by: dns error"


def test_a_lock_that_cannot_be_installed_is_one_line_without_a_traceback(tmp_path):
    """lockenv.py itself, in a throwaway environment of its own (it syncs the python that runs it), with a lock
    that names a version that does not exist."""
    env, build = tmp_path / "env", tmp_path / "build"
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "--quiet", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(python), "uv==0.13.8"], check=True,
                   timeout=300)
    build.mkdir()
    (env / ".suite-requirements.txt").write_text("uv==0.13.8\n")
    (build / "requirements.lock").write_text("sqlalchemy==2.0.999\n")
    proc = subprocess.run([str(python), str(ROOT / "scripts" / "lockenv.py"), str(env), str(build)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lockenv: the lock cannot be installed: "), proc.stderr
    assert "sqlalchemy==2.0.999" in last


def test_the_gate_s_reason_names_it():
    installs = InstallErrors()
    # As asv 0.6.6 says it (a gate's run of a head whose lock names a version that does not exist).
    for line in ["·· Installing bbbbbbbb <main> into virtualenv-py3.11",
                 "[50.00%] · For target_app commit cccccccc <badlock> (round 1/1):",
                 "[50.00%] ·· Building for virtualenv-py3.11-pip+uv==0.13.8",
                 f"[50.00%] ··· Error running /env/bin/python scripts/lockenv.py /env /env/project "
                 f"/env/asv-build-cache/{HEAD}/target_app-1.0.0-py3-none-any.whl (exit status 1)",
                 "             STDERR -------->",
                 "             lockenv: the lock cannot be installed: no version of sqlalchemy==2.0.999"]:
        installs(line)
    verdict = Verdict(base="b" * 40, head=HEAD, factor=1.1,
                      reason=f"every benchmark failed on the head {HEAD[:8]}: it does not build or import")
    name_the_unmeasurable(verdict, installs)
    assert verdict.reason == "the head's lock cannot be installed: no version of sqlalchemy==2.0.999"
    assert verdict.exit_code == 2


def test_the_history_keeps_it_as_the_commit_s_build_error():
    lines = ErrorLines()
    for line in ["[ 0.00%] · For target_app commit cccccccc <broken>:",
                 "[ 0.00%] ·· Error running /env/bin/python scripts/lockenv.py (exit status 1)",
                 "   lockenv: the lock cannot be installed: no version of sqlalchemy==2.0.999"]:
        lines(line + "\n")
    assert lines.lines(build_failed=True)["(build)"] == \
        "the lock cannot be installed: no version of sqlalchemy==2.0.999"
