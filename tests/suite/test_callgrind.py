"""The callgrind driver: pure logic, and one real count of a tiny operation."""

from __future__ import annotations

import os
import shutil

import pytest

from benchmarks.counting import callgrind, child
from benchmarks.counting import dump as reader


def test_child_script_measures_each_operation_in_a_forked_process_between_markers():
    ops = {"a": "x = 1", "b-c": child.Spec("y = _p", prepare="2", repeat=3, warmup=1)}
    script = child.child_script(ops, "import sys", repeat=5, warmup=2, phased={"a"})
    compile(script, "<child>", "exec")
    # One pair of markers around all runs, or one around each run with a prepare step: the run by phase is
    # the same run.
    assert script.count("_os.getppid()") == 4
    assert script.index("def _op_a") < script.index("def _op_b_c")
    # The parent forks one process per operation after the set-up, in order;
    # each warms up before it switches instrumentation on.
    assert "_measure(0, _op_a, lambda: None, 2, 5, False, True)" in script  # with the phases' wrappers
    assert "_measure(1, _op_b_c, lambda: (2), 1, 3, True)" in script
    assert script.index("import sys") < script.index("_gc.freeze()") < script.index("_measure(0,")
    body = script[script.index("def _child"):script.index("def _measure")]
    assert body.index("_wrap()") < body.index("range(_warmup)") < body.index('_instrument("on")') < \
        body.index("_os.getppid()")


def test_child_script_measures_first_before_setup():
    first = {"cold": child.Spec("import json", repeat=1, warmup=0)}
    script = child.child_script({"a": "x = 1"}, "SETUP = 1", prelude="import os", first=first)
    compile(script, "<child>", "exec")
    assert script.index("import os") < script.index('\n_instrument("on")\n') < script.index("def _op_cold") < \
        script.index('\n_instrument("off")\n') < script.index("SETUP = 1")


def test_per_operation_takes_the_dump_at_every_second_marker():
    # dump 0: start-up and warm-ups; 1: a x 10; 2: between; 3: b run 1; 4: b's prepare; 5: b run 2; 6: exit
    ops = {"a": child.Spec("a", repeat=10), "b": child.Spec("b", prepare="p", repeat=2)}
    totals = [1_650_000_000, 21_000_000, 5_000_000, 300_000, 7_000_000, 310_000, 10_000]
    assert reader.per_operation(ops, totals) == {"a": 2_100_000.0, "b": 305_000.0}
    with pytest.raises(RuntimeError, match="expected 7 callgrind dumps, got 6"):
        reader.per_operation(ops, totals[:6])
    with pytest.raises(RuntimeError, match="got 8"):  # a stray marker would shift every operation
        reader.per_operation(ops, totals + [1])


def test_parse_dumps_reads_totals_in_dump_order(tmp_path):
    for n, total in [(2, 30), (1, 20), (10, 40)]:
        (tmp_path / f"cg.out.77.{n}").write_text(f"events: Ir\nfn=x\n0 {total}\ntotals: {total}\n")
    (tmp_path / "cg.out.77").write_text("events: Ir\nsummary: 10\n")  # written at exit: last
    (tmp_path / "cg.out.78.1").write_text("events: Ir\nsummary: 5\n")  # another process
    dumps = reader.dumps_by_process(tmp_path)
    assert set(dumps) == {77, 78}
    assert reader.parse_dumps(dumps[77]) == [20, 30, 40, 10]
    (tmp_path / "cg.out.77.11").write_text("events: Ir\n")
    with pytest.raises(RuntimeError, match="no totals"):
        reader.parse_dumps(reader.dumps_by_process(tmp_path)[77])


DUMP = """version: 1
events: Ir
summary: 1000
ob=/usr/bin/python3
fl=Python/ceval.c
fn=_PyEval_EvalFrameDefault
0 300
cfl=Python/bltinmodule.c
cfn=builtin_sum
calls=2 0
0 600
0 50
fl=Python/bltinmodule.c
fn=builtin_sum
0 500
cfn=_PyEval_EvalFrameDefault'2
calls=1 0
0 100
fn=_PyEval_EvalFrameDefault'2
0 100
fn=0x0000000004936718
0 1
totals: 1051
"""


