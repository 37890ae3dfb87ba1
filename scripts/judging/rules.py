"""The rules that judge each benchmark, read from their one home: benchmarks/rules.toml.

The gate, calibrate and the site's regressions list all take their
tolerances, factors and budgets from here; :func:`asv_thresholds` derives
what asv's own regressions page needs from the same rules.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from scripts.errors import UserError
from scripts.suite import PHASES, is_timing

RULES_FILE = Path("benchmarks") / "rules.toml"
DEFAULT_FACTOR = 1.10


@dataclass(frozen=True)
class Counter:
    """A deterministic counter: any rise beyond ``relative`` + ``absolute`` regresses."""

    relative: float = 0.0
    absolute: float = 0.0
    site: float | None = None

    def moved(self, before: float, after: float) -> bool:
        """Moved beyond the tolerance, either way (a component named in an explanation)."""
        return abs(after - before) > self.relative * abs(before) + self.absolute


@dataclass(frozen=True)
class Rate:
    """A success rate in percent: below ``minimum`` regresses."""

    minimum: float = 100.0


@dataclass(frozen=True)
class Track:
    """A single-valued track: worse by more than ``factor`` and ``floor`` regresses."""

    factor: float
    floor: float = 0.0
    higher_is_better: bool = False


@dataclass(frozen=True)
class Ledger:
    """What accepted costs may add up to since a baseline: ``benchmarks`` (fnmatch patterns over ids) may rise
    by ``relative`` of their value at the baseline, however many steps were each accepted on its own."""

    name: str
    benchmarks: tuple[str, ...]
    relative: float

    def covers(self, ident: str) -> bool:
        return any(fnmatchcase(ident, p) for p in self.benchmarks)


@dataclass(frozen=True)
class Budget:
    name: str
    benchmarks: tuple[str, ...]
    max: float | None = None
    min: float | None = None
    max_per_param: float | None = None
    enforce: bool = False


@dataclass(frozen=True)
class Rules:
    counters: dict[str, Counter] = field(default_factory=dict)
    rates: dict[str, Rate] = field(default_factory=dict)
    tracks: dict[str, Track] = field(default_factory=dict)
    factors: dict[str, float] = field(default_factory=dict)
    budgets: tuple[Budget, ...] = ()
    # The ledger of accepted costs: its budgets, and the baseline they count from (a revision; by default the
    # newest release tag before the commit judged).
    ledger: tuple[Ledger, ...] = ()
    baseline: str | None = None

    def ledger_of(self, ident: str) -> Ledger | None:
        return next((b for b in self.ledger if b.covers(ident)), None)

    def kind(self, benchmark: str) -> str:
        """time, rate, counter or track: how a benchmark (by name) is judged."""
        if is_timing(benchmark):
            return "time"
        if lookup(self.rates, benchmark, benchmark) is not None:
            return "rate"
        if lookup(self.counters, benchmark, benchmark) is not None:
            return "counter"
        return "track"

    def counter(self, ident: str, benchmark: str) -> Counter:
        return lookup(self.counters, ident, benchmark) or Counter()

    def components(self) -> Counter:
        """The tolerance a phase or a Python function is named by: the phase benchmark's."""
        return self.counter(PHASES, PHASES)

    def rate(self, ident: str, benchmark: str) -> Rate:
        return lookup(self.rates, ident, benchmark) or Rate()

    def track(self, ident: str, benchmark: str, factor: float) -> Track:
        return lookup(self.tracks, ident, benchmark) or Track(factor)

    def factor(self, ident: str, benchmark: str, factor: float = DEFAULT_FACTOR) -> float:
        """A timing's factor: its own where it has one, never below ``factor``."""
        own = lookup(self.factors, ident, benchmark)
        return max(own, factor) if own is not None else factor

    def site_threshold(self, ident: str, benchmark: str) -> float:
        """The relative step at which the site lists a regression, from the same rule."""
        kind = self.kind(benchmark)
        if kind == "counter":
            rule = self.counter(ident, benchmark)
            return rule.site if rule.site is not None else rule.relative
        if kind == "rate":
            return 0.0
        if kind == "track":
            return round(self.track(ident, benchmark, DEFAULT_FACTOR).factor - 1, 4)
        return round(self.factor(ident, benchmark, DEFAULT_FACTOR) - 1, 4)

    def describe(self, ident: str, benchmark: str, factor: float = DEFAULT_FACTOR) -> str:
        """The rule that judges ``ident``, in words."""
        kind = self.kind(benchmark)
        if kind == "time":
            return f"slower than x{self.factor(ident, benchmark, factor):g}, significant, confirmed"
        if kind == "counter":
            rule = self.counter(ident, benchmark)
            return f"rise beyond {rule.relative:.1%} + {rule.absolute:g}"
        if kind == "rate":
            return f"below {self.rate(ident, benchmark).minimum:g}%"
        rule = self.track(ident, benchmark, factor)
        return f"{'lower' if rule.higher_is_better else 'higher'} than x{rule.factor:g} and by {rule.floor:g}"

    def keys(self) -> list[tuple[str, str]]:
        """(table, key) of every rule, budgets' benchmarks included."""
        out = [(table, key) for table, rules in (("counter", self.counters), ("rate", self.rates),
                                                  ("track", self.tracks), ("timing", self.factors))
               for key in rules]
        return out + [(f"budget {b.name!r}", ref) for b in self.budgets for ref in b.benchmarks]


