"""System calls per operation, by kind: what the kernel is asked to do, exact where timings drift.

Instructions count work in user space only: an fsync, a file write or a
round trip to a database server costs none. callgrind counts each system
call where libc makes it, in the same processes that count the
instructions (benchmarks/counting/exact.py, benchmarks/counting/dump.py for the kinds and
what is left out), so a rise of one fsync per request is a regression the
way one more SQL statement is.
"""

from .counting import KINDS, check, measure_exact
from .operations import COLD_START, COVERING


class SystemCalls:
    """System calls per run of each operation, of one kind (the same code, the same count)."""

    params = [[*COVERING, COLD_START], list(KINDS)]
    param_names = ["operation", "kind"]
    timeout = 900

    setup_cache = measure_exact  # the instruction counts' own callgrind runs

    def setup(self, cache, operation, kind):
        check(cache["Instructions"], "syscalls", operation)

    def track_syscalls(self, cache, operation, kind):
        return cache["Instructions"]["syscalls"][operation][kind]

    track_syscalls.unit = "calls"
    # 3: counted in the processes that now count by phase too, after each
    # total (bench_instructions, version 6).
    # 2: getrandom is not counted (benchmarks/counting/dump.py, NOT_COUNTED).
    track_syscalls.version = "3"
