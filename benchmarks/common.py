"""The vocabulary of benchmark authors: fixtures, counters, routes and helpers shared by the suite.

Append only: changing a helper changes every history that uses it.
Reaching target_app (:func:`require`, :func:`make_app`) lives in
``target.py`` and the database files (:func:`bench_db`) in
``databases.py``; both are importable from here, as benchmarks import them.
"""

from __future__ import annotations

import re
from functools import cache

from .databases import bench_db, cache_dir, remove_db  # noqa: F401 - benchmarks import them from here
from .target import SECRET_KEY, app_config, make_app, require, target_fingerprint  # noqa: F401 - likewise

LOOKUP_USERNAME = "user02500"
LOGIN_USERNAME = "user00042"

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    if not match:
        raise NotImplementedError("no csrf_token in the form at this commit")
    return match.group(1)


def login(client, username: str = LOGIN_USERNAME):
    """Log ``client`` in through the real form, CSRF token and all."""
    from .dataset import PASSWORD as password

    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    response = client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"login failed with {response.status_code}")
    return response


# A cheap hash for benchmarks that log in many times but measure something
# other than hashing (memory per session). Login cost is measured elsewhere.
CHEAP_HASH = "pbkdf2:sha256:1000"


class Timed:
    """Sampling settings shared by the in-process timings.

    This machine's vCPU alternates between a fast and a slower state for
    seconds at a time, so each timing takes many short samples in two
    rounds; asv reports their median. The "Noise" section of docs/measurements.md has the
    measurements.
    """

    rounds = 2
    repeat = (8, 16, 0.3)
    warmup_time = 0.05
    sample_time = 0.005


class AppFixture:
    """An app on a private copy of the seeded database, and a logged-in client.

    Built once per benchmark process: asv forks one process per benchmark,
    and setup() runs before every sample, so the expensive part is cached.
    """

    def __init__(self, logged_in: bool = True, password_method: str | None = None):
        self.db_path = bench_db(password_method=password_method)
        self.app = make_app(self.db_path)
        self.client = self.app.test_client()
        if logged_in:
            login(self.client)

    def engine(self):
        return require("db", "get_engine").get_engine(self.app)

    def close(self):
        self.engine().dispose()
        remove_db(self.db_path)


@cache
def fixture(logged_in: bool = True, password_method: str | None = CHEAP_HASH) -> AppFixture:
    """The benchmark process's app and client.

    Seeded users get a cheap password hash by default, because the setup
    login happens in every benchmark process; pass ``password_method=None``
    for the app's own (scrypt), as the login benchmarks do.
    """
    return AppFixture(logged_in=logged_in, password_method=password_method)


class StatementCounter:
    """Counts SQL statements sent to ``engine`` while active."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []

    def _record(self, conn, cursor, statement, *args, **kwargs):
        self.count += 1
        self.statements.append(statement)

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._record)


def get_ok(client, path: str):
    """GET ``path``; a non-2xx answer is a failure, not a number.

    404 means the route does not exist at this commit: the benchmark skips.
    """
    response = client.get(path)
    if response.status_code == 404:
        raise NotImplementedError(f"GET {path} is not a route at this commit")
    if response.status_code >= 300:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return response


# Every GET route, with a concrete path. "/auth/register" and the login page
# are anonymous pages, but a logged-in client gets them too.
GET_ROUTES = [
    "/",
    "/auth/login",
    "/auth/register",
    "/settings",
    "/api/me",
    "/api/users",
    f"/api/users/{LOOKUP_USERNAME}",
    "/api/settings",
    "/healthz",
    "/api/posts",  # since the posts API commit; skipped before it
]


def warm_up_fork_server() -> None:
    """Build one fixture in asv's fork server and throw it away, so that every benchmark process forked from it
    inherits what a first fixture does once per process: the imports ``create_app`` makes, the SQLite dialect,
    Jinja's lexer and the regular expressions it compiles. Each process still builds its own fixture, on its
    own database (the fixture is not kept: :func:`fixture` stays empty), before anything is timed: a fixture
    took ~125 ms a process, ~75 ms after this, ~2 s less a commit over the ~60 timing processes
    (docs/measurements.md, "What a commit costs"). A commit where it fails warms nothing: its benchmarks say
    why themselves."""
    try:
        warm = AppFixture(logged_in=True, password_method=CHEAP_HASH)
        try:
            get_ok(warm.client, "/")
        finally:
            warm.close()
    except Exception:  # noqa: BLE001, S110 - a warm-up only: each benchmark meets the same failure and reports it
        pass
