"""Response times of the HTML pages and every GET route, in-process."""

from .common import GET_ROUTES, Timed, fixture, get_ok


class HomePage(Timed):
    """GET / through the test client: queries, template, response."""

    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self):
        self.client = fixture(logged_in=False).client
        get_ok(self.client, "/")

    def time_homepage(self):
        self.client.get("/")


class LoginPage(Timed):
    """GET /auth/login: the form with its CSRF token."""


    def setup(self):
        self.client = fixture(logged_in=False).client
        get_ok(self.client, "/auth/login")

    def time_login_page(self):
        self.client.get("/auth/login")


class Routes(Timed):
    """Every GET route for a logged-in user, so the site ranks them."""

    params = GET_ROUTES
    param_names = ["route"]
    repeat = (5, 10, 0.2)
    rounds = 1
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self, route):
        self.client = fixture().client
        get_ok(self.client, route)

    def time_route(self, route):
        self.client.get(route)
