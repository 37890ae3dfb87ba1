import pytest
from sqlalchemy import event

from target_app import db


def assert_error(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize("path", ["/api/me", "/api/users", "/api/users/user00001", "/api/settings"])
def test_api_requires_login(client, path):
    assert_error(client.get(path), 401, "unauthorized")


def test_me(logged_in):
    user = logged_in.get("/api/me").json["user"]
    assert user["username"] == "user00001"
    assert "password_hash" not in user and "password" not in user


def test_users_paginates_with_settings(logged_in):
    body = logged_in.get("/api/users?page=2&per_page=7").json
    assert body["page"] == 2 and body["per_page"] == 7
    assert body["total"] == 30 and body["pages"] == 5
    assert [u["username"] for u in body["users"]] == [f"user{i:05d}" for i in range(8, 15)]
    assert body["users"][0]["settings"]["pref_02"] == "value-8-2"


def test_users_past_the_end_is_empty(logged_in):
    assert logged_in.get("/api/users?page=99").json["users"] == []


@pytest.mark.parametrize("query", ["page=x", "page=0", "per_page=-1", "per_page=101", "page=1.5"])
def test_users_bad_parameter_is_400(logged_in, query):
    assert_error(logged_in.get(f"/api/users?{query}"), 400, "bad_request")


def test_user_by_name(logged_in):
    assert logged_in.get("/api/users/user00005").json["user"]["email"] == "user00005@example.test"


def test_unknown_user_is_404(logged_in):
    assert_error(logged_in.get("/api/users/nobody"), 404, "not_found")


def test_unknown_api_route_is_json_404(logged_in):
    assert_error(logged_in.get("/api/nothing-here"), 404, "not_found")


def test_wrong_method_is_json_405(logged_in):
    assert_error(logged_in.post("/api/me"), 405, "method_not_allowed")


def test_settings_user_and_site(logged_in):
    body = logged_in.get("/api/settings").json
    assert body["user"] == {"theme": "dark", "language": "fr", "pref_02": "value-1-2"}
    assert body["site"]["site_name"] == "target_app"


def count_statements(app, client, path):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.get_engine(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_users_statement_count_does_not_grow_with_page_size(app, logged_in):
    counts = {n: count_statements(app, logged_in, f"/api/users?per_page={n}") for n in (1, 10, 30)}
    assert len(set(counts.values())) == 1, counts
    # user load + count + users + their settings
    assert counts[1] == 4


def test_posts_newest_first_with_authors(logged_in):
    body = logged_in.get("/api/posts?per_page=3").json
    assert body["total"] == 30 and body["pages"] == 10
    assert [p["author"] for p in body["posts"]] == ["user00030", "user00029", "user00028"]
    assert body["posts"][0]["title"] == "Post 1 by user00030"


def test_posts_requires_login_and_valid_params(client, logged_in):
    assert_error(client.application.test_client().get("/api/posts"), 401, "unauthorized")
    assert_error(logged_in.get("/api/posts?per_page=0"), 400, "bad_request")


def test_posts_statement_count_does_not_grow_with_page_size(app, logged_in):
    counts = {n: count_statements(app, logged_in, f"/api/posts?per_page={n}") for n in (1, 10, 30)}
    assert set(counts.values()) == {3}, counts  # user load + count + posts joined with authors
