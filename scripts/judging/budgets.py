"""Budgets (benchmarks/rules.toml): absolute limits the head must stay within."""

from __future__ import annotations

from scripts.judging.rules import Budget
from scripts.judging.verdict import BudgetViolation
from scripts.results import CommitResult, param_labels
from scripts.suite import BenchmarkId, benchmark_id, is_missing


def check_budgets(head: CommitResult, budgets: tuple[Budget, ...] | list[Budget],
                  enforce: bool | None = None) -> list[BudgetViolation]:
    """Budgets the head breaks. A budget names benchmark ids, optionally with "(params)".

    ``enforce`` True or False overrides each budget's own ``enforce``.
    """
    out = []
    for budget in budgets:
        enforced = budget.enforce if enforce is None else enforce
        for ref in budget.benchmarks:
            name, param = BenchmarkId.parse(ref).name, BenchmarkId.parse(ref).params
            param = param.removesuffix(")")
            if name not in head.values:
                continue
            for label, value in zip(param_labels(head.params.get(name) or []), head.value_list(name),
                                    strict=False):
                if (param and label != param) or is_missing(value):
                    continue
                shown = benchmark_id(name, label)
                for measured, limit, broken in _limits(budget, value, label):
                    if broken:
                        out.append(BudgetViolation(budget.name, shown, measured, limit, enforced))
    return out


def _limits(budget: Budget, value: float, label: str):
    """(value, limit text, broken) for each limit the budget sets."""
    if budget.max is not None:
        yield value, f"≤ {budget.max:g}", value > budget.max
    if budget.min is not None:
        yield value, f"≥ {budget.min:g}", value < budget.min
    if budget.max_per_param is not None:
        try:
            per = value / float(label.split(",")[0])
        except (ValueError, ZeroDivisionError):
            return
        yield per, f"≤ {budget.max_per_param:g} per record", per > budget.max_per_param
