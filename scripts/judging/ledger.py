"""The ledger of accepted costs: what the steps accepted one by one add up to since a baseline.

Each ``Accept-Regression`` trailer lets its own step pass (:mod:`scripts.judging.accept`). Ten accepted +3%
steps double an operation's cost, and no single trailer says so. A ledger budget in benchmarks/rules.toml
(``[[ledger.budget]]``: "instructions of any operation +10%") holds each accepted benchmark's value at the
head against its value at the baseline (the newest release tag, or ``[ledger] baseline``): beyond the budget,
the accepted finding is a regression again, whatever its trailer says. Tagging a release starts a new ledger.

Pure: results in, the verdict's findings and ledger lines out.
"""

from __future__ import annotations

from scripts.judging.rules import Rules
from scripts.judging.verdict import LedgerLine, Verdict
from scripts.results import CommitResult, param_labels
from scripts.suite import BenchmarkId, is_missing


def value_at(result: CommitResult | None, ident: str):
    """``ident``'s value in ``result`` (None where it has none)."""
    if result is None:
        return None
    bid = BenchmarkId.parse(ident)
    if bid.name not in result.values:
        return None
    labels = param_labels(result.params.get(bid.name) or [])
    values = result.value_list(bid.name)
    return values[labels.index(bid.params)] if bid.params in labels and len(values) == len(labels) else None


def covered(verdict: Verdict, rules: Rules) -> list:
    """The accepted findings a ledger budget holds (what a pull request adds to the ledger)."""
    return [f for f in verdict.accepted if rules.ledger_of(f.id)]


def apply_ledger(verdict: Verdict, baseline: CommitResult | None, baseline_name: str, rules: Rules) -> None:
    """Hold each accepted finding that a ledger budget covers against its value at ``baseline``: a line of the
    ledger each, and a regression again where the accepted steps since ``baseline_name`` pass the budget."""
    verdict.ledger_baseline = baseline_name
    for f in covered(verdict, rules):
        budget = rules.ledger_of(f.id)
        before = value_at(baseline, f.id)
        if is_missing(before) or is_missing(f.after):
            f.note += f"; no value at the ledger's baseline {baseline_name} to add it to"
            continue
        line = LedgerLine(f.id, budget.name, budget.relative, before, f.after)
        verdict.ledger.append(line)
        if line.over:
            f.status = "regressed"
            f.note = (f"accepted steps since {baseline_name} add up to {line.change:+.1%}, beyond the ledger's "
                      f"{budget.relative:+.0%} for {budget.name} (benchmarks/rules.toml); this step: {f.note}")
