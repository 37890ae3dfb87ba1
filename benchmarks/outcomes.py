"""What a client can make each route do: the moves a request can make, and the outcomes read from the app.

A route is more than its happy path: an unknown id, nobody logged in, a
bad query argument, a form without its CSRF token or its fields, a login
that fails, a clash with what exists, a method the route does not allow.
Each is a path through the app's code that traffic reaches (bots' 404s,
credential stuffing), so each is measured like any operation.

``surface.json`` lists them. It is not kept by hand: ``python -m
benchmarks.surface`` makes every move on every rule of the app's URL map
and keeps each outcome that runs lines of target_app no other operation
runs (``tests/suite/test_surface.py`` fails while it is out of date). A
:class:`Move` is read from that file here and replayed by the operations
at each commit (``operations.DERIVED``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .common import csrf_token
from .target import require

SURFACE = Path(__file__).with_name("surface.json")

# Paths no rule matches: a page and an API endpoint (the app answers the two differently).
UNKNOWN_PATHS = ("/no-such-page", "/api/no-such-endpoint")
# A value no row has, for a path argument (an unknown username, say).
UNKNOWN = "no-such-{name}"
STALE_USER_ID = 10**9
# Distinct values a stream asks for at most: its 1,600 requests and two windows past a cache bounded at 1,024
# entries (bench_counters.RetainedPerInput), and fewer than the suite's 5,000 users.
STREAM_VALUES = 1700
# Where a form's fields come from: the page the form is on, which for these apps is the rule itself.
_FIELD_RE = re.compile(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"')


@dataclass(frozen=True)
class Move:
    """One request a client can make of a rule, as data (the JSON of surface.json)."""

    method: str
    rule: str  # the URL rule, "/api/users/<username>"
    args: str = "known"  # the path's arguments: "known" (a row's value) or "unknown" (no row's)
    client: str = "user"  # "user" (logged in), "anonymous", or "stale" (a session of a user since deleted)
    query: dict = field(default_factory=dict)  # query arguments
    form: str | None = None  # a POST's fields: "existing" (a row's values), "fresh" (new ones), "empty"
    csrf: bool = True  # a POST carries its form's CSRF token
    fields: dict = field(default_factory=dict)  # fields given a value of their own (blank, too long...)

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def path(self, values) -> str:
        """The concrete path: each ``<converter:name>`` filled, then the query string."""

        def fill(match):
            name = match.group(2)
            return UNKNOWN.format(name=name) if self.args == "unknown" else str(values.known(name))

        path = re.sub(r"<(?:([a-z]+):)?([a-zA-Z_]+)>", fill, self.rule)
        if self.query:
            path += "?" + "&".join(f"{k}={v}" for k, v in self.query.items())
        return path

    def prepare(self, ctx):
        """Everything but the request itself (not measured): the client, the path, the form and its token."""
        values = Values.of(ctx)
        # A session of its own at every run (the spare client's), so that no move depends on what another
        # did: a logout ends only its own session, a login starts only its own.
        client = ctx.spare
        with client.session_transaction() as session:
            session.clear()
            if ctx.csrf_raw:
                session["csrf_token"] = ctx.csrf_raw
            if self.client == "user":
                session["user_id"] = values.user_id()
            elif self.client == "stale":  # a session whose user no longer exists
                session["user_id"] = STALE_USER_ID
        data = {}
        if self.form not in (None, "empty"):
            data = {name: values.field(name, self.form) for name in values.fields(ctx.client, self.rule)
                    if name != "csrf_token"}
        data.update(self.fields)
        if self.csrf and self.method != "GET":
            data["csrf_token"] = values.token(client, self.rule)
        return client, self.path(values), data

    def send(self, prepared):
        """The request (measured)."""
        client, path, data = prepared
        response = client.get(path) if self.method == "GET" else client.open(path, method=self.method, data=data)
        response.get_data()  # as a client reads it (a static file is streamed)
        response.close()
        return response


class Values:
    """The values a move fills in at this commit: a row's (the logged-in user's own, or its first row in a
    table with a ``user_id``), or fresh ones, by the name of a path argument or a form field."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.serial = 0
        self._known: dict[str, object] = {}
        self._fields: dict[str, list[str]] = {}
        self._tokens: dict[str, str] = {}

    @classmethod
    def of(cls, ctx) -> Values:
        if "values" not in ctx.statements:
            ctx.statements["values"] = cls(ctx)
        return ctx.statements["values"]

    def user_id(self) -> int:
        """The logged-in user's id (``common.LOGIN_USERNAME``)."""
        if "user_id" not in self._known:
            from sqlalchemy import select

            from .common import LOGIN_USERNAME

            user = require("models", "User").User
            self._known["user_id"] = self.ctx.session.scalar(select(user.id).where(user.username == LOGIN_USERNAME))
        return self._known["user_id"]

    def known(self, name: str):
        if name not in self._known:
            self._known[name] = self._row_value(name)
        return self._known[name]

    def _row_value(self, name: str):
        from sqlalchemy import inspect, select

        from .common import LOGIN_USERNAME
        from .dataset import PASSWORD

        if name == "password":
            return PASSWORD
        if name == "filename":  # Flask's static files
            folder = Path(self.ctx.app.static_folder or "")
            files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
            if files:
                return files[0]
        models = require("models", "User")
        user = models.User
        session = self.ctx.session
        me = session.scalar(select(user).where(user.username == LOGIN_USERNAME))
        mapper_registry = inspect(user).registry
        for mapper in sorted(mapper_registry.mappers, key=lambda m: m.class_.__name__ != "User"):
            columns = mapper.columns
            if name not in columns:
                continue
            if mapper.class_ is user:
                return getattr(me, name)
            if "user_id" in columns:
                row = session.scalar(select(mapper.class_).where(columns["user_id"] == me.id)
                                     .order_by(*mapper.primary_key))
                if row is not None:
                    return getattr(row, name)
        return f"{name}-known"

    def nth(self, name: str, i: int):
        """The ``i``-th distinct value of the column ``name`` (the users' by preference), cycling past the
        last; for a name no column has, a fresh value."""
        key = f"nth {name}"
        if key not in self._known:
            self._known[key] = self._column_values(name)
        found = self._known[key]
        return found[i % len(found)] if found else f"{name}{i:06d}"

    def nth_field(self, name: str, i: int, how: str) -> str:
        """A form field's ``i``-th value: ``how`` "existing", a row's where the column has a distinct value for
        every request of a stream (a username that exists), and a fresh one otherwise; the suite's password."""
        from .dataset import PASSWORD

        if name == "password":
            return PASSWORD
        if how == "existing" and len(self._distinct(name)) >= STREAM_VALUES:
            return str(self.nth(name, i))
        return f"{name}{i:06d}" if "email" not in name else f"fresh{i:06d}@example.test"

    def _distinct(self, name: str) -> list:
        """The distinct values of the column ``name`` (none where no column has that name)."""
        self.nth(name, 0)
        return self._known[f"nth {name}"]

    def _column_values(self, name: str) -> list:
        from sqlalchemy import inspect, select

        user = require("models", "User").User
        for mapper in sorted(inspect(user).registry.mappers, key=lambda m: m.class_.__name__ != "User"):
            if name in mapper.columns:
                column = mapper.columns[name]
                rows = self.ctx.session.execute(select(column).distinct().order_by(column).limit(STREAM_VALUES))
                return [row[0] for row in rows]
        return []

    def fresh(self, name: str) -> str:
        from .dataset import PASSWORD

        if name == "password":
            return PASSWORD
        self.serial += 1
        if "email" in name:
            return f"fresh{self.serial:06d}@example.test"
        return f"fresh{name}{self.serial:06d}"

    def field(self, name: str, how: str):
        return self.known(name) if how == "existing" else self.fresh(name)

    def fields(self, client, rule: str) -> list[str]:
        """The fields of the form on ``rule``'s page (read once: the same at every run)."""
        if rule not in self._fields:
            self._fields[rule] = sorted(set(_FIELD_RE.findall(self._page(client, rule))))
        return self._fields[rule]

    def token(self, client, rule: str) -> str:
        """A CSRF token of ``client``'s session: from ``rule``'s page, else from the first page with a form.
        Where every session starts from one token (Context.fix_csrf_token), the form's token is read once."""
        if not self.ctx.csrf_raw:
            return csrf_token(self._page(client, rule))
        if rule not in self._tokens:
            self._tokens[rule] = csrf_token(self._page(client, rule))
        return self._tokens[rule]

    def start_session(self, client, user_id) -> None:
        """``client``'s session cookie anew: the fixed CSRF token, and ``user_id`` logged in (or nobody),
        signed the app's way (cheaper than a session_transaction, which runs a request of its own)."""
        app = self.ctx.app
        session = {}
        if self.ctx.csrf_raw:
            session["csrf_token"] = self.ctx.csrf_raw
        if user_id is not None:
            session["user_id"] = user_id
        name = app.config.get("SESSION_COOKIE_NAME", "session")
        if not session:
            client.delete_cookie(name)
            return
        client.set_cookie(name, app.session_interface.get_signing_serializer(app).dumps(session))

    def _page(self, client, rule: str) -> str:
        for path in (rule, "/", "/auth/login"):
            if "<" in path:
                continue
            response = client.get(path)
            if response.status_code == 200 and "csrf_token" in response.get_data(as_text=True):
                return response.get_data(as_text=True)
        return ""


