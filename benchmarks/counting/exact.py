"""The exact measurements of a commit, taken together in one ``setup_cache``.

Statements, peak and retained bytes and instruction counts do not depend on
how busy the machine is, so they may share it: the valgrind processes
count instructions (in total, then by phase) while the counters are
measured beside them, instead of
one after the other (docs/measurements.md, "What a commit costs"). No timing runs
meanwhile: asv runs one setup_cache at a time. Every class that sets
``setup_cache = measure_exact`` shares the one result (asv keys a
setup_cache by its function), and reads its own part by class name. What
the operations did is kept beside the numbers when history asks
(benchmarks/counting/artefacts.py).
"""


import itertools
import json
import os
import re

from . import artefacts, measures

# A run that asks for some benchmarks alone (asv's --bench) names them here, as its regular expressions
# (scripts/asvtool.py sets it): only the parts they read are measured, so a gate on the statement counters
# does not wait for valgrind. Without it, every part is.
ONLY_VARIABLE = "TARGET_APP_BENCH_ONLY"

# The parts, each by the benchmark classes that read it (tests/suite/test_exact_parts.py: every class whose
# setup_cache is measure_exact is one of them).
READERS = {
    "SqlStatements": ("bench_counters.SqlStatements",),
    "FormStatements": ("bench_counters.FormStatements",),
    "AllocatedBytes": ("bench_counters.AllocatedBytes",),
    "RetainedBytes": ("bench_counters.RetainedBytes",),
    "RetainedPerInput": ("bench_counters.RetainedPerInput",),
    "QueryCosts": ("bench_counters.TableScans", "bench_counters.RowsFetched", "bench_counters.OutcomeStatements"),
    "Instructions": ("bench_instructions.Instructions", "bench_syscalls.SystemCalls", "bench_phases.Phases",
                     "bench_phases.Functions"),
}
MEASURES = {"SqlStatements": "sql_statements", "FormStatements": "form_statements",
            "AllocatedBytes": "allocated_bytes", "RetainedBytes": "retained_bytes",
            "RetainedPerInput": "retained_per_input", "QueryCosts": "query_costs"}


def benchmark_ids(cls, name: str) -> list[str]:
    """Every id of class ``name``'s benchmarks as asv matches --bench against them: each method alone, and with
    each combination of its parameters."""
    out = []
    methods = [m for m in dir(cls) if m.startswith(("track_", "time_"))]
    params = getattr(cls, "params", [])
    combos = list(itertools.product(*params)) if params and isinstance(params[0], list) else [(p,) for p in params]
    for method in methods:
        out.append(f"{name}.{method}")
        out += [f"{name}.{method}({', '.join(repr(v) for v in combo)})" for combo in combos]
    return out


def wanted_parts(regexes: list[str] | None) -> set[str]:
    """The parts the benchmarks matching ``regexes`` read (all of them without ``regexes``)."""
    if not regexes:
        return set(READERS)
    from importlib import import_module

    out = set()
    for part, classes in READERS.items():
        for qualified in classes:
            module, name = qualified.split(".")
            cls = getattr(import_module(f"benchmarks.{module}"), name)
            if any(re.search(rx, ident) for rx in regexes for ident in benchmark_ids(cls, qualified)):
                out.add(part)
                break
    return out


class Skipped(dict):
    """A part not asked for in this run: every route or operation of it skips (a benchmark reading it runs only
    where asv was asked for more than its regular expressions reached)."""

    def __missing__(self, key):
        return ("skip", "not asked for in this run")


# The setup_cache itself stays two lines: asv_runner reads and tokenizes the source of a benchmark's
# setup_cache again in the process of each parameter combination (1,139 a commit), and this one's body cost
# ~1.1 ms each (docs/measurements.md, "What a commit costs"). What it measures is measure_parts.
def measure_exact(self) -> dict:
    return measure_parts()


def measure_parts() -> dict:
    """Every exact part asked for, keyed by the name of the benchmark class that reads it."""
    only = os.environ.get(ONLY_VARIABLE)
    wanted = wanted_parts(json.loads(only) if only else None)
    skipped = {"skip": "not asked for in this run"}
    # valgrind's children write to files: nothing in this process allocates
    # for them while tracemalloc counts the counters' bytes.
    counting = measures.start_instructions() if "Instructions" in wanted else None
    try:
        out = {part: getattr(measures, fn)() if part in wanted else Skipped() for part, fn in MEASURES.items()}
    finally:
        out_instructions = measures.finish_instructions(counting) if counting is not None else dict(skipped)
    # The counts by phase come from the same processes (skipped with them).
    out_phases = out_instructions.pop("by_phase", None) or {"skip": out_instructions.get("skip", "")}
    artefacts.write()
    return {**out, "Instructions": out_instructions, "Phases": out_phases}


def check(part: dict, values: str, operation: str) -> None:
    """Skip or fail one operation's benchmark the way its part of the measurement went: skipped (no valgrind),
    failed as a whole, the operation absent at this commit, or failed alone (its error, a str)."""
    if "skip" in part:
        raise NotImplementedError(part["skip"])
    if "failed" in part:
        raise RuntimeError(part["failed"])
    if operation not in part.get(values, {}):
        raise NotImplementedError(f"{operation} is not available at this commit")
    if isinstance(part[values][operation], str):
        raise RuntimeError(part[values][operation])
