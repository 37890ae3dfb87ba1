"""Seeded, cached data builders and helpers shared by the suite.

Append only: changing a builder changes every history that uses it. The
suite runs against old commits of target_app too, so anything a commit may
lack goes through :func:`require`, which makes the benchmark skip.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import tempfile
import threading
import time
from functools import cache
from pathlib import Path

# The database every read benchmark runs against: thousands of users, so an
# index matters, each with settings and a post.
USERS = 5000
SETTINGS_PER_USER = 3
POSTS_PER_USER = 1
LOOKUP_USERNAME = "user02500"
LOGIN_USERNAME = "user00042"
SECRET_KEY = "bench-secret"

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
_lock = threading.Lock()


def _preload() -> None:
    """Import target_app once here, so asv's forkserver shares it with every
    benchmark process instead of each paying ~0.5 s of imports. At a commit
    where something is missing this does nothing, and the benchmarks skip."""
    for name in ("target_app", "target_app.models", "target_app.seed", "target_app.bulk"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - any failure here is reported by the benchmark itself
            pass


_preload()


def require(module: str, *attrs: str):
    """Import ``target_app.<module>`` and check ``attrs``; skip when missing.

    A module or attribute that does not exist at this commit skips the
    benchmark (NotImplementedError). A target_app that exists but fails to
    import is a failure, never a skip: a broken commit must not look clean.
    """
    name = f"target_app.{module}" if module else "target_app"
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if module and exc.name == name:
            raise NotImplementedError(f"{name} is missing at this commit") from None
        raise RuntimeError(f"import {name} failed: {exc}") from exc
    except Exception as exc:
        raise RuntimeError(f"import {name} failed: {exc!r}") from exc
    for attr in attrs:
        if not hasattr(mod, attr):
            raise NotImplementedError(f"{name}.{attr} is missing at this commit")
    return mod


def target_fingerprint() -> str:
    """A hash of the installed target_app source: one per commit."""
    package = Path(require("").__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html"):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"target_app_bench_{os.getuid()}"
    path.mkdir(exist_ok=True)
    return path


def app_config(url: str) -> dict:
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "TESTING": False}


def _build_seeded(path: Path, users: int, settings_per_user: int, posts_per_user: int, password_method) -> None:
    ta = require("")
    db = require("db", "create_all", "get_engine")
    seed = require("seed", "seed")
    app = ta.create_app(app_config(f"sqlite:///{path}"))
    with app.app_context():
        db.create_all()
        with app.extensions["db_sessionmaker"]() as session:
            seed.seed(
                session,
                users=users,
                settings_per_user=settings_per_user,
                posts_per_user=posts_per_user,
                password_method=password_method or app.config.get("PASSWORD_HASH_METHOD", "scrypt"),
            )
    db.get_engine(app).dispose()


def seeded_db(
    users: int = USERS,
    settings_per_user: int = SETTINGS_PER_USER,
    posts_per_user: int = POSTS_PER_USER,
    password_method: str | None = None,
):
    """A private copy of a seeded SQLite file; the seeded original is cached per commit.

    ``password_method`` None hashes the seeded password the way the app at
    this commit does (its PASSWORD_HASH_METHOD), so logins cost what they cost.
    """
    key = f"{target_fingerprint()}-{users}-{settings_per_user}-{posts_per_user}-{_method_key(password_method)}"
    return _private_copy("seed", key, lambda tmp: _build_seeded(tmp, users, settings_per_user, posts_per_user,
                                                                password_method))


def _method_key(password_method: str | None) -> str:
    return hashlib.sha256((password_method or "app").encode()).hexdigest()[:8]


def _private_copy(prefix: str, key: str, build) -> Path:
    """A private copy of ``cache_dir()/<prefix>-<key>.sqlite``, which ``build(path)`` makes once."""
    cached = cache_dir() / f"{prefix}-{key}.sqlite"
    with _lock:
        if not cached.exists():
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            build(tmp)
            os.replace(tmp, cached)
    _sweep_dead_copies(cache_dir())
    _sweep(cache_dir(), f"{prefix}-*.sqlite", max_age=86400)
    fd, copy = tempfile.mkstemp(prefix=f"bench-{os.getpid()}-", suffix=".sqlite", dir=cache_dir())
    os.close(fd)
    shutil.copyfile(cached, copy)
    return Path(copy)


def _build_dataset(path: Path, password_method: str | None) -> None:
    from werkzeug.security import generate_password_hash

    from . import dataset

    ta = require("")
    db = require("db", "create_all", "get_engine")
    models = require("models", "User")
    app = ta.create_app(app_config(f"sqlite:///{path}"))
    method = password_method or app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    with app.app_context():
        db.create_all()
        with app.extensions["db_sessionmaker"]() as session:
            dataset.populate(session, models, generate_password_hash(dataset.PASSWORD, method=method))
    db.get_engine(app).dispose()


def bench_db(password_method: str | None = None) -> Path:
    """A private copy of the suite's own database (benchmarks/dataset.py).

    The built original is cached per commit (its schema may differ); each
    benchmark process gets a copy, removed once that process has exited.
    ``password_method`` None hashes the password the way the app at this
    commit does (its PASSWORD_HASH_METHOD), so logins cost what they cost.
    """
    from . import dataset

    key = f"{dataset.SEED}-{target_fingerprint()}-{_method_key(password_method)}"
    return _private_copy("dataset", key, lambda tmp: _build_dataset(tmp, password_method))


def _sweep_dead_copies(directory: Path) -> None:
    """Remove database copies whose benchmark process has exited.

    asv ends each benchmark process without running cleanup code, so each
    copy is named after its process and removed once that process is gone.
    """
    for path in directory.glob("bench-*.sqlite*"):
        try:
            pid = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            path.unlink(missing_ok=True)
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:
            pass


def _sweep(directory: Path, pattern: str, max_age: float) -> None:
    """Remove leftovers of earlier runs (forked benchmark processes never clean up)."""
    now = time.time()
    for path in directory.glob(pattern):
        try:
            if now - path.stat().st_mtime > max_age:
                path.unlink()
        except FileNotFoundError:
            pass


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def make_app(db_path: Path, **overrides):
    """A production-configured app on ``db_path``, with config ``overrides``."""
    return require("").create_app({**app_config(f"sqlite:///{db_path}"), **overrides})


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

    This machine's vCPU alternates between a fast and a ~2x slower state
    (measured: a pure-Python loop's samples spread 10-37% IQR/median), so
    each timing takes many short samples in two rounds; asv reports their
    median. The README's "Noise" section has the measurements.
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

    def _record(self, *args, **kwargs):
        self.count += 1

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
