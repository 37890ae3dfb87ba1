from sqlalchemy import func, select

from target_app import db
from target_app.models import User


def test_homepage_shows_live_counts_and_latest_users(client, app):
    html = client.get("/").get_data(as_text=True)
    assert "30</span> users" in html
    assert "30</span> posts" in html
    # Newest first: user00030 was created last.
    assert html.index("user00030") < html.index("user00029")
    assert "Welcome to target_app" in html


def test_homepage_reflects_new_rows(client, auth, app):
    auth.register("newcomer", "newcomer@example.test")
    html = client.get("/").get_data(as_text=True)
    assert "31</span> users" in html


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_unknown_page_is_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_seed_is_deterministic(app):
    with app.app_context():
        session = db.get_session()
        assert session.scalar(select(func.count()).select_from(User)) == 30
        first = session.scalar(select(User).where(User.username == "user00001"))
        assert first.email == "user00001@example.test"
        assert [s.key for s in first.settings] == ["language", "pref_02", "theme"]


def test_every_response_carries_security_headers(client, logged_in):
    for path in ("/", "/auth/login", "/api/me", "/healthz", "/no-such-page"):
        headers = logged_in.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert "default-src 'self'" in headers["Content-Security-Policy"], path
