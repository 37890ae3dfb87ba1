from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from tests_helpers import csrf_from

from target_app import create_app, db
from target_app.config import TestConfig
from target_app.seed import SEED_PASSWORD, seed

# The app's tests run on SQLite (in memory) by default, and on PostgreSQL
# when this names a server (`python3 -m scripts postgres start` prints one):
# every table is dropped before each test, so give it a throwaway database.
POSTGRES_VARIABLE = "TARGET_APP_TEST_POSTGRES_URL"


def empty_postgres() -> str | None:
    """The PostgreSQL URL the tests use, with its schema emptied; None on SQLite."""
    url = os.environ.get(POSTGRES_VARIABLE)
    if not url:
        return None
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def database_url(tmp_path) -> str:
    """A database for a test that makes its own app: an SQLite file, or the emptied PostgreSQL database."""
    return empty_postgres() or f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def app():
    postgres = empty_postgres()
    config = type("PostgresTestConfig", (TestConfig,), {"DATABASE_URL": postgres}) if postgres else TestConfig
    app = create_app(config)
    with app.app_context():
        db.create_all()
        with app.extensions["db_sessionmaker"]() as session:
            seed(session, users=30, settings_per_user=3, posts_per_user=1, password_method="pbkdf2:sha256:1000")
    yield app
    db.get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class Auth:
    def __init__(self, client):
        self.client = client

    def token(self, path: str = "/auth/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, username: str = "user00001", password: str = SEED_PASSWORD, **extra):
        data = {"username": username, "password": password, "csrf_token": self.token(), **extra}
        return self.client.post("/auth/login", data=data)

    def register(self, username: str, email: str, password: str = "s3cret-pass"):
        data = {"username": username, "email": email, "password": password, "csrf_token": self.token("/auth/register")}
        return self.client.post("/auth/register", data=data)

    def logout(self):
        return self.client.post("/auth/logout", data={"csrf_token": self.token("/")})


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def logged_in(client, auth):
    response = auth.login()
    assert response.status_code == 302
    return client
