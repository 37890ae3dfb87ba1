"""Helpers shared by tests."""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil

PREFIXES = ("time_", "track_", "mem_", "peakmem_", "timeraw_")


def benchmark_ids() -> list[str]:
    """Every benchmark id with its parameters, as asv and the gate spell them."""
    import benchmarks

    ids = []
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
                base = f"{info.name}.{cls_name}.{name}"
                params = getattr(cls, "params", [])
                if params and not isinstance(params[0], list | tuple):
                    params = [params]
                if not params:
                    ids.append(base)
                    continue
                for combo in itertools.product(*params):
                    ids.append(f"{base}({', '.join(repr(v) for v in combo)})")
    return ids