def lookup(table: dict, ident: str, benchmark: str):
    """The rule for ``ident`` (name with parameters): a key matching it, else one matching the name."""
    for name in (ident, benchmark):
        for key, rule in table.items():
            if fnmatchcase(name, key):
                return rule
    return None


def load_rules(root: Path) -> Rules:
    """``root``'s benchmarks/rules.toml; a bad file is a one-line UserError."""
    path = root / RULES_FILE
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no {RULES_FILE} in {root}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: {exc}") from None
    unknown = set(data) - {"counter", "rate", "track", "timing", "budget", "ledger"}
    if unknown:
        raise UserError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
    try:
        return Rules(
            counters={k: Counter(**v) for k, v in data.get("counter", {}).items()},
            rates={k: Rate(**v) for k, v in data.get("rate", {}).items()},
            tracks={k: Track(**v) for k, v in data.get("track", {}).items()},
            factors={k: float(v) for k, v in data.get("timing", {}).items()},
            budgets=tuple(Budget(**{**b, "benchmarks": tuple(b.get("benchmarks", ()))})
                          for b in data.get("budget", [])),
            ledger=tuple(Ledger(**{**b, "benchmarks": tuple(b.get("benchmarks", ()))})
                         for b in data.get("ledger", {}).get("budget", [])),
            baseline=data.get("ledger", {}).get("baseline"),
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: {exc}") from None


def asv_thresholds(rules: Rules, ids: dict[str, str]) -> dict[str, float]:
    """asv.conf.json's ``regressions_thresholds``: anchored regexes, one per benchmark id, or one per
    benchmark whose ids all have the same threshold (a benchmark by operation and function has a thousand).

    ``ids`` maps each id (with parameters) to its benchmark name. asv takes
    the largest threshold among the regexes that match, so each id is
    matched by one regex only, and the site lists exactly the steps the rules judge.
    """
    by_name: dict[str, dict[str, float]] = {}
    for ident, name in sorted(ids.items()):
        by_name.setdefault(name, {})[ident] = rules.site_threshold(ident, name)
    out = {}
    for name, thresholds in sorted(by_name.items()):
        if len(thresholds) > 1 and len(set(thresholds.values())) == 1:
            out[f"^{re.escape(name)}\\(.*\\)(@.*)?$"] = next(iter(thresholds.values()))
        else:
            out.update({f"^{re.escape(ident)}(@.*)?$": t for ident, t in thresholds.items()})
    return out


THRESHOLDS_BLOCK = re.compile(r'("regressions_thresholds":\s*)\{.*?\n    \}', re.S)


def write_asv_thresholds(conf: Path, thresholds: dict[str, float]) -> bool:
    """Rewrite the ``regressions_thresholds`` block of ``conf``; True if it changed."""
    text = conf.read_text()
    if not THRESHOLDS_BLOCK.search(text):
        raise UserError(f"{conf}: no \"regressions_thresholds\" block to rewrite")
    body = ",\n".join(f"        {json.dumps(k)}: {v:g}" for k, v in thresholds.items())
    new = THRESHOLDS_BLOCK.sub(lambda m: m.group(1) + "{\n" + body + "\n    }", text, count=1)
    if new != text:
        conf.write_text(new)
    return new != text
