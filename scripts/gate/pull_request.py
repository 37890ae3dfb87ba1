"""``compare BASE HEAD``: measure the merge base and the head, interleaved, and judge the pull request."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from scripts.asvtool import InstallErrors, Project, side_project
from scripts.coverage import changed_lines, commit_coverage, uncovered_changes
from scripts.errors import UserError
from scripts.explain import explain
from scripts.git import commit_hash, commits_between, git, last_tag, trailers
from scripts.judging import accept
from scripts.judging.judge import CONFIRMED, apply_acceptances, compare_results, confirm_timings
from scripts.judging.ledger import apply_ledger, covered
from scripts.judging.rules import DEFAULT_FACTOR, Rules, load_rules
from scripts.judging.verdict import Verdict
from scripts.locks import changes_between
from scripts.results import load_results
from scripts.shared import EXACT, OTHER_TRACKS, measured_alike, share
from scripts.suite import CALLGRIND_MODULES, benchmark_name, only_ids


@dataclass
class Pair:
    base: str
    head: str


def resolve_pair(root: Path, base: str, head: str, merge_base: bool = True) -> Pair:
    """Full hashes of the merge base of ``base`` and ``head``, and of ``head``."""
    head_sha = commit_hash(root, head)
    base_sha = commit_hash(root, base)
    if merge_base:
        base_sha = git(root, "merge-base", base_sha, head_sha).strip()
    if base_sha == head_sha:
        raise UserError(f"base and head are the same commit ({head_sha[:8]}): nothing to compare")
    return Pair(base_sha, head_sha)


# Only timings take samples over rounds. asv keeps a track's value from one
# round, so every track (the exact counters, the instruction counts and the
# live-server loads) runs once per side; more rounds would only re-run their
# setup_cache (valgrind, a server) for values asv drops.
TRACKS = r"^(?!.*\.time(raw)?_)"
TIMINGS = r"\.time(raw)?_"


def run_pair(project: Project, pair: Pair, out_dir: Path, *, bench: list[str] | None = None,
             quick: bool = False, rounds: int = 3, callgrind: bool = True,
             installs: InstallErrors | None = None) -> Path:
    """Run base and head into ``out_dir/results``, rounds interleaved between them.

    Without ``bench``, the tracks run once per side and the timings with
    ``rounds`` interleaved rounds; the base's exact benchmarks are taken
    from the history where it measured them alike (scripts/shared.py), and
    measured otherwise. ``installs`` keeps why a side could not be installed.
    """
    results_dir = out_dir / "results"
    # A gate judges what it measured: a folder kept from an earlier gate (another --bench, an older suite)
    # would hold rows of these commits that this run did not measure.
    shutil.rmtree(results_dir, ignore_errors=True)
    side = side_project(project, results_dir)

    def run(commits: list[str], **options) -> None:
        proc = side.run(commits, quick=quick, callgrind=callgrind, on_line=installs, **options)
        if proc.returncode not in (0, 2):  # 2: some benchmark failed, which the gate judges
            raise UserError(f"asv run exited with {proc.returncode}")

    if bench:
        run([pair.base, pair.head], bench=bench, rounds=rounds, interleave=True)
        return results_dir
    source = measured_alike(project.root, project.results_dir, project.machine, pair.base, callgrind)
    if source is None:
        run([pair.base, pair.head], bench=[TRACKS], rounds=1)
    else:
        print(f"[gate] the base's exact counts: the history's of {source[:8]}, measured alike (the same app and "
              "lock, suite, environment and valgrind)", file=sys.stderr, flush=True)
        run([pair.base], bench=[OTHER_TRACKS], rounds=1)
        if not share(project.results_dir, source, results_dir, project.machine, pair.base):
            print("[gate] they could not be shared: measuring them", file=sys.stderr, flush=True)
            run([pair.base], bench=[EXACT], rounds=1)
        run([pair.head], bench=[TRACKS], rounds=1)
    run([pair.base, pair.head], bench=[TIMINGS], rounds=rounds, interleave=True)
    return results_dir


@dataclass(frozen=True)
class GateOptions:
    """How ``compare`` measures and judges a pull request, as its command line gives it.

    ``run``: benchmark both sides (else judge the ``results`` already there);
    ``confirm``: run a timing that regressed again, base and head
    interleaved, and keep it only if it regresses again; ``explain``: attach
    to each counter regression what changed in its operation.
    """

    run: bool = True
    results: Path | None = None
    factor: float = DEFAULT_FACTOR
    bench: list[str] | None = None
    quick: bool = False
    rounds: int = 3
    merge_base: bool = True
    enforce_budgets: bool | None = None
    confirm: bool = True
    callgrind: bool = True
    explain: bool = True


DEFAULT_OPTIONS = GateOptions()


def _check_factor(factor: float) -> None:
    if factor <= 1.0:
        raise UserError("--factor must be greater than 1")


def gate_pull_request(project: Project, base: str, head: str, options: GateOptions = DEFAULT_OPTIONS) -> Verdict:
    """Measure the merge base and the head (unless ``options.run`` is False), judge, confirm, apply what the
    pull request accepts, and explain. Pure apart from the asv runs."""
    o = options
    _check_factor(o.factor)
    rules = load_rules(project.root)
    out = project.root / ".asv" / "gate"
    pair = resolve_pair(project.root, base, head, merge_base=o.merge_base)
    installs = InstallErrors()
    results = o.results
    if o.run:
        results = run_pair(project, pair, out, bench=o.bench, quick=o.quick, rounds=o.rounds,
                           callgrind=o.callgrind, installs=installs)
    loaded = load_results(results or project.results_dir, project.machine)
    verdict = compare_results(loaded.get(pair.base), loaded.get(pair.head), rules, factor=o.factor,
                              enforce_budgets=o.enforce_budgets)
    name_the_unmeasurable(verdict, installs)
    verdict.dependencies = changes_between(project.root, pair.base, pair.head)
    verdict.uncovered = uncovered_lines(project.root, pair)
    if o.run and o.confirm:
        confirm_run(project, pair, verdict, rules, factor=o.factor, out=out / "confirm", quick=o.quick,
                    rounds=o.rounds)
    added = commits_between(project.root, pair.base, pair.head)
    apply_acceptances(verdict, accept.read(trailers(project.root, added, accept.TRAILER)))
    if covered(verdict, rules):
        hold_to_ledger(project, pair, verdict, rules, loaded, out=out / "ledger", measure=o.run, quick=o.quick,
                       callgrind=o.callgrind)
    if o.explain and verdict.regressions:
        explain_regressions(project, pair, verdict)
    return verdict


def judge_result_sets(project: Project, base: str, head: str, base_results: Path, head_results: Path, *,
                      factor: float = DEFAULT_FACTOR, enforce_budgets: bool | None = None) -> Verdict:
    """Judge ``head`` in ``head_results`` against ``base`` in ``base_results``, as measured: possibly the
    same commit twice (an A/A comparison), so no pull request's changes, acceptances or explanations."""
    _check_factor(factor)
    base_res = load_results(base_results, project.machine).get(commit_hash(project.root, base))
    head_res = load_results(head_results, project.machine).get(commit_hash(project.root, head))
    return compare_results(base_res, head_res, load_rules(project.root), factor=factor,
                           enforce_budgets=enforce_budgets)


