"""``calibrate --sweep``: plant regressions automatically in every route, and count the catches.

Hand-picked plants prove only that the suite catches what it was built
for. The sweep finds every route of the app from Flask's own URL map at
the commit it starts from, and plants, one at a time and each in a commit
of its own on top of that commit, a mutant of each kind (KINDS,
:func:`mutant_code`) at the top of the route's view function. Each mutant
is measured with the deterministic benchmarks only and judged as the gate
judges, against the same measurements of the starting commit; it is
caught when the gate exits 1 with a benchmark of that route among the
regressions (:func:`expected_ids`). docs/measurements.md ("The sweep") has what it
found."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.asvtool import Project, callgrind_env
from scripts.calibrate.plants import share_environments
from scripts.errors import UserError
from scripts.git import git
from scripts.judging.judge import compare_results
from scripts.judging.rules import DEFAULT_FACTOR, load_rules
from scripts.results import load_results, param_labels
from scripts.suite import (
    FORM_STATEMENTS,
    INSTRUCTIONS,
    RETAINED_BYTES,
    RETAINED_PER_INPUT,
    STATEMENTS,
    SYSCALLS,
    BenchmarkId,
    is_nan,
)

KINDS = ("cpu", "sql", "n_plus_1", "leak", "io", "cache")
# The cpu mutant's size: a share of the instructions of the route's cheapest
# operation, a little above the tightest instruction tolerance in
# benchmarks/rules.toml.
CPU_SHARE = 0.015
COUNTERS = r"^bench_counters\."
INSTRUCTION_BENCHMARKS = r"^bench_instructions\."
SYSCALL_BENCHMARKS = r"^bench_syscalls\."
MEASURED_BY = {"cpu": INSTRUCTION_BENCHMARKS, "io": SYSCALL_BENCHMARKS}

# Run in the clone, by the project's interpreter: the app's URL map, where
# each view's body starts, which operations of the suite reach each view,
# and what one element of sum(range(N)) costs under callgrind.
@dataclass
class Mutant:
    endpoint: str
    kind: str
    commit: str = ""
    expected: list[str] = field(default_factory=list)
    gate_exit: int | None = None
    flagged: list[str] = field(default_factory=list)
    caught: bool = False


@dataclass
class SweepReport:
    base: str
    views: dict
    mutants: list[Mutant] = field(default_factory=list)
    wall_seconds: float = 0.0

    def kill_rate(self, kind: str) -> tuple[int, int]:
        of_kind = [m for m in self.mutants if m.kind == kind]
        return sum(m.caught for m in of_kind), len(of_kind)


def mutant_code(kind: str, cpu_elements: int) -> list[str]:
    """The lines planted at the top of a view's body: ``cpu``, CPU_SHARE more instructions; ``sql``, one
    more statement; ``n_plus_1``, a query per row; ``leak``, 256 bytes kept for good; ``io``, one more
    write to a file, flushed to disk with fsync; ``cache``, 256 bytes kept for good per distinct request (its
    URL and its form), a cache without a bound."""
    if kind == "cpu":
        return [f"sum(range({cpu_elements}))  # sweep: cpu"]
    if kind == "sql":
        return ["from sqlalchemy import text as _sweep_text  # sweep: one more statement",
                "from target_app.db import get_session as _sweep_session",
                "_sweep_session().execute(_sweep_text('SELECT 1'))"]
    if kind == "n_plus_1":
        return ["from sqlalchemy import select as _sweep_select  # sweep: a query per row",
                "from target_app.db import get_session as _sweep_session",
                "from target_app.models import User as _SweepUser",
                "for _sweep_user in _sweep_session().scalars(",
                "        _sweep_select(_SweepUser).order_by(_SweepUser.id).limit(10)).all():",
                "    _sweep_user.settings  # lazy load, one SELECT each"]
    if kind == "leak":
        return ["globals().setdefault('_SWEEP_KEPT', []).append(bytes(256))  # sweep: 256 bytes kept"]
    if kind == "cache":
        # Keyed by the URL and the form as parsed (the CSRF check has read the body before any view runs).
        return ["from flask import request as _sweep_request  # sweep: a cache without a bound",
                "globals().setdefault('_SWEEP_CACHE', {})[(_sweep_request.full_path, tuple(sorted("
                "_sweep_request.form.items(multi=True))))] = bytes(256)"]
    if kind == "io":
        return ["import os as _sweep_os, tempfile as _sweep_tempfile  # sweep: one more write, flushed to disk",
                "with open(_sweep_os.path.join(_sweep_tempfile.gettempdir(), 'sweep_io'), 'ab') as _sweep_f:",
                "    _sweep_f.write(b'x')",
                "    _sweep_f.flush()",
                "    _sweep_os.fsync(_sweep_f.fileno())"]
    raise UserError(f"unknown mutant kind: {kind}")


def plant(source: str, line: int, indent: int, code: list[str]) -> str:
    """``source`` with ``code`` inserted before its 1-based ``line``, at ``indent``."""
    lines = source.splitlines(keepends=True)
    pad = " " * indent
    return "".join(lines[: line - 1] + [pad + c + "\n" for c in code] + lines[line - 1:])


def expected_ids(kind: str, ops: list[str], inputs: list[str] = ()) -> list[str]:
    """The benchmark ids that measure a view's operations (``inputs``: its operations over distinct inputs),
    for a mutant kind."""
    if kind == "cache":
        return [f"{RETAINED_PER_INPUT}('{name}')" for name in inputs]
    if kind == "cpu":
        return [f"{INSTRUCTIONS}('{op}')" for op in ops]
    if kind == "leak":
        return [f"{RETAINED_BYTES}('{op}')" for op in ops]
    if kind == "io":
        return [f"{SYSCALLS}('{op}', 'fsync')" for op in ops]
    out = []
    for op in ops:
        method, path = op.split(" ", 1)
        out.append(f"{STATEMENTS}('{path}')" if method == "GET"
                   else f"{FORM_STATEMENTS}('{op}')")
    return out


def discover(repo: Path) -> dict:
    """The views of the clone's app and what they reach (benchmarks/views.py, run from the clone)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.views", str(repo)], cwd=repo, text=True,
                          capture_output=True, env={**os.environ, **callgrind_env(True)})
    if proc.returncode != 0:
        raise UserError(f"could not read the app's routes: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sweep(project: Project, workdir: Path, *, kinds: tuple[str, ...] = KINDS,
          routes: str | None = None, quick: bool = False) -> SweepReport:
    """Plant every mutant kind in every route's view, measure, and judge each against the start."""
    start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    repo = workdir / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    git(workdir, "clone", "-q", "--branch", "main", str(project.root), str(repo))
    git(repo, "config", "user.email", "sweep@example.test")
    git(repo, "config", "user.name", "sweep")
    share_environments(project, repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    found = discover(repo)
    views = {k: v for k, v in found["views"].items() if not routes or re.search(routes, k)}
    if not views:
        raise UserError(f"no route matches {routes!r}")
    report = SweepReport(base=base, views=views)
    clone = Project(repo)
    machine = clone.machine
    _measure(clone, [base], f"{COUNTERS}|{INSTRUCTION_BENCHMARKS}|{SYSCALL_BENCHMARKS}", quick)
    base_result = load_results(clone.results_dir, machine).get(base)
    if base_result is None:
        raise UserError("the starting commit could not be measured")
    for endpoint, view in views.items():
        for kind in kinds:
            if kind == "cache" and not view.get("inputs"):
                continue  # a view that takes no input the suite varies: the same request again hits the cache
            m = Mutant(endpoint, kind, expected=expected_ids(kind, view["ops"], view.get("inputs", [])))
            cheapest = min((base_result_value(base_result, i) for i in expected_ids("cpu", view["ops"])),
                           default=None)
            elements = int(CPU_SHARE * cheapest / found["per_element"]) + 1 if cheapest else 1000
            path = repo / view["file"]
            git(repo, "checkout", "-q", base)
            path.write_text(plant(path.read_text(), view["line"], view["indent"], mutant_code(kind, elements)))
            git(repo, "commit", "-q", "-am", f"sweep: {kind} in {endpoint}")
            m.commit = git(repo, "rev-parse", "HEAD").strip()
            report.mutants.append(m)
    git(repo, "checkout", "-q", base)
    for kind in kinds:
        commits = [m.commit for m in report.mutants if m.kind == kind]
        print(f"[sweep] measuring {len(commits)} {kind} mutant(s)", flush=True)
        _measure(clone, commits, MEASURED_BY.get(kind, COUNTERS), quick)
    results = load_results(clone.results_dir, machine)
    rules = load_rules(project.root)
    for m in report.mutants:
        verdict = compare_results(base_result, results.get(m.commit), rules, factor=DEFAULT_FACTOR)
        m.gate_exit = verdict.exit_code
        m.flagged = [f.id for f in verdict.regressions]
        m.caught = verdict.exit_code == 1 and bool(set(m.flagged) & set(m.expected))
    report.wall_seconds = time.monotonic() - start
    return report


def base_result_value(result, ident: str) -> float | None:
    """The value of one benchmark id (with its parameter) in ``result``."""
    name, label = BenchmarkId.parse(ident).name, BenchmarkId.parse(ident).params
    if name not in result.values:
        return None
    labels = param_labels(result.params.get(name) or [])
    values = result.values[name] if isinstance(result.values[name], list) else [result.values[name]]
    for lab, value in zip(labels, values, strict=False):
        if lab == label and isinstance(value, int | float) and not is_nan(value):
            return float(value)
    return None


def of_route(ident: str, ops: list[str]) -> bool:
    """Whether a benchmark id measures one of a view's operations (by name, or by path for the GET counters)."""
    first = str((BenchmarkId.parse(ident).values or ("",))[0])
    return first in ops or any(op == f"GET {first}" for op in ops)


def _measure(project: Project, commits: list[str], bench: str, quick: bool) -> None:
    project.run(commits, bench=[bench], quick=quick, skip_existing=True)


def to_markdown(r: SweepReport) -> str:
    lines = ["# Mutation sweep", "",
             f"Start `{r.base[:8]}`; {len(r.views)} routes from the app's URL map, {len(r.mutants)} mutants, "
             f"wall time {r.wall_seconds / 60:.1f} min ({r.wall_seconds / max(1, len(r.mutants)):.0f} s a mutant).",
             "", "| Route | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
    by = {(m.endpoint, m.kind): m for m in r.mutants}
    for endpoint, view in r.views.items():
        cells = []
        for kind in KINDS:
            m = by.get((endpoint, kind))
            if m is None:
                cells.append("–")
            elif m.caught:
                hit = sorted(set(m.flagged) & set(m.expected))[0]
                cells.append(f"caught: `{hit.split('.', 1)[1]}`")
            else:
                cells.append(f"**missed** (exit {m.gate_exit})")
        lines.append(f"| {' '.join(view['methods'])} `{view['rule']}` ({endpoint}) | " + " | ".join(cells) + " |")
    lines += ["", "| Kind | Kill rate |", "|---|---|"]
    for kind in KINDS:
        caught, total = r.kill_rate(kind)
        if total:
            lines.append(f"| {kind} | {caught}/{total} ({caught / total:.0%}) |")
    elsewhere = [(m, ids) for m in r.mutants
                 if (ids := sorted(i for i in m.flagged if not of_route(
                     i, r.views[m.endpoint]["ops"] + r.views[m.endpoint].get("inputs", []))))]
    if elsewhere:
        lines += ["", "Mutants that also flagged benchmarks of other routes:", ""]
        lines += [f"- {m.kind} in {m.endpoint}: {ids}" for m, ids in elsewhere]
    else:
        lines += ["", "No mutant flagged a benchmark of another route."]
    return "\n".join(lines) + "\n"


def main_sweep(project: Project, out: Path, **kwargs) -> int:
    report = sweep(project, out / "sweep-work", **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.md").write_text(to_markdown(report))
    (out / "sweep.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(to_markdown(report))
    print(f"[sweep] report: {out / 'sweep.md'} (and sweep.json)")
    return 0 if all(m.caught for m in report.mutants) else 1
