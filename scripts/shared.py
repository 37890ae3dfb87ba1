"""The exact counts of a commit the history measured, shared with a gate whose base is measured alike.

Statements, scans, rows, bytes, memory blocks, instructions and system calls come out the same whenever the
same app is measured by the same suite in the same environment on the same machine (docs/measurements.md,
"Noise"). The history measures every commit of main that changes the app, and a gate against main would
count its base again: the exact set-up is ~55 s of each side. So the history writes, beside each commit it
measures in full, what it measured with (:func:`fingerprint`: the app and its lock at the commit, the suite's and
the environment's files in the working tree, valgrind's version, whether callgrind was on); a gate takes its
base's exact benchmarks from a commit measured with the same fingerprint, and measures them where there is
none. Timings and the live server's loads are never shared: base and head run them on one runner, in one
gate.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from scripts.git import git
from scripts.suite import APP_PATHS, ARTEFACTS_DIR, EXACT_CLASSES

# What measures it, from the working tree: the suite but its rules (which judge, not measure), the
# environment's definition and install.
SUITE_PATHS = ("benchmarks", "asv.conf.json", "scripts/lockenv.py", "scripts/pre-lock.txt")
NOT_MEASURING = ("benchmarks/rules.toml",)
SIDECAR = "measured-with.json"
# asv --bench: the exact benchmarks, and the tracks that are not (the live server's loads and the others).
EXACT = "^(" + "|".join(re.escape(c) + r"\." for c in EXACT_CLASSES) + ")"
OTHER_TRACKS = r"^(?!.*\.time(raw)?_)(?!(" + "|".join(re.escape(c) + r"\." for c in EXACT_CLASSES) + "))"


def _digest(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def app_files(root: Path, commit: str) -> str:
    """A digest of the app at ``commit``: git's object ids of APP_PATHS, what the history measures a commit
    for (pyproject.toml changes with the repository's tools: its build is the same wheel)."""
    return _digest([git(root, "ls-tree", "-r", commit, "--", *APP_PATHS)])


def suite_files(root: Path) -> str:
    """A digest of the working tree's SUITE_PATHS, file by file (caches and the rules left out)."""
    files = []
    for name in SUITE_PATHS:
        path = root / name
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            rel = f.relative_to(root).as_posix()
            if f.is_file() and "__pycache__" not in f.parts and rel not in NOT_MEASURING:
                files.append(f"{rel} {hashlib.sha256(f.read_bytes()).hexdigest()}")
    return _digest(files)


def valgrind_version() -> str:
    exe = shutil.which("valgrind")
    if not exe:
        return "none"
    return subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def fingerprint(root: Path, commit: str, callgrind: bool) -> dict:
    """What ``commit``'s exact counts are measured with, by this working tree on this machine."""
    return {"app": app_files(root, commit), "suite": suite_files(root), "valgrind": valgrind_version(),
            "callgrind": callgrind}


def _sidecar(root: Path, machine: str, commit: str) -> Path:
    return root / ARTEFACTS_DIR / machine / commit / SIDECAR


def record(root: Path, machine: str, commit: str, callgrind: bool) -> None:
    """Say what ``commit`` was just measured with, in full (the history, after a commit's run)."""
    path = _sidecar(root, machine, commit)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fingerprint(root, commit, callgrind), indent=1) + "\n")


def forget(root: Path, machine: str, commit: str) -> None:
    """A run of some benchmarks only: what the commit's results hold is no longer of one measurement."""
    _sidecar(root, machine, commit).unlink(missing_ok=True)


def _result_files(results_dir: Path, machine: str, commit: str) -> list[Path]:
    out = []
    for path in sorted((results_dir / machine).glob(f"{commit[:8]}-*.json")):
        data = json.loads(path.read_text())
        if data.get("commit_hash") == commit:
            out.append(path)
    return out


def _exact_rows(results_dir: Path, machine: str, commit: str) -> tuple[list, dict] | None:
    """``commit``'s rows of the exact benchmarks (and asv's columns), or None where any is missing or failed."""
    rows, columns = {}, None
    for path in _result_files(results_dir, machine, commit):
        data = json.loads(path.read_text())
        columns = data["result_columns"]
        rows.update({name: row for name, row in data["results"].items() if re.match(EXACT, name)})
    if columns is None or not rows:
        return None
    value = columns.index("result")
    if any(v is None for row in rows.values() for v in (row[value] if isinstance(row[value], list)
                                                         else [row[value]])):
        return None  # a failure is measured again, not shared
    return columns, rows


def measured_alike(root: Path, results_dir: Path, machine: str, commit: str, callgrind: bool) -> str | None:
    """A commit whose exact counts the history measured as ``commit``'s would be now, or None."""
    wanted = fingerprint(root, commit, callgrind)
    folder = root / ARTEFACTS_DIR / machine
    for sidecar in sorted(folder.glob(f"*/{SIDECAR}")) if folder.is_dir() else []:
        candidate = sidecar.parent.name
        if json.loads(sidecar.read_text()) == wanted and _exact_rows(results_dir, machine, candidate):
            return candidate
    return None


def share(source_dir: Path, source: str, dest_dir: Path, machine: str, dest: str) -> bool:
    """Put ``source``'s exact rows into ``dest``'s results in ``dest_dir`` (asv's own file of that commit,
    written by a run of its other benchmarks); False where there is nothing to share or no file to share
    into."""
    found = _exact_rows(source_dir, machine, source)
    files = _result_files(dest_dir, machine, dest)
    if found is None or not files:
        return False
    columns, rows = found
    data = json.loads(files[0].read_text())
    if data.get("result_columns") != columns:
        return False
    data["results"].update(rows)
    files[0].write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return True
