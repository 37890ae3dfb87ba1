"""How a head is judged against its base, one function per kind of benchmark.

The numbers come from benchmarks/rules.toml (:mod:`scripts.judging.rules`):

- a **timing** regresses when it is slower by more than its factor *and*
  the difference is statistically significant (asv's Mann-Whitney test)
  *and*, where raw samples were recorded, the fastest sample is slower by
  the factor too: this machine's vCPU flips between a fast and a ~2x slower
  state for seconds at a time, which moves medians of identical code while
  the fastest samples move less (docs/measurements.md, "Noise");
- a **counter** regresses on any rise beyond its tolerance;
- a **rate** regresses below its minimum;
- a single-valued **track** regresses beyond its wider factor and floor;
- a benchmark that worked on the base and fails on the head regresses.
"""

from __future__ import annotations

import math

from scripts.bootstrap import ROOT
from scripts.judging.accept import accepting
from scripts.judging.budgets import check_budgets
from scripts.judging.rules import DEFAULT_FACTOR, Rules, load_rules
from scripts.judging.verdict import Finding, Verdict
from scripts.results import CommitResult, param_labels
from scripts.suite import INSTRUCTIONS, PHASES, BenchmarkId, is_nan


def compare_results(
    base: CommitResult | None,
    head: CommitResult | None,
    rules: Rules | None = None,
    *,
    factor: float = DEFAULT_FACTOR,
    enforce_budgets: bool | None = None,
) -> Verdict:
    """Decide on ``head`` against ``base``. Pure: no asv run, no files.

    ``rules`` defaults to this repository's benchmarks/rules.toml.
    ``enforce_budgets`` True or False overrides every budget's ``enforce``.
    """
    if rules is None:

        rules = load_rules(ROOT)
    verdict = Verdict(base=base.commit if base else "", head=head.commit if head else "", factor=factor)
    if base is None or head is None:
        side = "base" if base is None else "head"
        verdict.reason = f"no results for the {side} commit"
        return verdict
    if head.build_failed:
        verdict.reason = f"every benchmark failed on the head {head.commit[:8]}: it does not build or import"
        return verdict
    if base.build_failed:
        verdict.reason = f"every benchmark failed on the base {base.commit[:8]}: nothing to compare with"
        return verdict
    for name in sorted(set(base.values) | set(head.values)):
        verdict.findings += _compare_benchmark(base, head, name, rules, factor)
    judge_whole_first(verdict.findings)
    verdict.budgets = check_budgets(head, rules.budgets, enforce=enforce_budgets)
    return verdict


def _compare_benchmark(base: CommitResult, head: CommitResult, name: str, rules: Rules,
                       factor: float) -> list[Finding]:
    labels = param_labels(head.params.get(name) or base.params.get(name) or [])
    kind = rules.kind(name)
    unit = head.units.get(name) or base.units.get(name) or ("seconds" if kind == "time" else "")
    if name not in head.values:
        return [Finding(name, "", kind, unit, None, None, None, None, "missing", "not in the head's results")]
    if name not in base.values or base.versions.get(name) != head.versions.get(name):
        note = "new benchmark" if name not in base.values else "benchmark code changed: not comparable"
        out = []
        for i, label in enumerate(labels):
            after = _at(head.value_list(name), i)
            out.append(Finding(name, label, kind, unit, None, after, None, None,
                               "failed" if after is None else "new", note))
        return out
    out = []
    # The base's values by their parameters' labels: a parameter added or gone (a function of target_app
    # moved to a module of its own) must not shift every other parameter's comparison.
    where = {label: j for j, label in enumerate(param_labels(base.params.get(name) or []))}
    for i, label in enumerate(labels):
        if label not in where:
            out.append(Finding(name, label, kind, unit, None, _at(head.value_list(name), i), None, None, "new",
                               "a parameter the base does not have"))
            continue
        j = where[label]
        f = Finding(name, label, kind, unit, _at(base.value_list(name), j), _at(head.value_list(name), i), None,
                    None, "unchanged")
        if is_nan(f.before) or is_nan(f.after):
            f.note = "skipped (n/a) on one side"
        elif f.after is None and f.before is None:
            f.status, f.note = "failed", "fails on base and head"
        elif f.after is None:
            f.status, f.note = "regressed", "works on the base, fails on the head"
        elif f.before is None:
            f.status, f.note = "fixed", "failed on the base, works on the head"
        elif kind == "counter":
            judge_counter(f, rules)
        elif kind == "rate":
            judge_rate(f, rules)
        elif kind == "time":
            judge_time(f, rules.factor(f.id, name, factor),
                       _at(base.stats.get(name), j), _at(head.stats.get(name), i),
                       _at(base.samples.get(name), j), _at(head.samples.get(name), i))
        else:
            judge_track(f, rules, factor)
        out.append(f)
    return out


def _at(seq, i):
    return seq[i] if seq and i < len(seq) else None


def _ratio(f: Finding) -> float:
    before, after = float(f.before), float(f.after)
    f.ratio = after / before if before else (math.inf if after else 1.0)
    return f.ratio


