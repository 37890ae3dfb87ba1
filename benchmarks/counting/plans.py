"""Cost that grows with the data, counted exactly: full table scans and rows fetched, per operation.

At the suite's data size a full scan of a small table, or a view that
fetches a whole table and slices it in Python, may cost too little to
show in a timing or even in an instruction count; on production data it is
the slowest request. So each statement an operation executes is asked,
right after it ran and on the same connection (the same transaction, the
same data):

- its plan: a full scan is SQLite's ``SCAN <table>`` (a ``SEARCH`` uses an
  index to find rows; a ``SCAN ... USING COVERING INDEX`` still reads every
  entry), or a ``Seq Scan`` node of PostgreSQL's ``EXPLAIN (FORMAT JSON)``,
  unless a LIMIT stops it with no sort of every row before (the newest five
  posts, read in the order of an index, are five rows, not a scan);
- for a query, how many rows it returns: ``SELECT count(*)`` over it.

Both are numbers of the code and the data, the same at every run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_SCAN = re.compile(r"^SCAN (?:TABLE )?(\w+)")
_LIMIT = re.compile(r"\bLIMIT\b", re.I)


@dataclass
class Scan:
    table: str
    statement: str


@dataclass
class QueryCosts:
    """Records, while active, every statement ``engine`` executes with its full scans and rows returned."""

    engine: object
    statements: list[str] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    rows: int = 0
    # Statements that could not be asked (SQLAlchemy's batched INSERT ... FROM (VALUES ...) on PostgreSQL, whose
    # plan needs the batch's own parameters): said, not counted.
    unplanned: list[str] = field(default_factory=list)
    _tables: set[str] | None = None

    def __enter__(self):
        from sqlalchemy import event, inspect

        if self._tables is None:
            self._tables = set(inspect(self.engine).get_table_names())
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "after_cursor_execute", self._after)

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)
        raw = conn.connection.dbapi_connection
        postgres = conn.dialect.name == "postgresql"
        if executemany:
            parameters = parameters[0] if parameters else ()
        asked = _SavepointAsk(raw) if postgres else _Ask()
        with asked:
            for table in (_pg_scans if postgres else self._sqlite_scans)(raw, statement, parameters):
                self.scans.append(Scan(table, statement))
            if cursor.description is not None and statement.lstrip().upper().startswith(("SELECT", "WITH")):
                self.rows += _count(raw, statement, parameters)
        if asked.error:
            self.unplanned.append(f"{asked.error}: {' '.join(statement.split())[:200]}")

    def _sqlite_scans(self, raw, statement, parameters) -> list[str]:
        cur = raw.cursor()
        try:
            plan = cur.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        finally:
            cur.close()
        details = [row[-1] for row in plan]
        # A scan that a LIMIT stops reads no more rows than it returns, unless the rows must all be sorted
        # first (a temporary B-tree for the ORDER BY): the newest 5 posts by an indexed column are not a scan.
        bounded = _LIMIT.search(statement) and not any(d.startswith("USE TEMP B-TREE FOR ORDER BY") for d in details)
        out = []
        for detail in details:
            match = _SCAN.match(detail)
            if match and match.group(1) in self._tables and not bounded:
                out.append(match.group(1))
        return out

    def scan_lines(self) -> list[str]:
        """One line per full scan: the table, then the statement."""
        return [f"SCAN {s.table}: {' '.join(s.statement.split())}" for s in self.scans]


class _Ask:
    """Asking the database about a statement must not fail the operation: an error is kept instead."""

    error = ""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and isinstance(exc, Exception):
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return True
        return False


class _SavepointAsk(_Ask):
    """On PostgreSQL, a failed question would abort the operation's own transaction: asked under a savepoint,
    rolled back to on failure."""

    def __init__(self, raw):
        self.raw = raw

    def __enter__(self):
        with self.raw.cursor() as cur:
            cur.execute("SAVEPOINT counting_plans")
        return self

    def __exit__(self, kind, exc, tb):
        with self.raw.cursor() as cur:
            cur.execute("ROLLBACK TO SAVEPOINT counting_plans" if exc is not None
                        else "RELEASE SAVEPOINT counting_plans")
        return super().__exit__(kind, exc, tb)


def _pg_scans(raw, statement, parameters) -> list[str]:
    cur = raw.cursor()
    try:
        cur.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = cur.fetchone()[0]
    finally:
        cur.close()
    if isinstance(plan, str):
        plan = json.loads(plan)
    out = []

    def walk(node, limited: bool):
        kind = node.get("Node Type")
        if kind == "Seq Scan" and not limited:
            out.append(node.get("Relation Name", "?"))
        # Under a Limit a scan stops early, unless a sort above it needs every row first.
        limited = (limited or kind == "Limit") and kind not in ("Sort", "Aggregate", "Hash")
        for child in node.get("Plans", []):
            walk(child, limited)

    for entry in plan:
        walk(entry["Plan"], False)
    return out


def _count(raw, statement, parameters) -> int:
    cur = raw.cursor()
    try:
        cur.execute(f"SELECT count(*) FROM ({statement}) AS counted_rows", parameters)
        return int(cur.fetchone()[0])
    finally:
        cur.close()
