"""calibrate --layout: its no-op kinds apply to today's target_app and change no behaviour; the judge."""

from __future__ import annotations

import subprocess
import sys

from tests_helpers import ROOT

from scripts.calibrate import layout
from scripts.calibrate.plants import plant_history
from scripts.judging.rules import load_rules
from scripts.results import CommitResult

NAME = "bench_instructions.Instructions.track_instructions"
OPS = ["'GET /'", "'cold_start'"]


def test_every_layout_kind_applies_and_the_app_still_answers_every_route_alike(tmp_path):
    commits = plant_history(ROOT, tmp_path, layout.KINDS)
    assert len(commits) == 1 + len(layout.KINDS) >= 7
    repo = tmp_path / "repo"
    # The last commit holds every kind: the app builds and its pages answer.
    code = ("from target_app import create_app; from target_app.config import TestConfig; from target_app import db; "
            "app = create_app(TestConfig)\nwith app.app_context(): db.create_all()\n"
            "c = app.test_client(); print(c.get('/healthz').status_code, c.get('/').status_code)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["200", "200"]


def _result(commit: str, values: list[float]) -> CommitResult:
    r = CommitResult(commit)
    r.values[NAME], r.params[NAME], r.versions[NAME] = values, [OPS], "5"
    r.stats[NAME] = [None] * len(values)
    r.samples[NAME] = [None] * len(values)
    return r


def test_each_kind_is_judged_against_the_commit_before_it_and_its_own_path_is_set_apart():
    keys = [k.key for k in layout.KINDS]
    results = {"base": _result("0" * 40, [1e6, 1e8])}
    values = [1e6, 1e8]
    for key in keys:
        if key == layout.UNUSED_MODULE.key:
            values = [values[0], values[1] * 1.02]  # a module imported at start-up: the cold start's own path
        results[key] = _result(str(keys.index(key) + 1) * 40, values)
    results[layout.ENV_SIZE] = _result("e" * 40, [1e6 * 1.003, 1e8])
    report = layout.judge_layout("0" * 40, results, load_rules(ROOT))
    # Cumulative commits are judged one step each: after the module, the cold start stays put.
    assert report.moves["cold_start"][layout.UNUSED_MODULE.key] > 0.019
    assert report.moves["cold_start"][layout.NEW_ROUTE.key] == 0
    assert report.largest("cold_start")[1] == 0
    assert report.largest("GET /") == (layout.ENV_SIZE, report.moves["GET /"][layout.ENV_SIZE])
    assert not any(report.flagged.values()), report.flagged  # 0.3% is within the tolerance; 2% is on its path
    assert report.listed == []  # the committed kinds as a history: nothing listed
    # A step of 2% off its path, at the renamed local, is flagged there and listed.
    results[layout.RENAMED_LOCAL.key].values[NAME] = [1e6 * 1.02, 1e8 * 1.02]
    for key in keys[keys.index(layout.RENAMED_LOCAL.key) + 1:]:
        results[key].values[NAME] = [1e6 * 1.02, 1e8 * 1.02]
    report = layout.judge_layout("0" * 40, results, load_rules(ROOT))
    assert report.flagged[layout.RENAMED_LOCAL.key] == [f"{NAME}('GET /')"]
    assert report.listed == [f"{NAME}('GET /') at {layout.RENAMED_LOCAL.key}"]
    assert "On its own path" in layout.to_markdown(report)


def test_a_function_an_operation_does_not_call_is_left_out_of_the_moves():
    name = layout.FUNCTIONS
    r = CommitResult("0" * 40)
    r.values[name], r.params[name] = [1e6, float("nan")], [["'target_app/api.py:me'", "'x.py:y'"]]
    assert layout._instruction_counts(r, name) == {"target_app/api.py:me": 1e6}