def test_function_costs_splits_self_from_inclusive_and_counts_recursion_once(tmp_path):
    dump = tmp_path / "cg.out.1"
    dump.write_text(DUMP)
    own, inclusive = reader.function_costs(dump)
    # Self: every level of a recursive function under its plain name.
    assert own == {"_PyEval_EvalFrameDefault": 450, "builtin_sum": 500, "0x0000000004936718": 1}
    # Inclusive: the calls into a function's first level; the eval loop entered
    # before the dump began has none, and its re-entry is inside builtin_sum's.
    assert inclusive == {"builtin_sum": 600}
    top = reader.top_functions([reader.read_dump(dump)] * 2, runs=2, top=2)
    assert top == {"self": [["builtin_sum", 500], ["_PyEval_EvalFrameDefault", 450]],
                   "inclusive": [["builtin_sum", 600]]}


def test_inclusive_costs_reads_what_function_costs_reads_for_one_prefix(tmp_path):
    dump = tmp_path / "cg.out.1"
    dump.write_text(DUMP.replace("builtin_sum", "cg_phase_007") + "fn=x\ncfn=cg_phase_007\ncalls=1 0\n+2 25 3 4\n")
    assert reader.inclusive_costs(dump, "cg_phase_") == {"cg_phase_007": 625}
    assert reader.inclusive_costs(dump, "cg_phase_") == {
        k: v for k, v in reader.function_costs(dump)[1].items() if k.startswith("cg_phase_")}
    # The eval loop's re-entry is not a first level.
    assert reader.inclusive_costs(dump, "_PyEval") == {}


def test_measured_dumps_name_each_operations_dumps():
    ops = {"a": child.Spec("x", repeat=3), "b": child.Spec("y", prepare="p()", repeat=2)}
    assert reader.measured_dumps(ops, 7) == {"a": [1], "b": [3, 5]}
    with pytest.raises(RuntimeError, match="expected 7 callgrind dumps, got 6"):
        reader.measured_dumps(ops, 6)


def test_excluded_cost_is_the_inclusive_cost_of_calls_into_address_dependent_work(tmp_path):
    dump = tmp_path / "cg.out.1.1"
    dump.write_text("""events: Ir
fn=_PyType_Lookup
0 40
cfn=find_name_in_mro
calls=1 0
0 300
fn=find_name_in_mro
0 200
cfn=_PyObject_Malloc
calls=1 0
0 100
fn=builtin_sum
0 10
cfn=_PyObject_Free'2
calls=3 0
0 60
totals: 410
""")
    # Into find_name_in_mro from _PyType_Lookup: 300 (its call into the
    # allocator is inside those 300, not counted again); into the allocator
    # from builtin_sum: 60, under its plain name.
    assert reader.excluded_cost(dump) == 360


def test_switch_and_missing_valgrind_skip(monkeypatch):
    monkeypatch.setenv(callgrind.DISABLE_VARIABLE, "0")
    with pytest.raises(NotImplementedError, match="switched off"):
        callgrind.valgrind()
    monkeypatch.delenv(callgrind.DISABLE_VARIABLE)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(NotImplementedError, match="not installed"):
        callgrind.valgrind()


needs_valgrind = pytest.mark.skipif(
    not shutil.which("valgrind") and os.environ.get("REQUIRE_VALGRIND") != "1",
    reason="valgrind is not installed (apt-get install valgrind)",
)


@needs_valgrind
@pytest.mark.slow
def test_real_count_of_a_tiny_operation_is_exact_and_proportional():
    ops = {"small": "sum(range(1000))", "large": "sum(range(10000))"}
    first = callgrind.count_instructions(ops, repeat=5, warmup=1)
    second = callgrind.count_instructions(ops, repeat=5, warmup=1)
    for name in ops:
        assert abs(first[name] - second[name]) <= 0.001 * first[name], (first, second)
    # Ten times the work costs about ten times the instructions.
    assert 8 < first["large"] / first["small"] < 13, first
    # Only the operation counts: no interpreter start-up (which is ~1e9).
    assert first["small"] < 1_000_000, first


@needs_valgrind
@pytest.mark.slow
def test_top_functions_name_the_c_function_the_operation_spends_in():
    count = callgrind.Count({"sum": "sum(range(20000))"}, repeat=2, warmup=1).start()
    counts = count.finish(functions=5)
    top = count.functions["sum"]
    assert "builtin_sum" in [name for name, _ in top["self"]], top
    # builtin_sum is most of the operation, per run, and never more than all of it.
    inclusive = dict(map(tuple, top["inclusive"]))
    raw = count.raw["sum"]
    assert 0.8 * raw < inclusive["builtin_sum"] <= raw, (top, raw)
    # The count leaves the allocator's own work out, and only that.
    assert counts["sum"] < raw - 0.5 * dict(map(tuple, top["self"]))["_PyObject_Free"], (counts, raw)


