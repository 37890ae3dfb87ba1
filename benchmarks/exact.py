"""The exact measurements of a commit, taken together in one ``setup_cache``.

Statements, peak and retained bytes and instruction counts do not depend on
how busy the machine is, so they may share it: the two valgrind processes
count instructions while the counters are measured beside them, instead of
one after the other (README, "What a commit costs"). No timing runs
meanwhile: asv runs one setup_cache at a time. Every class that sets
``setup_cache = measure_exact`` shares the one result (asv keys a
setup_cache by its function), and reads its own part by class name. What
the operations did is kept beside the numbers when history asks
(benchmarks/artefacts.py).
"""


def measure_exact(self) -> dict:
    from . import artefacts
    from .bench_counters import AllocatedBytes, FormStatements, RetainedBytes, SqlStatements
    from .bench_instructions import Instructions

    # valgrind's children write to files: nothing in this process allocates
    # for them while tracemalloc counts the counters' bytes.
    counting = Instructions().start()
    try:
        out = {cls.__name__: cls().measure() for cls in (SqlStatements, FormStatements, AllocatedBytes,
                                                         RetainedBytes)}
    finally:
        out_instructions = Instructions().finish(counting)
    artefacts.write()
    return {**out, "Instructions": out_instructions}