def hold_to_ledger(project: Project, pair: Pair, verdict: Verdict, rules: Rules, loaded: dict, *, out: Path,
                   measure: bool, quick: bool = False, callgrind: bool = True) -> None:
    """Hold what the pull request accepts against the ledger since the baseline (``[ledger] baseline`` in
    benchmarks/rules.toml, else the newest release tag before the base). The baseline's values come from the
    results at hand (the base's, the history's), else from a run of it for the accepted benchmarks alone."""
    name = rules.baseline or last_tag(project.root, pair.base)
    if not name:
        print("[gate] no ledger baseline (no release tag, no [ledger] baseline): accepted costs are not added up",
              file=sys.stderr, flush=True)
        return
    commit = commit_hash(project.root, name)
    ids = [f.id for f in covered(verdict, rules)]
    head = loaded.get(pair.head)
    result = loaded.get(commit) or load_results(project.results_dir, project.machine, commit).get(commit)
    if result is not None and head is not None and any(
            result.versions.get(benchmark_name(i)) != head.versions.get(benchmark_name(i)) for i in ids):
        result = None  # measured by another version of a benchmark: not comparable
    if result is None and measure:
        print(f"[gate] measuring the ledger's baseline {name} for {len(ids)} accepted benchmark(s)",
              file=sys.stderr, flush=True)
        side = side_project(project, out / "results")
        side.run([commit], bench=[only_ids(ids)], quick=quick,
                 callgrind=callgrind)
        result = load_results(side.results_dir, project.machine, commit).get(commit)
    apply_ledger(verdict, result, name, rules)