def judge_counter(f: Finding, rules: Rules) -> None:
    """Any rise beyond the counter's tolerance regresses, whatever the timings do."""
    _ratio(f)
    rule = rules.counter(f.id, f.benchmark)
    f.significant = True
    if f.after > f.before * (1 + rule.relative) + rule.absolute:
        f.status = "regressed"
        f.note = f"counter rose beyond its tolerance ({rule.relative:.1%} + {rule.absolute:g})"
    elif f.after < f.before * (1 - rule.relative) - rule.absolute:
        f.status = "improved"


def judge_rate(f: Finding, rules: Rules) -> None:
    """A success rate below its minimum regresses."""
    _ratio(f)
    minimum = rules.rate(f.id, f.benchmark).minimum
    f.significant = True
    if f.after < minimum:
        f.status, f.note = "regressed", f"success rate {f.after:g}% is below {minimum:g}%"
    elif f.before < minimum:
        f.status = "improved"


def judge_time(f: Finding, factor: float, b_stats, h_stats, b_samp, h_samp) -> None:
    """Slower by ``factor``, significant, and the fastest sample slower too."""
    from asv._stats import is_different  # asv only in the venv: a module imports without it (the bootstrap)

    ratio = _ratio(f)
    if b_stats and h_stats:
        f.significant = bool(is_different(b_samp, h_samp, b_stats, h_stats))
    else:
        f.significant = None  # no statistics: the factor alone cannot convict
    fastest_agrees = True
    if b_samp and h_samp:
        f.min_ratio = min(h_samp) / min(b_samp) if min(b_samp) else None
        if f.min_ratio is not None:
            fastest_agrees = f.min_ratio > factor if ratio > factor else f.min_ratio < 1 / factor
    if ratio > factor and f.significant and fastest_agrees:
        f.status = "regressed"
    elif ratio < 1 / factor and f.significant and fastest_agrees:
        f.status = "improved"
    elif ratio > factor and not f.significant:
        f.note, f.noise = "slower, but not statistically significant", True
    elif ratio > factor:
        f.note, f.noise = f"median slower, but the fastest sample is not (×{f.min_ratio:.2f}): machine noise", True


def judge_track(f: Finding, rules: Rules, factor: float) -> None:
    """One value, no statistics: worse beyond the track's factor and its floor."""
    ratio = _ratio(f)
    rule = rules.track(f.id, f.benchmark, factor)
    f.significant = None
    worse_ratio = (f.before / f.after if f.after else math.inf) if rule.higher_is_better else ratio
    worsening = (f.before - f.after) if rule.higher_is_better else (f.after - f.before)
    if worse_ratio > rule.factor and worsening > rule.floor:
        f.status, f.note = "regressed", f"single-valued track beyond ×{rule.factor:g}"
    elif worse_ratio < 1 / rule.factor and -worsening > rule.floor:
        f.status = "improved"




def judge_whole_first(findings: list[Finding]) -> None:
    """An operation is judged as a whole before its parts: where its instructions in total improved beyond
    their tolerance, a phase that rose is cost that moved between phases (status "moved"), not a
    regression. A phase still regresses where the total did not improve."""
    def operation(f: Finding) -> str | None:
        return next(iter(BenchmarkId(f.benchmark, f.params).values), None)

    improved = {operation(f) for f in findings if f.benchmark == INSTRUCTIONS and f.status == "improved"}
    for f in findings:
        op = operation(f) if f.benchmark == PHASES else None
        if f.status == "regressed" and op is not None and op in improved and f.after is not None:
            f.status = "moved"
            f.note = f"moved between phases: {op} as a whole improved beyond its tolerance"


def apply_acceptances(verdict: Verdict, found: list) -> None:
    """Regressions that an ``Accept-Regression`` trailer covers become "accepted" (scripts/judging/accept.py); those it
    names but does not cover stay regressions, and say how far the acceptance went."""
    for f in verdict.findings:
        if f.status != "regressed":
            continue
        covering, short = accepting(found, f.id, f.before, f.after)
        if covering:
            f.status, f.note = "accepted", covering.describe()
        elif short:
            f.note = f"beyond what is accepted: {short.describe()}"


def confirm_timings(first: Verdict, second: Verdict) -> list[Finding]:
    """Keep a timing regression only where a second, independent run shows it too.

    On a machine whose speed wanders for seconds at a time, one run's timing
    can cross any factor by chance; a real slowdown crosses it again. Every
    other kind of finding is deterministic and stands as it is. Returns the
    findings demoted to noise.
    """
    again = {f.id for f in second.regressions}
    demoted = []
    for f in first.findings:
        if f.status == "regressed" and f.kind in CONFIRMED and f.before is not None and f.after is not None \
                and f.id not in again:
            f.status, f.noise = "unchanged", True
            what = "median slower" if f.kind == "time" else "worse"
            f.note = (f"{what} (×{f.ratio:.2f}) in the first run only; a second interleaved run did not "
                      "confirm it: machine noise")
            demoted.append(f)
    return demoted


# What a second interleaved run must confirm: the timings, and the single-valued tracks (the live server's
# latency and throughput), which move with the machine as timings do and have no statistics of their own.
CONFIRMED = ("time", "track")
