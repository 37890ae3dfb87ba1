import pytest

from target_app.seed import SEED_PASSWORD


@pytest.mark.parametrize(
    "path,data",
    [
        ("/auth/login", {"username": "user00001", "password": SEED_PASSWORD}),
        ("/auth/register", {"username": "eve", "email": "eve@example.test", "password": "longenough"}),
        ("/auth/logout", {}),
    ],
)
def test_post_without_token_is_refused(client, path, data):
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_post_with_forged_token_is_refused(client, auth):
    auth.token()  # a session exists, but the token below is not its own
    response = client.post(
        "/auth/login", data={"username": "user00001", "password": SEED_PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_settings_post_without_token_is_refused(logged_in):
    response = logged_in.post("/settings", data={"key": "theme", "value": "dark"})
    assert response.status_code == 400


def test_every_form_carries_a_token(client, logged_in):
    for path in ("/auth/login", "/auth/register", "/settings", "/"):
        html = logged_in.get(path).get_data(as_text=True)
        assert html.count("<form") == html.count('name="csrf_token"'), path
