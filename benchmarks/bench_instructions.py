"""CPU instructions per operation, counted by callgrind: exact where timings drift.

On this project's shared 2-core VM timings drift (docs/measurements.md, "Noise"); the same
program gives the same instruction count every time, so a small CPU
regression shows here when no timing can see it (docs/measurements.md, "Noise"). Every
operation the suite times has a count (benchmarks/operations.py, and
tests/suite/test_coverage.py keeps it so). Needs valgrind, and is skipped
without it or with TARGET_APP_BENCH_CALLGRIND=0 (``--no-callgrind``).
"""

from .counting import (
    check,
    finish_instructions,
    measure_exact,
    start_instructions,
)
from .operations import COLD_START, COVERING


class Instructions:
    """Instructions per operation (the same code, the same count)."""

    params = [*COVERING, COLD_START]
    param_names = ["operation"]
    timeout = 900

    setup_cache = measure_exact  # beside the counters (benchmarks/counting/exact.py)

    def measure(self):
        return self.finish(self.start())

    def start(self):
        """Start the two valgrind processes (measures.start_instructions)."""
        return start_instructions()

    def finish(self, started) -> dict:
        return finish_instructions(started)

    def setup(self, cache, operation):
        check(cache["Instructions"], "counts", operation)

    def track_instructions(self, cache, operation):
        return cache["Instructions"]["counts"][operation]

    track_instructions.unit = "instructions"
    # 9: every operation counted once, its total by phase, with the phases'
    # wrappers in place from its warm-up, as the derived outcomes and the
    # scrypt operations were: the totals of those written by hand hold the
    # wrappers' own work (+6% to +27%, docs/measurements.md); no second run
    # by phase (the system calls did not move).
    # 8: the counting processes' clients start from one fixed CSRF token
    # (measures.FIXED_CSRF_TOKEN): a form's render no longer moves with a
    # random one.
    # 7: the scrypt login and registration counted once, their total by
    # phase, with the phases' wrappers in place from their warm-up (their
    # totals hold the wrappers' own work, +0.05%); the program's text
    # changed for every operation (the system calls did not move).
    # 6: each operation's process then counts it once more by phase
    # (benchmarks/counting/phases.py), after its total: the phases' wrappers made in
    # the parent, find_name_in_mro left out by callgrind's toggle; the two
    # processes share the operations anew (measures.SECOND_GROUP).
    # 5: each operation counted in a process of its own, forked from one
    # parent after the set-up, after 10 warm-ups; instrumentation switched by
    # callgrind's client requests; the work inside find_name_in_mro and the
    # allocators left out (benchmarks/counting/dump.py, EXCLUDED), so that a
    # count no longer moves when unrelated code does (calibrate --layout).
    # 4: the child runs from links of a fixed length (benchmarks/counting/callgrind.py,
    # stable_paths), so a count no longer depends on where the clone is.
    # 3: every operation the suite times, on the suite's own production-shaped
    # data (benchmarks/dataset.py), operations with a form counted run by run.
    # 2: valgrind started uninstrumented, two processes (2026-11-27).
    track_instructions.version = "9"
