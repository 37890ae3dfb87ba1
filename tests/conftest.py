from __future__ import annotations

import re

import pytest

from target_app import create_app, db
from target_app.config import TestConfig
from target_app.seed import SEED_PASSWORD, seed

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "form has no csrf_token field"
    return match.group(1)


@pytest.fixture
def app():
    app = create_app(TestConfig)
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
