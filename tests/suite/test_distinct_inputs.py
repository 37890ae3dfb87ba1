"""Memory kept per distinct request: a cache without a bound shows, one bounded at 1,024 entries does not,
whatever input it is keyed by, on every route (the streams of surface.json)."""

from __future__ import annotations

import functools

import pytest
from flask import Response, request

from benchmarks.common import CHEAP_HASH, bench_db, make_app
from benchmarks.counting import measures
from benchmarks.operations import STREAMS, Context

# The rule a team accepts (benchmarks/rules.toml): more than half a block per request is growth.
LIMIT = 0.5


def _kept(stream: str, endpoint: str | None = None, wrap=None) -> float:
    ctx = Context(make_app(bench_db(password_method=CHEAP_HASH), PASSWORD_HASH_METHOD=CHEAP_HASH))
    if wrap:
        ctx.app.view_functions[endpoint] = wrap(ctx.app.view_functions[endpoint])
    try:
        return measures.retained_per_input([stream], ctx=ctx)[stream]
    finally:
        ctx.close()


def _by_full_path(view):
    """The issue's example: every page served kept by its query string, never evicted."""
    kept = {}

    def cached(**kwargs):
        if request.full_path not in kept:
            kept[request.full_path] = view(**kwargs).get_data()
        return Response(kept[request.full_path], mimetype="application/json")

    return cached


def _lru(maxsize):
    def wrap(view):
        @functools.lru_cache(maxsize=maxsize)
        def body(path, **kwargs):
            return view(**kwargs).get_data()

        return lambda **kwargs: Response(body(request.full_path, **kwargs), mimetype="application/json")

    return wrap


def _per_user(view):
    """A sibling nobody listed: each logged-in user's answer kept by user, whatever the path."""
    from flask import g

    kept = {}

    def cached(**kwargs):
        kept.setdefault(g.user.id, view(**kwargs).get_data())
        return Response(kept[g.user.id], mimetype="application/json")

    return cached


@pytest.mark.parametrize("stream, endpoint", [("GET /api/posts", "api.posts"),
                                              ("GET /api/users/<username>", "api.user")])
def test_a_cache_without_a_bound_keeps_memory_per_request(stream, endpoint):
    assert _kept(stream, endpoint, _by_full_path) > 1


def test_a_cache_keyed_by_who_is_logged_in_shows_too():
    assert _kept("GET /api/settings", "api.settings", _per_user) > 1


def test_a_cache_bounded_at_1024_entries_keeps_nothing_per_request():
    assert _kept("GET /api/posts", "api.posts", _lru(1024)) < LIMIT


def _filling_every_third_request(bound, seen=None):
    """A bounded memo still filling when the probe reads: one block (a path) every third request, up to
    ``bound`` paths, then none (CI once read the static file's settling caches at exactly the rule's half
    block). ``seen`` counts the requests it served."""
    kept = set()
    seen = [0] if seen is None else seen

    def wrap(view):
        def cached(**kwargs):
            seen[0] += 1
            if seen[0] % 3 == 0 and len(kept) < bound:
                kept.add(request.full_path)
            return view(**kwargs)

        return cached

    return wrap


def test_a_bounded_cache_still_filling_at_the_probe_is_read_again_once_full():
    """At the probe it keeps 0.3-0.6 blocks a request, near the rule's limit, and as much at the later stages
    (300 and 700 requests; full at 900): that is read again after the long warm-up, when it keeps nothing, rather than
    taken as the value."""
    seen = [0]
    assert _kept("GET /api/posts", "api.posts", _filling_every_third_request(300, seen)) < 0.2
    assert seen[0] == measures.STREAM_WARMUP + 64


# The profile's stream reads 0.0 at every stage on the same code (docs/measurements.md, "The input streams
# read at five stages"); the posts' reads up to 0.22 at 300, too near the probe's quarter block to say where
# it stops.
def test_a_cache_that_settles_before_the_second_stage_is_read_there_not_after_the_long_warm_up():
    """Full at 600 requests: growing at the probe of 100 and at 300, nothing at 700, where the stream stops (the
    framework's own caches settle so, and pay 400 requests more, not 1,300)."""
    seen = [0]
    assert _kept("GET /api/users/<username>", "api.user", _filling_every_third_request(200, seen)) < LIMIT
    assert seen[0] == measures.PROBE_STAGES[-1] + 64


def test_a_stream_that_keeps_nothing_at_the_probe_stops_there():
    seen = [0]
    assert _kept("GET /api/users/<username>", "api.user", _filling_every_third_request(0, seen)) < LIMIT
    assert seen[0] == measures.PROBE_STAGES[0] + 64


def _profiles(maxsize):
    """The issue's example: each profile served kept by username, in an lru_cache of ``maxsize``."""

    def wrap(view):
        from sqlalchemy import select

        from target_app.db import get_session
        from target_app.models import User

        @functools.lru_cache(maxsize=maxsize)
        def profile(username):
            return get_session().scalar(select(User).where(User.username == username)).to_dict()

        from flask import jsonify

        return lambda username: jsonify(user=profile(username))

    return wrap


@pytest.mark.slow
@pytest.mark.parametrize("maxsize, passes", [(1024, True), (1300, True), (None, False)])
def test_profiles_cached_up_to_1300_entries_pass_and_without_a_bound_fail(maxsize, passes):
    kept = _kept("GET /api/users/<username>", "api.user", _profiles(maxsize))
    assert (kept < LIMIT) == passes, kept


def test_the_streams_are_derived_for_every_route_that_succeeds():
    names = {stream.name for stream in STREAMS}
    assert {"GET /api/posts", "GET /api/users/<username>", "POST /auth/login", "POST /settings",
            "POST /auth/register", "GET /"} <= names
    posts = next(s for s in STREAMS if s.name == "GET /api/posts")
    assert posts.query == ("page", "per_page") and posts.user


@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in STREAMS])
def test_each_stream_runs_and_keeps_nothing_at_this_commit(name):
    assert _kept(name) < LIMIT
