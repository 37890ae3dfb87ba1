"""Database work below the routes: lookups, settings, bulk writes, the pool."""

from .common import LOOKUP_USERNAME, Timed, fixture, require


class UserLookup(Timed):
    """One user by username among thousands: an index makes it O(log n)."""

    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self):
        f = fixture(logged_in=False)
        models = require("models", "User")
        from sqlalchemy import select

        self.session = f.app.extensions["db_sessionmaker"]()
        self.stmt = select(models.User).where(models.User.username == LOOKUP_USERNAME)
        if self.session.scalar(self.stmt) is None:
            raise RuntimeError(f"{LOOKUP_USERNAME} is not in the seeded database")

    def teardown(self):
        # asv_runner calls teardown even after setup skipped or failed.
        if hasattr(self, "session"):
            self.session.close()

    def time_lookup_by_username(self):
        self.session.scalar(self.stmt)


class SettingsQuery(Timed):
    """A user's settings and the site-wide settings."""

    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self):
        f = fixture(logged_in=False)
        models = require("models", "Setting", "User")
        from sqlalchemy import select

        self.session = f.app.extensions["db_sessionmaker"]()
        Setting, User = models.Setting, models.User
        user_id = self.session.scalar(select(User.id).where(User.username == LOOKUP_USERNAME))
        self.user_stmt = select(Setting.key, Setting.value).where(Setting.user_id == user_id).order_by(Setting.key)
        self.site_stmt = select(Setting.key, Setting.value).where(Setting.user_id.is_(None))

    def teardown(self):
        # asv_runner calls teardown even after setup skipped or failed.
        if hasattr(self, "session"):
            self.session.close()

    def time_user_settings(self):
        self.session.execute(self.user_stmt).all()

    def time_site_settings(self):
        self.session.execute(self.site_stmt).all()


class BulkInsert(Timed):
    """100 new users in one transaction, by target_app.bulk's two methods.

    Each sample inserts into the same 5,000-user table: setup deletes what
    the previous sample wrote, so the table never grows (number = 1).
    """

    params = ["core", "orm"]
    param_names = ["method"]
    number = 1
    warmup_time = 0
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self, method):
        bulk = require("bulk", "bulk_create_users")
        models = require("models", "User")
        from sqlalchemy import delete

        f = fixture(logged_in=False)
        self.bulk = bulk.bulk_create_users
        self.session = f.app.extensions["db_sessionmaker"]()
        self.delete = delete(models.User).where(models.User.username.like("bulk%"))
        self.records = [
            {"username": f"bulk{i:03d}", "email": f"bulk{i:03d}@example.test", "password_hash": "x"}
            for i in range(100)
        ]
        self._clear()
        # One untimed round warms the statement caches.
        self.bulk(self.session, self.records, method=method)
        self._clear()

    def _clear(self):
        self.session.execute(self.delete)
        self.session.commit()
        self.session.expunge_all()

    def teardown(self, method):
        # asv_runner calls teardown even after setup skipped or failed.
        if hasattr(self, "session"):
            self._clear()
            self.session.close()

    def time_insert_100(self, method):
        self.bulk(self.session, self.records, method=method)


class ConnectionPool(Timed):
    """Check a connection out of the engine's pool and return it."""


    def setup(self):
        self.engine = fixture(logged_in=False).engine()
        with self.engine.connect():
            pass

    def time_acquire_connection(self):
        with self.engine.connect():
            pass
