"""Benchmark coverage: which lines of target_app the suite's operations run at a commit, and which lines a
pull request changes that none of them runs.

The run is the suite's own (``python -m benchmarks.surface --coverage-json``: coverage.py over one run of
every operation, target_app's import included), in this ``.venv``, on the commit's target_app taken from
git; its command line and seed data are left out (``benchmarks/surface.py``, ``NOT_SERVING``). A verdict
covers what the operations run: a changed line that none of them runs is a change no benchmark judged,
and the gate's comment names it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.errors import UserError
from scripts.git import extract_tree, git

APP = "target_app"
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)


def commit_coverage(root: Path, commit: str) -> dict:
    """{file: {"lines": n, "missing": [line, ...]}} for ``commit``'s target_app; a one-line UserError where
    the run fails (a commit whose app does not import, say)."""
    with tempfile.TemporaryDirectory(prefix="coverage-") as tmp:
        extract_tree(root, commit, Path(tmp), APP)
        # target_app from the commit, first on the path (the working directory), the suite from the checkout.
        env = {**os.environ, "PYTHONPATH": str(root)}
        proc = subprocess.run([sys.executable, "-m", "benchmarks.surface", "--coverage-json"], cwd=tmp, env=env,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise UserError(f"benchmark coverage of {commit[:8]} could not be measured: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["files"]


def percent(files: dict) -> float:
    total = sum(f["lines"] for f in files.values())
    missing = sum(len(f["missing"]) for f in files.values())
    return 100.0 * (total - missing) / total if total else 100.0


def changed_lines(root: Path, base: str, head: str) -> dict[str, set[int]]:
    """The lines of target_app's Python files that ``head`` adds or changes since ``base``, by file."""
    out: dict[str, set[int]] = {}
    diff = git(root, "diff", "--unified=0", "--no-color", base, head, "--", f"{APP}/*.py")
    for chunk in re.split(r"^diff --git ", diff, flags=re.M)[1:]:
        name = re.search(r"^\+\+\+ b/(.+)$", chunk, re.M)
        if not name:
            continue  # a deleted file
        lines = out.setdefault(name.group(1), set())
        for match in HUNK.finditer(chunk):
            start, count = int(match.group(1)), int(match.group(2) or 1)
            lines.update(range(start, start + count))
    return out


def uncovered_changes(files: dict, changed: dict[str, set[int]]) -> list[str]:
    """``target_app/errors.py:58-63`` for each run of changed lines that no operation runs (lines coverage.py
    counts as statements; a comment or a blank line is never "not run")."""
    out = []
    for name in sorted(changed):
        missing = set(files.get(name, {}).get("missing", ()))
        out += [f"{name}:{span}" for span in spans(sorted(changed[name] & missing))]
    return out


def spans(lines: list[int]) -> list[str]:
    """[58, 59, 60, 63] -> ["58-60", "63"]."""
    out: list[list[int]] = []
    for n in lines:
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return [f"{a}-{b}" if a != b else str(a) for a, b in out]


def count_lines(refs: list[str]) -> int:
    total = 0
    for ref in refs:
        span = ref.rsplit(":", 1)[1]
        a, _, b = span.partition("-")
        total += int(b or a) - int(a) + 1
    return total


def uncovered_summary(refs: list[str]) -> str:
    """"3 changed lines run in no benchmark: `target_app/errors.py:58-60`" ("" when there are none)."""
    if not refs:
        return ""
    n = count_lines(refs)
    return f"{n} changed line{'s' if n != 1 else ''} run in no benchmark: " + ", ".join(f"`{r}`" for r in refs)
