"""The counting engine: what the exact benchmarks measure, and how, behind a few names.

The benchmark modules (``bench_*.py``, one level up) import what they need
from here, and nothing from the modules below:

- ``exact``: the one ``setup_cache`` of every exact measurement, and
  ``measures`` its parts (statements, bytes, the counting processes);
- ``callgrind`` runs valgrind: ``child`` writes the program it runs from
  ``program`` (its fixed part, pinned byte for byte), ``slots`` gives it
  its paths and environment, ``libs`` its C, ``dump`` reads its dumps;
- ``phases``: the wrappers that tell an operation's phases apart;
- ``explain``: what an operation did, for ``explain`` and the gate;
- ``artefacts``: what each commit's operations did, for the site.

A name is imported from its module when first asked for, so that importing
the package costs nothing (the counting processes import the phases alone).
"""

from importlib import import_module

_EXPORTS = {
    "measure_exact": "exact", "check": "exact",
    "MAIN_ROUTES": "measures", "CHILD_PROGRAM": "measures", "HEAVY": "measures",
    "sql_statements": "measures", "form_statements": "measures", "allocated_bytes": "measures",
    "retained_bytes": "measures", "retained_per_input": "measures", "retained_per_run": "measures",
    "per_route": "measures", "query_costs": "measures", "specs": "measures", "split": "measures",
    "start_instructions": "measures", "finish_instructions": "measures",
    "PHASES": "phases", "source_functions": "phases",
    "KINDS": "dump",
    "count_instructions": "callgrind",
    "collect": "explain",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
