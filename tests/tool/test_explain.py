"""Explanations: what an operation did (benchmarks/counting/explain.py) and what changed between two sides."""

from __future__ import annotations

from benchmarks.counting.explain import _path, collect, normalise, operation_of
from scripts.judging.differences import diff, to_markdown


def test_statements_are_normalised():
    assert normalise("SELECT a\n   FROM t WHERE id IN (?, ?,?)") == "SELECT a FROM t WHERE id IN (?...)"
    assert normalise("INSERT INTO t (a, b) VALUES (?, ?)") == "INSERT INTO t (a, b) VALUES (?, ?)"


def test_a_file_reads_the_same_on_both_sides_and_every_machine():
    # Each side's target_app is imported from its own temporary folder: a
    # function must keep one name, or every one of them reads as changed.
    for where in ("/tmp/explain-abc/src/target_app/db.py", "/tmp/explain-xyz/src/target_app/db.py",
                  "/x/.asv/env/1/lib/python3.11/site-packages/target_app/db.py"):
        assert _path(where) == "target_app/db.py"
    assert _path("/x/.venv/lib/python3.11/site-packages/sqlalchemy/orm/query.py") == "sqlalchemy/orm/query.py"


def test_benchmark_ids_map_to_their_operation():
    assert operation_of("bench_counters.SqlStatements.track_statements('/api/users')") == "GET /api/users"
    assert operation_of("bench_counters.FormStatements.track_statements('POST /settings')") == "POST /settings"
    assert operation_of("bench_instructions.Instructions.track_instructions('user_lookup')") == "user_lookup"
    assert operation_of("bench_api.ListScaling.track_statements(30)") == "GET /api/users"
    assert operation_of("bench_queries.UserLookup.time_lookup_by_username") == "user_lookup"
    assert operation_of("bench_startup.ColdStart.timeraw_import_and_create_app") is None


def test_collect_records_sql_plans_calls_and_memory():
    data = collect(["bench_counters.SqlStatements.track_statements('/api/users')", "user_lookup"])
    assert data["ids"] == {"bench_counters.SqlStatements.track_statements('/api/users')": "GET /api/users",
                           "user_lookup": "user_lookup"}
    users = data["operations"]["GET /api/users"]
    assert users["sql"] and all("  " not in s for s in users["sql"])
    assert any(s.startswith("SELECT") for s in users["plans"])
    assert any("api.py" in f for f in users["calls"])
    lookup = data["operations"]["user_lookup"]
    (statement,) = lookup["sql"]
    # The username index: SQLite searches it rather than scanning the table.
    assert any("USING INDEX" in step or "USING COVERING INDEX" in step for step in lookup["plans"][statement])
    # The same code gives the same record (nothing that depends on time or the machine).
    again = collect(["user_lookup"])["operations"]["user_lookup"]
    assert again["sql"] == lookup["sql"] and again["plans"] == lookup["plans"] and again["calls"] == lookup["calls"]


def side(sql, plans=None, calls=None, retained=None):
    return {"sql": sql, "plans": plans or {}, "calls": calls or {}, "retained": retained or {}, "allocated": {}}


def test_diff_names_the_added_statements_the_lost_index_and_the_new_calls():
    q = "SELECT settings.key FROM settings WHERE ? = settings.user_id"
    base = side(["SELECT users"], {q: ["SEARCH settings USING INDEX ix_settings_user_id (user_id=?)"]},
                {"target_app/api.py:10(users)": 1}, {"target_app/api.py:12": 100})
    head = side(["SELECT users", *[q] * 20], {q: ["SCAN settings"]},
                {"target_app/api.py:10(users)": 1, "sqlalchemy/orm/strategies.py:900(load)": 20},
                {"target_app/api.py:12": 356})
    d = diff(base, head)
    assert d["statements"] == [1, 21]
    assert d["sql"] == [{"delta": 20, "statement": q}]
    assert d["plans"] == [{"statement": q, "before": ["SEARCH settings USING INDEX ix_settings_user_id (user_id=?)"],
                           "after": ["SCAN settings"]}]
    assert d["calls"][0] == {"function": "sqlalchemy/orm/strategies.py:900(load)", "before": 0, "after": 20,
                             "delta": 20}
    assert d["retained"] == [{"site": "target_app/api.py:12", "before": 100, "after": 356, "delta": 256}]
    md = to_markdown("GET /api/users", d)
    assert f"+20 × {q}" in md
    assert "SEARCH settings USING INDEX ix_settings_user_id (user_id=?) → SCAN settings" in md
    assert "`target_app/api.py:12`: 100 → 356 bytes" in md
    same = to_markdown("x", diff(side(["A"]), side(["A"])))
    assert same == "- no difference in statements, calls or allocation sites\n"


def test_a_postgresql_plan_reads_node_by_node_without_its_costs():
    from benchmarks.counting.explain import plan_lines

    plan = [{"Plan": {"Node Type": "Limit", "Total Cost": 9.1, "Plans": [
        {"Node Type": "Index Scan", "Index Name": "ix_posts_created_at", "Relation Name": "posts",
         "Total Cost": 8.2}]}}]
    assert plan_lines(plan) == ["Limit", "  Index Scan using ix_posts_created_at on posts"]


def test_target_apps_own_functions_lead_the_python_functions_that_moved():
    from scripts.judging.differences import diff

    side = {"sql": [], "plans": {}, "calls": {}, "retained": {}, "allocated": {}, "phases": {"view": 900_000}}
    base = {**side, "python_functions": {"flask/app.py:Flask.full_dispatch_request": 3_181_436,
                                         "target_app/api.py:settings": 1_689_497}}
    head = {**side, "phases": {"view": 1_001_466},
            "python_functions": {"flask/app.py:Flask.full_dispatch_request": 3_279_996,
                                 "target_app/api.py:settings": 1_786_406}}
    rows = diff(base, head)["python_functions"]
    assert [r["component"] for r in rows] == ["target_app/api.py:settings", "flask/app.py:Flask.full_dispatch_request"]
