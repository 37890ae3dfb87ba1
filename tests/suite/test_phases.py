"""Instructions by phase and by Python function (benchmarks/counting/phases.py): attribution, wrapping, real counts."""

import os
import shutil
from pathlib import Path

import pytest

from benchmarks.counting import measures, phases
from benchmarks.counting.libs import trampolines_library
from benchmarks.counting.phases import BASE, COMPILE, EXECUTE, LOAD, PHASES, RENDER, VIEW, Tracker, attribute

needs_compiler = pytest.mark.skipif(not shutil.which("cc") and not shutil.which("gcc"), reason="no C compiler")
needs_valgrind = pytest.mark.skipif(
    not shutil.which("valgrind") and not os.environ.get("REQUIRE_VALGRIND"), reason="valgrind is not installed")


def test_each_phase_keeps_what_its_trampolines_cost_less_the_phases_entered_inside_it():
    meaning = [["phase", VIEW, BASE], ["phase", COMPILE, VIEW], ["phase", RENDER, VIEW],
               ["function", "target_app/api.py:settings"], ["phase", COMPILE, BASE]]
    inclusive = {"cg_phase_000": 700.0, "cg_phase_001": 100.0, "cg_phase_002": 250.0, "cg_phase_003": 650.0,
                 "cg_phase_004": 30.0, "some_c_function": 5.0}
    by_phase, functions = attribute(meaning, inclusive, total=1000.0)
    assert by_phase[BASE] == 1000 - 700 - 30
    assert by_phase[VIEW] == 700 - 100 - 250
    assert by_phase[COMPILE] == 100 + 30
    assert by_phase[RENDER] == 250
    assert sum(by_phase.values()) == 1000  # every instruction in exactly one phase
    assert functions == {"target_app/api.py:settings": 650}
    assert list(by_phase) == list(PHASES)


def test_the_trampolines_source_enters_each_trampoline_by_a_plain_call():
    source = phases.trampolines_source(3)
    assert "long cg_phase_002(cg_callback f) { return f() + 0; }" in source
    assert "cg_table[i](f)" in source and "cg_phase_003" not in source


@needs_compiler
def test_a_wrapped_function_returns_raises_and_nests_through_the_trampolines():
    tracker = Tracker(str(trampolines_library()))
    inner = phases.wrap(tracker, lambda x: x * 2, COMPILE, None)
    named = tracker.function("target_app/x.py:f")

    def outer(x):
        assert tracker.phase == VIEW
        return inner(x) + 1

    view = phases.wrap(tracker, outer, VIEW, "target_app/x.py:outer")
    assert view(20) == 41
    assert tracker.phase == BASE

    def boom():
        raise KeyError("lost")

    with pytest.raises(KeyError, match="lost"):
        phases.wrap(tracker, boom, LOAD, None)()
    assert tracker.phase == BASE  # restored on the way out
    assert tracker.through(named, sum, ([1, 2, 3],), {}) == 6
    assert tracker.meaning[tracker.pairs[(LOAD, BASE)]] == ["phase", LOAD, BASE]


@needs_compiler
def test_install_wraps_the_views_the_apps_functions_and_the_phases_of_the_libraries(tmp_path):
    from flask import Flask

    from benchmarks.common import make_app

    app = make_app(str(tmp_path / "app.db"))
    assert isinstance(app, Flask)
    tracker = phases.install(str(trampolines_library()), app)
    names = {m[1] for m in tracker.meaning if m[0] == "function"}
    assert "target_app/api.py:settings" in names
    assert "target_app/main.py:index" in names
    # The functions benchmark's parameters, read from the source, name what the wrappers name.
    own = {n for n in names if n.startswith("target_app/") and "<locals>" not in n}
    assert own and own <= set(phases.source_functions(Path(__file__).resolve().parents[2]))
    assert all(getattr(f, "__phases_wrapped__", False) for f in app.view_functions.values())
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # the app still answers through the wrappers


@needs_valgrind
@needs_compiler
@pytest.mark.slow
def test_real_counts_by_phase_add_up_and_name_the_view():
    names = ["GET /api/settings", "GET /"]
    first = measures.finish_instructions(measures.start_instructions(names))["by_phase"]
    settings = first["phases"]["GET /api/settings"]
    assert settings[VIEW] > 0 and settings[COMPILE] > 0 and settings[EXECUTE] > 0 and settings[LOAD] > 0
    assert settings[RENDER] == 0  # a JSON route renders no template
    assert first["phases"]["GET /"][RENDER] > 0
    functions = first["functions"]["GET /api/settings"]
    assert functions["target_app/api.py:settings"] > settings[VIEW]  # inclusive: its SQL too
    again = measures.finish_instructions(measures.start_instructions(names))["by_phase"]
    for name in names:
        for phase, n in first["phases"][name].items():
            # The same code: the same count, within the spread docs/measurements.md gives ("Noise").
            assert abs(again["phases"][name][phase] - n) <= max(0.005 * n, 2000), (name, phase)


@needs_valgrind
def test_a_run_by_phase_that_fails_leaves_the_total_counted():
    from benchmarks.counting import callgrind

    # No wrappers made (_PHASES is None): the count by phase fails, alone; the total is counted all the same.
    count = callgrind.Count({"cpu": "sum(range(1000))", "too": "sum(range(10))"},
                            repeat=1, warmup=1, options=measures.OPTIONS, phased={"cpu"}).start()
    counts = count.finish()
    assert counts["cpu"] > 0 and counts["too"] > 0
    assert count.by_phase["cpu"].startswith("the phases' wrappers: AttributeError") and "too" not in count.by_phase


@needs_valgrind
@needs_compiler
@pytest.mark.slow
def test_the_scrypt_login_is_counted_once_its_total_by_phase():
    from benchmarks.common import CHEAP_HASH, bench_db, remove_db

    name = "POST /auth/login"
    db = bench_db(password_method=CHEAP_HASH)
    try:
        count = measures.counting([name], False, True, measures.environment(db, trampolines_library())).start()
        counts = count.finish()
    finally:
        remove_db(db)
    inclusive, total = count.by_phase[name]
    assert total == count.raw[name]  # one run: the total's is the run by phase
    by_phase = measures.by_phase(count)[0][name]
    assert sum(by_phase.values()) == total
    assert by_phase[phases.HASH] > 0.99 * counts[name]  # the hash, counted once
    assert 0 < by_phase[VIEW] < 0.01 * counts[name]


def test_a_failed_count_by_phase_fails_these_benchmarks_alone():
    from benchmarks.bench_phases import Phases

    with pytest.raises(RuntimeError, match="callgrind run failed"):
        Phases().setup({"Phases": {"failed": "callgrind run failed (1): boom"}}, "GET /", VIEW)
    with pytest.raises(NotImplementedError):
        Phases().setup({"Phases": {"phases": {}}}, "GET /", VIEW)
