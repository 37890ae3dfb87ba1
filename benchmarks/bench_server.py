"""Concurrency and memory against a real waitress server on 127.0.0.1.

Each class starts the server once in ``setup_cache``, runs a bounded load,
stops the server, and its ``track_`` methods report from that one run.
"""

from .common import CHEAP_HASH, LOGIN_USERNAME, bench_db, csrf_token, remove_db, require
from .server import LiveServer, rss_bytes, run_clients
from .target import url_of


def _seed_password():
    from .dataset import PASSWORD

    return PASSWORD


def _login(client, username, password) -> bool:
    status, html = client.get("/auth/login")
    if status != 200:
        return False
    token = csrf_token(html)
    status, _ = client.request("POST", "/auth/login", {"username": username, "password": password, "csrf_token": token})
    if status != 302:
        return False
    return client.get("/api/me")[0] == 200


def _serve(fn, password_method=None):
    db_path = bench_db(password_method=password_method)
    try:
        with LiveServer(url_of(db_path)) as server:
            return fn(server)
    finally:
        remove_db(db_path)


def _load_stats(result) -> dict:
    return {
        "throughput": result.throughput,
        "p50": result.percentile(50) * 1000,
        "p95": result.percentile(95) * 1000,
        "success": result.success_rate,
    }


class _LoadTracks:
    """The tracks every load benchmark reports from its ``setup_cache`` stats.

    The leading underscore keeps asv from taking this base for a benchmark.
    """

    timeout = 120
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def track_latency_p50(self, stats):
        return stats["p50"]

    track_latency_p50.unit = "ms"

    def track_latency_p95(self, stats):
        return stats["p95"]

    track_latency_p95.unit = "ms"

    def track_success_rate(self, stats):
        return stats["success"]

    track_success_rate.unit = "%"


class ConcurrentHomepage(_LoadTracks):
    """10 concurrent clients, 20 keep-alive GET / each."""

    CLIENTS = 10
    PER_CLIENT = 20

    def setup_cache(self):
        def load(server):
            run_clients(server.port, self.CLIENTS, lambda c: c.get("/")[0] == 200, 5)  # warm-up
            return _load_stats(run_clients(server.port, self.CLIENTS, lambda c: c.get("/")[0] == 200,
                                           self.PER_CLIENT))

        return _serve(load)

    def track_throughput(self, stats):
        return stats["throughput"]

    track_throughput.unit = "requests/s"


class ConcurrentLogin(_LoadTracks):
    """8 clients log in at once through the real form, once each."""

    CLIENTS = 8
    PER_CLIENT = 1

    def setup_cache(self):
        password = _seed_password()

        def load(server):
            # Distinct users, like distinct people logging in.
            names = iter([f"user{i:05d}" for i in range(100, 100 + self.CLIENTS * self.PER_CLIENT)])
            from threading import Lock

            lock = Lock()

            def task(client):
                with lock:
                    name = next(names)
                client.cookies.clear()
                return _login(client, name, password)

            return _load_stats(run_clients(server.port, self.CLIENTS, task, self.PER_CLIENT))

        return _serve(load)


class SessionMemory:
    """How the server grows over 25 logged-in sessions.

    Users here have a cheap password hash: this measures memory, and 50
    scrypt logins would cost 7 s a run (login time is LoginSubmit's job).

    RSS of the server process (psutil) after 25 logins and a page each,
    minus its RSS after warm-up; and, in-process, the bytes still allocated
    (tracemalloc) per session once 25 sessions have logged in.
    """

    SESSIONS = 25
    timeout = 180
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup_cache(self):
        password = _seed_password()

        def load(server):
            from .server import Client

            warm = Client(server.port)
            _login(warm, LOGIN_USERNAME, password)
            for _ in range(20):
                warm.get("/")
                warm.get("/api/users")
            warm.close()
            before = rss_bytes(server.pid)
            clients = []
            ok = 0
            for i in range(self.SESSIONS):
                client = Client(server.port)
                ok += _login(client, f"user{1000 + i:05d}", password)
                ok += client.get("/")[0] == 200
                clients.append(client)
            after = rss_bytes(server.pid)
            for client in clients:
                client.close()
            if ok != 2 * self.SESSIONS:
                raise RuntimeError(f"only {ok} of {2 * self.SESSIONS} session requests succeeded")
            return {"rss": after - before}

        stats = _serve(load, password_method=CHEAP_HASH)
        stats["alloc_per_session"] = self._traced_per_session(password)
        return stats

    def _traced_per_session(self, password):
        import gc
        import tracemalloc

        from .common import csrf_token, make_app

        db_path = bench_db(password_method=CHEAP_HASH)
        try:
            app = make_app(db_path)
            def session(i):
                client = app.test_client()
                token = csrf_token(client.get("/auth/login").get_data(as_text=True))
                client.post("/auth/login", data={"username": f"user{2000 + i:05d}", "password": password,
                                                 "csrf_token": token})
                client.get("/")

            for i in range(5):  # warm-up fills caches
                session(i)
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            for i in range(5, 5 + self.SESSIONS):
                session(i)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            require("db", "get_engine").get_engine(app).dispose()
            return grown / self.SESSIONS
        finally:
            remove_db(db_path)

    def track_rss_growth(self, stats):
        return stats["rss"]

    track_rss_growth.unit = "bytes"

    def track_allocated_per_session(self, stats):
        return stats["alloc_per_session"]

    track_allocated_per_session.unit = "bytes"
