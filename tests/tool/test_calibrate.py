"""The calibration's pure logic: plants apply, the site's regressions are read, the report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests_helpers import ROOT

from scripts.calibrate.plants import PLANTS, plant_history
from scripts.calibrate.report import PlantCheck, Report, svg_plot, to_markdown
from scripts.calibrate.run import matches, site_regressions
from scripts.errors import UserError


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    work = tmp_path_factory.mktemp("calibrate")
    return work, plant_history(ROOT, work)


def test_every_plant_applies_to_todays_target_app_and_is_one_commit(planted):
    work, commits = planted
    assert list(commits) == ["base", *[p.key for p in PLANTS]]
    repo = work / "repo"
    log = subprocess.run(["git", "log", "--format=%s", f"{commits['base']}..HEAD"], cwd=repo, text=True,
                         capture_output=True, check=True).stdout.splitlines()
    assert len(log) == len(PLANTS)
    # Every planted commit touches target_app only, and the app still imports
    # (except where the plant is meant to fail at request time).
    for key in ("a", "b", "c", "d", "e", "f", "g", "h"):
        files = subprocess.run(["git", "show", "--name-only", "--format=", commits[key]], cwd=repo, text=True,
                               capture_output=True, check=True).stdout.split()
        assert files and all(f.startswith("target_app/") for f in files), (key, files)
    proc = subprocess.run([sys.executable, "-c", "import target_app; target_app.create_app({'SECRET_KEY': 'x', "
                           "'DATABASE_URL': 'sqlite://'})"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_plants_expect_benchmarks_that_exist():
    from tests_helpers import benchmark_ids

    ids = benchmark_ids()
    for plant in PLANTS:
        for pattern in plant.expected:
            assert matches(ids, [pattern]), (plant.key, pattern)


def test_a_plant_that_no_longer_applies_is_a_user_error(tmp_path, monkeypatch):
    from scripts.calibrate.plants import Plant

    broken = Plant("z", "stale", (("target_app/main.py", "no such code", "x"),), ("x",))
    with pytest.raises(UserError, match="no longer contains"):
        plant_history(ROOT, tmp_path, (broken,))


def test_site_regressions_maps_jumps_to_commits(tmp_path):
    (tmp_path / "index.json").write_text(json.dumps({"revision_to_hash": {"3": "a" * 40, "5": "b" * 40}}))
    (tmp_path / "regressions.json").write_text(json.dumps({"regressions": [
        ["x.Y.track_statements('/api/users')", "graphs/x.json", {}, 5, 23.0, 4.0, [[3, 5, 4.0, 23.0]]],
    ]}))
    assert site_regressions(tmp_path) == {"x.Y.track_statements('/api/users')": {"b" * 40}}
    assert site_regressions(tmp_path / "missing") == {}


def test_report_markdown_and_plot(tmp_path):
    r = Report(factor=1.1, wall_seconds=600, aa_pairs=5, noise={"a.B.time_x": 0.02, "a.B.time_y": 0.2},
               aa_min_ratio={"a.B.time_x": 1.01})
    r.plants = [PlantCheck("a", "slower", "abcdef12", ["time_x"], 1, ["a.B.time_x"], ["a.B.time_x"], "abcdef12",
                           True, True, listed=["a.B.time_x"], listed_at_commit=True),
                PlantCheck("noop1", "no-op", "12345678", [], 0, [], [])]
    md = to_markdown(r)
    assert "| a | slower | `abcdef12` | 1 | yes | yes | yes | abcdef12 |" in md
    assert "**Regressions list:** 1 of 1 plants listed at their commit; 1 of 1 no-ops list nothing." in md
    assert "quiet (ok)" in md
    assert "0 in 5 A/A pairs" in md
    svg_plot(r.noise, tmp_path / "noise.svg")
    assert (tmp_path / "noise.svg").read_text().startswith("<svg")


@pytest.mark.slow
@pytest.mark.proof
def test_short_end_to_end_calibration(tmp_path):
    """Two plants (an N+1 and a failing route) and a no-op, counters only, one sample each."""
    import os

    out = tmp_path / "calibration"
    env = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
    cmd = [sys.executable, "-m", "scripts", "calibrate", "--out", str(out), "--plants", "noop1,c,h", "--aa", "0",
           "--bench", "SqlStatements", "--quick", "--no-callgrind"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    by_key = {p["key"]: p for p in report["plants"]}
    assert by_key["c"]["caught"] and by_key["c"]["at_exact_commit"]
    assert by_key["c"]["bisect"] == by_key["c"]["commit"]
    assert by_key["h"]["caught"]
    assert not by_key["noop1"]["false_alarm"]
    # The history's regressions list names each plant at its own commit, the failing route too, and no more.
    assert by_key["c"]["listed_at_commit"] and by_key["h"]["listed_at_commit"]
    assert by_key["noop1"]["listed"] == []
    assert by_key["h"]["listed"] == ["bench_counters.SqlStatements.track_statements('/api/settings')"]
    assert "| c | /api/users gets an N+1 query pattern |" in (out / "report.md").read_text()
