"""The database files the benchmarks run on: built once per commit, copied per process, removed after.

The suite's own data (benchmarks/dataset.py) is built through the schema of
the commit under test into a cached original; each benchmark process gets
a private copy, named after its process and removed once that process has
exited (asv ends benchmark processes without running cleanup code).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .target import app_config, require, target_fingerprint

_lock = threading.Lock()


def cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"target_app_bench_{os.getuid()}"
    path.mkdir(exist_ok=True)
    return path


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
