"""What traffic can reach is measured: surface.json is the app's own, and a route or an outcome nobody
listed is found by the derivation (benchmarks/surface.py)."""

from __future__ import annotations

import json

import pytest

from benchmarks import surface
from benchmarks.bench_counters import OutcomeStatements, RetainedBytes, RowsFetched, TableScans
from benchmarks.bench_instructions import Instructions
from benchmarks.common import CHEAP_HASH, bench_db, make_app
from benchmarks.operations import DERIVED, OPERATIONS, Context
from benchmarks.outcomes import SURFACE, load


def test_surface_json_is_what_the_app_derives_today():
    derived = surface.derive()
    assert surface.render(derived) == SURFACE.read_text(), (
        "benchmarks/surface.json is out of date: python -m benchmarks.surface (and commit it)")


def test_every_derived_outcome_is_an_operation_with_every_counter():
    outcomes = load()
    assert outcomes and [o.name for o in outcomes] == [op.name for op in DERIVED]
    for o in outcomes:
        assert o.name in OPERATIONS
        assert o.name in OutcomeStatements.params
        assert o.name in TableScans.params and o.name in RowsFetched.params
        # The costly counters for those that run a line no other counted operation runs.
        assert (o.name in Instructions.params) == o.instructions == (o.name in RetainedBytes.params)
    assert 0 < sum(o.instructions for o in outcomes) < len(outcomes)


def test_the_outcomes_a_client_causes_are_there():
    """The kinds of outcome the app has today, each measured at least once (a 404 page and API answer, a
    failed login, a CSRF failure, a clash, a bad parameter, nobody logged in, a method not allowed)."""
    statuses = {o.status for o in load()}
    assert {400, 401, 404, 405, 409} <= statuses
    names = " ".join(o.name for o in load())
    for outcome in ("(not found)", "(failed login)", "(CSRF failure)", "(clash", "(bad parameter",
                    "(not logged in)", "(method not allowed)", "(missing fields)"):
        assert outcome in names, outcome


def _app_with_widgets():
    """The app, and a route nobody listed: a logged-in JSON view with a path argument and a query argument."""
    from flask import abort, g, jsonify, request

    app = make_app(bench_db(password_method=CHEAP_HASH), PASSWORD_HASH_METHOD=CHEAP_HASH)

    def widgets(username):
        if g.user is None:
            abort(401)
        if username != g.user.username:
            abort(404)
        limit = request.args.get("limit", "5")
        if not limit.isdigit():
            abort(400)
        return jsonify(owner=username, limit=int(limit))

    app.add_url_rule("/widgets/<username>", "widgets", widgets)
    return app


@pytest.mark.parametrize("outcome", ["(ok)", "(not found)", "(bad parameter limit=x)", "(not logged in)"])
def test_a_route_nobody_listed_is_measured_with_its_outcomes(outcome):
    derived = surface.derive(Context(_app_with_widgets()), also=(__file__,))
    names = [entry["name"] for entry in derived["outcomes"]]
    assert f"GET /widgets/<username> {outcome}" in names, names
    before = json.loads(SURFACE.read_text())["outcomes"]
    assert len(derived["outcomes"]) > len(before)
