"""Cost that grows with the data, counted exactly: full table scans and rows fetched, per operation.

At the suite's data size a full scan of a small table, or a view that
fetches a whole table and slices it in Python, may cost too little to
show in a timing or even in an instruction count; on production data it is
the slowest request. So each statement an operation executes is asked,
right after it ran and on the same connection (the same transaction, the
same data):

- its plan: a full scan is SQLite's ``SCAN <table>`` (a ``SEARCH`` uses an
  index to find rows; a ``SCAN ... USING COVERING INDEX`` still reads every
  entry), or a ``Seq Scan`` node of PostgreSQL's ``EXPLAIN (FORMAT JSON)``;
- for a query, how many rows it returns: ``SELECT count(*)`` over it.

Both are numbers of the code and the data, the same at every run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_SCAN = re.compile(r"^SCAN (?:TABLE )?(\w+)")


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
        for table in (_pg_scans if postgres else self._sqlite_scans)(raw, statement, parameters):
            self.scans.append(Scan(table, statement))
        if cursor.description is not None and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.rows += _count(raw, statement, parameters)

    def _sqlite_scans(self, raw, statement, parameters) -> list[str]:
        cur = raw.cursor()
        try:
            plan = cur.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        finally:
            cur.close()
        out = []
        for row in plan:
            match = _SCAN.match(row[-1])
            if match and match.group(1) in self._tables:
                out.append(match.group(1))
        return out

    def scan_lines(self) -> list[str]:
        """One line per full scan: the table, then the statement."""
        return [f"SCAN {s.table}: {' '.join(s.statement.split())}" for s in self.scans]


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

    def walk(node):
        if node.get("Node Type") == "Seq Scan":
            out.append(node.get("Relation Name", "?"))
        for child in node.get("Plans", []):
            walk(child)

    for entry in plan:
        walk(entry["Plan"])
    return out


def _count(raw, statement, parameters) -> int:
    cur = raw.cursor()
    try:
        cur.execute(f"SELECT count(*) FROM ({statement}) AS counted_rows", parameters)
        return int(cur.fetchone()[0])
    finally:
        cur.close()
