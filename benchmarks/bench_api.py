"""The authenticated JSON API, in-process."""

from .common import Timed, fixture, get_ok


class Api(Timed):
    """A logged-in client on /api/me and /api/users."""

    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self):
        self.client = fixture().client
        get_ok(self.client, "/api/me")
        get_ok(self.client, "/api/users")

    def time_api_me(self):
        self.client.get("/api/me")

    def time_api_users(self):
        self.client.get("/api/users")


class ListScaling(Timed):
    """/api/users by page size: the slope is the cost per record.

    A flat statement count and a shallow time slope mean no N+1 pattern.
    """

    params = [10, 30, 100]
    param_names = ["per_page"]
    repeat = (5, 10, 0.2)
    rounds = 1
    # 2: on the suite's own production-shaped data (benchmarks/dataset.py).
    version = "2"

    def setup(self, per_page):
        f = fixture()
        self.client = f.client
        self.engine = f.engine()
        self.path = f"/api/users?per_page={per_page}"
        get_ok(self.client, self.path)

    def time_list_users(self, per_page):
        self.client.get(self.path)

    def track_statements(self, per_page):
        from .common import StatementCounter

        with StatementCounter(self.engine) as counter:
            get_ok(self.client, self.path)
        return counter.count

    track_statements.unit = "statements"
