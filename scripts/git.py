"""The door to git: every git command the scripts run goes through here."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scripts.errors import UserError


def git(root: Path, *args: str) -> str:
    """``git args`` in ``root``; its stdout, or a one-line UserError."""
    proc = subprocess.run(["git", *args], cwd=root, text=True, capture_output=True)
    if proc.returncode != 0:
        raise UserError(f"git {' '.join(args)}: {proc.stderr.strip().splitlines()[-1] if proc.stderr else 'failed'}")
    return proc.stdout


def commit_hash(root: Path, revision: str) -> str:
    """The full hash of ``revision``, or a one-line UserError."""
    return git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
