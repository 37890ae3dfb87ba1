"""The exact measurements, part by part: what benchmarks/counting/exact.py runs in its one setup_cache.

The benchmark classes (bench_counters, bench_instructions, bench_syscalls)
read their parts of its result; they import this module, and it imports
none of them.
"""

import gc
import itertools
import sys
import time
import tracemalloc
import weakref
from contextlib import contextmanager
from pathlib import Path

from ..common import CHEAP_HASH, GET_ROUTES, StatementCounter, bench_db, fixture, get_ok, make_app, remove_db
from ..operations import (
    COLD_START,
    COVERING,
    DERIVED_NAMES,
    FORM_POSTS,
    OPERATIONS,
    ROUTE_NAMES,
    STREAMS,
    Context,
    counting_context,
)
from ..outcomes import STREAM_VALUES
from . import artefacts, phases
from .callgrind import Count, valgrind
from .child import Spec
from .libs import trampolines_library
from .plans import QueryCosts

MAIN_ROUTES = ["/", "/auth/login", "/api/me", "/api/users", "/api/settings"]
# Requests with new values before a stream is read: a probe, and where it grows, more than a cache bounded at
# 1,024 entries holds. Most streams keep nothing from the first requests on; the others fill the framework's
# own bounded caches first (urllib's of 128 URLs, SQLAlchemy's memoized attributes: the homepage's stream
# keeps 0.84 blocks a request at 100, 0.25 at 150, 0.0 from 300; docs/measurements.md). A stream is read
# at each of PROBE_STAGES in turn, and the first stage that keeps less than half what the rule allows
# (benchmarks/rules.toml, half a block) gives the value; one that still grows at the last goes on to
# STREAM_WARMUP, whose value is the verdict's. The stages are the probe's noise: the same code reads 0.0 at
# 100 on 10 of 15 streams (the homepage's, the posts', the users', the logout's and the static file's
# still settle), 0.0-0.5 at 300 (CI once read the static file's at 0.5), 0.0-0.06 from 500; a cache with a
# bound of 1,024 or none still keeps a block a request at 700.
PROBE_STAGES = (100, 300, 700)
PROBE_GROWTH = 0.25
# A stream slower than this fails alone (its route's requests got that slow: the other counters say why),
# rather than holding the commit's exact set-up past asv's timeout. Today's slowest takes ~8 s to 1,600.
STREAM_DEADLINE = 120
# A cache full at 1,024 entries still keeps ~1 block a request for a few hundred more (1.0 at 1,100 requests,
# 0.0 at 1,600; a bound of 1,300 reads 0.0 there, 1,400 0.75: docs/measurements.md).
STREAM_WARMUP = 1600
assert STREAM_WARMUP + 2 * 32 <= STREAM_VALUES


def per_route(routes, measure) -> dict:
    """``measure(route)`` for each route, in one process (a process each cost ~0.2 s of set-up).

    A route this commit lacks is kept as a skip, a route that fails as a
    failure, so that one broken route does not fail the others.
    """
    out = {}
    for route in routes:
        try:
            out[route] = measure(route)
        except NotImplementedError as exc:
            out[route] = ("skip", str(exc))
        except Exception as exc:  # noqa: BLE001 - recorded, and raised for this route alone
            out[route] = ("fail", f"{type(exc).__name__}: {exc}")
    return out


def sql_statements(routes=GET_ROUTES) -> dict:
    """SQL statements one GET request sends, per route (after a warm-up request)."""
    f = fixture()

    def measure(route):
        get_ok(f.client, route)  # warm-up
        with StatementCounter(f.engine()) as counter:
            get_ok(f.client, route)
        artefacts.keep_statements(f"GET {route}", counter.statements)
        return counter.count

    return per_route(routes, measure)


def form_statements(routes=FORM_POSTS) -> dict:
    """SQL statements of one form submission (the POST alone), per route."""
    ctx = counting_context()

    def measure(route):
        op = OPERATIONS[route]
        op.once(ctx)  # warm-up
        prepared = op.prepare(ctx)
        with StatementCounter(ctx.engine) as counter:
            op.run(ctx, prepared)
        artefacts.keep_statements(route, counter.statements)
        return counter.count

    return per_route(routes, measure)


def query_costs(names=None, ctx=None) -> dict:
    """Statements, full table scans and rows fetched by one run of each operation, after a warm-up run (see
    counting/plans.py); the scans and the statements are kept for the site and the explanations."""
    ctx = ctx or counting_context()

    def measure(name):
        op = OPERATIONS[name]
        op.once(ctx)  # warm-up
        prepared = op.prepare(ctx) if op.prepare else None
        with QueryCosts(ctx.engine) as costs:
            op.run(ctx, prepared)
        artefacts.keep_statements(name, costs.statements)
        artefacts.keep("scans", name, costs.scan_lines() + [f"(not asked) {u}" for u in costs.unplanned])
        return {"statements": len(costs.statements), "scans": len(costs.scans), "rows": costs.rows}

    return per_route(list(OPERATIONS) if names is None else names, measure)


