"""What a commit's operations did, kept beside its numbers: SQL per route, top functions per operation.

The numbers say *that* a step happened; these say what the code did at
that commit, so that the history site can show what changed there
(``scripts/site/commits.py``). They are kept only when ``history`` names a
folder for the commit in ``TARGET_APP_BENCH_ARTEFACTS``, and cost almost
nothing: the statements are the ones SqlStatements and FormStatements count
anyway, and the functions come from the dumps the instruction counts are
read from.

- ``sql.json``: operation -> its statements, normalised as ``explain`` does;
- ``functions.json``: operation -> the top functions by self and inclusive
  instructions per run (callgrind; C functions of Python, SQLite and the
  libraries, where the interpreter's time goes);
- ``raw_instructions.json``: operation -> every instruction between the
  markers, before the count leaves out the address-dependent work
  (``benchmarks/counting/callgrind.py``, EXCLUDED);
- ``phases.json`` and ``python_functions.json``: operation -> its
  instructions of one run by phase, and by Python function, inclusive
  (benchmarks/counting/phases.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

VARIABLE = "TARGET_APP_BENCH_ARTEFACTS"
TOP_FUNCTIONS = 10
_kept: dict[str, dict] = {}


def folder() -> Path | None:
    value = os.environ.get(VARIABLE)
    return Path(value) if value else None


def keep(kind: str, key: str, value) -> None:
    """Keep one artefact until :func:`write` (nothing, when no folder is named)."""
    if folder() is not None:
        _kept.setdefault(kind, {})[key] = value


WHITESPACE = re.compile(r"\s+")
EXPANDED_IN = re.compile(r"\bIN \(\s*\?(?:\s*,\s*\?)+\s*\)", re.I)


def normalise(statement: str) -> str:
    """One statement as it is compared between commits (here and by ``explain``)."""
    text = WHITESPACE.sub(" ", statement).strip()
    return EXPANDED_IN.sub("IN (?...)", text)


def keep_statements(operation: str, statements: list[str]) -> None:
    keep("sql", operation, [normalise(s) for s in statements])


def write() -> None:
    """Write what was kept into the folder, one JSON file per kind (merged with what is there)."""
    out = folder()
    if out is None or not _kept:
        return
    out.mkdir(parents=True, exist_ok=True)
    for kind, values in _kept.items():
        path = out / f"{kind}.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**old, **values}, indent=1, sort_keys=True))
    _kept.clear()
