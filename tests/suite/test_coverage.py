"""Coverage cannot silently drop: every route and every timed operation is counted exactly.

A new route in target_app, or a new timed benchmark, fails here until it
has an operation (benchmarks/operations.py) and so an instruction count,
its SQL statements and its retained bytes.
"""

from __future__ import annotations

from tests_helpers import benchmark_ids
from werkzeug.exceptions import HTTPException

from benchmarks.bench_counters import (
    FormStatements,
    OutcomeStatements,
    RetainedBytes,
    SqlStatements,
)
from benchmarks.bench_instructions import Instructions
from benchmarks.counting.measures import retained_per_run
from benchmarks.operations import OPERATIONS, ROUTES, TIMED, Operation, counting_context
from target_app import create_app
from target_app.config import TestConfig


def app_routes() -> set[tuple[str, str]]:
    """(endpoint, method) of every rule in the app's URL map, Flask's static files included."""
    app = create_app(TestConfig)
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def endpoint_of(op_name: str) -> tuple[str, str] | None:
    """The (endpoint, method) an operation requests; None for a path no rule matches (a 404 by design)."""
    method, path = op_name.split(" ")[:2]
    rules = {(rule.rule, m): rule for rule in create_app(TestConfig).url_map.iter_rules() for m in rule.methods}
    if (path, method) in rules:  # a derived outcome names its rule
        return rules[path, method].endpoint, method
    adapter = create_app(TestConfig).url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path.split("?")[0], method=method)
    except HTTPException:
        return None
    return endpoint, method


def test_every_route_of_the_app_has_an_operation():
    covered = {endpoint_of(op.name) for op in ROUTES}
    missing = app_routes() - covered
    assert not missing, f"routes without an operation in benchmarks/operations.py: {sorted(missing)}"


def test_every_operation_has_an_instruction_count_and_its_system_calls():
    """Every hand-written operation, and the derived outcomes chosen to cover every line they run."""
    from benchmarks.bench_phases import Phases
    from benchmarks.bench_syscalls import SystemCalls
    from benchmarks.operations import COVERING, DERIVED_NAMES

    assert {n for n in OPERATIONS if n not in DERIVED_NAMES} | {"cold_start"} <= set(Instructions.params)
    assert set(Instructions.params) == set(COVERING) | {"cold_start"}
    assert SystemCalls.params[0] == Instructions.params
    assert Phases.params[0] == COVERING


def test_every_timed_benchmark_has_an_instruction_count():
    timed = [i for i in benchmark_ids() if i.split("(")[0].rsplit(".", 1)[1].startswith(("time_", "timeraw_"))]
    timed += [i for i in benchmark_ids() if i.startswith("bench_server.") and ".track_latency" in i]
    missing = [i for i in timed if i not in TIMED]
    assert not missing, f"timed benchmarks without an instruction count (operations.TIMED): {missing}"
    assert set(TIMED.values()) <= set(Instructions.params)
    assert set(TIMED) <= set(benchmark_ids()), "a TIMED key that names no benchmark"


def test_every_route_has_its_statements_and_retained_bytes_counted():
    views = app_routes()
    with_statements = {endpoint_of(f"GET {path}") for path in SqlStatements.params}
    with_statements |= {endpoint_of(name) for name in FormStatements.params + OutcomeStatements.params}
    assert views <= with_statements
    # Retained bytes: every hand-written operation, and the derived outcomes that run a line none of those runs
    # (Flask's static files run only lines every page runs: the hooks before and after a request).
    from benchmarks.operations import COVERING, WRITTEN

    assert {op.name for op in WRITTEN} <= set(RetainedBytes.params)
    assert set(RetainedBytes.params) == {name for name in COVERING if name in {op.name for op in ROUTES}}


def test_retained_bytes_catch_a_request_that_keeps_256_bytes_and_stay_quiet_otherwise():
    ctx = counting_context()
    kept: list[bytes] = []
    clean = OPERATIONS["GET /healthz"]

    def leaky_run(ctx, prepared):
        clean.run(ctx, prepared)
        kept.append(bytes(256))

    leaky = Operation("GET /healthz leaky", leaky_run)
    for _ in range(RetainedBytes.WARMUP):
        clean.once(ctx)
    assert retained_per_run(clean, ctx, 16) < 64
    assert retained_per_run(leaky, ctx, 16) >= 256 + 33  # the bytes object's header too


def test_form_statements_are_exact():
    # user, insert audit, commit... : what each POST sends, the same every time.
    runs = [FormStatements().measure() for _ in range(2)]
    assert runs[0] == runs[1]
    assert set(runs[0]) == set(FormStatements.params)
    assert all(isinstance(n, int) and n >= 2 for n in runs[0].values()), runs[0]
