"""Every operation the suite measures, defined once.

The timings, the exact counters (statements, retained bytes) and the
instruction counts all drive target_app through these, so that "the
operation" means the same thing to each of them. An operation is a
``prepare`` step, which is not measured (fetching a form's CSRF token,
deleting what the previous round inserted), and a ``run`` step, which is.

Route operations are named ``METHOD path``. ``tests/suite/test_coverage.py``
checks that every rule in the app's URL map has one, and that every timed
benchmark has an instruction count (``TIMED`` below), so coverage cannot
silently drop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from . import outcomes
from .common import (
    CHEAP_HASH,
    GET_ROUTES,
    LOGIN_USERNAME,
    LOOKUP_USERNAME,
    bench_db,
    csrf_token,
    get_ok,
    login,
    make_app,
    require,
)

# The user whose login is measured: their password is hashed the app's way
# (scrypt), while everyone else has a cheap hash so that set-up stays cheap.
LOGIN_SUBMIT_USERNAME = "user00043"
NEW_PASSWORD = "s3cret-pass-123"
# The key that "POST /settings (new key)" inserts ("POST /settings" updates one).
NEW_SETTING_KEY = "bench_new_pref"


class Context:
    """An app on a private database, a logged-in client, a spare one for the forms, a session."""

    def __init__(self, app):
        self.app = app
        self.engine = require("db", "get_engine").get_engine(app)
        self.session = app.extensions["db_sessionmaker"]()
        self.app_hash_set = False
        self.client = app.test_client()
        login(self.client)
        # The forms' client, reused: werkzeug makes a class per test client,
        # which a new client per run would count as retained memory.
        self.spare = app.test_client()
        self.serial = itertools.count()
        self.statements: dict = {}
        self.csrf_raw: str | None = None  # the CSRF token sessions start from (fix_csrf_token)

    def fix_csrf_token(self, token: str) -> None:
        """Start both clients' sessions from ``token`` as their CSRF token, where Flask-WTF would draw one at
        random (the counting processes do, measures.FIXED_CSRF_TOKEN)."""
        self.csrf_raw = token
        for client in (self.client, self.spare):
            with client.session_transaction() as session:
                session["csrf_token"] = token

    def close(self) -> None:
        self.session.close()


@cache
def counting_context() -> Context:
    """The benchmark process's context for the exact counters.

    Passwords are hashed cheaply here, the app's own hashing included:
    statements and retained bytes do not depend on the hash, and scrypt
    would make every login and registration cost ~100 ms.
    """
    return Context(make_app(bench_db(password_method=CHEAP_HASH), PASSWORD_HASH_METHOD=CHEAP_HASH))


def _expect(response, status: int, what: str):
    if response.status_code == 404:
        raise NotImplementedError(f"{what} is not a route at this commit")
    if response.status_code != status:
        raise RuntimeError(f"{what} answered {response.status_code}, expected {status}")
    return response


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable  # (ctx, prepared) -> None: the measured part
    prepare: Callable | None = None  # (ctx) -> prepared: before each run, not measured
    # Under callgrind: runs counted, after warm-up runs that are not. With
    # the collector off, one run counts as exactly as ten, at a tenth of the
    # cost (docs/measurements.md, "Noise").
    repeat: int = 1
    warmup: int = 1

    def once(self, ctx):
        return self.run(ctx, self.prepare(ctx) if self.prepare else None)


def _get(path: str) -> Operation:
    def run(ctx, _):
        get_ok(ctx.client, path)

    return Operation(f"GET {path}", run)


def _form(ctx, client, page: str) -> str:
    return csrf_token(_expect(client.get(page), 200, f"GET {page}").get_data(as_text=True))


def _new_session(ctx):
    """The spare client, logged out: no session cookie."""
    ctx.spare.delete_cookie(ctx.app.config.get("SESSION_COOKIE_NAME", "session"))
    return ctx.spare


def _prepare_login(ctx):
    from .dataset import PASSWORD

    if not ctx.app_hash_set:
        # Hashed once, on first use, the way the app hashes (scrypt).
        from sqlalchemy import update
        from werkzeug.security import generate_password_hash

        user = require("models", "User").User
        method = ctx.app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        ctx.session.execute(update(user).where(user.username == LOGIN_SUBMIT_USERNAME)
                            .values(password_hash=generate_password_hash(PASSWORD, method=method)))
        ctx.session.commit()
        ctx.app_hash_set = True
    client = _new_session(ctx)
    token = _form(ctx, client, "/auth/login")
    return client, {"username": LOGIN_SUBMIT_USERNAME, "password": PASSWORD, "csrf_token": token}


def _prepare_register(ctx):
    client = _new_session(ctx)
    token = _form(ctx, client, "/auth/register")
    name = f"newuser{next(ctx.serial):06d}"
    return client, {"username": name, "email": f"{name}@example.test", "password": NEW_PASSWORD,
                    "csrf_token": token}


def _prepare_settings(ctx):
    token = _form(ctx, ctx.client, "/settings")
    return ctx.client, {"key": "bench_pref", "value": f"value-{next(ctx.serial) % 2}", "csrf_token": token}


def _prepare_new_setting(ctx):
    """The form for a key the user does not have: what the previous run saved is deleted first, so every
    run inserts one row into a table of the same size."""
    from sqlalchemy import delete

    models = require("models", "Setting", "User")
    user_id = _login_user_id(ctx)
    ctx.session.execute(delete(models.Setting).where(models.Setting.user_id == user_id,
                                                     models.Setting.key == NEW_SETTING_KEY))
    ctx.session.commit()
    token = _form(ctx, ctx.client, "/settings")
    return ctx.client, {"key": NEW_SETTING_KEY, "value": "new", "csrf_token": token}


def _login_user_id(ctx) -> int:
    if "login_user_id" not in ctx.statements:
        from sqlalchemy import select

        user = require("models", "User").User
        ctx.statements["login_user_id"] = ctx.session.scalar(select(user.id).where(user.username == LOGIN_USERNAME))
    return ctx.statements["login_user_id"]


def _prepare_logout(ctx):
    # A fresh session for the login user, without paying for a login.
    user_id = _login_user_id(ctx)
    client = _new_session(ctx)
    with client.session_transaction() as session:
        session["user_id"] = user_id
    token = _form(ctx, client, "/")
    return client, {"csrf_token": token}


def _post(path: str, prepare, label: str = "") -> Operation:
    def run(ctx, prepared):
        client, data = prepared
        _expect(client.post(path, data=data), 302, f"POST {path}")

    return Operation(f"POST {path}{label}", run, prepare)


def lookup_statement(session):
    """One user by username (the statement is built once, as an app would)."""
    from sqlalchemy import select

    user = require("models", "User").User
    return select(user).where(user.username == LOOKUP_USERNAME)


def user_settings_statement(session):
    from sqlalchemy import select

    models = require("models", "Setting", "User")
    setting, user = models.Setting, models.User
    user_id = session.scalar(select(user.id).where(user.username == LOOKUP_USERNAME))
    return select(setting.key, setting.value).where(setting.user_id == user_id).order_by(setting.key)


def site_settings_statement(session):
    from sqlalchemy import select

    setting = require("models", "Setting").Setting
    return select(setting.key, setting.value).where(setting.user_id.is_(None))


def _query(name: str, build, fetch: str) -> Operation:
    def run(ctx, _):
        stmt = ctx.statements.get(name)
        if stmt is None:
            stmt = ctx.statements[name] = build(ctx.session)
        if fetch == "scalar":
            ctx.session.scalar(stmt)
        else:
            ctx.session.execute(stmt).all()

    return Operation(name, run)


BULK_ROWS = [{"username": f"bulk{i:03d}", "email": f"bulk{i:03d}@example.test", "password_hash": "x"}
             for i in range(100)]


def _clear_bulk(ctx):
    from sqlalchemy import delete

    user = require("models", "User").User
    ctx.session.execute(delete(user).where(user.username.like("bulk%")))
    ctx.session.commit()
    ctx.session.expunge_all()


def _bulk(method: str) -> Operation:
    def run(ctx, _):
        require("bulk", "bulk_create_users").bulk_create_users(ctx.session, BULK_ROWS, method=method)

    return Operation(f"bulk_insert_{method}", run, _clear_bulk)


COMMITTED_ROWS = BULK_ROWS[:20]


def _insert_committed_rows(ctx, _):
    """20 users, one transaction each: what a write costs the database (a WAL frame per commit) beside what
    it costs Python."""
    from sqlalchemy import insert

    user = require("models", "User").User
    for row in COMMITTED_ROWS:
        ctx.session.execute(insert(user), [row])
        ctx.session.commit()


def _checkout(ctx, _):
    with ctx.engine.connect():
        pass


# The operations written by hand: each route's success, with a form's
# careful preparation. The derived outcomes come after them (DERIVED).
WRITTEN: list[Operation] = [
    *[_get(path) for path in GET_ROUTES],
    _post("/auth/login", _prepare_login),  # scrypt: ~100 ms natively, ~4 s under callgrind
    _post("/auth/register", _prepare_register),
    _post("/settings", _prepare_settings),
    _post("/auth/logout", _prepare_logout),
    _post("/settings", _prepare_new_setting, " (new key)"),
]


def _derived(name: str, move, status: int) -> Operation:
    """An outcome of surface.json: ``move`` replayed, and answered with ``status`` as when it was derived."""

    def run(ctx, prepared):
        response = move.send(prepared)
        if response.status_code != status:
            # A route or an outcome this commit lacks is a skip; a server error is a failure.
            kind = RuntimeError if response.status_code >= 500 else NotImplementedError
            raise kind(f"{name} answered {response.status_code}, expected {status} at this commit")

    return Operation(name, run, move.prepare)


# Every other outcome a client can cause, derived from the app (benchmarks/surface.py, surface.json).
OUTCOMES = outcomes.load()
DERIVED: list[Operation] = [_derived(o.name, o.move, o.status) for o in OUTCOMES]
ROUTES: list[Operation] = WRITTEN + DERIVED
QUERIES: list[Operation] = [
    _query("user_lookup", lookup_statement, "scalar"),
    _query("user_settings", user_settings_statement, "all"),
    _query("site_settings", site_settings_statement, "all"),
    _bulk("core"),
    _bulk("orm"),
    Operation("pool_checkout", _checkout),
    Operation("insert_committed_rows", _insert_committed_rows, _clear_bulk),
]
OPERATIONS: dict[str, Operation] = {op.name: op for op in ROUTES + QUERIES}
# Counted in a process of its own: importing target_app and create_app().
COLD_START = "cold_start"
ROUTE_NAMES = [op.name for op in ROUTES]
FORM_POSTS = [op.name for op in WRITTEN if op.name.startswith("POST ")]
DERIVED_NAMES = [op.name for op in DERIVED]
# The operations whose counters cost most are taken (callgrind's instructions, phases, functions and system
# calls; retained bytes per request): every one written by hand, and the fewest derived outcomes that run
# every line of target_app the others run (surface.json's "instructions"). The others share the lines'
# costs with them, and have every counter that costs little (statements, full scans, rows).
COVERING = [name for name in OPERATIONS
              if name not in DERIVED_NAMES or next(o for o in OUTCOMES if o.name == name).instructions]
# The routes that write, each timed by bench_writes.WriteRoutes.
WRITES = ["POST /settings", "POST /settings (new key)", "POST /auth/register", "POST /auth/logout"]

# Each timed benchmark (asv id, params quoted as asv stores them) and the
# operation whose instruction count stands beside it. The anonymous pages
# and the other page sizes of /api/users run the same view code as the
# counted operation, so they share its count: each counted run costs ~1 s
# of valgrind, and the history's budget is 60 s a commit (README).
TIMED: dict[str, str] = {
    "bench_pages.HomePage.time_homepage": "GET /",
    "bench_pages.LoginPage.time_login_page": "GET /auth/login",
    **{f"bench_pages.Routes.time_route('{path}')": f"GET {path}" for path in GET_ROUTES},
    "bench_api.Api.time_api_me": "GET /api/me",
    "bench_api.Api.time_api_users": "GET /api/users",
    **{f"bench_api.ListScaling.time_list_users({n})": "GET /api/users" for n in (10, 30, 100)},
    "bench_auth.LoginSubmit.time_login_submit": "POST /auth/login",
    "bench_queries.UserLookup.time_lookup_by_username": "user_lookup",
    "bench_queries.SettingsQuery.time_user_settings": "user_settings",
    "bench_queries.SettingsQuery.time_site_settings": "site_settings",
    "bench_queries.BulkInsert.time_insert_100('core')": "bulk_insert_core",
    "bench_queries.BulkInsert.time_insert_100('orm')": "bulk_insert_orm",
    "bench_queries.ConnectionPool.time_acquire_connection": "pool_checkout",
    **{f"bench_writes.WriteRoutes.time_write('{name}')": name for name in WRITES},
    "bench_writes.CommittedRows.time_insert_committed_rows": "insert_committed_rows",
    "bench_startup.ColdStart.timeraw_import_and_create_app": COLD_START,
    # The load benchmarks time the same requests through a real server.
    "bench_server.ConcurrentHomepage.track_latency_p50": "GET /",
    "bench_server.ConcurrentHomepage.track_latency_p95": "GET /",
    "bench_server.ConcurrentHomepage.track_throughput": "GET /",
    "bench_server.ConcurrentLogin.track_latency_p50": "POST /auth/login",
    "bench_server.ConcurrentLogin.track_latency_p95": "POST /auth/login",
}


# Every input each route takes, varied over many distinct values at once (derived from the app:
# benchmarks/surface.py, outcomes.Stream). Every other operation repeats one input, so state that grows
# with the number of distinct inputs (a cache without a bound, say) never shows there; here it shows as
# memory kept per distinct request (bench_counters.RetainedPerInput).
STREAMS = outcomes.load_streams()
STREAM_NAMES = [stream.name for stream in STREAMS]