@needs_valgrind
@pytest.mark.slow
def test_without_the_client_request_library_the_count_is_taken_instrumented_from_the_start(monkeypatch):
    ops = {"small": "sum(range(1000))"}
    fast = callgrind.count_instructions(ops, repeat=5, warmup=1)
    # No compiler (or no valgrind.h): valgrind starts instrumented, and only
    # the code between markers still counts.
    monkeypatch.setattr(callgrind, "requests_library", lambda: None)
    slow = callgrind.count_instructions(ops, repeat=5, warmup=1)
    assert fast == slow


@needs_valgrind
@pytest.mark.slow
def test_an_operation_counts_the_same_whatever_ran_before_it():
    # Each operation runs in a process forked from the same parent: one that
    # leaves garbage and grows the heap before it cannot move its count. (The
    # two parents differ by one function definition, a layout difference: it
    # moved the count by 0 or 15 instructions of 321k on two clones, and by
    # 182 or 186 once the counting program grew, depending on the clone
    # (0.06%). The layout no-ops of calibrate --layout move operations this
    # small by up to 0.24%; the instruction tolerance is 0.5%.)
    alone = callgrind.count_instructions({"op": "sorted(str(i) for i in range(300))"}, repeat=3, warmup=2)
    after = callgrind.count_instructions({"mess": "_g = [bytearray(i) for i in range(3000)]",
                                          "op": "sorted(str(i) for i in range(300))"}, repeat=3, warmup=2)
    assert alone["op"] == pytest.approx(after["op"], rel=1e-3), (alone, after)


def test_every_operation_is_counted_in_exactly_one_group():
    from benchmarks.counting.measures import split
    from benchmarks.operations import COVERING

    names = [name for group in split(list(COVERING)) for name in group]
    assert sorted(names) == sorted(COVERING)


@needs_valgrind
@pytest.mark.slow
def test_an_operation_missing_at_this_commit_is_left_out_and_the_rest_still_line_up():
    ops = {"small": "sum(range(1000))", "missing": "raise NotImplementedError('not here')",
           "broken": "1 / 0",
           "prepared": child.Spec("sum(range(_p))", prepare="10000", repeat=3, warmup=1)}
    counts = callgrind.count_instructions(ops, repeat=3, warmup=1)
    assert set(counts) == {"small", "broken", "prepared"}
    assert counts["broken"] == "ZeroDivisionError: division by zero"
    assert 8 < counts["prepared"] / counts["small"] < 13, counts


def test_a_system_call_is_counted_by_the_kind_its_libc_wrapper_names(tmp_path):
    from benchmarks.counting import dump as cgdump

    assert cgdump.syscall_kind("fdatasync") == "fsync"
    assert cgdump.syscall_kind("__GI___libc_write") == "write"
    assert cgdump.syscall_kind("__libc_pread64") == "read"
    assert cgdump.syscall_kind("__lll_lock_wait") == "futex"
    assert cgdump.syscall_kind("__fcntl64_nocancel_adjusted") == "other"
    # The marker, what is a vDSO call natively, and the allocators' memory calls are not counted.
    for name in ("getppid", "clock_gettime@@GLIBC_2.17", "mmap64", "munmap", "getrandom"):
        assert cgdump.syscall_kind(name) is None, name
    dump = tmp_path / "cg.out.1.1"
    dump.write_text("""events: Ir sysCount sysTime
fn=os_fsync
0 20
cfn=fsync
calls=1 0
0 15 1 900
fn=fsync
0 15 1 900
fn=unixSync
0 5
cfn=fdatasync
calls=2 0
0 30 2 40
fn=fdatasync
0 30 2 40
fn=clock_gettime@@GLIBC_2.17
0 3 1 1
totals: 73 4 941
""")
    kinds, sites = cgdump.syscall_counts(dump)
    assert kinds == {"fsync": 3}
    assert sites == {"fsync: fsync <- os_fsync": 1, "fsync: fdatasync <- unixSync": 2}


@needs_valgrind
@pytest.mark.slow
def test_a_real_fsync_and_write_are_counted_exactly_and_named_where_they_were_made(tmp_path):
    target = tmp_path / "f.txt"
    op = (f"_f = open({str(target)!r}, 'ab')\n_f.write(b'x')\n_f.flush()\n"
          "_os.fsync(_f.fileno())\n_f.close()")
    count = callgrind.Count({"io": op, "cpu": "sum(range(1000))"}, repeat=3, warmup=1).start()
    count.finish()
    io = count.syscalls["io"]
    assert (io["fsync"], io["write"], io["open"]) == (1, 1, 2), io  # open and close
    assert not any(count.syscalls["cpu"].values()), count.syscalls["cpu"]
    assert count.syscall_sites["io"]["fsync: fsync <- os_fsync"] == 1


