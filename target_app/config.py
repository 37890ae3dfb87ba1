"""Configuration classes.

``create_app`` picks :class:`Config` unless told otherwise. Environment
variables override the defaults: ``DATABASE_URL`` selects the database and
``SECRET_KEY`` the signing key. Only development gets a built-in secret.
"""

from __future__ import annotations

import os


class Config:
    """Production defaults: debug off, secure-ish cookies, scrypt hashing."""

    DEBUG = False
    TESTING = False
    SECRET_KEY: str | None = None
    # None means "an SQLite file in the instance folder" (see create_app).
    DATABASE_URL: str | None = None
    SQL_ECHO = False
    # Connection pool for server databases; SQLite files use SQLAlchemy's
    # defaults for pysqlite.
    POOL_SIZE = 5
    POOL_RECYCLE = 3600
    # werkzeug.security method; scrypt is werkzeug's slow default KDF.
    PASSWORD_HASH_METHOD = "scrypt"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    API_MAX_PER_PAGE = 100
    USERNAME_MAX = 40
    EMAIL_MAX = 120
    PASSWORD_MIN = 8
    PASSWORD_MAX = 128
    SETTING_KEY_MAX = 64
    SETTING_VALUE_MAX = 500


class DevConfig(Config):
    """Local development: debug on and a throwaway secret."""

    DEBUG = True
    SECRET_KEY = "dev-only-not-secret"


class TestConfig(Config):
    """pytest: an in-memory database and a cheap hash so tests stay fast."""

    TESTING = True
    SECRET_KEY = "test-secret"
    DATABASE_URL = "sqlite://"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


class BenchConfig(Config):
    """Benchmarks: production settings with a fixed secret.

    CSRF stays on, so benchmarks measure what users get; they read the token
    from the form like any client.
    """

    SECRET_KEY = "bench-secret"


def from_environment(config: dict) -> None:
    """Apply environment overrides to a config mapping in place."""
    for name in ("DATABASE_URL", "SECRET_KEY"):
        value = os.environ.get(name)
        if value:
            config[name] = value
