"""Same-code (A/A) runs: how much each timing moves on its own, and the factors that would not cross it."""

from __future__ import annotations

import statistics
from pathlib import Path

from scripts.asvtool import Project, machine_name, side_project
from scripts.judging.judge import compare_results
from scripts.judging.rules import Rules
from scripts.results import load_results, param_labels
from scripts.suite import benchmark_id, is_timing


def aa_runs(repo: Path, commit: str, k: int, bench: list[str] | None, workdir: Path) -> list[Path]:
    """Run ``commit`` k times into k result folders (same environment)."""
    # Timings' noise is what A/A measures; the instruction counts' spread is
    # measured by the no-op commits of the planted history.
    dirs = []
    for i in range(k):
        results = workdir / f"aa{i}" / "results"
        print(f"[calibrate] A/A run {i + 1} of {k}", flush=True)
        side_project(Project(repo), results).run([commit], bench=bench, callgrind=False)
        dirs.append(results)
    return dirs


def noise_floors(dirs: list[Path], commit: str) -> tuple[dict[str, float], dict[str, float]]:
    """Per timing: median IQR/median over runs, and the worst fastest-sample ratio between runs."""
    machine = machine_name()
    runs = [r for r in (load_results(d, machine).get(commit) for d in dirs) if r is not None]
    iqr: dict[str, list[float]] = {}
    fastest: dict[str, list[float]] = {}
    for r in runs:
        for name, stats in r.stats.items():
            if not is_timing(name):
                continue
            labels = param_labels(r.params.get(name) or [])
            for label, st, samples in zip(labels, stats or [], r.samples.get(name) or [], strict=False):
                ident = benchmark_id(name, label)
                if not samples:
                    continue
                med = statistics.median(samples)
                if st and st.get("q_25") is not None and med:
                    iqr.setdefault(ident, []).append((st["q_75"] - st["q_25"]) / med)
                fastest.setdefault(ident, []).append(min(samples))
    floors = {k: statistics.median(v) for k, v in iqr.items()}
    worst = {k: max(v) / min(v) for k, v in fastest.items() if len(v) > 1 and min(v) > 0}
    return floors, worst


def suggest_factors(dirs: list[Path], commit: str, factor: float, margin: float = 1.25) -> dict[str, float]:
    """Per-timing factors that the A/A runs would not have crossed.

    The gate flags a timing when its median *and* its fastest sample are
    slower by the factor; for each benchmark this takes the worst such
    same-code move over every pair of runs, times ``margin``, and keeps it
    where it is above the global ``factor``. A few runs see only part of
    the tail, hence the margin (docs/measurements.md, "Noise", has what it was measured to do).
    """
    machine = machine_name()
    runs = [r for r in (load_results(d, machine).get(commit) for d in dirs) if r is not None]
    worst: dict[str, float] = {}
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            for first, second in ((a, b), (b, a)):
                v = compare_results(first, second, Rules(), factor=1.000001)  # no factors of its own
                for f in v.findings:
                    if f.kind != "time" or not f.ratio or f.before is None or f.after is None:
                        continue
                    move = min(f.ratio, f.min_ratio or f.ratio)
                    worst[f.id] = max(worst.get(f.id, 1.0), move)
    return {k: round(v * margin, 2) for k, v in sorted(worst.items()) if v * margin > factor}
