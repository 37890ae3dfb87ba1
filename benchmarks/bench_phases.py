"""Instructions per operation by phase: where in a request a CPU regression happened, exact.

A 2% slowdown inside the template render is 0.3% of ``GET /``, under the
total's tolerance; as a share of the render it is plain. Each operation
(the scrypt ones aside) is counted once more, phase by phase, in the
process that counted its total, right after it
(benchmarks/phases.py for the phases and how they are told apart). Needs
valgrind and a C compiler, and is skipped without them or with
TARGET_APP_BENCH_CALLGRIND=0 (``--no-callgrind``).
"""

from .exact import check, measure_exact
from .measures import HEAVY
from .operations import OPERATIONS
from .phases import PHASES


class Phases:
    """Instructions of one run of an operation spent in one phase (the same code, the same count)."""

    params = [[name for name in OPERATIONS if name not in HEAVY], list(PHASES)]
    param_names = ["operation", "phase"]
    timeout = 900

    setup_cache = measure_exact  # beside the totals (benchmarks/exact.py)

    def setup(self, cache, operation, phase):
        check(cache["Phases"], "phases", operation)

    def track_phase_instructions(self, cache, operation, phase):
        return cache["Phases"]["phases"][operation][phase]

    track_phase_instructions.unit = "instructions"
    # 2: counted in the process of the operation's total, after it (2 warm-ups
    # with the wrappers), no longer in a process of its own.
    track_phase_instructions.version = "2"
