"""What an operation does, kept so that a regression can be explained: its SQL, plans, memory and calls.

Not a benchmark: ``python3 -m scripts explain`` runs :func:`collect` once
for the base and once for the head, each against its own target_app, and
compares the two. Everything here repeats exactly for the same code:

- ``sql``: the statements one run sends, normalised (bound values are
  ``?`` already; an expanded ``IN (?, ?, ...)`` becomes ``IN (?...)``,
  whitespace is collapsed), with the plan of each SELECT: SQLite's
  ``EXPLAIN QUERY PLAN``, or on PostgreSQL ``EXPLAIN (FORMAT JSON)`` node
  by node (:func:`plan_lines`);
- ``calls``: deterministic call counts per Python function (cProfile's
  ``ncalls``), so added work shows as calls where it happens, by file and
  function: target_app's own lines included;
- ``retained``: tracemalloc's allocation sites (file:line) of the memory a
  run leaves held after a collection, and ``allocated``: the sites of the
  memory it allocates, at its peak;
- ``functions`` (for the operations asked, when valgrind is there): the
  functions by self and by inclusive instructions per run, from callgrind
  in one process, counted the way the instruction counts are: C functions
  of the interpreter, SQLite and the libraries (``builtin_sum``,
  ``sqlite3VdbeExec``), which cProfile cannot see; and ``syscalls``: its
  system calls per run by call site (``fsync: fdatasync <- unixSync``);
  and, but for the scrypt operations, ``phases`` and ``python_functions``:
  its instructions by phase, and by Python function of target_app and of
  the libraries' entry points (benchmarks/counting/phases.py).
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import re
import sqlite3
import tracemalloc

from ..operations import OPERATIONS, TIMED, counting_context
from .artefacts import normalise

TOP = 15


def _plans(db_path: str, statements: list[tuple[str, tuple]]) -> dict[str, list[str]]:
    """SQLite's EXPLAIN QUERY PLAN of each SELECT, by normalised statement (a read-only connection)."""
    out: dict[str, list[str]] = {}
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        for text, params in statements:
            key = normalise(text)
            if key in out or not key.upper().startswith(("SELECT", "WITH")):
                continue
            try:
                rows = con.execute(f"EXPLAIN QUERY PLAN {text}", params).fetchall()
            except sqlite3.Error as exc:
                out[key] = [f"(no plan: {exc})"]
                continue
            out[key] = [row[-1] for row in rows]
    finally:
        con.close()
    return out


def plan_lines(plan) -> list[str]:
    """A PostgreSQL ``EXPLAIN (FORMAT JSON)`` plan as one line per node, indented by depth: its type, index and
    table (``Index Scan using ix_posts_author_id on posts``). Costs and row estimates are left out: they
    follow the table statistics, not the code."""
    lines: list[str] = []

    def walk(node: dict, depth: int) -> None:
        what = node.get("Node Type", "?")
        if node.get("Index Name"):
            what += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            what += f" on {node['Relation Name']}"
        lines.append("  " * depth + what)
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan[0]["Plan"], 0)
    return lines


