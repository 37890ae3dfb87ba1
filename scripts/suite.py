"""The suite's names as the tool uses them, in one place: a benchmark id, the benchmarks the tool reads by
name, whether a benchmark is a timing, a missing value, and the folders of .asv/ the suite and the tool share.

The suite (benchmarks/) defines each of these; the tool cannot import it (it imports target_app), so
tests/suite/test_names.py holds every name here against the suite's own definitions.

A benchmark id is ``module.Class.method`` and, for one parameter
combination, its values as asv stores them: ``bench_pages.Routes.time_route('/')``.
The gate, the rules, the regressions list and asv's regressions page all
spell it so; it is built and parsed here only.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

TIME_PREFIXES = ("time_", "timeraw_")


@dataclass(frozen=True)
class BenchmarkId:
    name: str  # module.Class.method
    params: str = ""  # "'/'", "'GET /', 'fsync'", or "" without parameters

    @classmethod
    def parse(cls, text: str) -> BenchmarkId:
        name, _, rest = text.partition("(")
        return cls(name, rest[:-1] if rest.endswith(")") else rest)

    @property
    def values(self) -> tuple:
        """The parameters' values, read as the literals asv wrote (``('GET /api/me (not logged in, stale)',
        'write')``): an operation's name may hold ", " itself."""
        if not self.params:
            return ()
        try:
            return tuple(ast.literal_eval(f"({self.params},)"))
        except (ValueError, SyntaxError):
            return tuple(v.strip("'") for v in self.params.split(", "))

    def __str__(self) -> str:
        return f"{self.name}({self.params})" if self.params else self.name


def only_ids(ids) -> str:
    """asv's ``--bench`` regular expression for exactly these benchmark ids: asv matches a parameterized
    benchmark's regex against "name(params)", so only the named parameters run."""
    return "^(" + "|".join(re.escape(i) for i in ids) + ")$"


def benchmark_id(name: str, params: str) -> str:
    """``name(params)``, or ``name`` without parameters."""
    return str(BenchmarkId(name, params))


def benchmark_name(ident: str) -> str:
    """The benchmark (``module.Class.method``) of an id."""
    return BenchmarkId.parse(ident).name


def is_timing(benchmark: str) -> bool:
    """A timed benchmark (asv's ``time_`` and ``timeraw_``), by its name or id."""
    return benchmark_name(benchmark).rsplit(".", 1)[-1].startswith(TIME_PREFIXES)


def is_nan(value) -> bool:
    """asv's NaN: a parameter combination skipped (n/a), not a failure."""
    return isinstance(value, float) and math.isnan(value)


def is_missing(value) -> bool:
    """No value: asv's None (a failure) or NaN (skipped)."""
    return value is None or is_nan(value)


# The benchmarks the tool reads by name.
INSTRUCTIONS = "bench_instructions.Instructions.track_instructions"
PHASES = "bench_phases.Phases.track_phase_instructions"
FUNCTIONS = "bench_phases.Functions.track_function_instructions"
SYSCALLS = "bench_syscalls.SystemCalls.track_syscalls"
RETAINED_BYTES = "bench_counters.RetainedBytes.track_retained_bytes"
RETAINED_PER_INPUT = "bench_counters.RetainedPerInput.track_retained_blocks"
STATEMENTS = "bench_counters.SqlStatements.track_statements"
FORM_STATEMENTS = "bench_counters.FormStatements.track_statements"
OUTCOME_STATEMENTS = "bench_counters.OutcomeStatements.track_statements"
# The counters of SQL statements per operation: pages, forms, derived outcomes.
STATEMENT_COUNTERS = (STATEMENTS, FORM_STATEMENTS, OUTCOME_STATEMENTS)
HOMEPAGE_TIME = "bench_pages.HomePage.time_homepage"
# The classes whose values the suite's one exact set-up measures (benchmarks/counting/exact.py, READERS):
# the same for the same app, suite and environment, so a gate takes its base's from the history where
# they were measured alike (scripts/shared.py).
EXACT_CLASSES = (
    "bench_counters.SqlStatements", "bench_counters.FormStatements", "bench_counters.AllocatedBytes",
    "bench_counters.RetainedBytes", "bench_counters.RetainedPerInput", "bench_counters.TableScans",
    "bench_counters.RowsFetched", "bench_counters.OutcomeStatements", "bench_instructions.Instructions",
    "bench_syscalls.SystemCalls", "bench_phases.Phases", "bench_phases.Functions",
)
# What callgrind measures: the modules whose benchmarks run under it.
CALLGRIND_MODULES = ("bench_instructions.", "bench_syscalls.", "bench_phases.")

# What a commit ships: its code and its lock (a commit that only moves a pin is measured too). The history
# measures the commits that change them; a gate shares the exact counts of commits alike in them
# (scripts/shared.py).
APP_PATHS = ("target_app", "requirements.lock")

# The folders of .asv/: what the suite's runs keep per operation (benchmarks/counting/artefacts.py writes it),
# the history's error lines per commit, and the site's page of each commit under the published html.
ARTEFACTS_DIR = ".asv/artefacts"
ARTEFACTS_VARIABLE = "TARGET_APP_BENCH_ARTEFACTS"  # where a run tells the suite to keep them
# The --bench regexes of a run, told to the suite so that its exact set-up measures only what they read.
ONLY_VARIABLE = "TARGET_APP_BENCH_ONLY"
ERRORS_DIR = ".asv/errors"
COMMIT_PAGES = "commits"


def commit_page(commit: str) -> str:
    """The page of ``commit``, relative to the site's root."""
    return f"{COMMIT_PAGES}/{commit}.html"
