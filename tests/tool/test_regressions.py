"""The history's regressions list: steps found by asv's step detection, judged by the gate's rules."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import pytest
from tests_helpers import ROOT

from scripts.history.regressions import find_regressions, to_json, to_markdown
from scripts.judging.rules import load_rules
from scripts.results import CommitResult

RULES = load_rules(ROOT)
STMT = "bench_counters.SqlStatements.track_statements"
INSTR = "bench_instructions.Instructions.track_instructions"
HOME = "bench_pages.HomePage.time_homepage"
COMMITS = [f"{i:x}" * 40 for i in range(1, 9)]


def history(**series) -> dict[str, CommitResult]:
    """series: name -> one value per commit (a list per parameter: (values, params))."""
    out = {}
    for i, commit in enumerate(COMMITS):
        r = CommitResult(commit)
        for key, spec in series.items():
            name = key.replace("__", ".")
            values, params = spec if isinstance(spec, tuple) else (spec, [])
            value = values[i]
            if value == "skip":
                continue
            r.values[name] = value
            r.params[name] = params
            vals = value if isinstance(value, list) else [value]
            r.stats[name] = [{"ci_99_a": v * 0.99, "ci_99_b": v * 1.01, "q_25": v, "q_75": v}
                             if isinstance(v, float) and ".time_" in name else None for v in vals]
            r.samples[name] = [[v * (1 + d / 1000) for d in range(-10, 11)] if isinstance(v, float) and ".time_" in name
                               else None for v in vals]
            r.versions[name] = "1"
            r.units[name] = "seconds" if ".time_" in name else ""
        out[commit] = r
    return out


def ids(found):
    return [(r.benchmark, r.commit) for r in found]


def test_a_lasting_counter_step_is_listed_at_its_commit():
    results = history(**{STMT: ([[4, 6]] * 3 + [[9, 6]] * 5, [["'/'", "'/settings'"]])})
    found = find_regressions(results, COMMITS, RULES)
    assert ids(found) == [(f"{STMT}('/')", COMMITS[3])]
    assert (found[0].before, found[0].after, found[0].before_commit) == (4, 9, COMMITS[2])


def test_a_step_that_was_undone_is_not_current():
    results = history(**{STMT: ([[4]] * 3 + [[9]] * 2 + [[4]] * 3, [["'/'"]])})
    assert find_regressions(results, COMMITS, RULES) == []


def test_same_code_noise_lists_nothing():
    # The same code counted again moves by up to ~0.1% (docs/measurements.md, "Noise"); the rule is 0.5%.
    moves = [1.0, 1.0012, 0.9991, 1.0018, 1.0003, 0.9985, 1.001, 0.9997]
    timing = [0.004, 0.0052, 0.0039, 0.0047, 0.0058, 0.0041, 0.0044, 0.005]  # x1.5 apart: under HomePage's factor
    results = history(**{INSTR: ([[9.8e6 * m] for m in moves], [["'GET /'"]]), HOME: timing})
    assert find_regressions(results, COMMITS, RULES) == []


def test_a_lasting_slowdown_beyond_the_calibrated_factor_is_listed():
    results = history(**{HOME: [0.004] * 4 + [0.012] * 4})
    found = find_regressions(results, COMMITS, RULES)
    assert ids(found) == [(HOME, COMMITS[4])]
    assert found[0].kind == "time" and round(found[0].ratio, 2) == 3.0
    # Under its calibrated factor it is not a regression, though a default factor would call it one.
    mild = history(**{HOME: [0.004] * 4 + [0.0056] * 4})
    assert find_regressions(mild, COMMITS, RULES) == []
    assert ids(find_regressions(mild, COMMITS, replace(RULES, factors={}))) == [(HOME, COMMITS[4])]


def test_a_benchmark_that_starts_failing_is_listed_with_its_error():
    results = history(**{STMT: ([[4]] * 5 + [[None]] * 3, [["'/api/settings'"]]), HOME: [0.004] * 8})
    errors = {COMMITS[5]: {f"{STMT}('/api/settings')": "RuntimeError: planted failure"}}
    found = find_regressions(results, COMMITS, RULES, errors=errors)
    assert ids(found) == [(f"{STMT}('/api/settings')", COMMITS[5])]
    assert found[0].kind == "failed" and found[0].note == "RuntimeError: planted failure"
    assert "4 → fails" in to_markdown(found)
    # One that never worked has not regressed.
    assert find_regressions(history(**{STMT: ([[None]] * 8, [["'/x'"]]), HOME: [0.004] * 8}), COMMITS, RULES) == []


def test_a_step_hidden_by_a_later_failure_is_still_listed():
    """The planted history's plant j (+15% CPU on a route) is followed by h (that route fails)."""
    series = [[5.6e6]] * 3 + [[6.5e6]] * 2 + [[None]] * 3
    results = history(**{INSTR: (series, [["'GET /api/settings'"]]), HOME: [0.004] * 8})
    found = find_regressions(results, COMMITS, RULES)
    assert [(r.commit, r.kind) for r in found] == [(COMMITS[3], "counter"), (COMMITS[5], "failed")]


