from tests_helpers import csrf_from


def test_settings_requires_login(client):
    response = client.get("/settings")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_settings_lists_own_settings(logged_in):
    html = logged_in.get("/settings").get_data(as_text=True)
    assert "pref_02" in html and "value-1-2" in html
    assert "value-2-2" not in html


def post_setting(client, key, value):
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    return client.post("/settings", data={"key": key, "value": value, "csrf_token": token})


def test_settings_create_update_delete(logged_in):
    assert post_setting(logged_in, "timezone", "UTC").status_code == 302
    assert logged_in.get("/api/settings").json["user"]["timezone"] == "UTC"
    post_setting(logged_in, "timezone", "Europe/Paris")
    assert logged_in.get("/api/settings").json["user"]["timezone"] == "Europe/Paris"
    post_setting(logged_in, "timezone", "")
    assert "timezone" not in logged_in.get("/api/settings").json["user"]


def test_settings_bad_input_is_400(logged_in):
    assert post_setting(logged_in, "", "x").status_code == 400
    assert post_setting(logged_in, "k" * 65, "x").status_code == 400
    assert post_setting(logged_in, "key", "v" * 501).status_code == 400


def test_settings_page_shows_site_defaults(logged_in):
    html = logged_in.get("/settings").get_data(as_text=True)
    assert "Site-wide defaults" in html
    assert "registration_open" in html