def _postgres_plans(engine, statements: list[tuple[str, object]]) -> dict[str, list[str]]:
    """PostgreSQL's EXPLAIN (FORMAT JSON) of each SELECT, by normalised statement, as :func:`plan_lines`."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for text, params in statements:
            key = normalise(text)
            if key in out or not key.upper().startswith(("SELECT", "WITH")):
                continue
            try:
                plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {text}", params or ()).scalar()
                out[key] = plan_lines(plan)
            except Exception as exc:  # noqa: BLE001 - one statement without a plan says why
                out[key] = [f"(no plan: {type(exc).__name__})"]
            conn.rollback()
    return out


LIBRARY = re.compile(r"^.*/(?:site-packages|lib/python3\.\d+)/")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")
# Not the operation's doing: tracemalloc's own bookkeeping, and sqlite3's list
# of cursor weak references that SQLAlchemy's pool holds (swept every 200
# cursors; RetainedBytes leaves it out too, docs/measurements.md, "Noise").
NOT_THE_OPERATION = ("tracemalloc.py", "sqlalchemy/pool/base.py")


def _path(filename: str) -> str:
    """A file as it reads the same on every machine: relative to its library, or to the suite."""
    if "/benchmarks/" in filename:
        return "benchmarks/" + filename.rsplit("/benchmarks/", 1)[1]
    if "/target_app/" in filename:  # installed, or a side's source in a temporary folder (scripts/explain.py)
        return "target_app/" + filename.rsplit("/target_app/", 1)[1]
    return LIBRARY.sub("", filename)


def _sites(stats) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in stats:
        frame = s.traceback[0]
        path = _path(frame.filename)
        if s.size_diff > 0 and not path.endswith(NOT_THE_OPERATION) and not path.startswith(NOT_THE_OPERATION):
            key = f"{path}:{frame.lineno}"
            out[key] = out.get(key, 0) + s.size_diff
    return out


def _function(key) -> str:
    filename, line, name = key
    name = ADDRESS.sub("", name)  # a built-in's repr names its address, which moves between runs
    return f"{_path(filename)}:{line}({name})" if line else name


def collect_one(ctx, name: str) -> dict:
    """One operation, measured once for each of its facets after a warm-up run."""
    from sqlalchemy import event

    op = OPERATIONS[name]
    op.once(ctx)  # warm-up: caches and lazy imports are not the change under study
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if executemany:
            parameters = ()
        elif isinstance(parameters, dict):  # PostgreSQL's driver names its parameters
            parameters = dict(parameters)
        else:
            parameters = tuple(parameters) if isinstance(parameters, (list, tuple)) else ()
        seen.append((statement, parameters))

    prepared = op.prepare(ctx) if op.prepare else None
    event.listen(ctx.engine, "before_cursor_execute", record)
    try:
        op.run(ctx, prepared)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", record)

    prepared = op.prepare(ctx) if op.prepare else None
    profile = cProfile.Profile()
    profile.runcall(op.run, ctx, prepared)
    calls: dict[str, int] = {}
    for key, value in pstats.Stats(profile).stats.items():  # value[1]: every call, recursive ones too
        calls[_function(key)] = calls.get(_function(key), 0) + value[1]

    prepared = op.prepare(ctx) if op.prepare else None
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    op.run(ctx, prepared)
    peak = tracemalloc.take_snapshot()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    retained = _sites(after.compare_to(before, "lineno"))
    allocated = _sites(peak.compare_to(before, "lineno"))

    return {
        "sql": [normalise(text) for text, _ in seen],
        # SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN (FORMAT JSON), node by node.
        "plans": _plans(str(ctx.engine.url.database), seen) if ctx.engine.url.get_backend_name() == "sqlite"
        else _postgres_plans(ctx.engine, seen),
        "plan_source": "SQLite EXPLAIN QUERY PLAN" if ctx.engine.url.get_backend_name() == "sqlite"
        else "PostgreSQL EXPLAIN (FORMAT JSON)",
        "calls": calls,
        "retained": retained,
        "allocated": allocated,
    }


PARAM = re.compile(r"\('([^']*)'(?:, '[^']*')*\)$")  # the first parameter: the operation


def operation_of(wanted: str) -> str | None:
    """The operation behind a benchmark id (or an operation's own name)."""
    if wanted in OPERATIONS:
        return wanted
    if wanted in TIMED:
        return TIMED[wanted] if TIMED[wanted] in OPERATIONS else None
    match = PARAM.search(wanted)
    if match:
        for name in (match.group(1), f"GET {match.group(1)}"):
            if name in OPERATIONS:
                return name
    if ".ListScaling." in wanted:
        return "GET /api/users"
    if ".PoolConnections." in wanted:
        return "pool_checkout"
    return None


FUNCTIONS_KEPT = 300  # per side and kind: enough that what changed is on both lists


def collect_functions(names: list[str], top: int = FUNCTIONS_KEPT) -> dict[str, dict]:
    """Operation -> its top functions by self and inclusive instructions per run, and its system calls per
    run by call site (``{}`` without valgrind)."""
    from ..common import CHEAP_HASH, bench_db, remove_db
    from .callgrind import valgrind
    from .libs import trampolines_library
    from .measures import by_phase, counting, environment

    try:
        valgrind()
    except NotImplementedError:
        return {}
    db_path = bench_db(password_method=CHEAP_HASH)
    library = trampolines_library()
    try:
        # The same process the counts come from (benchmarks/counting/measures.py), all of ``names`` in one.
        count = counting(names, False, library is not None, environment(db_path, library))
        count.start().finish(top)
        out = {name: {"functions": functions, "syscalls": count.syscall_sites.get(name, {})}
               for name, functions in count.functions.items()}
    finally:
        remove_db(db_path)
    counted, functions = by_phase(count)
    for name, phases in counted.items():
        if name in out and isinstance(phases, dict):
            out[name].update(phases=phases, python_functions=functions[name])
    return out


def collect(wanted: list[str], functions_for: list[str] = ()) -> dict:
    """Each operation behind ``wanted`` (benchmark ids or operation names) that exists at this commit,
    and which operation each of ``wanted`` maps to. A missing one is left out; a failing one says why.
    The operations behind ``functions_for`` also get their callgrind functions.
    """
    ids = {w: op for w in wanted if (op := operation_of(w))}
    ctx = counting_context()
    out: dict[str, dict] = {}
    for name in dict.fromkeys(ids.values()):
        try:
            out[name] = collect_one(ctx, name)
        except NotImplementedError:
            continue
        except Exception as exc:  # noqa: BLE001 - recorded, the others are still explained
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    counted = [op for w in functions_for if (op := operation_of(w)) in out and "error" not in out[op]]
    if counted:
        for name, measured in collect_functions(list(dict.fromkeys(counted))).items():
            out[name].update(measured)
    return {"operations": out, "ids": ids}
