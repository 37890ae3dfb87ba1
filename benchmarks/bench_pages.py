"""Response times of the HTML pages and every GET route, in-process."""

from .common import GET_ROUTES, fixture, get_ok


class HomePage:
    """GET / through the test client: queries, template, response."""

    repeat = (10, 40, 2.0)

    def setup(self):
        self.client = fixture(logged_in=False).client
        get_ok(self.client, "/")

    def time_homepage(self):
        self.client.get("/")


class LoginPage:
    """GET /auth/login: the form with its CSRF token."""

    repeat = (10, 40, 2.0)

    def setup(self):
        self.client = fixture(logged_in=False).client
        get_ok(self.client, "/auth/login")

    def time_login_page(self):
        self.client.get("/auth/login")


class Routes:
    """Every GET route for a logged-in user, so the site ranks them."""

    params = GET_ROUTES
    param_names = ["route"]
    repeat = (10, 30, 1.0)

    def setup(self, route):
        self.client = fixture().client
        get_ok(self.client, route)

    def time_route(self, route):
        self.client.get(route)
