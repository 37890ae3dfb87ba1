from sqlalchemy import func, select

from target_app import db
from target_app.models import AuditLog, User


def count_users(app) -> int:
    with app.app_context():
        return db.get_session().scalar(select(func.count()).select_from(User))


def test_register_then_login_then_logout(client, auth, app):
    response = auth.register("alice", "Alice@Example.test", "wonderland-9")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    response = auth.login("alice", "wonderland-9")
    assert response.status_code == 302
    assert client.get("/api/me").json["user"]["email"] == "alice@example.test"
    assert auth.logout().status_code == 302
    assert client.get("/api/me").status_code == 401


def test_password_is_hashed_with_configured_kdf(client, auth, app):
    auth.register("bob", "bob@example.test", "builder-123")
    with app.app_context():
        user = db.get_session().scalar(select(User).where(User.username == "bob"))
        assert user.password_hash.startswith("pbkdf2:sha256:1000$")
        assert "builder-123" not in user.password_hash
        assert user.check_password("builder-123")


def test_production_config_hashes_with_scrypt():
    from target_app.config import Config

    assert Config.PASSWORD_HASH_METHOD == "scrypt"
    assert Config.DEBUG is False


def test_session_cookie_is_httponly_and_samesite(auth):
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_wrong_password_is_401_and_audited(auth, app):
    response = auth.login(password="wrong-password")
    assert response.status_code == 401
    assert "invalid username or password" in response.get_data(as_text=True)
    with app.app_context():
        events = db.get_session().scalars(select(AuditLog.event)).all()
    assert events == ["login_failed"]


def test_login_unknown_user_is_401(auth):
    assert auth.login(username="ghost").status_code == 401


def test_login_missing_field_is_400(client, auth):
    response = client.post("/auth/login", data={"username": "user00001", "csrf_token": auth.token()})
    assert response.status_code == 400
    assert "password is required" in response.get_data(as_text=True)


def test_login_redirects_to_safe_next_only(auth):
    assert auth.login(next="/settings").headers["Location"] == "/settings"


def test_login_ignores_offsite_next(client, auth):
    response = auth.login(next="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_register_duplicate_username_is_409_and_writes_nothing(auth, app):
    before = count_users(app)
    response = auth.register("user00001", "other@example.test")
    assert response.status_code == 409
    assert count_users(app) == before


def test_register_duplicate_email_is_409(auth, app):
    response = auth.register("someone", "USER00002@example.test")
    assert response.status_code == 409


def test_register_rejects_bad_fields_with_400(client, auth, app):
    before = count_users(app)
    cases = [
        {"username": "", "email": "a@b.test", "password": "longenough"},
        {"username": "x" * 41, "email": "a@b.test", "password": "longenough"},
        {"username": "ok", "email": "not-an-email", "password": "longenough"},
        {"username": "ok", "email": "a@b.test", "password": "short"},
        {"username": "bad name", "email": "a@b.test", "password": "longenough"},
        {"email": "a@b.test", "password": "longenough"},
    ]
    for data in cases:
        data["csrf_token"] = auth.token("/auth/register")
        response = client.post("/auth/register", data=data)
        assert response.status_code == 400, data
    assert count_users(app) == before


def test_inactive_user_cannot_log_in(auth, app):
    with app.app_context():
        session = db.get_session()
        session.scalar(select(User).where(User.username == "user00003")).is_active = False
        session.commit()
    assert auth.login(username="user00003").status_code == 401


def test_login_and_logout_are_audited(auth, app):
    auth.login()
    auth.logout()
    with app.app_context():
        events = db.get_session().scalars(select(AuditLog.event).order_by(AuditLog.id)).all()
    assert events == ["login", "logout"]


def test_anonymous_logout_writes_nothing(client, auth, app):
    assert client.post("/auth/logout", data={"csrf_token": auth.token()}).status_code == 302
    with app.app_context():
        assert db.get_session().scalars(select(AuditLog.event)).all() == []
