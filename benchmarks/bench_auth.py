"""Submitting the login form: dominated by password hashing, on purpose."""

from .common import LOGIN_USERNAME, csrf_token, fixture


class LoginSubmit:
    """POST /auth/login with a valid CSRF token and the right password.

    A successful login resets the session (and so the CSRF token), so every
    sample gets a fresh client and token in setup: ``number = 1`` and no
    warm-up, which would otherwise replay a spent token.
    """

    repeat = (5, 8, 1.0)
    number = 1
    warmup_time = 0
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self):
        app = fixture(logged_in=False, password_method=None).app
        self.client = app.test_client()
        from .dataset import PASSWORD as password
        token = csrf_token(self.client.get("/auth/login").get_data(as_text=True))
        self.data = {"username": LOGIN_USERNAME, "password": password, "csrf_token": token}

    def time_login_submit(self):
        response = self.client.post("/auth/login", data=self.data)
        if response.status_code != 302:
            raise RuntimeError(f"login answered {response.status_code}")
