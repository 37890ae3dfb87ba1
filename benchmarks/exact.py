"""The exact measurements of a commit, taken together in one ``setup_cache``.

Statements, peak and retained bytes and instruction counts do not depend on
how busy the machine is, so they may share it: the valgrind processes
count instructions (in total, and by phase) while the counters are
measured beside them, instead of
one after the other (docs/measurements.md, "What a commit costs"). No timing runs
meanwhile: asv runs one setup_cache at a time. Every class that sets
``setup_cache = measure_exact`` shares the one result (asv keys a
setup_cache by its function), and reads its own part by class name. What
the operations did is kept beside the numbers when history asks
(benchmarks/artefacts.py).
"""


from . import artefacts, measures


def measure_exact(self) -> dict:
    """Every exact part, keyed by the name of the benchmark class that reads it."""
    # valgrind's children write to files: nothing in this process allocates
    # for them while tracemalloc counts the counters' bytes.
    counting = measures.start_instructions()
    by_phase = measures.start_phases()
    try:
        out = {"SqlStatements": measures.sql_statements(), "FormStatements": measures.form_statements(),
               "AllocatedBytes": measures.allocated_bytes(), "RetainedBytes": measures.retained_bytes()}
    finally:
        out_instructions = measures.finish_instructions(counting)
        out_phases = measures.finish_phases(by_phase)
    artefacts.write()
    return {**out, "Instructions": out_instructions, "Phases": out_phases}
