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


from . import artefacts, measures


def measure_exact(self) -> dict:
    """Every exact part, keyed by the name of the benchmark class that reads it."""
    # valgrind's children write to files: nothing in this process allocates
    # for them while tracemalloc counts the counters' bytes.
    counting = measures.start_instructions()
    try:
        out = {"SqlStatements": measures.sql_statements(), "FormStatements": measures.form_statements(),
               "AllocatedBytes": measures.allocated_bytes(), "RetainedBytes": measures.retained_bytes(),
               "RetainedPerInput": measures.retained_per_input(), "QueryCosts": measures.query_costs()}
    finally:
        out_instructions = measures.finish_instructions(counting)
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
