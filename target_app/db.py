"""Database wiring: one engine per app, one session per request.

Plain SQLAlchemy 2.0, no Flask extension: the engine lives in
``app.extensions["db_engine"]``, and :func:`get_session` hands out a session
bound to the current application context and closed at teardown.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    """Declarative base of every model."""


def make_engine(url: str, *, echo: bool = False, pool_size: int = 5, pool_recycle: int = 3600) -> Engine:
    """Create the engine for ``url``, with pooling suited to its backend."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
        if in_memory:
            # One shared connection, or every checkout would see an empty DB.
            engine = create_engine(
                url, echo=echo, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            engine = create_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                pool_recycle=pool_recycle,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            event.listen(engine, "connect", _sqlite_file_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, pool_recycle=pool_recycle, pool_pre_ping=True)


def _sqlite_file_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the one writer, so a threaded server's
    # concurrent logins wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_app(app: Flask) -> None:
    """Create the engine and session factory, and close sessions at teardown."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        echo=app.config["SQL_ECHO"],
        pool_size=app.config["POOL_SIZE"],
        pool_recycle=app.config["POOL_RECYCLE"],
    )
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of ``app``, or of the current app."""
    return (app or current_app).extensions["db_engine"]


def get_session() -> Session:
    """The session of the current application context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def create_all(app: Flask | None = None) -> None:
    """Create every table that does not exist yet."""
    from . import models  # noqa: F401  (registers the tables)

    Base.metadata.create_all(get_engine(app))


def drop_all(app: Flask | None = None) -> None:
    """Drop every table."""
    from . import models  # noqa: F401

    Base.metadata.drop_all(get_engine(app))
