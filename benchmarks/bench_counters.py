"""Deterministic counters: they do not drift with the machine's load.

A timing moves a few percent between runs; these give the same number on
every run of the same commit, so any change is a real change in the code.
"""

import gc
import sys
import tracemalloc

from . import artefacts
from .common import GET_ROUTES, StatementCounter, fixture, get_ok
from .exact import measure_exact
from .operations import FORM_POSTS, OPERATIONS, ROUTE_NAMES, counting_context

MAIN_ROUTES = ["/", "/auth/login", "/api/me", "/api/users", "/api/settings"]


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


def check_route(cache, route) -> None:
    """Skip or fail ``route`` the way its measurement did (see :func:`per_route`)."""
    value = cache[route]
    if isinstance(value, tuple):
        kind, message = value
        raise (NotImplementedError if kind == "skip" else RuntimeError)(message)


class _ExactPerRoute:
    """Shared by the counters measured per route in benchmarks/exact.py's one setup_cache.

    Each subclass's ``measure()`` returns {route: value}; its part of the
    cache is keyed by its class name. (A leading underscore: asv skips it.)
    """

    setup_cache = measure_exact

    def setup(self, cache, route):
        check_route(cache[type(self).__name__], route)

    def value(self, cache, route):
        return cache[type(self).__name__][route]


class SqlStatements(_ExactPerRoute):
    """SQL statements one request sends to the database (N+1 shows here)."""

    params = GET_ROUTES
    param_names = ["route"]
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def measure(self):
        f = fixture()

        def measure(route):
            get_ok(f.client, route)  # warm-up
            with StatementCounter(f.engine()) as counter:
                get_ok(f.client, route)
            artefacts.keep_statements(f"GET {route}", counter.statements)
            return counter.count

        return per_route(self.params, measure)

    def track_statements(self, cache, route):
        return self.value(cache, route)

    track_statements.unit = "statements"


class AllocatedBytes(_ExactPerRoute):
    """Peak bytes allocated by Python while serving one request.

    Measured with tracemalloc, the garbage collector paused, after warm-up
    requests have filled every cache;
    the median of five requests, rounded to 64 bytes so that a stray
    allocator-alignment difference cannot flip the value.
    """

    params = MAIN_ROUTES
    param_names = ["route"]
    WARMUP = 5
    SAMPLES = 7
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def measure(self):
        client = fixture().client

        def measure(route):
            for _ in range(self.WARMUP):
                get_ok(client, route)
            return peak_bytes(client, route, self.SAMPLES)

        return per_route(self.params, measure)

    def track_bytes(self, cache, route):
        return self.value(cache, route)

    track_bytes.unit = "bytes"


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


class PoolConnections:
    """New database connections the app's engine opens over 100 checkouts.

    A pool opens one connection and hands it out again and again; an engine
    that stops pooling (a NullPool, say) opens one per checkout. The time of
    a checkout is bench_queries.ConnectionPool's job; this is the count.
    """

    CHECKOUTS = 100

    def setup(self):
        from sqlalchemy import event

        self.engine = fixture(logged_in=False).engine()
        self.engine.dispose()  # start from an empty pool
        self.opened = 0

        def count(*_):
            self.opened += 1

        self._count = count
        event.listen(self.engine, "connect", count)

    def teardown(self):
        if hasattr(self, "_count"):  # asv_runner calls teardown after a skipped setup too
            from sqlalchemy import event

            event.remove(self.engine, "connect", self._count)

    def track_connections(self):
        for _ in range(self.CHECKOUTS):
            with self.engine.connect():
                pass
        return self.opened

    track_connections.unit = "connections"


_NOT_COUNTED = [tracemalloc.Filter(False, "*/sqlalchemy/pool/base.py")]


def _live_bytes() -> int:
    gc.collect()
    sys._clear_type_cache()
    snapshot = tracemalloc.take_snapshot().filter_traces(_NOT_COUNTED)
    return sum(stat.size for stat in snapshot.statistics("filename"))


def retained_per_run(op, ctx, runs: int, windows: int = 2) -> int:
    """Live bytes gained per run of ``op`` (see RetainedBytes): the least of ``windows`` windows of ``runs``.

    A cache that grows once (a dict doubling, say) lands in one window; a
    leak grows in every window, so the least of two is the leak.
    """
    gc.collect()
    gc.freeze()  # what exists now is not this measurement's: collections skip it (10x cheaper)
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
        gc.unfreeze()


class FormStatements(_ExactPerRoute):
    """SQL statements of one form submission (the POST alone, not the page before it)."""

    params = FORM_POSTS
    param_names = ["route"]
    version = "1"

    def measure(self):
        ctx = counting_context()

        def measure(route):
            op = OPERATIONS[route]
            op.once(ctx)  # warm-up
            prepared = op.prepare(ctx)
            with StatementCounter(ctx.engine) as counter:
                op.run(ctx, prepared)
            artefacts.keep_statements(route, counter.statements)
            return counter.count

        return per_route(self.params, measure)

    def track_statements(self, cache, route):
        return self.value(cache, route)

    track_statements.unit = "statements"


class RetainedBytes(_ExactPerRoute):
    """Bytes each request leaves allocated for good (a leak), per request.

    tracemalloc's live bytes after warm-up requests, before and after
    REQUESTS more, each time after a full collection, divided by REQUESTS;
    the least of two such windows.
    Two bounded caches that fill slowly would read as a leak, so they are
    emptied or left out: CPython's type-attribute cache keeps up to 4096
    attribute-name strings alive (``sys._clear_type_cache()`` before each
    reading), and sqlite3 keeps a weak reference per cursor until its
    200-cursor sweep (allocations in SQLAlchemy's pool module are left out;
    a pool that leaks connections is PoolConnections' job). A form's page
    (its CSRF token) is fetched before each POST and counted too: what it
    frees does not show, what it keeps does. Peak bytes during a request
    are AllocatedBytes' job; the README ("Noise") has the spread.
    """

    params = ROUTE_NAMES
    param_names = ["route"]
    WARMUP = 6
    REQUESTS = 5  # per window; two windows
    version = "1"

    def measure(self):
        # Each route warmed up and measured in turn, always in the same order.
        ctx = counting_context()

        def measure(route):
            op = OPERATIONS[route]
            for _ in range(self.WARMUP):
                op.once(ctx)
            return retained_per_run(op, ctx, self.REQUESTS)

        return per_route(self.params, measure)

    def track_retained_bytes(self, cache, route):
        # Whole 64-byte steps: retentions below that come and go with caches
        # that grow once (README, "Noise"); a leak of 256 bytes shows as 256.
        return max(0, self.value(cache, route)) // 64 * 64

    track_retained_bytes.unit = "bytes/request"
