"""Where a counting process runs, and with what: a numbered folder of links whose names are the same in every
clone, and an environment fixed but for what it is told (benchmarks/counting/callgrind.py)."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path

HASH_SEED = "0"

# The child's paths that it names as strings (module files, sys.path, its
# database): each is reached through a link in a numbered folder whose name
# is the same wherever the clone is (claim_slot). A path changes what the
# interpreter allocates and hashes: the same code in a clone at a longer
# path counted 3-5% more instructions for the smallest operations (the
# pool checkout, ~90k), more than their tolerance (docs/measurements.md, "A history on
# several machines").
STABLE_VARIABLES = ("CG_BENCH", "CG_DB", "CG_REQUESTS", "CG_PHASES")


# What the child keeps of its parent's environment. The rest (PATH, asv's
# ASV_* folders, the user's own) names paths of varying length, which moved
# where the interpreter put its objects and so how many instructions an
# operation took: up to 2.8% between two clones of the same commit.
KEPT_VARIABLES = ("PYTHONPATH", "LANG", "LC_ALL", "TMPDIR")
KEPT_PREFIXES = ("CG_", "TARGET_APP_")


def child_environment(parent: dict[str, str]) -> dict[str, str]:
    """The valgrind child's environment: fixed, but for what it is told (see KEPT_VARIABLES)."""
    env = {k: v for k, v in parent.items() if k in KEPT_VARIABLES or k.startswith(KEPT_PREFIXES)}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", PYTHONHASHSEED=HASH_SEED)
    return env


SLOTS = Path(tempfile.gettempdir()) / f"target_app_callgrind_{os.getuid()}"


def claim_slot() -> tuple[int, Path]:
    """The first free numbered folder for a child's links (held by a lock until :func:`release_slot`).

    Its name is the same every run: a random name would change the hashes of
    every path the interpreter keeps, and its count by up to 2.7%. The
    suite's two children take 00 and 01, in that order.
    """
    SLOTS.mkdir(exist_ok=True)
    for n in range(100):
        fd = os.open(SLOTS / f"{n:02d}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        slot = SLOTS / f"{n:02d}"
        shutil.rmtree(slot, ignore_errors=True)
        slot.mkdir()
        return fd, slot
    raise RuntimeError(f"no free callgrind slot in {SLOTS}")


def release_slot(fd: int, slot: Path) -> None:
    shutil.rmtree(slot, ignore_errors=True)
    os.close(fd)  # and with it the lock


def stable_paths(tmp: Path, python: str, env: dict[str, str]) -> str:
    """Link the environment, the suite and the database into ``tmp``; returns the python to run there.

    ``env`` is changed in place to name the links."""
    root = Path(python).parent.parent
    if (root / "pyvenv.cfg").exists():  # a virtualenv finds its prefix from the path it is run by
        (tmp / "env").symlink_to(root.resolve(), target_is_directory=True)
        python = str(tmp / "env" / "bin" / Path(python).name)
    for name in STABLE_VARIABLES:
        value = env.get(name, "")
        if value and Path(value).exists():
            link = tmp / name.lower()
            link.symlink_to(Path(value).resolve(), target_is_directory=Path(value).is_dir())
            env[name] = str(link)
    return python
