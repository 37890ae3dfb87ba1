"""The door to git: every git command the scripts run goes through here."""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

from scripts.errors import UserError


def git(root: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """``git args`` in ``root`` (or ``cwd``), with ``env`` added to the environment; its stdout, or a one-line
    UserError."""
    proc = git_run(root, *args, env=env, cwd=cwd)
    if proc.returncode != 0:
        raise UserError(f"git {' '.join(args)}: {proc.stderr.strip().splitlines()[-1] if proc.stderr else 'failed'}")
    return proc.stdout


def git_run(root: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdout=None,
            check: bool = False) -> subprocess.CompletedProcess:
    """``git args`` whose failure the caller handles (``check``: a one-line UserError); ``stdout`` may be a file."""
    full_env = {**os.environ, "GIT_DIR": str(git_dir(root)), **env} if env else None
    proc = subprocess.run(["git", *args], cwd=cwd or root, env=full_env, text=stdout is None,
                          stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise UserError(f"git {' '.join(args)}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    return proc


def git_dir(root: Path) -> Path:
    """The repository's git directory (for commands run with a work tree elsewhere)."""
    proc = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=root, text=True, capture_output=True)
    if proc.returncode != 0:
        raise UserError(f"{root}: not a git repository")
    return Path(proc.stdout.strip())


def commit_hash(root: Path, revision: str) -> str:
    """The full hash of ``revision``, or a one-line UserError in the user's words."""
    proc = git_run(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if proc.returncode != 0:
        raise UserError(f"no such revision: {revision}")
    return proc.stdout.strip()


def revisions(root: Path, *args: str, spec: str) -> list[str]:
    """``git rev-list args`` (which name the revision or range ``spec``), or a one-line UserError that names
    ``spec``."""
    proc = git_run(root, "rev-list", *args)
    if proc.returncode != 0:
        raise UserError(f"no such revision or range: {spec}")
    return proc.stdout.split()


def extract_tree(root: Path, commit: str, into: Path, *paths: str) -> None:
    """``commit``'s files (or only ``paths``) written into the folder ``into``, through ``git archive``."""

    with tempfile.TemporaryDirectory(prefix="git-archive-") as tmp:
        archive = Path(tmp) / "tree.tar"
        with open(archive, "wb") as fh:
            git_run(root, "archive", "--format=tar", commit, *paths, stdout=fh, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")


def commit_titles(root: Path, commits: list[str]) -> dict[str, tuple[str, str]]:
    """Each of ``commits`` that this repository has -> (its commit date, YYYY-MM-DD, and its subject)."""
    if not commits:
        return {}
    proc = git_run(root, "log", "--no-walk=unsorted", "--format=%H%x00%cs%x00%s", *commits)
    if proc.returncode != 0:  # a commit measured elsewhere and not fetched here: ask one by one
        return {c: t for c in commits for c, t in commit_titles_one(root, c).items()}
    out = {}
    for line in proc.stdout.splitlines():
        sha, date, subject = line.split("\0", 2)
        out[sha] = (date, subject)
    return out


def commit_titles_one(root: Path, commit: str) -> dict[str, tuple[str, str]]:
    proc = git_run(root, "log", "-1", "--format=%H%x00%cs%x00%s", commit)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {}
    sha, date, subject = proc.stdout.strip().split("\0", 2)
    return {sha: (date, subject)}


def trailers(root: Path, commits: list[str], key: str) -> list[tuple[str, str]]:
    """(commit, value) of each ``key:`` trailer that ``commits`` carry in their messages."""
    if not commits:
        return []
    fmt = f"%H%x00%(trailers:key={key},valueonly,separator=%x01)%x02"
    proc = git_run(root, "log", "--no-walk=unsorted", f"--format={fmt}", *commits)
    if proc.returncode != 0:
        return []
    out = []
    for record in proc.stdout.split("\x02"):
        if "\x00" not in record:
            continue
        sha, values = record.strip("\n").split("\x00", 1)
        out += [(sha.strip(), v.strip()) for v in values.split("\x01") if v.strip()]
    return out


def commits_between(root: Path, base: str, head: str) -> list[str]:
    """The commits a pull request adds (``base..head``); none where git cannot say."""
    proc = git_run(root, "rev-list", f"{base}..{head}")
    return proc.stdout.split() if proc.returncode == 0 else []


def last_tag(root: Path, revision: str) -> str | None:
    """The newest tag reachable from ``revision`` (a release), or None where there is none."""
    proc = git_run(root, "describe", "--tags", "--abbrev=0", revision)
    return proc.stdout.strip() or None if proc.returncode == 0 else None
