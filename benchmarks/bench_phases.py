"""Instructions per operation by phase: where in a request a CPU regression happened, exact.

A 2% slowdown inside the template render is 0.3% of ``GET /``, under the
total's tolerance; as a share of the render it is plain. Each operation
is counted phase by phase in the run that counts its total
(benchmarks/counting/phases.py for the phases and how they are told apart). Needs
valgrind and a C compiler, and is skipped without them or with
TARGET_APP_BENCH_CALLGRIND=0 (``--no-callgrind``).
"""

from pathlib import Path

from .counting import PHASES, check, measure_exact, source_functions
from .operations import COVERING

# target_app's own functions, from the source beside the suite (asv's
# parameters are fixed when it discovers the suite): at a commit that lacks
# one, or an operation that does not call it, its benchmark is skipped.
FUNCTIONS = source_functions(Path(__file__).resolve().parent.parent)


class Phases:
    """Instructions of one run of an operation spent in one phase (the same code, the same count)."""

    params = [list(COVERING), list(PHASES)]
    param_names = ["operation", "phase"]
    timeout = 900

    setup_cache = measure_exact  # beside the totals (benchmarks/counting/exact.py)

    def setup(self, cache, operation, phase):
        check(cache["Phases"], "phases", operation)

    def track_phase_instructions(self, cache, operation, phase):
        return cache["Phases"]["phases"][operation][phase]

    track_phase_instructions.unit = "instructions"
    # 5: every operation's run by phase is its total's run, after its 10
    # warm-ups with the wrappers (was a run of its own after the total, after
    # 2 warm-ups with the wrappers, for the operations written by hand).
    # 4: one fixed CSRF token in the counting processes (as the totals' 8).
    # 3: the scrypt operations' run by phase is their total's run, after 2
    # warm-ups with the wrappers (was a run of its own after none, which
    # counted one-time work: register's SQL compile 926k, now 282k).
    # 2: counted in the process of the operation's total, after it (2 warm-ups
    # with the wrappers), no longer in a process of its own; the scrypt
    # operations too, and their password hashing as a phase of its own.
    track_phase_instructions.version = "5"


class Functions:
    """Instructions inside one of target_app's own functions, inclusive, over one run of every operation: a
    regression named at the function where it happened (``target_app/api.py:settings``), even when it adds
    no call (an inline loop). Counted in the same runs as the phases.

    One parameter, not one per operation and function: asv runs each
    combination in a process of its own (~16 ms), and 22 operations by 53
    functions cost 19 s a commit. A sum over fewer operations would step
    where one appears, so at a commit where any operation did not run by
    phase, every function is skipped.
    """

    params = [FUNCTIONS]
    param_names = ["function"]
    timeout = 900

    setup_cache = measure_exact  # beside the totals (benchmarks/counting/exact.py)

    def setup(self, cache, function):
        for operation in COVERING:
            check(cache["Phases"], "phases", operation)
        if not any(function in named for named in cache["Phases"]["functions"].values()):
            raise NotImplementedError(f"no operation calls {function} at this commit")

    def track_function_instructions(self, cache, function):
        return sum(named.get(function, 0) for named in cache["Phases"]["functions"].values())

    track_function_instructions.unit = "instructions"
    # 4: every operation's run by phase is its total's run (as the phases' version 5).
    # 3: one fixed CSRF token in the counting processes (as the totals' 8).
    # 2: the scrypt operations' functions counted in their total's run, after
    # 2 warm-ups with the wrappers (as the phases' version 3).
    track_function_instructions.version = "4"