def name_the_unmeasurable(verdict: Verdict, installs: InstallErrors) -> None:
    """Where a side did not build, its reason says why, in one line, as the install said it ("the head's
    lock cannot be installed: no version of sqlalchemy==2.0.999")."""
    for side, commit in (("head", verdict.head), ("base", verdict.base)):
        said = installs.of(commit) if commit else ""
        if said and verdict.reason.startswith(f"every benchmark failed on the {side}"):
            verdict.reason = f"the {side}'s {said.removeprefix('the ')}"


def uncovered_lines(root: Path, pair: Pair) -> list[str]:
    """The head's changed lines of target_app that no measured operation runs (none where target_app did not
    change); the gate goes on without them where they cannot be measured."""
    changed = changed_lines(root, pair.base, pair.head)
    if not changed:
        return []
    try:
        return uncovered_changes(commit_coverage(root, pair.head), changed)
    except UserError as exc:
        print(f"[gate] {exc}", file=sys.stderr, flush=True)
        return []


def explain_regressions(project: Project, pair: Pair, verdict: Verdict) -> None:
    """Attach to each counter regression what changed in its operation (statements, calls, memory;
    for an instruction count, also the functions that cost more under callgrind).

    An explanation that cannot be made is reported, and the verdict stands.
    """
    wanted = [f for f in verdict.regressions if f.kind == "counter"]
    if not wanted:
        return
    print(f"[gate] explaining {len(wanted)} counter regression(s)", file=sys.stderr, flush=True)
    try:
        explained, ids = explain(project, pair.base, pair.head, [f.id for f in wanted],
                                 functions_for=[f.id for f in wanted if f.id.startswith(CALLGRIND_MODULES)])
    except UserError as exc:
        print(f"[gate] no explanation: {exc}", file=sys.stderr, flush=True)
        return
    for f in wanted:
        if ids.get(f.id) in explained:
            f.explanation = explained[ids[f.id]]


def confirm_run(project: Project, pair: Pair, verdict: Verdict, rules: Rules, *, factor: float, out: Path,
                quick: bool = False, rounds: int = 3) -> list:
    """Run the timings and single-valued tracks that regressed again (base and head interleaved) and
    demote those that do not regress again. Returns the demoted findings."""
    suspects = sorted({f.id for f in verdict.regressions if f.kind in CONFIRMED})
    if not suspects:
        return []
    print(f"[gate] confirming {len(suspects)} timing or track regression(s) with a second interleaved run",
          file=sys.stderr, flush=True)
    regex = only_ids(suspects)  # only the suspect parameters run again
    again = load_results(run_pair(project, pair, out, bench=[regex], quick=quick, rounds=rounds), project.machine)
    second = compare_results(again.get(pair.base), again.get(pair.head), rules, factor=factor)
    demoted = confirm_timings(verdict, second)
    for f in demoted:
        print(f"[gate] not confirmed: {f.id}", file=sys.stderr, flush=True)
    return demoted


def print_reason(verdict: Verdict) -> None:
    if verdict.exit_code == 2:
        print(f"gate: could not decide: {verdict.reason or 'a benchmark failed on both sides'}", file=sys.stderr)
