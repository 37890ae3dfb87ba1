"""The suite's names as the tool spells them (scripts/suite.py) are the suite's own: each benchmark the tool
reads by name exists under that name, and the folders and variables are the ones the suite uses."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from benchmarks.counting import artefacts, exact
from scripts import suite

NAMED = [name for name in dir(suite) if name.isupper() and isinstance(getattr(suite, name), str)
         and getattr(suite, name).startswith("bench_")]


@pytest.mark.parametrize("constant", NAMED)
def test_each_benchmark_the_tool_names_exists_in_the_suite(constant):
    module, cls, method = getattr(suite, constant).split(".")
    assert callable(getattr(getattr(importlib.import_module(f"benchmarks.{module}"), cls), method))


def test_the_named_benchmarks_are_all_checked():
    assert {"INSTRUCTIONS", "PHASES", "FUNCTIONS", "SYSCALLS", "RETAINED_PER_INPUT", "STATEMENTS"} <= set(NAMED)


@pytest.mark.parametrize("prefix", suite.CALLGRIND_MODULES)
def test_the_callgrind_modules_exist(prefix):
    importlib.import_module(f"benchmarks.{prefix.rstrip('.')}")


def test_the_variables_are_the_ones_the_suite_reads():
    assert suite.ARTEFACTS_VARIABLE == artefacts.VARIABLE
    assert suite.ONLY_VARIABLE == exact.ONLY_VARIABLE


def test_the_exact_classes_are_the_ones_the_exact_set_up_measures():
    """Every class whose setup_cache is the one exact set-up, and no other: a class missing here would be
    measured again by a gate for nothing, one too many would be shared without being exact."""
    import inspect

    readers = {qualified for classes in exact.READERS.values() for qualified in classes}
    assert set(suite.EXACT_CLASSES) == readers
    found = set()
    for path in sorted(Path(exact.__file__).resolve().parents[1].glob("bench_*.py")):
        module_name = path.stem
        module = importlib.import_module(f"benchmarks.{module_name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (cls.__module__ == module.__name__ and not name.startswith("_")  # asv takes no base class
                    and getattr(cls, "setup_cache", None) is exact.measure_exact):
                found.add(f"{module_name}.{name}")
    assert found == readers