@dataclass(frozen=True)
class Outcome:
    name: str
    move: Move
    status: int
    instructions: bool  # counted under callgrind too: it runs a line no operation counted before it runs


def load() -> list[Outcome]:
    """Each derived outcome in surface.json, in its order."""
    if not SURFACE.exists():
        return []
    entries = json.loads(SURFACE.read_text())["outcomes"]
    return [Outcome(e["name"], Move(**e["move"]), e["status"], e.get("instructions", True))
            for e in entries]


# A query argument no view reads: a cache keyed by the whole URL keeps an entry per value all the same.
UNREAD_ARG = "ref"


@dataclass(frozen=True)
class Stream:
    """Every input one route takes, varied at once: request ``i`` carries the ``i``-th value of each (a row's
    path argument, the first query argument the view reads, a query argument it does not read, each form
    field, and who is logged in). What state grows with the number of distinct requests shows there, whatever
    input it is keyed by (bench_counters.RetainedPerInput)."""

    name: str  # "GET /api/users/<username>"
    method: str
    rule: str
    query: tuple[str, ...] = ()  # the query arguments the view reads, the first one varied
    fields: tuple[str, ...] = ()  # a form's fields
    form: str = "existing"  # where their values come from: "existing" (rows') or "fresh" (as the success needs)
    user: bool = True  # the route serves a logged-in user (who it is varies)

    def path(self, values, i: int) -> str:
        def fill(match):  # a row's i-th value; the one known value where no column has the name
            name = match.group(2)
            return str(values.nth(name, i) if values._distinct(name) else values.known(name))

        path = re.sub(r"<(?:([a-z]+):)?([a-zA-Z_]+)>", fill, self.rule)
        query = {name: (str(i + 1) if n == 0 else "1") for n, name in enumerate(self.query)}
        query[UNREAD_ARG] = f"r{i:06d}"
        return path + "?" + "&".join(f"{k}={v}" for k, v in query.items())

    def prepare(self, ctx, i: int):
        """The client (its session: the ``i``-th user, or nobody) and the request's path and form."""
        values = Values.of(ctx)
        client = ctx.spare
        values.start_session(client, values.nth("id", i) if self.user else None)
        data = {}
        if self.method != "GET":
            data = {name: values.nth_field(name, i, self.form) for name in self.fields if name != "csrf_token"}
            data["csrf_token"] = values.token(client, self.rule)
        return client, self.path(values, i), data

    def send(self, prepared):
        client, path, data = prepared
        response = client.get(path) if self.method == "GET" else client.open(path, method=self.method, data=data)
        response.get_data()
        response.close()
        if response.status_code >= 500:
            raise RuntimeError(f"{self.name} answered {response.status_code}")
        return response


def load_streams() -> list[Stream]:
    """The input streams of surface.json, one per route and method that succeeds."""
    if not SURFACE.exists():
        return []
    return [Stream(e["name"], e["method"], e["rule"], tuple(e["query"]), tuple(e["fields"]), e["form"], e["user"])
            for e in json.loads(SURFACE.read_text()).get("inputs", [])]
