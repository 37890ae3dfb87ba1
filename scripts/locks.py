"""target_app's lock: regenerate it, check it against pyproject.toml, read it at a commit, and say what changed.

The lock (``requirements.lock``, made by uv from ``pyproject.toml``) is what
each commit ships; asv installs it per commit (:mod:`scripts.lockenv`).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.errors import UserError
from scripts.git import git_run
from scripts.lockenv import LOCK, PRE_LOCK, read_pins, versions

# The platform every lock is resolved for: the benchmark machines'. A lock is one exact set of versions.
PYTHON = "3.11"
PLATFORM = "linux"
COMMAND = "python3 -m scripts lock"


def compile_command(root: Path, upgrade: list[str] | None = None, upgrade_all: bool = False,
                    output: Path | None = None) -> list[str]:
    """uv's command that writes the lock from pyproject.toml, keeping every pin it can (or upgrading some)."""
    cmd = [sys.executable, "-m", "uv", "pip", "compile", str(root / "pyproject.toml"), "--quiet",
           "--python-version", PYTHON, "--python-platform", PLATFORM, "--custom-compile-command", COMMAND,
           "--output-file", str(output or root / LOCK)]
    if upgrade_all:
        cmd.append("--upgrade")
    for name in upgrade or []:
        cmd += ["--upgrade-package", name]
    return cmd


def write_lock(root: Path, upgrade: list[str] | None = None, upgrade_all: bool = False,
               output: Path | None = None) -> Path:
    """Regenerate the lock (uv keeps the pins already in it unless told to upgrade them)."""
    target = output or root / LOCK
    if output is not None and (root / LOCK).exists() and not output.exists():
        output.write_text((root / LOCK).read_text())  # the same starting pins as the real lock
    proc = subprocess.run(compile_command(root, upgrade, upgrade_all, output=target), cwd=root, text=True,
                          capture_output=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise UserError(f"uv pip compile: {tail}")
    return target


def lock_problems(root: Path) -> list[str]:
    """What in the lock disagrees with pyproject.toml's dependencies (empty when it agrees).

    Every dependency must be pinned in the lock, at a version its specifier
    allows. That the lock holds exactly their closure is uv's to say
    (:func:`write_lock` into a copy and compare).
    """
    path = root / LOCK
    if not path.exists():
        return [f"no {LOCK}: run {COMMAND}"]
    try:
        pinned = versions(read_pins(path.read_text()))
    except ValueError as exc:
        return [f"{LOCK}: {exc}"]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    problems = []
    for spec in project.get("dependencies", []):
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        if name not in pinned:
            problems.append(f"{req.name} is a dependency in pyproject.toml but not in {LOCK}: run {COMMAND}")
        elif not req.specifier.contains(pinned[name], prereleases=True):
            problems.append(f"{req.name}=={pinned[name]} in {LOCK} is outside pyproject.toml's {req.specifier}")
    return problems


def lock_text_at(root: Path, commit: str) -> str | None:
    """``commit``'s lock as committed, or None at a commit from before the lock."""
    proc = git_run(root, "show", f"{commit}:{LOCK}")
    return proc.stdout if proc.returncode == 0 else None


def lock_at(root: Path, commit: str) -> dict[str, str] | None:
    """{name: version} that ``commit`` ships: its lock, or the pins from before the lock; None when this
    repository does not have ``commit`` (results measured elsewhere)."""
    if git_run(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        return None
    text = lock_text_at(root, commit)
    text = PRE_LOCK.read_text() if text is None else text
    try:
        return versions(read_pins(text))
    except ValueError as exc:
        raise UserError(f"{LOCK} at {commit[:8]}: {exc}") from None


def lock_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What changed between two locks, one line a package: "sqlalchemy 2.0.58 → 2.0.30", "markdown 3.7 (new)"."""
    lines = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"{name} {new} (new)")
        elif new is None:
            lines.append(f"{name} {old} (removed)")
        else:
            lines.append(f"{name} {old} → {new}")
    return lines


def changes_between(root: Path, base: str, head: str) -> list[str]:
    """:func:`lock_changes` from ``base``'s lock to ``head``'s (nothing when either is not in this repository)."""
    before, after = lock_at(root, base), lock_at(root, head)
    return lock_changes(before, after) if before is not None and after is not None else []


def main_lock(root: Path, *, upgrade: list[str] | None = None, upgrade_all: bool = False, check: bool = False) -> int:
    """``lock``: regenerate the lock, or (``check``) say whether it matches pyproject.toml."""
    if check:
        problems = lock_problems(root)
        for line in problems:
            print(f"lock: {line}", file=sys.stderr)
        if not problems:
            print(f"{LOCK} matches pyproject.toml")
        return 1 if problems else 0
    before = versions(read_pins((root / LOCK).read_text())) if (root / LOCK).exists() else {}
    write_lock(root, upgrade, upgrade_all)
    changes = lock_changes(before, versions(read_pins((root / LOCK).read_text())))
    print("\n".join(changes) if changes else f"{LOCK}: no version changed")
    return 0
