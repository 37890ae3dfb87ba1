"""The databases the benchmarks run on: built once per commit, copied per process, removed after.

The suite's own data (benchmarks/dataset.py) is built through the schema of
the commit under test into a cached original; each benchmark process gets
a private copy, named after its process and removed once that process has
exited (asv ends benchmark processes without running cleanup code).

On SQLite (the default) the original and the copies are files. When
``TARGET_APP_BENCH_POSTGRES_URL`` names a PostgreSQL server (``history --db
postgresql`` sets it), they are databases on that server: the original a
template database per commit, each copy ``CREATE DATABASE ... TEMPLATE``.
A database is then a URL where it is a path on SQLite; :func:`url_of`
gives the SQLAlchemy URL of either.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .target import app_config, require, target_fingerprint, url_of

_lock = threading.Lock()
_serial = itertools.count()


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


def _build_dataset(url: str, password_method: str | None) -> None:
    from werkzeug.security import generate_password_hash

    from . import dataset

    ta = require("")
    db = require("db", "create_all", "get_engine")
    models = require("models", "User")
    app = ta.create_app(app_config(url))
    method = password_method or app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    with app.app_context():
        db.create_all()
        with app.extensions["db_sessionmaker"]() as session:
            dataset.populate(session, models, generate_password_hash(dataset.PASSWORD, method=method))
    db.get_engine(app).dispose()


POSTGRES_VARIABLE = "TARGET_APP_BENCH_POSTGRES_URL"


def postgres_server() -> str | None:
    """The PostgreSQL server the suite runs on (a URL of one database on it), or None: SQLite."""
    return os.environ.get(POSTGRES_VARIABLE) or None


def bench_db(password_method: str | None = None) -> Path | str:
    """A private copy of the suite's own database (benchmarks/dataset.py).

    The built original is cached per commit (its schema may differ); each
    benchmark process gets a copy, removed once that process has exited.
    ``password_method`` None hashes the password the way the app at this
    commit does (its PASSWORD_HASH_METHOD), so logins cost what they cost.
    """
    from . import dataset

    key = f"{dataset.SEED}-{target_fingerprint()}-{dependencies_fingerprint()}-{_method_key(password_method)}"
    if postgres_server():
        return _postgres_copy(key, password_method)
    return _private_copy("dataset", key, lambda tmp: _build_canonical(tmp, password_method))


def dependencies_fingerprint() -> str:
    """A hash of the installed distributions and their versions: each commit runs with its own lock, and a
    database built under one SQLAlchemy is not reused under another.

    Read from the names of the environment's ``*.dist-info`` folders, which hold both, rather than through
    importlib.metadata, which parses every distribution's metadata: 13-25 ms in each benchmark process
    (~65 a commit), where this takes well under one."""
    import sysconfig

    paths = sysconfig.get_paths()
    folders = {paths["purelib"], paths["platlib"]}
    dists = sorted(p.name for folder in folders for pattern in ("*.dist-info", "*.egg-info")
                   for p in Path(folder).glob(pattern))
    return hashlib.sha256("\n".join(dists).encode()).hexdigest()[:12]


def _build_canonical(path: Path, password_method: str | None) -> None:
    """The dataset in an SQLite file whose layout depends on the schema and the data only.

    SQLAlchemy creates a table's indexes in the order of a set, which varies
    from process to process, and each object's place in the file follows its
    creation: two builds of one commit differed in 484 kB and, where every
    request reads the file (a NullPool), one read 96 pages per homepage and
    the other 161. So the app's build is copied into a new file, tables then
    indexes by name, rows in rowid order.
    """
    import sqlite3

    raw = path.with_suffix(".raw")
    _build_dataset(url_of(raw), password_method)
    src = sqlite3.connect(raw)
    dst = sqlite3.connect(path)
    try:
        schema = src.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                             "AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', name").fetchall()
        for kind, name, sql in schema:
            dst.execute(sql)
            if kind == "table":
                names = [f'"{c[1]}"' for c in src.execute(f'PRAGMA table_info("{name}")')]
                rows = src.execute(f'SELECT {", ".join(names)} FROM "{name}" ORDER BY rowid')
                dst.executemany(f'INSERT INTO "{name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})',
                                rows)
            dst.commit()
        if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
            dst.execute("DELETE FROM sqlite_sequence")  # AUTOINCREMENT's counters, as the build left them
            dst.executemany("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                            src.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name"))
            dst.commit()
        # The journal mode persists in the file: the copy keeps the one the app's own connections left on the
        # original (WAL where the app asks for it), and never one of the suite's choosing.
        mode = src.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() == "wal":
            dst.execute("PRAGMA journal_mode=WAL")
    finally:
        src.close()
        dst.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{raw}{suffix}").unlink(missing_ok=True)


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
        if _gone(pid):
            path.unlink(missing_ok=True)


def _gone(pid: int) -> bool:
    """Whether the process that made a copy has exited (another user's process is not gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def _sweep(directory: Path, pattern: str, max_age: float) -> None:
    """Remove leftovers of earlier runs (forked benchmark processes never clean up)."""
    now = time.time()
    for path in directory.glob(pattern):
        try:
            if now - path.stat().st_mtime > max_age:
                path.unlink()
        except FileNotFoundError:
            pass


def remove_db(path: Path | str) -> None:
    if str(path).startswith("postgresql"):
        _drop_postgres(str(path))
        return
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def _admin():
    """An engine on the server's own database, in autocommit (CREATE and DROP DATABASE need it)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(postgres_server()).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _postgres_copy(key: str, password_method: str | None) -> str:
    """A private database copied from the commit's template database, which is built once (server-wide lock)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    template = f"bench_seed_{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    server = make_url(postgres_server())
    engine = _admin()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(727401)"))
            try:
                exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template})
                if not exists:
                    building = f"{template}_building_{os.getpid()}"
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{building}"'))
                    conn.execute(text(f'CREATE DATABASE "{building}"'))
                    _build_dataset(server.set(database=building).render_as_string(hide_password=False),
                                   password_method)
                    conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{template}"'))
                _sweep_dead_databases(conn)
                name = f"bench_{os.getpid()}_{next(_serial)}"
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(727401)"))
    finally:
        engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def _sweep_dead_databases(conn) -> None:
    """Drop the copies whose benchmark process has exited (see :func:`_sweep_dead_copies`)."""
    from sqlalchemy import text

    for name in conn.scalars(text("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%\\_%'")).all():
        parts = name.split("_")
        if len(parts) == 3 and parts[1].isdigit() and _gone(int(parts[1])):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _drop_postgres(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = _admin()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        engine.dispose()
