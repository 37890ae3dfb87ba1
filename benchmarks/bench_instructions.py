"""CPU instructions per operation, counted by callgrind: exact where timings drift.

On this project's shared 2-core VM timings drift (README, "Noise"); the same
program gives the same instruction count every time, so a small CPU
regression shows here when no timing can see it (README, "Noise"). Every
operation the suite times has a count (benchmarks/operations.py, and
tests/suite/test_coverage.py keeps it so). Needs valgrind, and is skipped
without it or with TARGET_APP_BENCH_CALLGRIND=0 (``--no-callgrind``).
"""

from pathlib import Path

from . import artefacts
from .callgrind import Count, Spec, valgrind
from .common import CHEAP_HASH, bench_db, remove_db
from .exact import measure_exact
from .operations import COLD_START, OPERATIONS

# The child imports the suite's own package (as asv does, by name only, so
# that target_app stays the installed one of the commit under test) and
# builds the operations' context.
CHILD_PROGRAM = """
import importlib.util, os, sys
_bench = os.environ["CG_BENCH"]
_spec = importlib.util.spec_from_file_location("benchmarks", os.path.join(_bench, "__init__.py"),
                                               submodule_search_locations=[_bench])
_pkg = importlib.util.module_from_spec(_spec)
sys.modules["benchmarks"] = _pkg
_spec.loader.exec_module(_pkg)
from benchmarks.common import make_app
from benchmarks.operations import OPERATIONS as OPS, Context
ctx = Context(make_app(os.environ["CG_DB"]))
"""

# Import the framework first, uninstrumented: what is counted is target_app's
# own import and create_app() (a new heavy import in target_app shows).
COLD_PROGRAM = """
import flask, flask_wtf, jinja2, sqlalchemy, sqlalchemy.orm, werkzeug.security, wtforms
"""
COLD_BODY = """
import target_app
target_app.create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "bench"})
"""

# Two valgrind processes share the operations side by side (valgrind uses
# one core; this machine has two), split so that each takes about as long:
# the first counts the cold start and the scrypt logins and registration.
HEAVY = ("POST /auth/login", "POST /auth/register")


# Warm-up runs before an operation is counted, in its own process: enough
# for the interpreter to have specialised its code and for its caches (the
# statement cache, the pool, the page cache) to hold what the operation
# needs. The scrypt operations are dominated by the hash, which needs none.
WARMUP = 10
HEAVY_WARMUP = 2


def specs(names) -> dict[str, Spec]:
    out = {}
    for name in names:
        op = OPERATIONS[name]
        prepare = f"OPS[{name!r}].prepare(ctx)" if op.prepare else ""
        warmup = HEAVY_WARMUP if name in HEAVY else max(op.warmup, WARMUP)
        out[name] = Spec(f"OPS[{name!r}].run(ctx, _p)", prepare, op.repeat, warmup)
    return out


def split(names: list[str]) -> list[list[str]]:
    """Two groups: the scrypt operations (beside the cold start), and the rest."""
    return [[n for n in names if n in HEAVY], [n for n in names if n not in HEAVY]]


class Instructions:
    """Instructions per operation (the same code, the same count)."""

    params = [*OPERATIONS, COLD_START]
    param_names = ["operation"]
    timeout = 900

    setup_cache = measure_exact  # beside the counters (benchmarks/exact.py)

    def measure(self):
        return self.finish(self.start())

    def start(self):
        """Start the two valgrind processes side by side, each on its own copy of
        the database (a count must not depend on what the other one wrote)."""
        try:
            valgrind()
        except NotImplementedError as exc:
            return {"skip": str(exc)}
        bench = str(Path(__file__).resolve().parent)
        runs = []
        for names, cold_start in zip(split(list(OPERATIONS)), [True, False], strict=True):
            db_path = bench_db(password_method=CHEAP_HASH)
            first = {COLD_START: Spec(COLD_BODY, repeat=1, warmup=0)} if cold_start else None
            count = Count(specs(names), CHILD_PROGRAM, prelude=COLD_PROGRAM if cold_start else "", first=first,
                          env={"CG_DB": str(db_path), "CG_BENCH": bench})
            runs.append((count.start(), db_path))
        return {"runs": runs}

    def finish(self, started) -> dict:
        if "skip" in started:
            return started
        counts, syscalls = {}, {}
        top = artefacts.TOP_FUNCTIONS if artefacts.folder() else 0
        try:
            for count, _ in started["runs"]:
                counts.update(count.finish(top))
                syscalls.update(count.syscalls)
                for name, sites in count.syscall_sites.items():
                    artefacts.keep("syscalls", name, sites)
                for name, functions in count.functions.items():
                    artefacts.keep("functions", name, functions)
                for name, raw in count.raw.items():
                    artefacts.keep("raw_instructions", name, raw)
        finally:
            for _, db_path in started["runs"]:
                remove_db(db_path)
        return {"counts": counts, "syscalls": syscalls}

    def setup(self, cache, operation):
        cache = cache["Instructions"]
        if "skip" in cache:
            raise NotImplementedError(cache["skip"])
        if operation not in cache["counts"]:
            raise NotImplementedError(f"{operation} is not available at this commit")
        if isinstance(cache["counts"][operation], str):
            raise RuntimeError(cache["counts"][operation])

    def track_instructions(self, cache, operation):
        return cache["Instructions"]["counts"][operation]

    track_instructions.unit = "instructions"
    # 5: each operation counted in a process of its own, forked from one
    # parent after the set-up, after 10 warm-ups; instrumentation switched by
    # callgrind's client requests; the work inside find_name_in_mro and the
    # allocators left out (benchmarks/callgrind.py, EXCLUDED), so that a
    # count no longer moves when unrelated code does (calibrate --layout).
    # 4: the child runs from links of a fixed length (benchmarks/callgrind.py,
    # stable_paths), so a count no longer depends on where the clone is.
    # 3: every operation the suite times, on the suite's own production-shaped
    # data (benchmarks/dataset.py), operations with a form counted run by run.
    # 2: valgrind started uninstrumented, two processes (2026-11-27).
    track_instructions.version = "5"
