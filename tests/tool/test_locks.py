"""target_app's lock: it matches pyproject.toml, each commit is measured with its own, and changes are named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from asvrepo import ROOT, SHARED_ENV_DIR, ThrowawayRepo

from scripts.lockenv import LOCK, PRE_LOCK, read_pins, versions
from scripts.locks import lock_at, lock_changes, lock_problems, write_lock

ENV = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}


def test_the_lock_matches_pyproject():
    assert lock_problems(ROOT) == []


def test_uv_makes_the_same_lock_from_pyproject(tmp_path):
    # Resolved anew from pyproject.toml, keeping the pins it can: a lock that is not what uv makes fails.
    copy = write_lock(ROOT, output=tmp_path / LOCK)
    assert versions(read_pins(copy.read_text())) == versions(read_pins((ROOT / LOCK).read_text()))


def test_a_lock_that_disagrees_with_pyproject_is_named(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    lock = (ROOT / LOCK).read_text()
    (tmp_path / LOCK).write_text(lock.replace("sqlalchemy==2.0.58", "sqlalchemy==1.4.54").replace(
        "flask-wtf==1.3.0\n", ""))
    problems = lock_problems(tmp_path)
    assert any(p.startswith("flask-wtf is a dependency in pyproject.toml but not in") for p in problems), problems
    assert any(p.startswith("sqlalchemy==1.4.54 in requirements.lock is outside") for p in problems), problems
    (tmp_path / LOCK).write_text("flask>=3\n")
    assert lock_problems(tmp_path) == ["requirements.lock: line 1 is not an exact pin (name==version): flask>=3"]


def test_lock_check_exits_1_with_one_line_per_problem(tmp_path):
    repo = ThrowawayRepo(tmp_path / "repo")
    (repo.path / LOCK).write_text((ROOT / LOCK).read_text().replace("jinja2==3.1.6\n", ""))
    cmd = [sys.executable, "-m", "scripts", "lock", "--check", "--repo", str(repo.path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, text=True, capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "lock: jinja2 is a dependency in pyproject.toml but not in requirements.lock: run python3 -m scripts lock"]


def test_the_pins_from_before_the_lock_are_the_lock_of_its_first_commit():
    # So the commit that introduced the lock ran with what the commits before it ran with: no step there.
    first = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", LOCK], cwd=ROOT, text=True,
                           capture_output=True, check=True).stdout.split()
    if not first:
        pytest.skip("the lock is not committed yet")
    assert lock_at(ROOT, first[-1]) == versions(read_pins(PRE_LOCK.read_text()))


def test_lock_changes_name_each_package_once():
    before = {"sqlalchemy": "2.0.58", "flask": "3.1.3", "old": "1.0"}
    after = {"sqlalchemy": "2.0.30", "flask": "3.1.3", "markdown": "3.7"}
    assert lock_changes(before, after) == ["markdown 3.7 (new)", "old 1.0 (removed)", "sqlalchemy 2.0.58 → 2.0.30"]
    assert lock_changes(before, before) == []


def test_a_commit_from_before_the_lock_ships_the_pre_lock_pins(tmp_path):
    repo = ThrowawayRepo(tmp_path / "repo")
    (repo.path / LOCK).unlink()
    old = repo.commit("before the lock")
    assert lock_at(repo.path, old) == versions(read_pins(PRE_LOCK.read_text()))
    assert lock_at(repo.path, "f" * 40) is None  # a commit this repository does not have


def test_read_pins_takes_uv_output_and_canonical_names():
    text = "# header\nFlask_WTF==1.3.0\n    # via target-app\ngreenlet==3.5.6 ; platform_machine == 'x86_64'\n"
    assert versions(read_pins(text)) == {"flask-wtf": "1.3.0", "greenlet": "3.5.6"}


def _env_python():
    pythons = sorted(SHARED_ENV_DIR.glob("*/bin/python"), key=lambda p: p.parent.parent.stat().st_mtime)
    return pythons[-1]


def _installed(python, *names):
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    return json.loads(subprocess.run([str(python), "-c", code, *names], text=True, capture_output=True,
                                     check=True).stdout)


@pytest.mark.slow
def test_each_commit_runs_with_the_dependencies_its_lock_names(tmp_path):
    repo = ThrowawayRepo(tmp_path / "repo")
    repo.edit(LOCK, "sqlalchemy==2.0.58", "sqlalchemy==2.0.30")
    older = repo.commit("sqlalchemy 2.0.30")
    repo.edit(LOCK, "markupsafe==3.0.3\n", "markdown==3.7\nmarkupsafe==3.0.3\n")
    repo.edit("target_app/main.py", "from flask import", "import markdown  # noqa: F401\nfrom flask import")
    added = repo.commit("target_app imports markdown")
    from scripts.asvtool import Project

    project = Project(repo.path)
    for commit, sqlalchemy in ((repo.first, "2.0.58"), (older, "2.0.30"), (added, "2.0.30"), (repo.first, "2.0.58")):
        proc = project.asv("run", f"{commit}^!", "--quick", "--bench", "HomePage.time_homepage", "--machine",
                           project.machine, capture=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "failed" not in proc.stdout, proc.stdout[-3000:]
        python = _env_python()
        assert _installed(python, "sqlalchemy")["sqlalchemy"] == sqlalchemy
        has_markdown = subprocess.run([str(python), "-c", "import markdown"], capture_output=True).returncode == 0
        assert has_markdown == (commit == added), commit  # removed again where the lock does not name it
