"""The suite never sets what the app sets: whatever target_app configures on its database reaches the
measured database only through the app.

Each PRAGMA the app's connection hook runs is planted away in turn (the app at a commit that no longer sets
it); the suite's database, built and opened the way every benchmark does, must then hold SQLite's own
default for it. A suite that set the PRAGMA itself (as it once set ``journal_mode=WAL`` on its copies, which
persists in the file) would mask the removal, and this test fails.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from tests_helpers import ROOT

import target_app.db
from benchmarks import databases
from benchmarks.target import make_app

APP_PRAGMAS = dict(re.findall(r'"PRAGMA (\w+)=(\w+)"', (ROOT / "target_app" / "db.py").read_text()))


def test_the_app_sets_the_pragmas_this_test_plants_away():
    assert {"journal_mode", "synchronous", "foreign_keys"} <= set(APP_PRAGMAS), APP_PRAGMAS


def _sqlite_default(name: str, tmp_path: Path):
    con = sqlite3.connect(tmp_path / "default.sqlite")
    try:
        return con.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        con.close()


def _through_the_suite(tmp_path: Path, name: str):
    """PRAGMA ``name`` as an app on the suite's own database (built anew) sees it."""
    path = tmp_path / "suite.sqlite"
    databases._build_canonical(path, "pbkdf2:sha256:1")
    app = make_app(path)
    try:
        with target_app.db.get_engine(app).connect() as conn:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()
    finally:
        target_app.db.get_engine(app).dispose()


class _WithoutOne:
    """A DB-API connection whose cursors skip one PRAGMA: the app's hook as at a commit that dropped it."""

    def __init__(self, connection, name: str):
        self.connection, self.name = connection, name

    def cursor(self):
        real, name = self.connection.cursor(), self.name

        class Cursor:
            def execute(self, sql, *args):
                if sql.replace(" ", "").lower().startswith(f"pragma{name.lower()}="):
                    return self
                return real.execute(sql, *args)

            def close(self):
                real.close()

        return Cursor()


@pytest.mark.parametrize("name", sorted(APP_PRAGMAS))
def test_an_app_setting_removed_is_not_masked_by_the_suite(name, tmp_path, monkeypatch):
    (tmp_path / "app").mkdir()
    wanted = _through_the_suite(tmp_path / "app", name)
    hook = target_app.db._sqlite_file_pragmas
    monkeypatch.setattr(target_app.db, "_sqlite_file_pragmas",
                        lambda connection, record: hook(_WithoutOne(connection, name), record))
    (tmp_path / "planted").mkdir()
    planted = _through_the_suite(tmp_path / "planted", name)
    default = _sqlite_default(name, tmp_path)
    assert str(planted).lower() == str(default).lower(), f"the suite set {name}={planted} itself"
    assert str(wanted).lower() != str(default).lower(), f"the app's {name} did not reach the suite's database"


def test_a_database_is_not_reused_under_other_dependencies(tmp_path, monkeypatch):
    # The cached dataset is keyed by the installed distributions' names and versions: a lock that moves
    # SQLAlchemy (or adds a package) builds it anew.
    import sysconfig

    site = tmp_path / "site-packages"
    (site / "SQLAlchemy-2.0.35.dist-info").mkdir(parents=True)
    (site / "flask-3.1.0.dist-info").mkdir()
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"purelib": str(site), "platlib": str(site)})
    first = databases.dependencies_fingerprint()
    assert databases.dependencies_fingerprint() == first
    (site / "SQLAlchemy-2.0.35.dist-info").rename(site / "SQLAlchemy-2.0.36.dist-info")
    second = databases.dependencies_fingerprint()
    (site / "waitress-3.0.2.dist-info").mkdir()
    assert len({first, second, databases.dependencies_fingerprint()}) == 3
