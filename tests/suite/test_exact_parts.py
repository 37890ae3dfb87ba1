"""A run that asks for some benchmarks alone measures only the exact parts they read
(benchmarks/counting/exact.py): a gate on the statement counters does not wait for valgrind."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import benchmarks
from benchmarks.bench_counters import check_route
from benchmarks.counting.exact import READERS, Skipped, measure_exact, wanted_parts


def _readers_of_the_exact_set_up() -> set[str]:
    out = set()
    for info in pkgutil.iter_modules(benchmarks.__path__):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if getattr(cls, "setup_cache", None) is measure_exact and not name.startswith("_"):
                out.add(f"{info.name}.{name}")
    return out


def test_every_class_that_reads_the_exact_set_up_has_its_part():
    listed = {c for classes in READERS.values() for c in classes}
    assert _readers_of_the_exact_set_up() == listed


def test_the_shared_setup_cache_is_two_lines_that_call_the_measurement():
    # asv_runner reads and tokenizes a benchmark's setup_cache source in the process of every parameter
    # combination: its cost is paid ~1,100 times a commit, so the body lives in measure_parts.
    lines, _ = inspect.getsourcelines(measure_exact)
    assert len(lines) <= 2
    assert "measure_parts()" in lines[-1]


@pytest.mark.parametrize("regexes, parts", [
    (None, set(READERS)),
    (["SqlStatements"], {"SqlStatements"}),
    ([r"^bench_instructions\.Instructions\.track_instructions\('GET /'\)$"], {"Instructions"}),
    (["Instructions|SystemCalls|Phases|SqlStatements"], {"Instructions", "SqlStatements"}),
    (["TableScans"], {"QueryCosts"}),
    (["HomePage"], set()),
    (["track_statements\\('GET /no-such-page \\(not found\\)'\\)"], {"QueryCosts"}),
])
def test_the_parts_are_those_the_asked_benchmarks_read(regexes, parts):
    assert wanted_parts(regexes) == parts


def test_a_part_not_asked_for_skips_each_of_its_routes():
    with pytest.raises(NotImplementedError, match="not asked for"):
        check_route(Skipped(), "/")
