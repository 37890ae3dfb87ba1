"""``calibrate --layout``: how far the exact counts move when only the code's layout changes.

Each kind below is a commit on top of the starting commit that changes
target_app's layout (what is imported, where code sits, how long its
strings are) but nothing any operation does. Two more kinds change where
the code runs instead of what it is: a clone at another path, and an
environment of another size. An exact count that moves under any of them
moves for a reason other than the code under test; the report gives each
operation's largest move and the kind that caused it, and the rules in
``benchmarks/rules.toml`` are set from it.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from scripts.asvtool import Project, side_project
from scripts.calibrate.plants import Plant, plant_history, share_environments
from scripts.errors import UserError
from scripts.git import git
from scripts.history.regressions import find_regressions
from scripts.history.run import run_history
from scripts.judging.differences import DEFAULT_TOLERANCE
from scripts.judging.judge import compare_results
from scripts.judging.layout import LayoutReport
from scripts.judging.rules import load_rules
from scripts.results import load_results, param_labels
from scripts.suite import FUNCTIONS, INSTRUCTIONS, PHASES

# A module every request imports (the database session), an unused function added to it.
UNUSED_FUNCTION = Plant("unused_function", "an unused function in target_app/db.py", (
    ("target_app/db.py", "\n\ndef _sqlite_file_pragmas(",
     "\n\ndef _layout_unused(rows: list[dict]) -> dict[str, int]:\n"
     "    \"\"\"Never called: only the module's layout changes.\"\"\"\n"
     "    out: dict[str, int] = {}\n    for row in rows:\n"
     "        for key, value in row.items():\n            out[key] = out.get(key, 0) + len(str(value))\n"
     "    return out\n\n\ndef _sqlite_file_pragmas("),
), ())

UNUSED_MODULE = Plant("unused_module", "an unused module imported at start-up", (
    ("target_app/layout_unused.py", "",
     '"""Imported at start-up, used by nothing."""\n\nfrom __future__ import annotations\n\n'
     "import dataclasses\n\n\n@dataclasses.dataclass\nclass Unused:\n    name: str = \"\"\n    size: int = 0\n\n"
     "    def describe(self) -> str:\n        return f\"{self.name}: {self.size}\"\n\n\n"
     "TABLE = {f\"key{i:03d}\": i * i for i in range(64)}\n"),
    ("target_app/__init__.py", "from . import config as config_module\n",
     "from . import config as config_module\nfrom . import layout_unused  # noqa: F401 - a layout no-op\n"),
), ())

NEW_ROUTE = Plant("new_route", "a new route that no operation calls", (
    ("target_app/main.py", '@bp.get("/healthz")\n',
     '@bp.get("/layout-unused")\ndef layout_unused():\n    return jsonify(unused=True)\n\n\n'
     '@bp.get("/healthz")\n'),
), ())

RENAMED_LOCAL = Plant("renamed_local", "a local variable renamed in the homepage's view", (
    ("target_app/main.py", "    stats = {\n", "    page_counts = {\n"),
    ("target_app/main.py", "        stats=stats,\n", "        stats=page_counts,\n"),
), ())

REORDERED_IMPORTS = Plant("reordered_imports", "imports reordered in the API module", (
    ("target_app/api.py", "from .auth import api_login_required\nfrom .db import get_session\n"
     "from .errors import ApiError, json_error\nfrom .main import site_settings\n"
     "from .models import Post, Setting, User\nfrom .validation import ValidationError, positive_int\n",
     "from .validation import ValidationError, positive_int\nfrom .models import Post, Setting, User\n"
     "from .main import site_settings\nfrom .errors import ApiError, json_error\nfrom .db import get_session\n"
     "from .auth import api_login_required\n"),
), ())

_LONG = "\n\n" + "\n".join(
    f"Layout no-op, line {i:02d}: a docstring this long moves where the code's objects sit." for i in range(40))

LONG_DOCSTRINGS = Plant("long_docstrings", "much longer docstrings in the views", (
    ("target_app/main.py", '"""The homepage and the health check.', f'"""The homepage and the health check.{_LONG}'),
    ("target_app/api.py", '"""The authenticated JSON API.', f'"""The authenticated JSON API.{_LONG}'),
    ("target_app/auth.py", '"""Registration, login and logout, and the logged-in user on ``g.user``.',
     f'"""Registration, login and logout, and the logged-in user on ``g.user``.{_LONG}'),
), ())

