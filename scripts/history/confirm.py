"""A timing step the history would list is measured again before it is listed, as the gate confirms its own.

The history measures each commit once, at its own time. On this machine a
burst of slowness moves every timing of a commit together (2026-12-07: all
ten routes of one commit ×1.6-1.8, its exact set-up 46 s instead of ~37 s),
and a timing can then cross its calibrated factor by chance. A real
slowdown crosses it again. So each step of a timing or a single-valued
track (what the gate confirms: scripts/judging/judge.py, ``CONFIRMED``)
that the judge finds is run again, the commit before it and the commit of
the step interleaved, and judged by the same rules; one that does not
regress again is recorded as not confirmed and no longer listed, on the
site or in the terminal. The counters are exact and never run again.

The record (``.asv/confirmations/<machine>.json``) is kept per step: the
benchmark, the commit before it and the commit where it started. A later
step of the same benchmark is confirmed anew.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from scripts.asvtool import Project, side_project
from scripts.judging.judge import CONFIRMED, compare_results
from scripts.judging.rules import DEFAULT_FACTOR, Rules, load_rules
from scripts.results import CommitResult, load_results
from scripts.suite import only_ids

LEDGER_DIR = Path(".asv") / "confirmations"
RUNS_DIR = Path(".asv") / "confirm"
ROUNDS = 3  # as the gate's second run

# Runs ``regex`` at the commit before a step and at the step's commit, interleaved; returns their results.
Measure = Callable[[str, str, str], dict[str, CommitResult]]


def step_key(benchmark: str, before_commit: str, commit: str) -> str:
    return f"{before_commit}..{commit} {benchmark}"


def ledger_path(root: Path, machine: str) -> Path:
    return root / LEDGER_DIR / f"{machine}.json"


def read_ledger(root: Path, machine: str) -> dict[str, dict]:
    path = ledger_path(root, machine)
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        return {}


def drop_not_confirmed(found: list, ledger: dict[str, dict]) -> list:
    """``found`` without the steps a second run did not show (those confirmed, or never run again, stay)."""
    return [r for r in found
            if ledger.get(step_key(r.benchmark, r.before_commit, r.commit), {}).get("confirmed") is not False]


def suspects(found: list, ledger: dict[str, dict]) -> dict[tuple[str, str], list]:
    """The steps to run again, by (commit before, commit): timings and single-valued tracks not yet run again,
    and not accepted on purpose (an accepted step is listed as accepted either way)."""
    out: dict[tuple[str, str], list] = {}
    for r in found:
        if r.kind in CONFIRMED and r.before is not None and r.after is not None and not r.accepted \
                and step_key(r.benchmark, r.before_commit, r.commit) not in ledger:
            out.setdefault((r.before_commit, r.commit), []).append(r)
    return out


def confirm(found: list, ledger: dict[str, dict], measure: Measure, rules: Rules, *,
            factor: float = DEFAULT_FACTOR, out=sys.stderr) -> list:
    """Run each suspect step again (``measure``), record in ``ledger`` whether it regressed again, and return
    those it did not."""
    demoted = []
    for (before, commit), steps in suspects(found, ledger).items():
        regex = only_ids(r.benchmark for r in steps)
        print(f"[history] confirming {len(steps)} timing or track regression(s) at {commit[:8]} with a second "
              f"run, {before[:8]} and {commit[:8]} interleaved", file=out, flush=True)
        again = measure(before, commit, regex)
        if before not in again or commit not in again:
            print(f"[history] the second run measured no results at {before[:8]} and {commit[:8]}: their steps "
                  "stay listed", file=out, flush=True)
            continue
        second = compare_results(again[before], again[commit], rules, factor=factor)
        found_again = {f.id: f for f in second.findings}
        for r in steps:
            f = found_again.get(r.benchmark)
            if f is None or f.before is None or f.after is None:
                print(f"[history] {r.benchmark} did not run again at {before[:8]} and {commit[:8]}: it stays "
                      "listed", file=out, flush=True)
                continue
            confirmed = f.status == "regressed"
            ledger[step_key(r.benchmark, before, commit)] = {
                "confirmed": confirmed, "first": [r.before, r.after],
                "again": [f.before, f.after],
                "on": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
            if not confirmed:
                print(f"[history] not confirmed: {r.benchmark} at {commit[:8]} (×{r.ratio:.2f} in the history's "
                      f"run, ×{f.ratio:.2f} again): machine noise", file=out, flush=True)
                demoted.append(r)
    return demoted


def asv_measure(project: Project, *, quick: bool = False) -> Measure:
    """Run the steps again with asv, into a results folder of their own (the history's results stay as they
    were measured)."""
    def measure(before: str, commit: str, regex: str) -> dict[str, CommitResult]:
        results_dir = project.root / RUNS_DIR / project.machine / f"{before[:8]}-{commit[:8]}" / "results"
        shutil.rmtree(results_dir, ignore_errors=True)
        side = side_project(project, results_dir)
        side.run([before, commit], bench=[regex], quick=quick, rounds=ROUNDS, interleave=True)
        return load_results(results_dir, project.machine)

    return measure


def confirm_history(project: Project, found: list, *, quick: bool = False, factor: float = DEFAULT_FACTOR,
                    out=sys.stderr) -> list:
    """Confirm the history's timing steps not run again yet, and keep the record; returns those demoted now."""
    ledger = read_ledger(project.root, project.machine)
    if not suspects(found, ledger):
        return []
    demoted = confirm(found, ledger, asv_measure(project, quick=quick), load_rules(project.root), factor=factor,
                      out=out)
    path = ledger_path(project.root, project.machine)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ledger, indent=1, sort_keys=True))
    return demoted
