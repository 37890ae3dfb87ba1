"""benchmarks/rules.toml, the one home of every rule: each key names a real benchmark, each benchmark has a rule,
and the site's thresholds in asv.conf.json are the ones the rules give."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest
from tests_helpers import ROOT, benchmark_ids

from scripts.errors import UserError
from scripts.judging.rules import asv_thresholds, load_rules, write_asv_thresholds

RULES = load_rules(ROOT)
IDS = {ident: ident.split("(")[0] for ident in benchmark_ids()}


@pytest.mark.parametrize("table,key", RULES.keys(), ids=[f"{t}:{k}" for t, k in RULES.keys()])
def test_every_rule_key_names_a_real_benchmark_id(table, key):
    # "time_route(/)" matched no result, so two budgets were never checked: keys are ids as asv stores them.
    assert any(fnmatchcase(ident, key) or fnmatchcase(name, key) for ident, name in IDS.items()), \
        f"{table} key {key!r} matches no benchmark id (python3 -m scripts rules lists them)"


def test_every_benchmark_has_a_rule():
    for ident, name in IDS.items():
        kind = RULES.kind(name)
        if kind == "time":
            assert ident in RULES.factors or name in RULES.factors, f"{ident}: no factor in [timing]"
        elif kind == "track":
            assert any(fnmatchcase(name, key) for key in RULES.tracks), \
                f"{ident}: no rule in [counter], [rate] or [track]"


def test_every_budget_sets_a_limit():
    assert RULES.budgets
    for budget in RULES.budgets:
        assert {budget.max, budget.min, budget.max_per_param} != {None}, budget.name


def test_a_key_with_parameters_wins_over_the_name():
    from scripts.judging.rules import lookup

    name = "bench_instructions.Instructions.track_instructions"
    table = {"*.track_instructions": "any", "*.track_instructions('user_lookup')": "lookup"}
    assert lookup(table, f"{name}('user_lookup')", name) == "lookup"
    assert lookup(table, f"{name}('GET /')", name) == "any"
    route = "bench_pages.Routes.time_route"
    assert RULES.factor(f"{route}('/healthz')", route) == RULES.factors[f"{route}('/healthz')"]
    assert RULES.factor(f"{route}('/new')", route) == RULES.factors[route]
    # A per-benchmark factor never loosens the gate below the global one.
    assert RULES.factor(f"{route}('/healthz')", route, 5.0) == 5.0


def _asv_conf_thresholds() -> dict[str, float]:
    from asv import util

    return util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)["regressions_thresholds"]


def test_asv_conf_thresholds_are_generated_from_the_rules():
    assert _asv_conf_thresholds() == asv_thresholds(RULES, IDS), \
        "asv.conf.json is out of date: run python3 -m scripts rules --write-asv-conf"


def test_the_site_flags_a_step_where_the_rules_do():
    """asv takes the largest threshold among the regexes that match an id (with its branch suffix)."""
    conf = _asv_conf_thresholds()
    for ident, name in IDS.items():
        matched = [float(t) for regex, t in conf.items() if re.match(regex, ident + "@main")]
        assert matched and max(matched) == RULES.site_threshold(ident, name), ident
    name = "bench_counters.SqlStatements.track_statements"
    assert RULES.site_threshold(f"{name}('/')", name) == 0.0
    assert RULES.site_threshold("bench_pages.HomePage.time_homepage", "bench_pages.HomePage.time_homepage") == \
        pytest.approx(RULES.factors["bench_pages.HomePage.time_homepage"] - 1)


def test_write_asv_thresholds_rewrites_only_its_block(tmp_path):
    conf = tmp_path / "asv.conf.json"
    conf.write_text('{\n    // a comment\n    "regressions_thresholds": {\n        "x": 0.5\n    },\n    "y": 1\n}\n')
    assert write_asv_thresholds(conf, {"^a$": 0.25, "^b$": 0.0})
    assert conf.read_text() == ('{\n    // a comment\n    "regressions_thresholds": {\n        "^a$": 0.25,\n'
                                '        "^b$": 0\n    },\n    "y": 1\n}\n')
    assert not write_asv_thresholds(conf, {"^a$": 0.25, "^b$": 0.0})


@pytest.mark.parametrize("text,message", [
    ("[counter\n", "rules.toml"),
    ("[colour]\n", "unknown table"),
    ('[counter]\n"*.x" = { relative = 0.1, typo = 1 }\n', "typo"),
])
def test_a_bad_rules_file_is_a_one_line_error(tmp_path, text, message):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "rules.toml").write_text(text)
    with pytest.raises(UserError, match=message) as exc:
        load_rules(tmp_path)
    assert "\n" not in str(exc.value)


def test_rules_command_lists_every_benchmark_id(capsys):
    from scripts.cli import main

    assert main(["rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {line.split("\t")[0] for line in lines} == set(IDS)
    # The factor as benchmarks/rules.toml has it today: a recalibration changes the file, not this test.
    ident, name = "bench_pages.Routes.time_route('/')", "bench_pages.Routes.time_route"
    factor = RULES.factor(ident, name)
    assert f"{ident}\ttime\tslower than x{factor:g}, significant, confirmed\tsite {factor - 1:g}" in lines


def test_a_benchmark_id_is_built_and_parsed_in_one_place():
    from scripts.suite import BenchmarkId, benchmark_id, is_missing, is_nan, is_timing

    ident = "bench_syscalls.SystemCalls.track_syscalls('POST /settings', 'fsync')"
    parsed = BenchmarkId.parse(ident)
    assert (parsed.name, parsed.params) == ("bench_syscalls.SystemCalls.track_syscalls", "'POST /settings', 'fsync'")
    assert str(parsed) == ident == benchmark_id(parsed.name, parsed.params)
    assert str(BenchmarkId.parse("bench_pages.HomePage.time_homepage")) == "bench_pages.HomePage.time_homepage"
    assert is_timing("bench_pages.Routes.time_route('/')") and is_timing("a.B.timeraw_x")
    assert not is_timing("bench_counters.SqlStatements.track_statements('/')")
    assert is_nan(float("nan")) and not is_nan(None) and is_missing(None) and not is_missing(0.0)
