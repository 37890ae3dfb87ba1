"""The vocabulary every command shares: a benchmark id, whether a benchmark is a timing, a missing value.

A benchmark id is ``module.Class.method`` and, for one parameter
combination, its values as asv stores them: ``bench_pages.Routes.time_route('/')``.
The gate, the rules, the regressions list and asv's regressions page all
spell it so; it is built and parsed here only.
"""

from __future__ import annotations

import math
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

    def __str__(self) -> str:
        return f"{self.name}({self.params})" if self.params else self.name


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


# The site's page of each commit (scripts/site/commits.py writes them; the regressions list links to them).
COMMIT_PAGES = "commits"


def commit_page(commit: str) -> str:
    """The page of ``commit``, relative to the site's root."""
    return f"{COMMIT_PAGES}/{commit}.html"
