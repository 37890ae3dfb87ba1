"""Run every benchmark of the asv suite once, in-process, on the working tree.

This checks that each benchmark's setup, body and teardown work and that the
deterministic counters hold their known values. It times nothing.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil

import pytest
from tests_helpers import ROOT, benchmark_methods

import benchmarks
from benchmarks import common


def discover():
    for module, cls, name, combo in benchmark_methods():
        yield pytest.param(cls, name, combo, id=f"{module}.{cls.__name__}.{name}{list(combo) or ''}")


ALL = list(discover())
# Benchmarks with a real server or valgrind take seconds to minutes: slow.
SLOW_MODULES = ("bench_server", "bench_instructions", "bench_syscalls", "bench_phases")
SERVER = [p for p in ALL if p.id.startswith(SLOW_MODULES)]
IN_PROCESS = [p for p in ALL if not p.id.startswith(SLOW_MODULES)]
_CACHES: dict[tuple, object] = {}


def run_once(cls, name, combo):
    """What asv does for one benchmark: setup_cache (once per setup_cache function), setup, body, teardown."""
    obj = cls()
    # asv shares one setup_cache between the classes that name the same
    # function (benchmarks/counting/exact.py); the callgrind switch changes its result.
    key = (getattr(cls, "setup_cache", None), os.environ.get("TARGET_APP_BENCH_CALLGRIND"))
    if hasattr(obj, "setup_cache") and key not in _CACHES:
        _CACHES[key] = obj.setup_cache()
    extra = (_CACHES[key],) if hasattr(obj, "setup_cache") else ()
    if hasattr(obj, "setup"):
        obj.setup(*extra, *combo)
    try:
        body = getattr(obj, name)
        if name.startswith("timeraw_"):
            import subprocess
            import sys
            import textwrap

            code = textwrap.dedent(body(*combo))
            subprocess.run([sys.executable, "-c", code], check=True)
            return None
        return body(*extra, *combo)
    finally:
        if hasattr(obj, "teardown"):
            obj.teardown(*extra, *combo)


def test_suite_has_every_benchmark_the_issue_lists():
    ids = {p.id.split("[")[0] for p in ALL}
    for expected in [
        "bench_pages.HomePage.time_homepage",
        "bench_pages.LoginPage.time_login_page",
        "bench_api.Api.time_api_me",
        "bench_api.Api.time_api_users",
        "bench_queries.UserLookup.time_lookup_by_username",
        "bench_queries.SettingsQuery.time_user_settings",
        "bench_queries.BulkInsert.time_insert_100",
        "bench_server.ConcurrentHomepage.track_throughput",
        "bench_server.ConcurrentLogin.track_success_rate",
        "bench_server.SessionMemory.track_rss_growth",
        "bench_server.SessionMemory.track_allocated_per_session",
        "bench_queries.ConnectionPool.time_acquire_connection",
        "bench_pages.Routes.time_route",
        "bench_counters.SqlStatements.track_statements",
        "bench_api.ListScaling.time_list_users",
        "bench_counters.AllocatedBytes.track_bytes",
        "bench_startup.ColdStart.timeraw_import_and_create_app",
        "bench_instructions.Instructions.track_instructions",
    ]:
        assert expected in ids, expected


@pytest.mark.parametrize("cls,name,combo", IN_PROCESS)
def test_benchmark_runs_once(cls, name, combo, monkeypatch):
    # The counters share their setup_cache with the instruction counts: those
    # are the slow tests' job.
    monkeypatch.setenv("TARGET_APP_BENCH_CALLGRIND", "0")
    result = run_once(cls, name, combo)
    if name.startswith("track_"):
        assert isinstance(result, int | float) and result >= 0


# target_app's functions that the operations call: each is measured (bench_phases.Functions).
CALLED = {"target_app/main.py:index", "target_app/api.py:settings", "target_app/auth.py:login",
          "target_app/db.py:get_session", "target_app/auth.py:load_logged_in_user",
          "target_app/bulk.py:bulk_create_users"}


@pytest.mark.slow
@pytest.mark.parametrize("cls,name,combo", SERVER)
def test_slow_benchmark_runs_once(cls, name, combo):
    if cls.__name__ == "Instructions" and not shutil.which("valgrind") and os.environ.get("REQUIRE_VALGRIND") != "1":
        pytest.skip("valgrind is not installed")
    if cls.__name__ == "Functions" and combo[0] not in CALLED:
        # A function no operation calls (start-up, the CLI, the seed, error handlers) is skipped, not 0.
        try:
            run_once(cls, name, combo)
        except NotImplementedError as exc:
            assert "no operation calls" in str(exc)
        return
    result = run_once(cls, name, combo)
    assert isinstance(result, int | float) and result >= 0
    if name == "track_success_rate":
        assert result == 100.0
    if name == "track_instructions":
        # One operation, without interpreter start-up (~1.6e9); scrypt is ~7.9e8 by itself.
        ceiling = 1_200_000_000 if combo[0] in ("POST /auth/login", "POST /auth/register", "cold_start") \
            else 100_000_000
        assert 50_000 < result < ceiling, combo


EXPECTED_STATEMENTS = {
    "/": 6,  # user, 2 counts, latest users, latest posts, site settings
    "/auth/login": 1,
    "/auth/register": 1,
    "/settings": 3,  # user, own settings, site settings
    "/api/me": 1,
    "/api/users": 4,  # user, count, page, settings (selectinload)
    f"/api/users/{common.LOOKUP_USERNAME}": 2,
    "/api/settings": 3,
    "/healthz": 2,
    "/api/posts": 3,  # user, count, posts joined with authors
}


def test_statement_counts_are_known_and_repeatable():
    from benchmarks.bench_counters import SqlStatements

    runs = [SqlStatements().measure() for _ in range(2)]
    assert runs[0] == runs[1] == EXPECTED_STATEMENTS


def test_a_failing_route_fails_alone_and_a_missing_one_skips():
    from benchmarks.bench_counters import check_route
    from benchmarks.counting.measures import per_route

    def measure(route):
        if route == "gone":
            raise NotImplementedError("not a route at this commit")
        if route == "broken":
            raise RuntimeError("GET broken answered 500")
        return 3

    cache = per_route(["ok", "gone", "broken"], measure)
    check_route(cache, "ok")
    with pytest.raises(NotImplementedError, match="not a route"):
        check_route(cache, "gone")
    with pytest.raises(RuntimeError, match="answered 500"):
        check_route(cache, "broken")


def test_list_statements_do_not_grow_with_page_size():
    from benchmarks.bench_api import ListScaling

    bench = ListScaling()
    counts = set()
    for per_page in ListScaling.params:
        bench.setup(per_page)
        counts.add(bench.track_statements(per_page))
    assert counts == {4}


def test_allocated_bytes_repeat_within_tolerance():
    from benchmarks.bench_counters import AllocatedBytes

    runs = [AllocatedBytes().measure() for _ in range(3)]
    for route in AllocatedBytes.params:
        values = [run[route] for run in runs]
        assert max(values) - min(values) <= 0.01 * min(values) + 1024, (route, values)


def test_pool_opens_one_connection_for_a_hundred_checkouts_and_a_nullpool_a_hundred():
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from benchmarks.bench_counters import PoolConnections

    bench = PoolConnections()
    for _ in range(2):  # asv runs setup, body, teardown once per round
        bench.setup()
        assert bench.track_connections() == 1
        bench.teardown()
    # The regression it exists for: an engine that no longer pools.
    url = bench.engine.url
    bench.engine = create_engine(url, poolclass=NullPool)
    bench.opened = 0
    from sqlalchemy import event

    event.listen(bench.engine, "connect", bench._count)
    assert bench.track_connections() == PoolConnections.CHECKOUTS


def test_bulk_insert_leaves_table_size_unchanged():
    from sqlalchemy import func, select

    from benchmarks.bench_queries import BulkInsert
    from target_app.models import User

    bench = BulkInsert()
    for method in BulkInsert.params:
        bench.setup(method)
        session = bench.session
        before = session.scalar(select(func.count()).select_from(User))
        bench.time_insert_100(method)
        assert session.scalar(select(func.count()).select_from(User)) == before + 100
        bench.teardown(method)
        bench.setup(method)  # what asv does between samples
        assert bench.session.scalar(select(func.count()).select_from(User)) == before
        bench.teardown(method)


def test_require_skips_missing_features():
    with pytest.raises(NotImplementedError, match="missing at this commit"):
        common.require("no_such_module")
    with pytest.raises(NotImplementedError, match="no_such_attr"):
        common.require("db", "no_such_attr")


def test_a_budget_on_one_route_is_checked():
    from scripts.judging.budgets import check_budgets
    from scripts.judging.rules import load_rules
    from scripts.results import CommitResult

    name = "bench_pages.Routes.time_route"
    head = CommitResult("a" * 40, values={name: [0.5, 0.01]}, params={name: [["'/'", "'/healthz'"]]})
    violations = check_budgets(head, load_rules(ROOT).budgets)
    assert {(v.name, v.benchmark) for v in violations} >= {("Homepage", "bench_pages.Routes.time_route('/')")}


@pytest.mark.parametrize("cls,name,combo", ALL)
def test_teardown_survives_a_skipped_setup(cls, name, combo):
    """asv_runner 0.2.5 runs teardown even when setup raised NotImplementedError."""
    obj = cls()
    if hasattr(obj, "teardown"):
        extra = (None,) if hasattr(obj, "setup_cache") else ()
        obj.teardown(*extra, *combo)


def test_no_module_attribute_shadows_asv_hooks():
    """asv looks up setup/teardown by name, ignoring case: a constant named SETUP is taken as a hook."""
    for info in pkgutil.iter_modules(benchmarks.__path__):
        module = importlib.import_module(f"benchmarks.{info.name}")
        for attr in vars(module):
            if attr.lower() in ("setup", "teardown", "setup_cache"):
                assert callable(getattr(module, attr)), f"{info.name}.{attr}"


def test_asv_check_passes_and_discovers_every_benchmark():
    """`asv check` in this interpreter: the suite imports and every benchmark is well-formed."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "asv", "check", "-E", f"existing:{sys.executable}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout
    from asv_runner.discovery import disc_benchmarks

    discovered = {b.name for b in disc_benchmarks(str(ROOT / "benchmarks"))}
    expected = {p.id.split("[")[0] for p in ALL}
    assert discovered == expected


def test_no_benchmark_version_changes_unnoticed():
    """asv versions a benchmark by the source of its method and setup (or its ``version``): a version that
    changes restarts that benchmark's history. tests/suite/benchmark_versions.json holds today's; a change must be
    made there on purpose, in the commit that changes the meaning, and named in its message."""
    import json

    from asv_runner.discovery import disc_benchmarks

    pinned = json.loads((ROOT / "tests" / "suite" / "benchmark_versions.json").read_text())
    now = {b.name: b.version for b in disc_benchmarks(str(ROOT / "benchmarks"))}
    changed = sorted(name for name in pinned.keys() & now.keys() if pinned[name] != now[name])
    assert not changed, (f"version changed: {changed}. Keep clean-ups outside the benchmark's methods, or bump "
                         "its `version` on purpose and update tests/suite/benchmark_versions.json")
    assert now.keys() == pinned.keys(), "a benchmark was added or removed: update tests/suite/benchmark_versions.json"
