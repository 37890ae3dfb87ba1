"""``calibrate``: prove the suite catches planted regressions and stays quiet otherwise.

1. Plant (:mod:`.plants`): clone this repository into a throwaway folder
   and add commits to its main: no-ops, and each known regression as a real
   code change.
2. Run the suite over that history and publish the site.
3. Check each planted commit: the gate between its parent and it exits 1
   naming the expected benchmarks; the site's regressions list flags it at
   that exact commit; ``asv find`` (bisect) names it. Check each no-op: the
   gate passes and the site flags nothing there.
4. A/A (:mod:`.noise`): run one commit K times and gate every consecutive pair.
5. Report (:mod:`.report`): Markdown, JSON and an SVG plot of each
   benchmark's noise floor.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

from scripts.asvtool import Project, machine_name
from scripts.calibrate.noise import aa_runs, noise_floors, suggest_factors
from scripts.calibrate.plants import PLANTS, Plant, plant_history, share_environments
from scripts.calibrate.report import PlantCheck, Report, to_markdown, write_report
from scripts.errors import UserError
from scripts.gate.pull_request import Pair, confirm_run
from scripts.history.regressions import commit_order, current_regressions, find_regressions, load_errors
from scripts.history.run import run_history
from scripts.judging.judge import compare_results
from scripts.judging.rules import DEFAULT_FACTOR, Rules, load_rules
from scripts.results import load_results
from scripts.site.publish import publish_site
from scripts.suite import HOMEPAGE_TIME, INSTRUCTIONS, benchmark_name


def site_regressions(html_dir: Path) -> dict[str, set[str]]:
    """Benchmark id -> commits at which the site's regressions page flags a step."""
    path = html_dir / "regressions.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    revisions = json.loads((html_dir / "index.json").read_text()).get("revision_to_hash", {})
    out: dict[str, set[str]] = {}
    for entry in data.get("regressions", []):
        # [id with params, graph, params, ..., [[rev_before, rev_after, before, after], ...]]
        name, jumps = entry[0], entry[-1]
        for jump in jumps or []:
            out.setdefault(name, set()).add(revisions.get(str(jump[1]), ""))
    return out


def flagged_ids(verdict) -> list[str]:
    return [f.id for f in verdict.regressions]


def matches(ids, patterns) -> list[str]:
    return [i for i in ids if any(re.search(p, i) for p in patterns)]


def _gate_existing(results: Path, base: str, head: str, rules: Rules, factor: float):
    loaded = load_results(results, machine_name())
    return compare_results(loaded.get(base), loaded.get(head), rules, factor=factor)


def regressions_by_commit(clone: Project, rules: Rules, factor: float) -> dict[str, list[str]]:
    """Commit -> the ids that ``python3 -m scripts regressions`` lists there, on the planted history."""

    machine = clone.machine
    found = find_regressions(load_results(clone.results_dir, machine), commit_order(clone.root), rules,
                             factor=factor, errors=load_errors(clone.root, machine))
    out: dict[str, list[str]] = {}
    for r in found:
        out.setdefault(r.commit, []).append(r.benchmark)
    return out


def bisect(repo: Project, good: str, bad: str, pattern: str) -> str | None:
    """``asv find good..bad pattern``: the commit asv blames, or None."""
    proc = repo.asv("find", f"{good}..{bad}", pattern, "--machine", repo.machine, capture=True)
    text = proc.stdout + proc.stderr
    found = re.findall(r"Greatest regression found: ([0-9a-f]{8})", text)
    return found[-1] if found else None


def rejudge(workdir: Path, commits: dict[str, str], plants: tuple[Plant, ...], factor: float,
            rules: Rules) -> dict[str, dict]:
    """The gate's verdict on each plant again, with ``rules`` (no new runs)."""
    results = workdir / "repo" / ".asv" / "results"
    machine = machine_name()
    loaded = load_results(results, machine)
    order = ["base", *[p.key for p in plants]]
    out = {}
    for i, plant in enumerate(plants):
        v = compare_results(loaded.get(commits[order[i]]), loaded.get(commits[plant.key]), rules, factor=factor)
        flagged = flagged_ids(v)
        caught = bool(plant.expected) and v.exit_code == 1 and bool(matches(flagged, plant.expected))
        out[plant.key] = {"exit": v.exit_code, "flagged": flagged, "caught": caught,
                          "false_alarm": not plant.expected and v.exit_code == 1}
    return out


