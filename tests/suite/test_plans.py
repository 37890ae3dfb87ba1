"""Cost that grows with the data is counted exactly: full scans and rows fetched (benchmarks/counting/plans.py).

Each planted change is a sibling of the issue's examples, made on a fresh app in-process: the counts of the
operation that reaches it move, by exactly the work it adds.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from benchmarks.common import CHEAP_HASH, bench_db, make_app
from benchmarks.counting.measures import query_costs
from benchmarks.counting.plans import QueryCosts
from benchmarks.operations import Context, counting_context
from target_app.db import get_session
from target_app.models import AuditLog, Post, User


def test_a_lookup_that_stops_using_its_index_is_a_full_scan():
    ctx = counting_context()
    with QueryCosts(ctx.engine) as indexed:
        ctx.session.execute(select(User).where(User.username == "user00042")).all()
    with QueryCosts(ctx.engine) as scanned:
        ctx.session.execute(select(User).where(func.lower(User.username) == "user00042")).all()
    assert (indexed.rows, len(indexed.scans)) == (1, 0)
    assert (scanned.rows, len(scanned.scans)) == (1, 1)
    assert scanned.scan_lines()[0].startswith("SCAN users: SELECT")


def test_a_whole_table_fetched_and_sliced_in_python_counts_every_row():
    ctx = counting_context()
    with QueryCosts(ctx.engine) as page:
        ctx.session.execute(select(Post).order_by(Post.id).limit(20)).all()
    with QueryCosts(ctx.engine) as whole:
        ctx.session.execute(select(Post).order_by(Post.id)).all()[:20]
    assert page.rows == 20
    assert whole.rows == ctx.session.scalar(select(func.count()).select_from(Post)) > 1000


def _fresh(plant=None) -> Context:
    app = make_app(bench_db(password_method=CHEAP_HASH), PASSWORD_HASH_METHOD=CHEAP_HASH)
    if plant:
        plant(app)
    return Context(app)


def _costs(op: str, plant=None) -> dict:
    return query_costs([op], _fresh(plant))[op]


def _404_loads_recent_posts(app):
    from flask import render_template

    def not_found(exc):
        get_session().scalars(select(Post).order_by(Post.created_at.desc()).limit(20)).all()
        return render_template("error.html", status=404, message=exc.description), 404

    app.register_error_handler(404, not_found)


def _failed_login_counts_earlier_failures(app):
    from flask import request

    view = app.view_functions["auth.login"]

    def login():
        if request.method == "POST":
            get_session().scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.detail == request.form.get("username", "")))
        return view()

    app.view_functions["auth.login"] = login


@pytest.mark.parametrize("op, plant, moved", [
    ("GET /no-such-page (not found)", _404_loads_recent_posts, {"statements": 1, "rows": 20, "scans": 0}),
    ("POST /auth/login (failed login)", _failed_login_counts_earlier_failures, {"statements": 1, "rows": 1,
                                                                                "scans": 1}),
])
def test_a_planted_query_in_an_outcome_moves_its_exact_counts(op, plant, moved):
    before, after = _costs(op), _costs(op, plant)
    assert {k: after[k] - before[k] for k in moved} == moved, (before, after)


def test_a_limit_read_in_the_order_of_an_index_is_no_scan_and_a_limit_after_a_sort_of_every_row_is():
    ctx = counting_context()
    with QueryCosts(ctx.engine) as newest:
        ctx.session.execute(select(Post).order_by(Post.created_at.desc()).limit(5)).all()
    with QueryCosts(ctx.engine) as sorted_all:
        ctx.session.execute(select(Post).order_by(func.length(Post.body)).limit(5)).all()
    assert (newest.rows, len(newest.scans)) == (5, 0)
    assert (sorted_all.rows, len(sorted_all.scans)) == (5, 1)
