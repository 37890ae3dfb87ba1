"""The site's Regressions page: by commit, newest first, causes first, each cause's benchmarks one click below;
the Regressions tab of asv's pages leads to it, and asv's table stays linked."""

from __future__ import annotations

from scripts.history.regressions import Regression
from scripts.site.regressions import ASV_TABLE, PAGE, add_page, commits

SYSCALLS = "bench_syscalls.SystemCalls.track_syscalls"


def _found() -> list[Regression]:
    a, b, c, d = "a" * 40, "b" * 40, "c" * 40, "d" * 40
    lookup = [Regression(f"{SYSCALLS}('GET /p{i}', 'other')", b, a, 10, 14, "", "counter") for i in range(5)]
    n_plus_1 = [Regression("bench_counters.SqlStatements.track_statements('/api/users')", c, b, 4, 23, "", "counter")]
    accepted = [Regression(f"{SYSCALLS}('GET /', 'open')", d, c, 3, 4, "", "counter", accepted="+1 a header file")]
    return lookup + n_plus_1 + accepted


def test_commits_come_newest_first_with_their_causes():
    order = ["a" * 40, "b" * 40, "c" * 40, "d" * 40]
    listed = commits(_found(), order, {})
    assert [c["commit"][0] for c in listed] == ["d", "c", "b"]
    assert [len(c["causes"]) for c in listed] == [1, 1, 1]
    lookup = listed[2]["causes"][0]
    assert lookup["summary"].startswith("5 operations") and len(lookup["rows"]) == 5
    assert listed[0]["causes"][0]["accepted"] == "+1 a header file" and listed[0]["open"] == 0


def test_the_page_is_the_regressions_tab_and_links_asvs_table(tmp_path):
    (tmp_path / "index.html").write_text('<ul><li id="nav-li-regressions"><a href="#/regressions">Regressions</a>'
                                         '</li></ul>')
    add_page(tmp_path, _found(), ["a" * 40, "b" * 40, "c" * 40, "d" * 40], {"c" * 40: ("2026-12-01", "N+1")})
    page = (tmp_path / PAGE).read_text()
    assert page.index("cccccccc") < page.index("bbbbbbbb")  # newest first
    assert "<details><summary>5 benchmark(s)</summary>" in page
    assert f'href="{ASV_TABLE}"' in page and "N+1" in page
    assert f'<li id="nav-li-regressions"><a href="{PAGE}">' in (tmp_path / "index.html").read_text()


def test_no_regression_says_so(tmp_path):
    add_page(tmp_path, [], [], {})
    assert "No regression in the history." in (tmp_path / PAGE).read_text()


def test_the_ledger_adds_up_the_accepted_steps_since_the_baseline(tmp_path):
    from dataclasses import replace

    from tests_helpers import ROOT

    from scripts.judging.rules import load_rules
    from scripts.results import CommitResult
    from scripts.site.regressions import ledger

    rules = replace(load_rules(ROOT), budgets=())
    name = "bench_instructions.Instructions.track_instructions"
    ident = f"{name}('GET /')"
    order = [c * 40 for c in "abcd"]
    results = {}
    for commit, value in zip(order, [1_000_000, 1_040_000, 1_081_600, 1_124_864], strict=True):
        r = CommitResult(commit)
        r.values[name], r.params[name] = [value], [["'GET /'"]]
        results[commit] = r
    found = [Regression(ident, order[i], order[i - 1], results[order[i - 1]].values[name][0],
                        results[order[i]].values[name][0], "", "counter", accepted=f"step {i}") for i in (1, 2, 3)]
    [row] = ledger(found, order, results, rules, order[0])
    assert [why for _, why in row["steps"]] == ["step 1", "step 2", "step 3"]
    assert (row["change"], row["over"], row["relative"]) == ("+12.5%", True, "+10%")
    add_page(tmp_path, found, order, {}, [row], "v1.0")
    page = (tmp_path / PAGE).read_text()
    assert "Ledger of accepted costs since <code>v1.0</code>" in page and 'class="danger"' in page
    assert ledger(found, order, results, rules, None) == []
