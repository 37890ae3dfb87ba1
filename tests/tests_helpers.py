"""Helpers shared by every folder of tests (pytest puts this folder on the path: pyproject.toml)."""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

# The repository's root.
ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the form in ``html``."""
    match = CSRF_RE.search(html)
    assert match, "form has no csrf_token field"
    return match.group(1)

PREFIXES = ("time_", "track_", "mem_", "peakmem_", "timeraw_")


def benchmark_methods() -> Iterator[tuple[str, type, str, tuple]]:
    """(module, class, method, parameter combination) of every benchmark asv runs."""
    import benchmarks

    for info in pkgutil.iter_modules(benchmarks.__path__):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or cls_name.startswith("_"):  # asv skips "_" names
                continue
            for name, _ in inspect.getmembers(cls, inspect.isfunction):
                if not name.startswith(PREFIXES):
                    continue
                params = getattr(cls, "params", [])
                if params and not isinstance(params[0], list | tuple):
                    params = [params]
                for combo in itertools.product(*params) if params else [()]:
                    yield info.name, cls, name, combo


def benchmark_ids() -> list[str]:
    """Every benchmark id with its parameters, as asv and the gate spell them."""
    return [
        f"{module}.{cls.__name__}.{name}" + (f"({', '.join(repr(v) for v in combo)})" if combo else "")
        for module, cls, name, combo in benchmark_methods()
    ]
