"""The gate's pure logic, on hand-made results (no asv run)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tests_helpers import ROOT

from scripts.gate.report import to_markdown
from scripts.judging.judge import compare_results as judge
from scripts.judging.judge import confirm_timings
from scripts.judging.rules import Budget, load_rules
from scripts.results import CommitResult

# The project's counter, rate and track rules, with one global timing factor
# and no budgets: the logic under test, not today's per-benchmark numbers.
RULES = replace(load_rules(ROOT), factors={}, budgets=())


def compare_results(base, head, rules=RULES, **kwargs):
    return judge(base, head, rules, **kwargs)


def kind_of(name):
    return RULES.kind(name)


def stats(value, spread=0.01):
    return {"ci_99_a": value * (1 - spread), "ci_99_b": value * (1 + spread), "q_25": value, "q_75": value}


def result(commit, **benchmarks) -> CommitResult:
    r = CommitResult(commit)
    for name, spec in benchmarks.items():
        name = name.replace("__", ".")
        value, params = spec if isinstance(spec, tuple) else (spec, [])
        r.values[name] = value
        r.params[name] = params
        vals = value if isinstance(value, list) else [value]
        r.stats[name] = [stats(v) if isinstance(v, float) else None for v in vals]
        r.samples[name] = [[v * (1 + d / 1000) for d in range(-10, 11)] if isinstance(v, float) else None
                           for v in vals]
        r.versions[name] = "v1"
        r.units[name] = "seconds" if ".time_" in name else ""
    return r


HOME = "bench_pages__HomePage__time_homepage"
STMT = "bench_counters__SqlStatements__track_statements"


def test_kinds():
    assert kind_of("a.B.time_x") == "time"
    assert kind_of("a.B.timeraw_x") == "time"
    assert kind_of("a.B.track_statements") == "counter"
    assert kind_of("a.B.track_bytes") == "counter"
    assert kind_of("a.B.track_success_rate") == "rate"
    assert kind_of("a.B.track_latency_p50") == "track"


def test_no_change_exits_0():
    v = compare_results(result("a" * 40, **{HOME: 0.004}), result("b" * 40, **{HOME: 0.004}))
    assert v.exit_code == 0
    assert "No performance regression" in to_markdown(v)


def test_significant_slowdown_beyond_factor_is_a_regression():
    v = compare_results(result("a" * 40, **{HOME: 0.004}), result("b" * 40, **{HOME: 0.006}))
    assert v.exit_code == 1
    md = to_markdown(v, site_url="https://example.test/bench")
    assert "bench_pages.HomePage.time_homepage" in md
    assert "(https://example.test/bench/#bench_pages.HomePage.time_homepage)" in md


def test_slowdown_within_factor_is_not_a_regression():
    v = compare_results(result("a" * 40, **{HOME: 0.004}), result("b" * 40, **{HOME: 0.0043}))
    assert v.exit_code == 0


def test_slowdown_that_is_not_significant_is_not_a_regression():
    base = result("a" * 40, **{HOME: 0.004})
    head = result("b" * 40, **{HOME: 0.005})
    head.samples = {k: None for k in head.samples}
    base.samples = {k: None for k in base.samples}
    # Overlapping confidence intervals: not significant.
    base.stats[HOME.replace("__", ".")] = [stats(0.004, 0.5)]
    v = compare_results(base, head)
    assert v.exit_code == 0
    assert "not statistically significant" in to_markdown(v)


def test_per_benchmark_factor_overrides_the_global_one():
    base, head = result("a" * 40, **{HOME: 0.004}), result("b" * 40, **{HOME: 0.0048})
    assert compare_results(base, head).exit_code == 1
    assert compare_results(base, head, replace(RULES, factors={"bench_pages.HomePage.time_homepage": 1.3})
                           ).exit_code == 0


def test_any_statement_increase_is_a_regression_even_if_timings_are_noisy():
    params = [["'/'", "'/api/users'"]]
    base = result("a" * 40, **{STMT: ([6, 4], params), HOME: 0.004})
    head = result("b" * 40, **{STMT: ([6, 24], params), HOME: 0.0041})
    v = compare_results(base, head)
    assert v.exit_code == 1
    [reg] = v.regressions
    assert reg.id == "bench_counters.SqlStatements.track_statements('/api/users')"
    md = to_markdown(v)
    assert "### Causes\n\n1. 🔴 1 operation (`GET /api/users`): +20 SQL statements" in md, md
    assert "### Cause 1" in md


def test_bytes_within_tolerance_are_not_a_regression():
    name = "bench_counters__AllocatedBytes__track_bytes"
    assert compare_results(result("a" * 40, **{name: 100_000}), result("b" * 40, **{name: 102_000})).exit_code == 0
    assert compare_results(result("a" * 40, **{name: 100_000}), result("b" * 40, **{name: 110_000})).exit_code == 1


def test_success_rate_below_100_is_a_regression():
    name = "bench_server__ConcurrentLogin__track_success_rate"
    v = compare_results(result("a" * 40, **{name: 100.0}), result("b" * 40, **{name: 87.5}))
    assert v.exit_code == 1
    assert "below 100%" in v.regressions[0].note


def test_throughput_drop_is_a_regression_and_rise_is_not():
    name = "bench_server__ConcurrentHomepage__track_throughput"
    assert compare_results(result("a" * 40, **{name: 200.0}), result("b" * 40, **{name: 100.0})).exit_code == 1
    assert compare_results(result("a" * 40, **{name: 200.0}), result("b" * 40, **{name: 400.0})).exit_code == 0


def test_small_memory_wobble_is_not_a_leak_but_a_big_rise_is():
    name = "bench_server__SessionMemory__track_allocated_per_session"
    assert compare_results(result("a" * 40, **{name: 198.0}), result("b" * 40, **{name: 240.0})).exit_code == 0
    assert compare_results(result("a" * 40, **{name: 198.0}), result("b" * 40, **{name: 12000.0})).exit_code == 1


def test_benchmark_failing_only_on_head_is_a_regression():
    params = [["'/'", "'/healthz'"]]
    base = result("a" * 40, **{STMT: ([6, 2], params)})
    head = result("b" * 40, **{STMT: ([6, None], params)})
    v = compare_results(base, head)
    assert v.exit_code == 1
    assert "Failures" in to_markdown(v)


def test_everything_failing_on_head_cannot_be_decided():
    base = result("a" * 40, **{HOME: 0.004, STMT: 6})
    head = result("b" * 40, **{HOME: None, STMT: None})
    v = compare_results(base, head)
    assert v.exit_code == 2
    assert "does not build or import" in v.reason


def test_missing_results_cannot_be_decided():
    v = compare_results(None, result("b" * 40, **{HOME: 0.004}))
    assert v.exit_code == 2
    assert "no results for the base" in v.reason


def test_changed_benchmark_version_is_not_compared():
    base, head = result("a" * 40, **{HOME: 0.004}), result("b" * 40, **{HOME: 0.008})
    head.versions["bench_pages.HomePage.time_homepage"] = "v2"
    assert compare_results(base, head).exit_code == 0


def test_budgets_are_reported_and_enforced_only_when_configured():
    budgets = replace(RULES, budgets=(
        Budget("Homepage", ("bench_pages.HomePage.time_homepage",), max=0.003),
        Budget("Success", ("bench_server.ConcurrentLogin.track_success_rate",), min=80.0, enforce=True),
    ))
    base = result("a" * 40, **{HOME: 0.004})
    head = result("b" * 40, **{HOME: 0.004})
    v = compare_results(base, head, budgets)
    assert v.exit_code == 0 and [b.name for b in v.budgets] == ["Homepage"]
    assert "Budget violations" in to_markdown(v)
    rate = "bench_server__ConcurrentLogin__track_success_rate"
    v = compare_results(result("a" * 40, **{rate: 70.0}), result("b" * 40, **{rate: 70.0}), budgets)
    assert v.exit_code == 1


def test_per_param_budget():
    budgets = replace(RULES, budgets=(Budget("N+1", ("bench_api.ListScaling.time_list_users",),
                                             max_per_param=0.0001),))
    name = "bench_api__ListScaling__time_list_users"
    head = result("b" * 40, **{name: ([0.005, 0.02], [["10", "100"]])})
    v = compare_results(head, head, budgets)
    assert [b.benchmark for b in v.budgets] == ["bench_api.ListScaling.time_list_users(10)",
                                                "bench_api.ListScaling.time_list_users(100)"]


def test_json_has_the_same_verdict():
    v = compare_results(result("a" * 40, **{HOME: 0.004}), result("b" * 40, **{HOME: 0.006}))
    data = json.loads(json.dumps(v.to_json(), default=str))
    assert data["exit_code"] == 1
    assert data["findings"][0]["id"] == "bench_pages.HomePage.time_homepage"


@pytest.mark.parametrize("argv", [["compare", "HEAD", "HEAD", "--no-run"], ["compare", "nope", "HEAD", "--no-run"],
                                  ["compare", "HEAD~1", "HEAD", "--factor", "0.9", "--no-run"]])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    from scripts.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_a_timing_regression_stands_only_if_a_second_run_confirms_it():
    base = result("a" * 40, **{HOME: 0.004, STMT: (4.0, [["'/'"]])})
    head = result("b" * 40, **{HOME: 0.006, STMT: (9.0, [["'/'"]])})
    first = compare_results(base, head)
    assert {f.id for f in first.regressions} == {"bench_pages.HomePage.time_homepage",
                                                 "bench_counters.SqlStatements.track_statements('/')"}
    # The second run sees the same timing: confirmed, nothing demoted.
    again = compare_results(base, result("c" * 40, **{HOME: 0.006}))
    assert confirm_timings(first, again) == []
    assert first.exit_code == 1
    # The second run does not: the timing is noise; the counter still fails the gate.
    quiet = compare_results(base, result("c" * 40, **{HOME: 0.004}))
    demoted = confirm_timings(first, quiet)
    assert [f.id for f in demoted] == ["bench_pages.HomePage.time_homepage"]
    assert [f.id for f in first.regressions] == ["bench_counters.SqlStatements.track_statements('/')"]
    assert "did not confirm" in to_markdown(first)
    # Without the counter, nothing is left: the gate passes.
    only_time = compare_results(base, result("b" * 40, **{HOME: 0.006}))
    confirm_timings(only_time, quiet)
    assert only_time.exit_code == 0


def test_an_instruction_count_regresses_beyond_its_rules_tolerance_which_is_at_most_1_percent():
    name = "bench_instructions__Instructions__track_instructions"
    ops = [["'GET /'", "'GET /api/posts'", "'user_lookup'", "'pool_checkout'"]]
    values = [9.8e6, 7.7e6, 4.2e5, 9.1e4]
    base = result("a" * 40, **{name: (values, ops)})
    rules = RULES

    def regressed(after):
        v = compare_results(base, result("b" * 40, **{name: (after, ops)}), rules)
        return sorted(f.params for f in v.regressions)

    for i, op in enumerate(ops[0]):
        tolerance = rules.counter(f"bench_instructions.Instructions.track_instructions({op})",
                                  "bench_instructions.Instructions.track_instructions").relative
        assert 0 < tolerance <= 0.01, (op, tolerance)
        within = [v * (1 + 0.9 * tolerance) if j == i else v for j, v in enumerate(values)]
        beyond = [v * (1 + 1.1 * tolerance) if j == i else v for j, v in enumerate(values)]
        assert regressed(within) == []
        assert regressed(beyond) == [op]


def test_a_counter_regression_carries_its_explanation_in_markdown_and_json():
    base = result("a" * 40, **{STMT: (4.0, [["'/api/users'"]])})
    head = result("b" * 40, **{STMT: (23.0, [["'/api/users'"]])})
    v = compare_results(base, head)
    (f,) = v.regressions
    f.explanation = {"statements": [4, 23], "sql": [{"delta": 19, "statement": "SELECT settings.key FROM settings"}],
                     "plans": [], "calls": [], "retained": [], "allocated": []}
    md = to_markdown(v)
    assert ("<details><summary>Why: <code>bench_counters.SqlStatements.track_statements('/api/users')</code>"
            "</summary>") in md
    assert "+19 × SELECT settings.key FROM settings" in md
    data = json.loads(json.dumps(v.to_json()))
    assert data["findings"][0]["explanation"]["sql"][0]["delta"] == 19


PHASES = "bench_phases__Phases__track_phase_instructions"


def test_a_phase_that_grew_beyond_its_tolerance_is_named_in_the_apps_terms():
    params = [["'GET /'", "'GET /api/me'"], ["'view'", "'template render'"]]
    base = result("a" * 40, **{PHASES: ([2_277_000, 1_390_000, 117_000, 0], params)})
    # +2% of the render (28k: beyond 1% + 2000); +1,000 in /api/me's view (within)
    head = result("b" * 40, **{PHASES: ([2_277_000, 1_417_800, 118_000, 0], params)})
    v = compare_results(base, head)
    assert [f.id for f in v.regressions] == ["bench_phases.Phases.track_phase_instructions('GET /', 'template render')"]
    assert "1. 🔴 1 operation (`GET /`): phases: template render +2.0%" in to_markdown(v)


FUNCTIONS = "bench_phases__Functions__track_function_instructions"


def test_a_target_app_function_that_grew_is_judged_and_named():
    params = [["'target_app/api.py:settings'", "'target_app/db.py:get_session'"]]
    # The view's inline loop: +5% of the function, beyond 1% + 2000; the session helper within its tolerance.
    base = result("a" * 40, **{FUNCTIONS: ([1_000_000, 1_400_000], params)})
    head = result("b" * 40, **{FUNCTIONS: ([1_050_000, 1_414_000], params)})
    v = compare_results(base, head)
    assert [f.id for f in v.regressions] == [
        "bench_phases.Functions.track_function_instructions('target_app/api.py:settings')"]
    assert "1. 🔴 beyond any one operation: `target_app/api.py:settings` +5.0%" in to_markdown(v)
