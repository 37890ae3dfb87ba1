"""The mutation sweep's pure parts: where a mutant goes, what it is, which benchmarks must see it."""

from __future__ import annotations

import ast

import pytest

from scripts.calibrate.sweep import KINDS, Mutant, SweepReport, expected_ids, mutant_code, plant, to_markdown
from scripts.errors import UserError

VIEW = '''@bp.get("/x")
@login_required
def view():
    """Docstring."""
    db = get_session()
    return "ok"
'''


@pytest.mark.parametrize("kind", KINDS)
def test_each_mutant_is_valid_python_at_the_top_of_the_body(kind):
    planted = plant(VIEW, 5, 4, mutant_code(kind, 1234))
    tree = ast.parse(planted)
    body = tree.body[0].body
    assert isinstance(body[0], ast.Expr) and body[0].value.value == "Docstring."  # the docstring stays first
    assert "sweep" in planted.splitlines()[4]
    assert planted.splitlines()[-2].strip() == "db = get_session()"


def test_the_cpu_mutant_has_the_asked_size_and_the_leak_keeps_256_bytes():
    assert mutant_code("cpu", 1234) == ["sum(range(1234))  # sweep: cpu"]
    assert "bytes(256)" in mutant_code("leak", 0)[0]
    assert "full_path" in mutant_code("cache", 0)[1] and "form.items" in mutant_code("cache", 0)[1]
    assert "bytes(256)" in mutant_code("cache", 0)[1]
    with pytest.raises(UserError, match="unknown mutant kind"):
        mutant_code("nope", 0)


def test_expected_benchmarks_are_the_routes_own():
    ops = ["GET /auth/login", "POST /auth/login"]
    assert expected_ids("cpu", ops) == [
        "bench_instructions.Instructions.track_instructions('GET /auth/login')",
        "bench_instructions.Instructions.track_instructions('POST /auth/login')",
    ]
    assert expected_ids("sql", ops) == [
        "bench_counters.SqlStatements.track_statements('/auth/login')",
        "bench_counters.FormStatements.track_statements('POST /auth/login')",
    ]
    assert expected_ids("n_plus_1", ops) == expected_ids("sql", ops)
    assert expected_ids("leak", ops)[1] == "bench_counters.RetainedBytes.track_retained_bytes('POST /auth/login')"


def test_expected_ids_name_real_benchmarks():
    from tests_helpers import benchmark_ids

    from benchmarks.operations import STREAM_NAMES, WRITTEN

    names = [op.name for op in WRITTEN]
    ids = set(benchmark_ids())
    for kind in KINDS:
        assert set(expected_ids(kind, names, STREAM_NAMES)) <= ids, kind
    assert len(expected_ids("cache", names, STREAM_NAMES)) == len(STREAM_NAMES)


def test_report_table_and_kill_rates():
    views = {"api.me": {"rule": "/api/me", "methods": ["GET"], "ops": ["GET /api/me"]}}
    r = SweepReport(base="a" * 40, views=views, wall_seconds=60)
    r.mutants = [Mutant("api.me", "cpu", "b" * 40, ["x.Y.z('GET /api/me')"], 1, ["x.Y.z('GET /api/me')"], True),
                 Mutant("api.me", "sql", "c" * 40, ["x.Y.s('/api/me')"], 0, [], False)]
    md = to_markdown(r)
    assert "| GET `/api/me` (api.me) | caught: `Y.z('GET /api/me')` | **missed** (exit 0) | – | – | – | – |" in md
    assert "| cpu | 1/1 (100%) |" in md and "| sql | 0/1 (0%) |" in md
    assert r.kill_rate("leak") == (0, 0)


def test_a_flag_belongs_to_a_route_by_its_operation_or_its_path():
    from scripts.calibrate.sweep import of_route

    ops = ["POST /settings", "POST /settings (new key)"]
    assert of_route("bench_syscalls.SystemCalls.track_syscalls('POST /settings (new key)', 'open')", ops)
    assert of_route("bench_counters.FormStatements.track_statements('POST /settings')", ops)
    assert not of_route("bench_syscalls.SystemCalls.track_syscalls('POST /auth/register', 'other')", ops)
    assert of_route("bench_counters.SqlStatements.track_statements('/api/me')", ["GET /api/me"])