# What the counting processes run, byte for byte: a change to this text moves
# the counts (docs/measurements.md, "Noise"), so it is made on purpose, with
# a version bump of the benchmarks it counts and a new pin here.
CHILD_PROGRAMS = {"operations": "70540870c132b1c3", "cold start and scrypt": "9248f7a829a2830e"}
VALGRIND_OPTIONS = ("--toggle-collect=find_name_in_mro", "--collect-atstart=yes")


@needs_valgrind
def test_the_programs_valgrind_runs_are_pinned_byte_for_byte():
    import hashlib

    from benchmarks.counting import measures
    from benchmarks.operations import DERIVED_NAMES, OPERATIONS

    # The operations written by hand: the outcomes derived from the app (surface.json) change with it.
    heavy, light = measures.split([name for name in OPERATIONS if name not in DERIVED_NAMES])
    scripts = {"operations": measures.counting(light, False, True, {}).script,
               "cold start and scrypt": measures.counting(heavy, True, True, {}).script}
    assert {k: hashlib.sha256(v.encode()).hexdigest()[:16] for k, v in scripts.items()} == CHILD_PROGRAMS
    assert measures.OPTIONS == VALGRIND_OPTIONS


@needs_valgrind
def test_what_an_operation_writes_to_the_kept_database_is_gone_before_the_next(tmp_path):
    db = tmp_path / "app.db"
    setup = (f"import sqlite3\n_c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
             "_c.execute('PRAGMA journal_mode=WAL')\n_c.execute('CREATE TABLE t (x)')\n"
             f"_keep({str(db)!r})")
    ops = {name: child.Spec(f"_w = sqlite3.connect({str(db)!r})\n_w.execute('INSERT INTO t VALUES (1)')\n"
                                "_w.commit()\nassert _w.execute('SELECT count(*) FROM t').fetchone()[0] == 1",
                                repeat=1, warmup=0) for name in ("first", "second")}
    counts = callgrind.Count(ops, setup).start().finish()
    # The second found the table as the set-up left it, not with the first one's row.
    assert all(isinstance(n, float) for n in counts.values()), counts


@needs_valgrind
@pytest.mark.slow
def test_the_counting_process_that_ends_first_is_read_first():
    from benchmarks.counting import measures

    read = []

    class Recorded(callgrind.Count):
        def finish(self, functions=0):
            read.append(self.name)
            return super().finish(functions)

    slow = Recorded({"slow": "sum(range(1_000_000))"}, repeat=3, warmup=1)
    fast = Recorded({"fast": "sum(range(10))"}, repeat=1, warmup=0)
    slow.name, fast.name = "slow", "fast"
    slow.start()
    fast.start()
    assert measures.in_order_of_ending([slow, fast]) == [slow, fast]
    assert read == ["fast", "slow"]
    assert set(slow.counts) == {"slow"} and set(fast.counts) == {"fast"}
    assert slow.counts["slow"] > 100 * fast.counts["fast"]


def test_the_counting_processes_clients_start_from_one_fixed_csrf_token():
    from itsdangerous import URLSafeTimedSerializer

    from benchmarks.common import CHEAP_HASH, bench_db, csrf_token, make_app, remove_db
    from benchmarks.counting import measures
    from benchmarks.operations import Context

    assert f"ctx.fix_csrf_token({measures.FIXED_CSRF_TOKEN!r})" in measures.CHILD_PROGRAM
    db = bench_db(password_method=CHEAP_HASH)
    try:
        ctx = Context(make_app(str(db)))
        try:
            ctx.fix_csrf_token(measures.FIXED_CSRF_TOKEN)
            app = ctx.app
            signed = URLSafeTimedSerializer(app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key,
                                            salt="wtf-csrf-token")
            # Both clients' forms carry the fixed token, signed: none drawn at random.
            for client, page in ((ctx.client, "/settings"), (ctx.spare, "/auth/login")):
                html = client.get(page).get_data(as_text=True)
                assert signed.loads(csrf_token(html)) == measures.FIXED_CSRF_TOKEN, page
        finally:
            ctx.close()
    finally:
        remove_db(db)