def test_a_commit_that_stops_building_is_listed_once():
    results = history(**{STMT: ([[4]] * 6 + [[None]] * 2, [["'/'"]])})
    found = find_regressions(results, COMMITS, RULES)
    assert ids(found) == [("(build)", COMMITS[6])]
    assert "does not build" in to_markdown(found)


def test_a_run_of_a_few_benchmarks_at_the_newest_commit_hides_nothing():
    results = history(**{STMT: ([[4]] * 3 + [[9]] * 4 + ["skip"], [["'/'"]]), HOME: [0.004] * 8})
    assert ids(find_regressions(results, COMMITS, RULES)) == [(f"{STMT}('/')", COMMITS[3])]


def test_skipped_points_and_unmeasured_commits_are_left_out():
    values = [[4]] * 3 + ["skip"] + [[float("nan")]] + [[9]] * 3
    results = history(**{STMT: (values, [["'/'"]])})
    del results[COMMITS[1]]
    assert ids(find_regressions(results, COMMITS, RULES)) == [(f"{STMT}('/')", COMMITS[5])]


def test_markdown_and_json_agree(tmp_path):
    results = history(**{STMT: ([[4]] * 3 + [[9]] * 5, [["'/'"]])})
    found = find_regressions(results, COMMITS, RULES)
    md = to_markdown(found, site_url="https://example.test/site")
    assert "## 1 regression in the history" in md
    assert f"| `{COMMITS[3][:8]}` | `{STMT}('/')` | 4 → 9 | ×2.25 |" in md
    assert f"[graph](https://example.test/site/#{STMT})" in md
    data = json.loads(json.dumps(to_json(found, "https://example.test/site")))
    assert data[0]["commit"] == COMMITS[3] and data[0]["ratio"] == 2.25
    assert to_markdown([]) == "## No regressions in the history\n"


