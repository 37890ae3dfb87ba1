"""The ledger of accepted costs: three steps each accepting +4% on `GET /` pass one by one until the third,
which passes +10% since the baseline and fails, whatever its own trailer says. Pure: hand-made results."""

from __future__ import annotations

import subprocess
from dataclasses import replace

from tests_helpers import ROOT

from scripts.gate.report import to_markdown
from scripts.git import last_tag
from scripts.judging.accept import Acceptance
from scripts.judging.judge import apply_acceptances, compare_results
from scripts.judging.ledger import apply_ledger, covered, value_at
from scripts.judging.rules import load_rules
from scripts.results import CommitResult

RULES = replace(load_rules(ROOT), factors={}, budgets=())
INSTR = "bench_instructions.Instructions.track_instructions"
OPS = ["'GET /'", "'GET /api/me'"]
HOME = f"{INSTR}('GET /')"


def at(commit: str, home: float, me: float = 500_000.0) -> CommitResult:
    r = CommitResult(commit * 40)
    r.values[INSTR], r.params[INSTR], r.versions[INSTR], r.units[INSTR] = [home, me], [OPS], "8", ""
    r.stats[INSTR], r.samples[INSTR] = [None, None], [None, None]
    return r


STEPS = [at("0", 1_000_000), at("1", 1_040_000), at("2", 1_081_600), at("3", 1_124_864)]  # +4% each


def gate(base: CommitResult, head: CommitResult, baseline: CommitResult, accepting: str = "+5%"):
    v = compare_results(base, head, RULES)
    apply_acceptances(v, [Acceptance(HOME, accepting, "a richer homepage", head.commit)])
    if covered(v, RULES):
        apply_ledger(v, baseline, "v1.0", RULES)
    return v


def test_accepted_steps_pass_one_by_one_until_they_add_up_past_the_budget():
    codes = [gate(STEPS[i], STEPS[i + 1], STEPS[0]).exit_code for i in range(3)]
    assert codes == [0, 0, 1]
    third = gate(STEPS[2], STEPS[3], STEPS[0])
    [f] = third.regressions
    assert f.id == HOME
    assert f.note.startswith("accepted steps since v1.0 add up to +12.5%, beyond the ledger's +10% for "
                             "instructions of any operation"), f.note
    [line] = third.ledger
    assert (line.baseline, line.head, line.over) == (1_000_000, 1_124_864, True)


def test_the_comment_shows_the_ledger_when_a_pull_request_adds_to_it():
    md = to_markdown(gate(STEPS[1], STEPS[2], STEPS[0]))
    assert "### Ledger of accepted costs since `v1.0`" in md
    assert f"| 🟡 | `{HOME}` | 1,000,000 | 1,081,600 | +8.2% | instructions of any operation: +10% |" in md
    assert "Ledger" not in to_markdown(compare_results(STEPS[0], STEPS[0], RULES))


def test_a_sibling_budget_holds_statements_too():
    """Not the example: SQL statements accepted one at a time on a page of two, against +50% since the base."""
    name = "bench_counters.SqlStatements.track_statements"

    def page(commit, n):
        r = CommitResult(commit * 40)
        r.values[name], r.params[name], r.versions[name], r.units[name] = [n], [["'/'"]], "1", ""
        r.stats[name], r.samples[name] = [None], [None]
        return r

    ident = f"{name}('/')"
    steps = [page("0", 2), page("1", 3), page("2", 4)]
    verdicts = []
    for i in range(2):
        v = compare_results(steps[i], steps[i + 1], RULES)
        apply_acceptances(v, [Acceptance(ident, "+1", "one more query", steps[i + 1].commit)])
        apply_ledger(v, steps[0], "v1.0", RULES)
        verdicts.append(v)
    assert [v.exit_code for v in verdicts] == [0, 1]  # +50% is the budget; +100% passes it


def test_an_unaccepted_step_is_judged_as_before_and_adds_no_ledger_line():
    v = compare_results(STEPS[0], STEPS[1], RULES)
    assert covered(v, RULES) == [] and v.exit_code == 1


def test_a_baseline_without_the_benchmark_says_so_and_the_acceptance_stands():
    v = gate(STEPS[2], STEPS[3], CommitResult("9" * 40))
    assert v.exit_code == 0 and "no value at the ledger's baseline v1.0" in v.accepted[0].note


def test_values_are_read_by_their_parameters():
    assert value_at(STEPS[1], HOME) == 1_040_000 and value_at(STEPS[1], f"{INSTR}('GET /nope')") is None


def test_the_baseline_is_the_newest_release_tag(tmp_path):
    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, text=True, capture_output=True).stdout

    git("init", "-q", "-b", "main")
    for n in range(3):
        git("-c", "user.email=t@e.test", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", f"c{n}")
        if n == 0:
            git("tag", "v1.0")
    assert last_tag(tmp_path, "HEAD") == "v1.0"
    git("tag", "v1.1")  # releasing starts a new ledger
    assert last_tag(tmp_path, "HEAD") == "v1.1"
    assert last_tag(tmp_path, "HEAD~2") == "v1.0"
