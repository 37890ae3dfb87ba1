"""What a comparison of a base and a head found: findings, budget violations, the exit status."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from scripts.suite import benchmark_id

# "accepted": a regression the pull request accepts on purpose (scripts/judging/accept.py); "moved": a part of an
# operation (a phase) that rose while the operation as a whole improved beyond its tolerance.
Status = Literal["regressed", "improved", "unchanged", "failed", "fixed", "new", "missing", "accepted", "moved"]


@dataclass
class Finding:
    benchmark: str
    params: str
    kind: str  # "time", "counter", "rate", "track"
    unit: str
    before: float | None
    after: float | None
    ratio: float | None
    significant: bool | None
    status: Status
    note: str = ""
    # Slower beyond the factor, but judged machine noise (not significant, the
    # fastest sample not slower, or not confirmed by a second run).
    noise: bool = False
    min_ratio: float | None = None
    explanation: dict | None = None  # what changed in the operation behind it (scripts/explain.py)

    @property
    def id(self) -> str:
        return benchmark_id(self.benchmark, self.params)


@dataclass
class BudgetViolation:
    name: str
    benchmark: str
    value: float
    limit: str
    enforce: bool


@dataclass
class LedgerLine:
    """One benchmark's accepted cost since the baseline, held against its ledger budget (scripts/judging/ledger.py)."""

    id: str
    budget: str
    relative: float
    baseline: float
    head: float

    @property
    def change(self) -> float:
        return self.head / self.baseline - 1 if self.baseline else float("inf")

    @property
    def over(self) -> bool:
        return self.change > self.relative


@dataclass
class Verdict:
    base: str
    head: str
    factor: float
    findings: list[Finding] = field(default_factory=list)
    budgets: list[BudgetViolation] = field(default_factory=list)
    reason: str = ""  # set when the gate could not decide
    # What changed in target_app's lock from base to head ("sqlalchemy 2.0.58 → 2.0.30"): both sides ran with
    # their own, so a dependency's cost is in the findings.
    dependencies: list[str] = field(default_factory=list)
    # The head's changed lines of target_app that no measured operation runs ("target_app/errors.py:58-63"):
    # what the verdict does not cover (scripts/coverage.py).
    uncovered: list[str] = field(default_factory=list)
    # The ledger of accepted costs where the head accepts one: since which baseline, and each line.
    ledger_baseline: str = ""
    ledger: list[LedgerLine] = field(default_factory=list)

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "regressed"]

    @property
    def accepted(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "accepted"]

    @property
    def improvements(self) -> list[Finding]:
        return [f for f in self.findings if f.status in ("improved", "fixed")]

    @property
    def exit_code(self) -> int:
        """0 no regression, 1 a regression or an enforced budget, 2 could not decide."""
        if self.reason:
            return 2
        if self.regressions or any(b.enforce for b in self.budgets):
            return 1
        if any(f.status == "failed" and f.before is None for f in self.findings):
            return 2
        return 0

    @property
    def headline(self) -> str:
        code = self.exit_code
        if code == 2:
            return f"❔ Could not decide: {self.reason or 'benchmarks failed on both sides'}"
        if code == 1:
            n = len(self.regressions)
            enforced = [b for b in self.budgets if b.enforce]
            parts = []
            if n:
                parts.append(f"{n} regression{'s' if n != 1 else ''}")
            if enforced:
                parts.append(f"{len(enforced)} enforced budget violation{'s' if len(enforced) != 1 else ''}")
            return "❌ Performance regression: " + ", ".join(parts)
        if self.accepted:
            n = len(self.accepted)
            return f"✅ No performance regression beyond what is accepted ({n} accepted)"
        return "✅ No performance regression"

    def to_json(self) -> dict:
        return {
            "base": self.base,
            "head": self.head,
            "factor": self.factor,
            "exit_code": self.exit_code,
            "verdict": self.headline,
            "reason": self.reason,
            "dependencies": self.dependencies,
            "uncovered": self.uncovered,
            "findings": [asdict(f) | {"id": f.id} for f in self.findings],
            "budget_violations": [asdict(b) for b in self.budgets],
            "ledger": {"baseline": self.ledger_baseline,
                       "lines": [asdict(x) | {"change": x.change, "over": x.over} for x in self.ledger]},
        }
