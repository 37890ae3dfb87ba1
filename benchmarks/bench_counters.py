"""Deterministic counters: they do not drift with the machine's load.

A timing moves a few percent between runs; these give the same number on
every run of the same commit, so any change is a real change in the code.
"""

import gc
import tracemalloc

from .common import GET_ROUTES, StatementCounter, fixture, get_ok

MAIN_ROUTES = ["/", "/auth/login", "/api/me", "/api/users", "/api/settings"]


class SqlStatements:
    """SQL statements one request sends to the database (N+1 shows here)."""

    params = GET_ROUTES
    param_names = ["route"]

    def setup(self, route):
        f = fixture()
        self.client = f.client
        self.engine = f.engine()
        get_ok(self.client, route)

    def track_statements(self, route):
        with StatementCounter(self.engine) as counter:
            get_ok(self.client, route)
        return counter.count

    track_statements.unit = "statements"


class AllocatedBytes:
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

    def setup(self, route):
        self.client = fixture().client
        for _ in range(self.WARMUP):
            get_ok(self.client, route)

    def track_bytes(self, route):
        peaks = []
        gc.collect()
        gc.disable()  # a collection mid-request would move the peak
        tracemalloc.start()
        try:
            for _ in range(self.SAMPLES):
                tracemalloc.clear_traces()
                base = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                get_ok(self.client, route)
                peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
            gc.enable()
        return round(min(peaks) / 1024) * 1024

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