CONFIG_COMMENT = Plant("config_comment", "a changed comment in the config", (
    ("target_app/config.py", "    # werkzeug.security method; scrypt is werkzeug's slow default KDF.\n",
     "    # werkzeug.security method: scrypt, werkzeug's default, is deliberately slow\n"
     "    # (a key-derivation function), which is why the tests and benchmarks that\n"
     "    # log in many times choose a cheaper one.\n"),
), ())

# Committed: the kinds above. Run, not committed: the same commit from a
# clone at a path of another length, and with a larger environment.
KINDS: tuple[Plant, ...] = (UNUSED_FUNCTION, UNUSED_MODULE, NEW_ROUTE, RENAMED_LOCAL, REORDERED_IMPORTS,
                            LONG_DOCSTRINGS, CONFIG_COMMENT)
CLONE_PATH = "clone_path"
ENV_SIZE = "env_size"
# What the larger environment carries: a variable the benchmarks' children keep.
PADDING_VARIABLE = "TARGET_APP_LAYOUT_PADDING"
PADDING = "x" * 4096

# Kinds that add real work to an operation's own path: an imported module
# and a registered route are work that target_app's start-up does.
TOUCHES: dict[str, tuple[str, ...]] = {
    UNUSED_MODULE.key: ("cold_start",),
    NEW_ROUTE.key: ("cold_start",),
}
EXACT_BENCH = [r"^bench_(instructions|counters|syscalls|phases)\."]
REPORT = "layout.json"


def _instruction_counts(result, name: str = INSTRUCTIONS) -> dict[str, float]:
    """``name``'s values by parameter label (for two parameters, "operation, phase")."""
    if result is None:
        return {}
    labels = param_labels(result.params.get(name) or [])
    values = result.value_list(name)
    return {label.replace("'", ""): v for label, v in zip(labels, values, strict=False)
            if isinstance(v, int | float) and v == v}  # NaN: skipped there


def layout_calibration(project: Project, workdir: Path) -> LayoutReport:
    """Commit each layout kind on top of HEAD in a throwaway clone, measure the exact benchmarks at each,
    and at the base again from a clone at a longer path and with a larger environment."""

    start = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    commits = plant_history(project.root, workdir, KINDS)
    repo = workdir / "repo"
    share_environments(project, repo)
    clone = Project(repo)
    print(f"[layout] {len(KINDS)} layout commits on {commits['base'][:8]} in {repo}", flush=True)
    run_history(clone, [commits[k] for k in ["base", *(k.key for k in KINDS)]], bench=EXACT_BENCH)
    machine = clone.machine
    results = {key: load_results(clone.results_dir, machine).get(commit) for key, commit in commits.items()}

    print(f"[layout] {ENV_SIZE}: the base again, with a {len(PADDING)}-byte variable in the environment",
          flush=True)
    padded = side_project(clone, workdir / ENV_SIZE / "results")
    padded.run([commits["base"]], bench=EXACT_BENCH, env={PADDING_VARIABLE: PADDING})
    results[ENV_SIZE] = load_results(padded.results_dir, machine).get(commits["base"])

    far = workdir / "a-clone-at-a-much-longer-path-moves-every-string-that-names-a-file" / "repo"
    print(f"[layout] {CLONE_PATH}: the base again, from {far}", flush=True)
    shutil.rmtree(far, ignore_errors=True)
    git(workdir, "clone", "-q", "--branch", "main", str(repo), str(far))
    share_environments(project, far)
    moved = Project(far)
    moved.run([commits["base"]], bench=EXACT_BENCH)
    results[CLONE_PATH] = load_results(moved.results_dir, machine).get(commits["base"])

    report = judge_layout(commits["base"], results, load_rules(project.root))
    report.wall_seconds = time.monotonic() - start
    return report


