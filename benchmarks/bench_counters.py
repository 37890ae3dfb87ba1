"""Deterministic counters: they do not drift with the machine's load.

A timing moves a few percent between runs; these give the same number on
every run of the same commit, so any change is a real change in the code.
"""

from .common import GET_ROUTES, fixture
from .counting import (
    MAIN_ROUTES,
    allocated_bytes,
    form_statements,
    measure_exact,
    retained_bytes,
    retained_per_input,
    sql_statements,
)
from .operations import COVERING, DERIVED_NAMES, FORM_POSTS, OPERATIONS, ROUTE_NAMES, STREAM_NAMES


def check_route(cache, route) -> None:
    """Skip or fail ``route`` the way its measurement did (see :func:`per_route`)."""
    value = cache[route]
    if isinstance(value, tuple):
        kind, message = value
        raise (NotImplementedError if kind == "skip" else RuntimeError)(message)


class _ExactPerRoute:
    """Shared by the counters measured per route in benchmarks/counting/exact.py's one setup_cache.

    Each subclass's ``measure()`` returns {route: value}; its part of the
    cache is keyed by its class name. (A leading underscore: asv skips it.)
    """

    setup_cache = measure_exact
    # asv gives a shared setup_cache the longest timeout of the benchmarks that ask for it: with only these
    # asked for (--bench, --no-callgrind), the exact set-up must not be cut at asv's default 60 s.
    timeout = 900

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
        return sql_statements(self.params)

    def track_statements(self, cache, route):
        return self.value(cache, route)

    track_statements.unit = "statements"


class AllocatedBytes(_ExactPerRoute):
    """Peak bytes allocated by Python while serving one request.

    Measured with tracemalloc, the garbage collector paused, after ``WARMUP``
    requests have filled every cache: the least peak of ``SAMPLES`` requests,
    rounded to whole KiB so that a stray allocator-alignment difference cannot
    flip the value (benchmarks/counting/measures.py, ``peak_bytes``).
    """

    params = MAIN_ROUTES
    param_names = ["route"]
    WARMUP = 5
    SAMPLES = 7
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def measure(self):
        return allocated_bytes(self.params, self.WARMUP, self.SAMPLES)

    def track_bytes(self, cache, route):
        return self.value(cache, route)

    track_bytes.unit = "bytes"


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


class FormStatements(_ExactPerRoute):
    """SQL statements of one form submission (the POST alone, not the page before it)."""

    params = FORM_POSTS
    param_names = ["route"]
    version = "1"

    def measure(self):
        return form_statements(self.params)

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
    are AllocatedBytes' job; docs/measurements.md ("Noise") has the spread.
    """

    params = [name for name in ROUTE_NAMES if name in COVERING]
    param_names = ["route"]
    WARMUP = 6
    REQUESTS = 5  # per window; two windows
    version = "1"

    def measure(self):
        return retained_bytes(self.params, self.WARMUP, self.REQUESTS)

    def track_retained_bytes(self, cache, route):
        # Whole 64-byte steps: retentions below that come and go with caches
        # that grow once (docs/measurements.md, "Noise"); a leak of 256 bytes shows as 256.
        return max(0, self.value(cache, route)) // 64 * 64

    track_retained_bytes.unit = "bytes/request"


class RetainedPerInput(_ExactPerRoute):
    """Memory kept for good per distinct request, for every input each route takes (its path's argument, the
    query arguments it reads and one it does not, its form's fields, who is logged in), all varied at once.

    Every other benchmark repeats one input, so a cache keyed by an input and never evicted costs nothing
    there (and reads as an improvement: one statement fewer). Here each request carries values never asked
    before, after 1,100 of them: a cache bounded at 1,024 entries is then full and keeps nothing more, one
    without a bound keeps an entry per request. The streams are derived from the app (surface.json), one per
    route that succeeds; counted in CPython's memory blocks (``counting.measures.retained_per_input``).
    """

    params = STREAM_NAMES
    param_names = ["route"]
    version = "1"

    def measure(self):
        return retained_per_input(self.params)

    def track_retained_blocks(self, cache, name):
        return max(0.0, self.value(cache, name))

    track_retained_blocks.unit = "blocks/request"


class _QueryCost:
    """Shared by the counts of what each operation asks of the database (counting/plans.py): one part of
    measure_exact's cache, ``QueryCosts``, keyed by operation, one field each."""

    setup_cache = measure_exact
    params = list(OPERATIONS)
    param_names = ["operation"]
    timeout = 900  # see _ExactPerRoute

    def setup(self, cache, operation):
        check_route(cache["QueryCosts"], operation)

    def value(self, cache, operation, field):
        return cache["QueryCosts"][operation][field]


class OutcomeStatements(_QueryCost):
    """SQL statements of each outcome derived from the app (a 404, a failed login, a CSRF failure...:
    benchmarks/surface.json); the hand-written operations have theirs in SqlStatements and FormStatements."""

    params = DERIVED_NAMES
    version = "1"

    def track_statements(self, cache, operation):
        return self.value(cache, operation, "statements")

    track_statements.unit = "statements"


class TableScans(_QueryCost):
    """Full table scans per run of each operation, from each statement's plan: a query that stops using an
    index, or reads a whole table, grows with the data; here it is a step of one at the commit that does it,
    however small the suite's tables."""

    version = "1"

    def track_scans(self, cache, operation):
        return self.value(cache, operation, "scans")

    track_scans.unit = "scans"


class RowsFetched(_QueryCost):
    """Rows the database returns per run of each operation: a view that fetches a whole table and slices it in
    Python fetches thousands where it showed twenty."""

    version = "1"

    def track_rows(self, cache, operation):
        return self.value(cache, operation, "rows")

    track_rows.unit = "rows"