def calibrate(project: Project, workdir: Path, *, factor: float = DEFAULT_FACTOR, aa: int = 6,
              plants: tuple[Plant, ...] = PLANTS, bench: list[str] | None = None, quick: bool = False,
              do_bisect: bool = True, callgrind: bool = True) -> Report:
    """Plant, run, check and report (docs/measurements.md, "Proving it catches regressions", has its cost)."""

    start = time.monotonic()
    if aa < 2 and aa != 0:
        raise UserError("--aa must be 0 or at least 2")
    workdir.mkdir(parents=True, exist_ok=True)
    commits = plant_history(project.root, workdir, plants)
    repo = workdir / "repo"
    share_environments(project, repo)
    clone = Project(repo)
    rules = load_rules(project.root)
    order = ["base", *[p.key for p in plants]]
    print(f"[calibrate] planted {len(plants)} commits in {repo}", flush=True)
    run_history(clone, [commits[k] for k in order], quick=quick, bench=bench, callgrind=callgrind)
    publish_site(clone, current_regressions(clone))
    regs = site_regressions(clone.html_dir)
    listed = regressions_by_commit(clone, rules, factor)
    report = Report(factor=factor)
    for i, plant in enumerate(plants):
        parent, commit = commits[order[i]], commits[plant.key]
        verdict = _gate_existing(clone.results_dir, parent, commit, rules, factor)
        # As the gate does: a timing regression must show again in a second,
        # interleaved run of base and head.
        confirm_run(clone, Pair(parent, commit), verdict, rules, factor=factor, out=workdir / "confirm" / plant.key,
                    quick=quick)
        flagged = flagged_ids(verdict)
        site = sorted(name for name, at in regs.items() if commit in at)
        check = PlantCheck(plant.key, plant.title, commit[:8], list(plant.expected), verdict.exit_code, flagged,
                           site, listed=listed.get(commit, []))
        if plant.is_noop:
            # Crying wolf is claiming a regression (exit 1), here or on the
            # site. Exit 2 ("could not decide": a benchmark fails on both
            # sides, as after plant h) claims nothing.
            check.false_alarm = verdict.exit_code == 1 or bool(site) or bool(check.listed)
        else:
            check.caught = verdict.exit_code == 1 and bool(matches(flagged, plant.expected))
            check.at_exact_commit = bool(matches(site, plant.expected))
            check.listed_at_commit = bool(matches(check.listed, plant.expected))
            if do_bisect and check.caught:
                # Bisect on the cheapest expected benchmark, not the instruction counts (valgrind).
                candidates = matches(flagged, plant.expected)
                target = next((c for c in candidates if "track_instructions" not in c), candidates[0])
                pattern = re.escape(benchmark_name(target))
                check.bisect = bisect(clone, commits[order[0]], commit if i + 1 == len(plants) else commits[
                    order[i + 1]], pattern)
        report.plants.append(check)
        print(f"[calibrate] {plant.key}: gate exit {verdict.exit_code}, flagged {flagged[:4]}", flush=True)
    if aa:
        dirs = aa_runs(repo, commits["base"], aa, bench, workdir)
        machine = machine_name()
        for i in range(1, len(dirs)):
            base = load_results(dirs[i - 1], machine).get(commits["base"])
            head = load_results(dirs[i], machine).get(commits["base"])
            v = compare_results(base, head, rules, factor=factor)
            report.aa_pairs += 1
            report.aa_false_positives += [f"pair {i}: {f}" for f in flagged_ids(v)]
        report.noise, report.aa_min_ratio = noise_floors(dirs, commits["base"])
        report.suggested_factors = suggest_factors(dirs, commits["base"], factor)
        current = rules.factors
        merged = {**current, **{k: max(v, current.get(k, 0)) for k, v in report.suggested_factors.items()}}
        report.rejudged = rejudge(workdir, commits, plants, factor, dataclasses.replace(rules, factors=merged))
    home = report.aa_min_ratio.get(HOMEPAGE_TIME)
    caught_a = next((p.caught for p in report.plants if p.key == "a"), None)
    tolerance = rules.counter("", INSTRUCTIONS).relative
    report.smallest_cpu_caught = (
        f"instructions: above their {tolerance:.1%} tolerance (the sweep's cpu mutants, 1.5% of a route, are all "
        f"caught); "
        f"homepage timing: the 10% plant {'was' if caught_a else 'was NOT'} caught"
        + (f"; same-code fastest samples moved up to x{home:.3f}" if home else "; no A/A data")
    )
    report.wall_seconds = time.monotonic() - start
    return report


def main_calibrate(project: Project, out: Path, **kwargs) -> int:
    report = calibrate(project, out / "work", **kwargs)
    write_report(report, out)
    print(to_markdown(report))
    print(f"[calibrate] report: {out / 'report.md'} (and report.json, noise.svg)")
    missed = [p for p in report.plants if p.expected and not p.caught]
    noisy = report.aa_false_positives or [p for p in report.plants if p.false_alarm]
    return 1 if missed or noisy else 0
