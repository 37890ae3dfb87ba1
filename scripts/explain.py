"""``explain BASE HEAD``: why a benchmark changed, from what each side's operations did.

Each side's target_app is taken from git (``git archive``) and imported in
the benchmark environment ahead of the installed one; today's suite runs
``benchmarks/counting/explain.py`` on it, so base and head are measured the same way.
The difference is given per operation, in the app's terms first: the
phases and the Python functions whose instructions moved beyond the
tolerance of ``bench_phases`` in benchmarks/rules.toml; then statements
added or gone (with the query plan where it changed), the system calls and
the C functions beneath (callgrind), the call counts that changed, and the
allocation sites whose bytes grew. An operation where nothing moved beyond
its tolerance is named on one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from scripts.asvtool import Project
from scripts.errors import UserError
from scripts.git import commit_hash, extract_tree
from scripts.judging.differences import diff
from scripts.judging.rules import load_rules
from scripts.lockenv import LOCK
from scripts.locks import lock_text_at

LOCKENV = Path(__file__).resolve().parent / "lockenv.py"
PROGRAM = ("import json, sys; from benchmarks.counting import collect; "
           "print(json.dumps(collect(json.loads(sys.argv[1]), json.loads(sys.argv[2]))))")


def environment_python(project: Project) -> str:
    """The python of the benchmark environment asv made (the newest, if there are several)."""
    env_dir = project.root / project.conf.env_dir
    pythons = sorted(env_dir.glob("*/bin/python"), key=lambda p: p.parent.parent.stat().st_mtime)
    if not pythons:
        raise UserError(f"no benchmark environment in {env_dir}: run `python3 -m scripts history` first")
    return str(pythons[-1])


def sync_to_lock(project: Project, commit: str, python: str, folder: Path) -> None:
    """Give the environment of ``python`` the dependencies ``commit`` ships (its lock), as asv's install does."""
    lock = lock_text_at(project.root, commit)
    if lock is not None:
        (folder / LOCK).write_text(lock)
    env_dir = Path(python).parent.parent
    proc = subprocess.run([python, str(LOCKENV), str(env_dir), str(folder)], text=True, capture_output=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"installing {commit[:8]}'s lock failed: {tail}")


def collect_side(project: Project, commit: str, wanted: list[str], python: str,
                 functions_for: list[str] = ()) -> dict:
    """``benchmarks/counting/explain.py``'s record of the operations behind ``wanted`` against ``commit``'s target_app
    (with callgrind's functions for those behind ``functions_for``)."""
    with tempfile.TemporaryDirectory(prefix="explain-") as tmp:
        src = Path(tmp) / "src"
        extract_tree(project.root, commit, src, "target_app")
        sync_to_lock(project, commit, python, src)
        env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{project.root}", "PYTHONHASHSEED": "0"}
        proc = subprocess.run([python, "-c", PROGRAM, json.dumps(wanted), json.dumps(list(functions_for))], cwd=tmp,
                              env=env, text=True, capture_output=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"explaining {commit[:8]} failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def explain(project: Project, base: str, head: str, wanted: list[str],
            functions_for: list[str] = ()) -> tuple[dict[str, dict], dict[str, str]]:
    """What changed between ``base`` and ``head`` (any revisions) in the operations behind ``wanted``
    (benchmark ids or operation names): operation -> difference, and each of ``wanted`` -> its operation.
    The operations behind ``functions_for`` are also counted by function under callgrind, on both sides."""
    python = environment_python(project)
    base_sha, head_sha = commit_hash(project.root, base), commit_hash(project.root, head)
    before = collect_side(project, base_sha, wanted, python, functions_for)
    after = collect_side(project, head_sha, wanted, python, functions_for)
    b_ops, h_ops = before["operations"], after["operations"]
    tolerance = load_rules(project.root).components()
    out = {}
    for name in dict.fromkeys([*b_ops, *h_ops]):
        if name in b_ops and name in h_ops:
            out[name] = diff(b_ops[name], h_ops[name], tolerance)
        else:
            out[name] = {"error": "the operation exists only on the " + ("head" if name in h_ops else "base")}
    return out, {**before["ids"], **after["ids"]}
