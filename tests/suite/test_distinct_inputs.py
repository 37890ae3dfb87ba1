"""Retained bytes per distinct input: a cache without a bound shows, a bounded one does not."""

from __future__ import annotations

import functools

import pytest
from flask import Response

from benchmarks.common import CHEAP_HASH, bench_db, make_app
from benchmarks.counting import measures
from benchmarks.operations import DISTINCT, ROUTES, Context

USER = "GET /api/users/<username>"


def _context_with(monkeypatch, wrap=None) -> Context:
    ctx = Context(make_app(bench_db(password_method=CHEAP_HASH), PASSWORD_HASH_METHOD=CHEAP_HASH))
    if wrap:
        ctx.app.view_functions["api.user"] = wrap(ctx.app.view_functions["api.user"])
    monkeypatch.setattr(measures, "counting_context", lambda: ctx)
    return ctx


def _unbounded(view):
    kept = {}

    def user(username):
        if username not in kept:
            kept[username] = view(username=username).get_data()
        return Response(kept[username], mimetype="application/json")

    return user


def _bounded(view):
    @functools.lru_cache(maxsize=128)
    def body(username):
        return view(username=username).get_data()

    return lambda username: Response(body(username), mimetype="application/json")


def _retained(monkeypatch, wrap=None) -> int:
    ctx = _context_with(monkeypatch, wrap)
    try:
        return measures.retained_per_input([USER])[USER]
    finally:
        ctx.close()


def test_an_unbounded_cache_keyed_by_the_input_retains_bytes_per_distinct_input(monkeypatch):
    assert _retained(monkeypatch) < 64  # the app as it is keeps nothing per user asked for
    # Each profile's JSON, kept for good: beyond the 64 bytes that benchmarks/rules.toml allows.
    assert _retained(monkeypatch, _unbounded) >= 128


def test_a_cache_bounded_at_128_entries_retains_nothing_per_input(monkeypatch):
    assert _retained(monkeypatch, _bounded) < 64


def test_every_distinct_input_names_a_route_operation_and_new_values():
    paths = {op.name.split(" ")[1].split("?")[0] for op in ROUTES} | {"/api/users/<username>", "/healthz"}
    for inputs in DISTINCT:
        method, path = inputs.name.split(" ")[:2]
        assert method == inputs.method and path.split("?")[0] in paths, inputs.name
        values = [inputs.value(i) for i in range(200)]
        assert len(set(values)) == 200, inputs.name  # never the same value twice


@pytest.mark.parametrize("name", [i.name for i in DISTINCT])
def test_each_distinct_input_operation_runs_and_keeps_nothing_at_this_commit(name, monkeypatch):
    ctx = _context_with(monkeypatch)
    try:
        assert measures.retained_per_input([name])[name] < 64
    finally:
        ctx.close()
