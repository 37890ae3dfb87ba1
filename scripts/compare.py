"""``compare BASE HEAD``: benchmark the merge base and the head, interleaved, and gate."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.asvtool import Project, callgrind_env, load_results, machine_name
from scripts.errors import UserError
from scripts.gate import DEFAULT_FACTOR, Verdict, compare_results, confirm_timings, load_budgets, timing_factors
from scripts.history import git


@dataclass
class Pair:
    base: str
    head: str


def resolve_pair(root: Path, base: str, head: str, merge_base: bool = True) -> Pair:
    """Full hashes of the merge base of ``base`` and ``head``, and of ``head``."""
    head_sha = git(root, "rev-parse", "--verify", "--quiet", f"{head}^{{commit}}").strip()
    base_sha = git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").strip()
    if merge_base:
        base_sha = git(root, "merge-base", base_sha, head_sha).strip()
    if base_sha == head_sha:
        raise UserError(f"base and head are the same commit ({head_sha[:8]}): nothing to compare")
    return Pair(base_sha, head_sha)


def gate_config(project: Project, results_dir: Path) -> Path:
    """A copy of asv.conf.json that writes to ``results_dir`` and shares the environments."""
    from asv import util

    conf = util.load_json(str(project.root / project.config), js_comments=True)
    conf["repo"] = str(project.root)
    conf["results_dir"] = str(results_dir)
    conf["html_dir"] = str(results_dir.parent / "html")
    conf["env_dir"] = str((project.root / conf.get("env_dir", "env")).resolve())
    conf["benchmark_dir"] = str((project.root / conf.get("benchmark_dir", "benchmarks")).resolve())
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir.parent / "asv.gate.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


# Deterministic benchmarks: one round each is exact, so they are not
# interleaved (each round would re-run their setup_cache: ~20 s of valgrind).
EXACT = r"^bench_(counters|instructions)\."
NOT_EXACT = r"^(?!bench_(counters|instructions)\.)"


def run_pair(project: Project, pair: Pair, out_dir: Path, *, bench: list[str] | None = None,
             quick: bool = False, rounds: int = 3, callgrind: bool = True) -> Path:
    """Run base and head into ``out_dir/results``, rounds interleaved between them.

    Without ``bench``, the exact counters and instruction counts run once
    per side, and the rest with ``rounds`` interleaved rounds. Instruction
    counts (callgrind) are on unless ``callgrind`` is False.
    """
    results_dir = out_dir / "results"
    config = gate_config(project, results_dir)
    gate_project = Project(project.root, str(config.relative_to(project.root)) if config.is_relative_to(
        project.root) else str(config))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(f"{pair.base}\n{pair.head}\n")
    common = ["run", f"HASHFILE:{fh.name}", "--machine", machine_name(), "--record-samples"]
    if quick:
        common.append("--quick")
    interleaved = ["--interleave-rounds", "-a", f"rounds={rounds}"]
    if bench:
        runs = [[*common, *interleaved, *[a for regex in bench for a in ("--bench", regex)]]]
    else:
        runs = [[*common, "-a", "rounds=1", "--bench", EXACT], [*common, *interleaved, "--bench", NOT_EXACT]]
    try:
        for args in runs:
            proc = gate_project.asv(*args, env=callgrind_env(callgrind))
            if proc.returncode not in (0, 2):  # 2: some benchmark failed, which the gate judges
                raise UserError(f"asv run exited with {proc.returncode}")
    finally:
        Path(fh.name).unlink(missing_ok=True)
    return results_dir


def gate(
    project: Project,
    base: str,
    head: str,
    *,
    run: bool = True,
    results: Path | None = None,
    base_results: Path | None = None,
    head_results: Path | None = None,
    factor: float = DEFAULT_FACTOR,
    bench: list[str] | None = None,
    quick: bool = False,
    rounds: int = 3,
    merge_base: bool = True,
    out_dir: Path | None = None,
    enforce_budgets: bool | None = None,
    confirm: bool = True,
    callgrind: bool = True,
) -> Verdict:
    """Benchmark (unless ``run`` is False) and decide. Pure apart from the asv runs.

    With ``confirm``, a timing that regressed is run again, base and head
    interleaved, and stays a regression only if it regresses again.
    """
    if factor <= 1.0:
        raise UserError("--factor must be greater than 1")
    machine = machine_name()
    if base_results or head_results:
        if not (base_results and head_results):
            raise UserError("give both --base-results and --head-results")
        # Two result sets, possibly of the same commit (an A/A comparison).
        base_sha = git(project.root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").strip()
        head_sha = git(project.root, "rev-parse", "--verify", "--quiet", f"{head}^{{commit}}").strip()
        base_res = load_results(base_results, machine).get(base_sha)
        head_res = load_results(head_results, machine).get(head_sha)
    else:
        pair = resolve_pair(project.root, base, head, merge_base=merge_base)
        if run:
            out = out_dir or project.root / ".asv" / "gate"
            results = run_pair(project, pair, out, bench=bench, quick=quick, rounds=rounds, callgrind=callgrind)
        results = results or project.results_dir
        loaded = load_results(results, machine)
        base_res, head_res = loaded.get(pair.base), loaded.get(pair.head)
    budgets = load_budgets(project.root / "benchmarks" / "budgets.toml")
    if enforce_budgets is not None:
        budgets = [dict(b, enforce=enforce_budgets) for b in budgets]
    factors = timing_factors(project.root, factor)
    verdict = compare_results(base_res, head_res, factor=factor, factors=factors, budgets=budgets)
    if run and confirm and not (base_results or head_results):
        out = (out_dir or project.root / ".asv" / "gate") / "confirm"
        confirm_run(project, pair, verdict, factor=factor, factors=factors, out=out, quick=quick, rounds=rounds)
    return verdict


def confirm_run(project: Project, pair: Pair, verdict: Verdict, *, factor: float, factors: dict[str, float],
                out: Path, quick: bool = False, rounds: int = 3) -> list:
    """Run the timings that regressed again (base and head interleaved) and
    demote those that do not regress again. Returns the demoted findings."""
    suspects = sorted({f.id for f in verdict.regressions if f.kind == "time"})
    if not suspects:
        return []
    print(f"[gate] confirming {len(suspects)} timing regression(s) with a second interleaved run", file=sys.stderr,
          flush=True)
    shutil.rmtree(out, ignore_errors=True)
    # asv matches a parameterized benchmark's regex against "name(params)":
    # the finding's id, so only the suspect parameters run again.
    regex = "^(" + "|".join(re.escape(name) for name in suspects) + ")$"
    again = load_results(run_pair(project, pair, out, bench=[regex], quick=quick, rounds=rounds), machine_name())
    second = compare_results(again.get(pair.base), again.get(pair.head), factor=factor, factors=factors)
    demoted = confirm_timings(verdict, second)
    for f in demoted:
        print(f"[gate] not confirmed: {f.id}", file=sys.stderr, flush=True)
    return demoted


def print_reason(verdict: Verdict) -> None:
    if verdict.exit_code == 2:
        print(f"gate: could not decide: {verdict.reason or 'a benchmark failed on both sides'}", file=sys.stderr)
