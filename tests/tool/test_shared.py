"""The base's exact counts shared from the history (scripts/shared.py): only where measured alike, only the
exact benchmarks, never a failure."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from scripts import shared
from scripts.suite import ARTEFACTS_DIR

MACHINE = "box"
COLUMNS = ["result", "params", "version", "started_at", "duration"]
INSTRUCTIONS = "bench_instructions.Instructions.track_instructions"
STATEMENTS = "bench_counters.SqlStatements.track_statements"
SERVER = "bench_server.ConcurrentHomepage.track_latency_p50"
TIMING = "bench_pages.HomePage.time_homepage"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for name, text in {"target_app/__init__.py": "x = 1\n", "pyproject.toml": "[project]\nname = 'a'\n",
                       "requirements.lock": "flask==3.1.0\n", "README.md": "hello\n",
                       "benchmarks/bench_a.py": "def track_a(): return 1\n", "benchmarks/rules.toml": "",
                       "asv.conf.json": "{}\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    _git(root.parent, "init", "-q", "-b", "main", str(root))
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return root


def _commit(root: Path, path: str, text: str) -> str:
    (root / path).write_text(text)
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"change {path}")
    return _git(root, "rev-parse", "HEAD")


def _results(results_dir: Path, commit: str, rows: dict) -> Path:
    path = results_dir / MACHINE / f"{commit[:8]}-env.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"commit_hash": commit, "result_columns": COLUMNS, "results": rows}))
    return path


def _row(value):
    return [value, [], "1", 0, 1.0]


def test_a_commit_measured_alike_is_found_and_only_its_exact_rows_are_shared(repo, tmp_path):
    history = tmp_path / "history"
    measured = _git(repo, "rev-parse", "HEAD")
    _results(history, measured, {INSTRUCTIONS: _row([7.0, float("nan")]), STATEMENTS: _row(3),
                                 SERVER: _row(2.5), TIMING: _row(0.001)})
    shared.record(repo, MACHINE, measured, callgrind=True)
    # Later commits of main that leave the app and its lock alone (the README, the repository's tools in
    # pyproject.toml, as the history skips them): their base is measured alike.
    _commit(repo, "README.md", "hello again\n")
    base = _commit(repo, "pyproject.toml", "[project]\nname = 'a'\n[tool.ruff]\nline-length = 120\n")
    assert shared.measured_alike(repo, history, MACHINE, base, callgrind=True) == measured

    gate = tmp_path / "gate"
    dest = _results(gate, base, {SERVER: _row(3.0)})  # the base's other tracks, measured by the gate
    assert shared.share(history, measured, gate, MACHINE, base)
    rows = json.loads(dest.read_text())["results"]
    assert set(rows) == {INSTRUCTIONS, STATEMENTS, SERVER}
    assert rows[SERVER] == _row(3.0)  # the gate's own measurement stays
    assert rows[STATEMENTS] == _row(3)


@pytest.mark.parametrize("change", ["app", "lock", "suite", "callgrind"])
def test_what_was_measured_otherwise_is_not_shared(repo, tmp_path, change):
    history = tmp_path / "history"
    measured = _git(repo, "rev-parse", "HEAD")
    _results(history, measured, {STATEMENTS: _row(3)})
    shared.record(repo, MACHINE, measured, callgrind=True)
    base, callgrind = measured, True
    if change == "app":
        base = _commit(repo, "target_app/__init__.py", "x = 2\n")
    elif change == "lock":
        base = _commit(repo, "requirements.lock", "flask==3.1.1\n")
    elif change == "suite":  # the working tree's suite moved since the history measured
        (repo / "benchmarks" / "bench_a.py").write_text("def track_a(): return 2\n")
    else:
        callgrind = False
    assert shared.measured_alike(repo, history, MACHINE, base, callgrind=callgrind) is None


def test_the_rules_and_caches_are_not_part_of_the_suite(repo):
    before = shared.suite_files(repo)
    (repo / "benchmarks" / "rules.toml").write_text("[time]\n")
    (repo / "benchmarks" / "__pycache__").mkdir()
    (repo / "benchmarks" / "__pycache__" / "bench_a.cpython-311.pyc").write_bytes(b"\0")
    assert shared.suite_files(repo) == before
    (repo / "benchmarks" / "counting.py").write_text("")
    assert shared.suite_files(repo) != before


def test_a_failure_or_a_run_of_some_benchmarks_is_not_shared(repo, tmp_path):
    history = tmp_path / "history"
    measured = _git(repo, "rev-parse", "HEAD")
    _results(history, measured, {STATEMENTS: _row(3), INSTRUCTIONS: _row([7.0, None])})
    shared.record(repo, MACHINE, measured, callgrind=True)
    assert shared.measured_alike(repo, history, MACHINE, measured, callgrind=True) is None  # measured again
    _results(history, measured, {STATEMENTS: _row(3)})
    assert shared.measured_alike(repo, history, MACHINE, measured, callgrind=True) == measured
    shared.forget(repo, MACHINE, measured)  # then measured again for some benchmarks only
    assert not (repo / ARTEFACTS_DIR / MACHINE / measured / shared.SIDECAR).exists()
    assert shared.measured_alike(repo, history, MACHINE, measured, callgrind=True) is None


def test_nothing_is_shared_into_a_base_that_left_no_results(repo, tmp_path):
    history = tmp_path / "history"
    measured = _git(repo, "rev-parse", "HEAD")
    _results(history, measured, {STATEMENTS: _row(3)})
    assert not shared.share(history, measured, tmp_path / "gate", MACHINE, measured)


@pytest.mark.parametrize("ident, exact", [
    (STATEMENTS, True), ("bench_counters.RetainedPerInput.track_retained_blocks('GET /')", True),
    ("bench_phases.Phases.track_phase_instructions('GET /', 'view')", True), (SERVER, False),
    ("bench_counters.PoolConnections.track_connections", False), ("bench_api.ListScaling.track_statements", False),
    (TIMING, False), ("bench_startup.ColdStart.timeraw_import_and_create_app", False),
])
def test_the_gate_runs_the_other_tracks_of_a_shared_base_and_no_timing(ident, exact):
    assert bool(re.search(shared.EXACT, ident)) is exact
    assert bool(re.search(shared.OTHER_TRACKS, ident)) is (not exact and ".time" not in ident)


def test_a_gate_measures_into_a_folder_of_its_own(tmp_path, monkeypatch):
    # A --bench gate after a full one: the head's old rows must not be judged beside the new ones.
    from scripts.gate import pull_request

    out = tmp_path / "gate"
    base, head = "a" * 40, "b" * 40
    stale = _results(out / "results", head, {TIMING: _row(1.0), STATEMENTS: _row(5)})
    ran = []

    class Side:
        def run(self, commits, **options):
            ran.append((commits, options.get("bench")))
            for commit in commits:  # as asv does: the rows it ran replace theirs, the others stay
                path = out / "results" / MACHINE / f"{commit[:8]}-env.json"
                rows = json.loads(path.read_text())["results"] if path.exists() else {}
                _results(out / "results", commit, {**rows, STATEMENTS: _row(5)})
            return subprocess.CompletedProcess([], 0)

    monkeypatch.setattr(pull_request, "side_project", lambda project, results_dir: Side())

    class Project:
        root, results_dir, machine = tmp_path, tmp_path / "none", MACHINE

    pull_request.run_pair(Project(), pull_request.Pair(base, head), out, bench=["Statements"])
    assert ran == [([base, head], ["Statements"])]
    rows = json.loads(stale.read_text())["results"]
    assert set(rows) == {STATEMENTS}