@pytest.mark.slow
@pytest.mark.proof
def test_a_same_code_history_lists_no_regression(tmp_path):
    """Six commits that change target_app only in docstrings, the whole suite measured: nothing is listed,
    neither by `regressions` nor on the site's Regressions page (minutes: `python3 -m scripts test -m proof`)."""
    import os
    import subprocess
    import sys

    from asvrepo import ROOT, ThrowawayRepo

    repo = ThrowawayRepo(tmp_path / "repo")
    for n in range(1, 7):
        doc = '"""The homepage and the health check'
        repo.edit("target_app/main.py", doc, f"{doc} ({n})")
        repo.commit(f"docstring {n}")
    env = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
    proc = subprocess.run([sys.executable, "-m", "scripts", "history", "--repo", str(repo.path), "--last", "7"],
                          cwd=ROOT, env=env, text=True, capture_output=True, timeout=3600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "## No regressions in the history" in proc.stdout
    listed = subprocess.run([sys.executable, "-m", "scripts", "regressions", "--repo", str(repo.path), "--json"],
                            cwd=ROOT, env=env, text=True, capture_output=True, timeout=600)
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stdout + listed.stderr
    site = json.loads((repo.path / ".asv" / "html" / "regressions.json").read_text())
    assert site["regressions"] == [], site["regressions"]


def test_the_site_keeps_only_the_steps_the_list_has(tmp_path):
    from scripts.history.regressions import Regression
    from scripts.site.publish import keep_listed_regressions

    (tmp_path / "index.json").write_text(json.dumps({"revision_to_hash": {"3": "a" * 40, "5": "b" * 40}}))
    (tmp_path / "regressions.json").write_text(json.dumps({"regressions": [
        [f"{STMT}('/')", "graphs/x.json", {}, 5, 9.0, 4.0, [[2, 3, 4.0, 9.0]]],
        [HOME, "graphs/y.json", {}, 5, 0.006, 0.004, [[4, 5, 0.004, 0.006]]],
    ]}))
    listed = [Regression(f"{STMT}('/')", "a" * 40, "c" * 40, 4, 9, "", "counter")]
    assert keep_listed_regressions(tmp_path, listed) == 1
    kept = json.loads((tmp_path / "regressions.json").read_text())["regressions"]
    assert [e[0] for e in kept] == [f"{STMT}('/')"]


# A timing step is measured again before it is listed (scripts/history/confirm.py): a burst of slowness at one
# commit moves all its timings, a real slowdown regresses again.
def _second_run(before: float, after: float, name: str = HOME):
    """A fake second run: ``name`` at ``before`` at the commit before the step, ``after`` at the step's."""
    calls = []

    def measure(before_commit, commit, regex):
        calls.append((before_commit, commit, regex))
        run = history(**{name.replace(".", "__"): [before] * 4 + [after] * 4})
        return {before_commit: run[COMMITS[0]], commit: run[COMMITS[-1]]}

    return measure, calls


def test_a_timing_step_that_does_not_regress_again_is_no_longer_listed():
    from scripts.history.confirm import confirm, drop_not_confirmed

    # The newest commit measured in a slow burst: its timing ×1.76, and a counter that truly rose beside it.
    results = history(**{HOME: [0.004] * 7 + [0.00704], STMT: ([[4]] * 7 + [[9]], [["'/'"]])})
    found = find_regressions(results, COMMITS, RULES)
    assert sorted(r.kind for r in found) == ["counter", "time"]
    ledger: dict = {}
    measure, calls = _second_run(0.004, 0.0041)
    demoted = confirm(found, ledger, measure, RULES, out=io.StringIO())
    assert [r.benchmark for r in demoted] == [HOME]
    # Only the timing ran again, at the commit before its step and the step's, and only its own id.
    assert calls == [(COMMITS[6], COMMITS[7], f"^({re.escape(HOME)})$")]
    assert [(r.benchmark, r.kind) for r in drop_not_confirmed(found, ledger)] == [(f"{STMT}('/')", "counter")]
    # The record holds: judged again later, the step is not run again and stays unlisted.
    again, calls_again = _second_run(0.004, 0.012)
    assert confirm(found, ledger, again, RULES, out=io.StringIO()) == [] and calls_again == []


def test_a_timing_step_that_regresses_again_stays_listed():
    from scripts.history.confirm import confirm, drop_not_confirmed

    results = history(**{HOME: [0.004] * 4 + [0.012] * 4})
    found = find_regressions(results, COMMITS, RULES)
    ledger: dict = {}
    measure, _ = _second_run(0.004, 0.0118)
    assert confirm(found, ledger, measure, RULES, out=io.StringIO()) == []
    assert ids(drop_not_confirmed(found, ledger)) == [(HOME, COMMITS[4])]


def test_a_second_run_that_measured_nothing_leaves_the_step_listed():
    from scripts.history.confirm import confirm, drop_not_confirmed

    found = find_regressions(history(**{HOME: [0.004] * 7 + [0.012]}), COMMITS, RULES)
    ledger: dict = {}
    assert confirm(found, ledger, lambda before, commit, regex: {}, RULES, out=io.StringIO()) == []
    assert ledger == {} and ids(drop_not_confirmed(found, ledger)) == [(HOME, COMMITS[7])]


def test_a_later_step_of_the_same_benchmark_is_confirmed_anew():
    from scripts.history.confirm import confirm, suspects

    found = find_regressions(history(**{HOME: [0.004] * 7 + [0.00704]}), COMMITS, RULES)
    ledger: dict = {}
    confirm(found, ledger, _second_run(0.004, 0.0041)[0], RULES, out=io.StringIO())
    # The same benchmark stepping at another commit is another step: not covered by the first record.
    later = [replace(r, commit="f" * 40, before_commit=COMMITS[7]) for r in found]
    assert list(suspects(later, ledger)) == [(COMMITS[7], "f" * 40)]


def test_a_timing_step_accepted_on_purpose_is_not_run_again():
    from scripts.history.confirm import confirm

    found = find_regressions(history(**{HOME: [0.004] * 7 + [0.012]}), COMMITS, RULES)
    for r in found:
        r.accepted = "a slower homepage for the new feed (Accept-Regression)"
    measure, calls = _second_run(0.004, 0.0041)
    assert confirm(found, {}, measure, RULES, out=io.StringIO()) == [] and calls == []


def test_the_ids_asv_runs_again_are_exactly_the_suspects():
    from scripts.suite import only_ids

    regex = only_ids([f"{HOME}", "bench_pages.Routes.time_route('/healthz')"])
    assert re.search(regex, "bench_pages.Routes.time_route('/healthz')")
    assert not re.search(regex, "bench_pages.Routes.time_route('/')")
    assert not re.search(regex, f"{HOME}_more")