def judge_layout(base: str, results: dict, rules) -> LayoutReport:
    """Each kind against what it changed: a committed kind against the commit before it (the kinds are
    committed one on top of the other), the clone path and the environment size against the base."""
    report = LayoutReport(base, base_counts=_instruction_counts(results["base"]),
                          touches={k: list(v) for k, v in TOUCHES.items()})
    order = ["base", *(k.key for k in KINDS)]
    for kind, result in results.items():
        if kind == "base":
            continue
        parent = results[order[order.index(kind) - 1]] if kind in order else results["base"]
        before, after = _instruction_counts(parent), _instruction_counts(result)
        if not after:
            raise UserError(f"layout kind {kind}: no instruction counts were measured (is valgrind installed?)")
        for op, value in before.items():
            if op in after and value:
                report.moves.setdefault(op, {})[kind] = after[op] / value - 1
        touched = TOUCHES.get(kind, ())
        for name in (PHASES, FUNCTIONS):  # by phase, and by target_app function
            phases_before, phases_after = _instruction_counts(parent, name), _instruction_counts(result, name)
            for key, value in phases_before.items():
                if key in phases_after and key.split(",")[0] not in touched:
                    report.phase_moves.setdefault(key, {})[kind] = [value, phases_after[key] - value]
        report.flagged[kind] = [f.id for f in compare_results(parent, result, rules).regressions
                                if not any(f"('{op}'" in f.id for op in touched)]
    # The committed kinds as a history: what its regressions list shows (a same-code history lists nothing).
    committed = {results[k].commit: (k, results[k]) for k in order if results.get(k) is not None}
    for r in find_regressions({c: res for c, (_, res) in committed.items()}, list(committed), rules):
        if not any(f"('{op}'" in r.benchmark for op in TOUCHES.get(committed[r.commit][0], ())):
            report.listed.append(f"{r.benchmark} at {committed[r.commit][0]}")
    return report


def to_markdown(report: LayoutReport, rules=None) -> str:
    kinds = sorted({k for moves in report.moves.values() for k in moves})
    lines = [f"# Layout calibration at {report.base[:8]}", "",
             f"{len(kinds)} kinds of change that leave every operation's code path alone "
             f"({', '.join(kinds)}), measured in {report.wall_seconds / 60:.0f} min.", "",
             "| Operation | Instructions | Largest move | Kind |", "|---|---:|---:|---|"]
    for op in sorted(report.moves):
        kind, move = report.largest(op)
        lines.append(f"| `{op}` | {report.base_counts[op]:,.0f} | {move:+.2%} | {kind} |")
    touched = [f"`{op}` {move:+.2%} ({kind})" for kind, ops in report.touches.items() for op in ops
               if (move := report.moves.get(op, {}).get(kind)) is not None]
    if touched:
        lines += ["", "On its own path, left out of the above: " + ", ".join(touched) + "."]
    if report.phase_moves:
        tolerance = rules.components() if rules else DEFAULT_TOLERANCE
        lines += ["", "By phase and by target_app function, the moves nearest their tolerance "
                  f"({tolerance.relative:.1%} + {tolerance.absolute:,.0f} instructions):", "",
                  "| Operation, phase or function | Instructions | Move | Kind |", "|---|---:|---:|---|"]
        for key, kind, before, move in report.largest_phase_moves(tolerance):
            share = f" ({move / before:+.2%})" if before else ""
            lines.append(f"| `{key}` | {before:,.0f} | {move:+,.0f}{share} | {kind} |")
    flagged = "; ".join(f"{kind}: " + ", ".join(f"`{i}`" for i in ids) for kind, ids in report.flagged.items() if ids)
    lines += ["", f"What the gate flags between the base and each kind: {flagged or 'nothing'}."]
    listed = ", ".join(f"`{i}`" for i in report.listed)
    lines += ["", f"What the regressions list shows over the committed kinds as a history: {listed or 'nothing'}."]
    return "\n".join(lines) + "\n"


def main_layout(project: Project, out: Path) -> int:
    """Run the layout calibration, write ``out/layout.json`` and ``.md``; exit 1 when the gate flags any kind
    or the regressions list shows anything over them."""
    report = layout_calibration(project, out / "layout-work")
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT).write_text(json.dumps(asdict(report), indent=2) + "\n")
    md = to_markdown(report, load_rules(project.root))
    (out / "layout.md").write_text(md)
    print(md)
    print(f"[layout] report: {out / 'layout.md'} (and {REPORT}); the site's trust page shows it")
    return 1 if any(report.flagged.values()) or report.listed else 0