def allocated_bytes(routes=MAIN_ROUTES, warmup: int = 5, samples: int = 7) -> dict:
    """Peak bytes of one request, per route (see bench_counters.AllocatedBytes)."""
    client = fixture().client

    def measure(route):
        for _ in range(warmup):
            get_ok(client, route)
        return peak_bytes(client, route, samples)

    return per_route(routes, measure)


def peak_bytes(client, route: str, samples: int) -> int:
    """The least peak of ``samples`` requests, in whole KiB (see AllocatedBytes)."""
    peaks = []
    gc.collect()
    gc.disable()  # a collection mid-request would move the peak
    tracemalloc.start()
    try:
        for _ in range(samples):
            tracemalloc.clear_traces()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            get_ok(client, route)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
        gc.enable()
    return round(min(peaks) / 1024) * 1024


_NOT_COUNTED = [tracemalloc.Filter(False, "*/sqlalchemy/pool/base.py")]


def _live_bytes() -> int:
    gc.collect()
    sys._clear_type_cache()
    snapshot = tracemalloc.take_snapshot().filter_traces(_NOT_COUNTED)
    return sum(stat.size for stat in snapshot.statistics("filename"))


@contextmanager
def frozen():
    """What exists now is not the measurement's: the collections inside skip it (10x cheaper). An object frozen
    here that dies inside is not collected, so the freeze can only hide a decrease, never show growth."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def retained_per_run(op, ctx, runs: int, windows: int = 2) -> int:
    """Live bytes gained per run of ``op`` (see RetainedBytes): the least of ``windows`` windows of ``runs``.

    A cache that grows once (a dict doubling, say) lands in one window; a
    leak grows in every window, so the least of two is the leak.
    """
    with frozen():
        tracemalloc.start()
        try:
            op.once(ctx)  # allocations made once, on the first traced run
            _live_bytes()  # the first reading compiles and caches its filter
            gained = []
            for _ in range(windows):
                before = _live_bytes()
                for _ in range(runs):
                    op.once(ctx)
                gained.append(_live_bytes() - before)
            return round(min(gained) / runs)
        finally:
            tracemalloc.stop()


def retained_bytes(routes=None, warmup: int = 6, requests: int = 5) -> dict:
    """Bytes kept per request, per route (see bench_counters.RetainedBytes): the routes of COVERING by
    default."""
    routes = [name for name in ROUTE_NAMES if name in COVERING] if routes is None else routes
    # Each route warmed up and measured in turn, always in the same order.
    ctx = counting_context()

    def measure(route):
        op = OPERATIONS[route]
        for _ in range(warmup):
            op.once(ctx)
        return retained_per_run(op, ctx, requests)

    return per_route(routes, measure)


def _blocks(engine) -> int:
    """CPython's allocated memory blocks after a full collection, less the weak references an SQLite
    connection keeps to its cursors: it drops the dead ones only every 200 cursors it makes (CPython's
    Modules/_sqlite/connection.c), a saw of +1 a cursor and -200 that a window would cut anywhere."""
    gc.collect()
    blocks = sys.getallocatedblocks()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
    lists = [r for r in gc.get_referents(raw) if isinstance(r, list) and all(isinstance(x, weakref.ref) for x in r)]
    return blocks - max((len(r) for r in lists), default=0)


def retained_per_input(names=None, warmup: int = STREAM_WARMUP, per_window: int = 32, windows: int = 2,
                       ctx=None) -> dict:
    """Memory blocks kept per distinct request, per input stream of surface.json (see
    bench_counters.RetainedPerInput): requests with new values, then ``windows`` windows of ``per_window``
    more; what each new request keeps, the least of the windows.

    First a short probe (the first of PROBE_STAGES, in requests before the windows). Where it shows growth, the
    stream is read again at each later stage, and where it still grows, after ``warmup`` requests: more than
    a cache bounded at 1,024 entries holds, which is then full and evicts one entry per new value, while a
    cache without a bound still keeps one per request. Most commits keep nothing, and pay for the probe alone
    (a stream's 1,600 requests cost ~2-7 s each; docs/measurements.md).

    Counted as CPython's allocated memory blocks (:func:`_blocks`), not traced bytes: the count sees an
    evicted entry freed whatever made it, and costs nothing while the requests run (tracemalloc would
    double each). Every entry a cache keeps holds one block or more (its key at least). Each stream runs on
    its own copy of the database: its registrations and logins write rows no other measurement must see.
    """
    by_name = {stream.name: stream for stream in STREAMS}

    def measure(name):
        stream = by_name[name]
        db = None if ctx else bench_db(password_method=CHEAP_HASH)
        own = ctx or Context(make_app(db, PASSWORD_HASH_METHOD=CHEAP_HASH))
        own.fix_csrf_token(FIXED_CSRF_TOKEN)
        values = itertools.count()
        started = time.monotonic()

        def send(n: int) -> None:
            for _ in range(n):
                stream.send(stream.prepare(own, next(values)))
            spent = time.monotonic() - started
            if spent > STREAM_DEADLINE:
                raise RuntimeError(f"{name}: {spent:.0f} s for its requests, beyond {STREAM_DEADLINE} s: "
                                   "each costs what the other operations' counts show")

        def kept() -> float:
            gained = []
            for _ in range(windows):
                before = _blocks(own.engine)
                send(per_window)
                gained.append((_blocks(own.engine) - before) / per_window)
            return round(min(gained), 2)

        try:
            # What exists before the stream's first request is not its own (84 readings' full collections
            # took 1.8 s a commit without the freeze).
            with frozen():
                sent = 0
                for stage in (*PROBE_STAGES, warmup):
                    send(stage - sent)
                    found = kept()
                    sent = stage + windows * per_window
                    if found < PROBE_GROWTH:
                        break
                return found
        finally:
            if db is not None:
                own.close()
                own.engine.dispose()
                remove_db(db)

    return per_route([s.name for s in STREAMS] if names is None else names, measure)


# The child imports the suite's own package (as asv does, by name only, so
# that target_app stays the installed one of the commit under test) and
# builds the operations' context. Its clients' sessions start from one
# fixed CSRF token (Context.fix_csrf_token), where Flask-WTF would draw one at
# random: a form's render compresses and signs the token, which costs a
# few thousand instructions more or less with its bytes (the same code's
# form renders moved by up to 0.39%; docs/measurements.md, "Noise"). A
# token drawn later (after the login, which starts a new session) is still
# random.
FIXED_CSRF_TOKEN = "3dbc636a3d9dab5fd72aad9d4c726e6ce8840f45"  # sha1 of b"target_app benchmarks"
CHILD_PROGRAM = f"""
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
ctx.fix_csrf_token({FIXED_CSRF_TOKEN!r})
_keep(os.environ["CG_DB"])
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
# the first counts the cold start, the scrypt login and registration and
# the operations of SECOND_GROUP; the second counts the rest.
HEAVY = ("POST /auth/login", "POST /auth/register")
SECOND_GROUP = ("bulk_insert_core", "bulk_insert_orm", "pool_checkout", "insert_committed_rows")


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
    """Two groups of about the same cost: the scrypt operations with SECOND_GROUP (beside the cold start) and
    every other derived outcome, and the rest (measured alone: 36.4 s and 32.4 s with three in five of the
    outcomes in the first, docs/measurements.md)."""
    derived = [n for n in names if n in DERIVED_NAMES]
    first = [n for n in names if n in HEAVY or n in SECOND_GROUP] + derived[::2]
    return [first, [n for n in names if n not in first]]


# Each counting process makes the phases' wrappers once its context is
# built (benchmarks/counting/phases.py), before it forks, and says which trampoline
# means what; each operation's process puts them in place before its
# warm-up (benchmarks/counting/program.py, _wrap). If they cannot be made at this
# commit, the counts by phase alone fail, with that error.
PHASES_SETUP = """
try:
    from benchmarks.phases import prepare as _prepare
    _PHASES = _prepare(os.environ["CG_PHASES"], ctx.app, ctx.engine)
    _meaning = _PHASES.meaning
except Exception as _exc:
    _PHASES, _meaning = None, f"the phases' wrappers: {type(_exc).__name__}: {_exc}"
with open(os.path.join(os.environ["CG_MANIFEST"], "trampolines.json"), "w") as _fh:
    _json.dump(_meaning, _fh)
"""
# callgrind leaves find_name_in_mro's work out itself, with a toggle at its
# entry and exit: the phases need that (a dump cannot say in which phase
# each call was made), and the totals, which leave it out by reading the
# dumps anyway (dump.EXCLUDED), are the same within the spread of the
# same code counted twice. Not the allocators': glibc jumps from one to
# another, and a toggle whose exit callgrind never sees leaves collection
# off. In this order: a toggle sets collection off at the start, and the
# later option sets it on again.
OPTIONS = ("--toggle-collect=find_name_in_mro", "--collect-atstart=yes")


def counting_program(by_phase: bool) -> str:
    """The set-up each counting process runs before it forks (the phases' wrappers made too, ``by_phase``)."""
    return CHILD_PROGRAM + PHASES_SETUP if by_phase else CHILD_PROGRAM


def phased(names) -> set[str]:
    """The operations of ``names`` counted by phase: every one, in its one counted run, with the phases'
    wrappers in place from its warm-up. A second run by phase after the total (two more warm-ups and a run,
    instrumented) cost the operations written by hand ~12 s of valgrind's CPU a commit; what it bought,
    totals without the wrappers' own work, is a constant of each operation's path (docs/measurements.md,
    "What a commit costs")."""
    return set(names)


def environment(db_path, library) -> dict[str, str]:
    """What a counting process is told: its database, the suite, and the phases' trampolines (if any)."""
    env = {"CG_DB": str(db_path), "CG_BENCH": str(Path(__file__).resolve().parent.parent)}  # the suite's package
    if library is not None:
        env["CG_PHASES"] = str(library)
    return env


def counting(group: list[str], cold_start: bool, by_phase: bool, env: dict[str, str]) -> Count:
    """The valgrind process that counts ``group`` (and first the cold start, with ``cold_start``), and each
    operation by phase too, ``by_phase``."""
    first = {COLD_START: Spec(COLD_BODY, repeat=1, warmup=0)} if cold_start else None
    return Count(specs(group), counting_program(by_phase), prelude=COLD_PROGRAM if cold_start else "",
                 first=first, env=env, options=OPTIONS, phased=phased(group) if by_phase else None)


def start_instructions(names: list[str] | None = None) -> dict:
    """Start the two valgrind processes side by side, each on its own copy of
    the database (a count must not depend on what the other one wrote).

    Every operation is counted by phase too, in its own process after its
    total, if a C compiler made the phases' trampolines.
    ``names``: these operations only (and the cold start).
    """
    try:
        valgrind()
    except NotImplementedError as exc:
        return {"skip": str(exc)}
    library = trampolines_library()
    runs = []
    for group, cold_start in zip(split(list(COVERING) if names is None else names), [True, False],
                                 strict=True):
        db_path = bench_db(password_method=CHEAP_HASH)
        runs.append((counting(group, cold_start, library is not None, environment(db_path, library)).start(),
                      db_path))
    by_phase = None if library is not None else "no C compiler for the phases' trampolines: counts by phase skipped"
    return {"runs": runs, "by_phase_skip": by_phase}


def by_phase(count: Count) -> tuple[dict, dict]:
    """One run of each of ``count``'s phased operations by phase and by Python function (benchmarks/counting/phases.py),
    or the error that stopped it (a str)."""
    meaning = count.manifest.get("trampolines", [])
    out, functions = {}, {}
    for name, counted in count.by_phase.items():
        if isinstance(meaning, str) or isinstance(counted, str):
            out[name] = meaning if isinstance(meaning, str) else counted
            continue
        inclusive, total = counted
        out[name], functions[name] = phases.attribute(meaning, inclusive, total)
    return out, functions


def in_order_of_ending(counts: list[Count]) -> list[Count]:
    """Finish each of ``counts`` as its valgrind process ends, so that the parent reads one's dumps while the
    other still runs (reading is ~1 s a process); returns them in their own order."""
    left = list(counts)
    while left:
        ended = [count for count in left if count.ended()]
        for count in ended:
            count.finish(artefacts.TOP_FUNCTIONS if artefacts.folder() else 0)
            left.remove(count)
        if left and not ended:
            time.sleep(0.05)
    return counts


def finish_instructions(started: dict) -> dict:
    """Each operation's instructions and system calls, and under ``by_phase`` its run by phase (or
    ``{"skip": why}``)."""
    if "skip" in started:
        return started
    counts, syscalls, out_phases, functions = {}, {}, {}, {}
    try:
        for count in in_order_of_ending([count for count, _ in started["runs"]]):
            counts.update(count.counts)
            syscalls.update(count.syscalls)
            for name, sites in count.syscall_sites.items():
                artefacts.keep("syscalls", name, sites)
            for name, functions_of in count.functions.items():
                artefacts.keep("functions", name, functions_of)
            for name, raw in count.raw.items():
                artefacts.keep("raw_instructions", name, raw)
            counted, named = by_phase(count)
            out_phases.update(counted)
            functions.update(named)
    finally:
        for _, db_path in started["runs"]:
            remove_db(db_path)
    for name, counted in out_phases.items():
        if isinstance(counted, dict):
            artefacts.keep("phases", name, counted)
            artefacts.keep("python_functions", name, functions[name])
    skip = started.get("by_phase_skip")
    return {"counts": counts, "syscalls": syscalls,
            "by_phase": {"skip": skip} if skip else {"phases": out_phases, "functions": functions}}
