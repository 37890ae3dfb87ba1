"""Findings grouped by cause: one notice per cause, not one per benchmark.

A cause is where the new work comes from, whatever it costs each operation. A change on every request (a
lookup in a ``before_request`` hook) moves dozens of benchmarks: each route's instructions, its system calls
by kind, its phases. SQL echo left on adds two ``write`` calls to every statement: +2 to an operation of one
statement, +202 to one of 101. Each is one cause. A finding belongs to an operation (``GET /``,
``user_lookup``, ``cold_start``), and operations are grouped by, in this order:

1. **where the added system calls are made**, where the gate's explanation says it (callgrind's call sites,
   "from Python by ``logging.StreamHandler.emit``"): the same Python origin is one cause;
2. **the same exact moves per SQL statement**, where that groups more operations than the same moves per
   request (the statements each operation runs at the head, from the statement counters);
3. **the same exact moves per request** (the same system calls by kind and amount, the same statements
   added); without any, the same phases moved.

What belongs to no operation (a target_app function over every operation, a live-server track) joins the
group when there is one, or makes its own.

Pure: works on anything with an ``id``, a ``before`` and an ``after`` (the gate's findings, the history's
regressions), and an ``explanation`` where there is one.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from scripts.suite import FUNCTIONS, INSTRUCTIONS, STATEMENT_COUNTERS, BenchmarkId, benchmark_name, is_timing

SHOWN_OPERATIONS = 3
EXACT = ("syscalls", "statements", "connections")


@dataclass
class Group:
    operations: list[str] = field(default_factory=list)
    items: list = field(default_factory=list)  # the findings or regressions, in their given order
    signature: tuple = ()

    def summary(self) -> str:
        """One line: which operations, and what moved in each (and where it comes from, where known)."""
        return describe(self.operations, self.items, self.signature)


def operation_of(ident: str) -> str | None:
    """The operation a benchmark id measures, or None (a function over every operation, a live server)."""
    bid = BenchmarkId.parse(ident)
    if not bid.params or bid.name == FUNCTIONS or bid.name.startswith("bench_server."):
        return None
    first = str(bid.values[0])
    if bid.name.startswith("bench_queries.BulkInsert."):
        return f"bulk_insert_{first}"
    if first.startswith("/"):
        return f"GET {first}"
    if first.isdigit():  # a page size of /api/users
        return "GET /api/users"
    return first


def _part(item) -> tuple | None:
    """What a finding says about its operation, exactly enough to tell one cause from another."""
    bid = BenchmarkId.parse(item.id)
    method = bid.name.rsplit(".", 1)[-1]
    delta = (item.after - item.before) if item.before is not None and item.after is not None else None
    last = bid.values[-1] if bid.values else ""
    if method == "track_syscalls":
        return ("syscalls", last, delta)
    if method == "track_statements":
        return ("statements", delta)
    if method == "track_connections":
        return ("connections", delta)
    if method == "track_phase_instructions":
        return ("phase", last)
    if method == "track_instructions":
        return ("instructions",)
    if is_timing(item.id):
        return None  # noisy: a timing joins its operation's group without defining it
    return (method,)


def statements_per_operation(items: Sequence) -> dict[str, float]:
    """The SQL statements each operation runs at the head, from the statement counters among ``items``."""
    return {op: i.after for i in items if benchmark_name(i.id) in STATEMENT_COUNTERS
            and i.after is not None and (op := operation_of(i.id))}


# A call site as callgrind's explanation names it: "write: __write <- _io_FileIO_write, from Python by X".
ORIGIN = re.compile(r", from Python by (?P<python>.+)$|<- (?P<caller>\S+)$")


def origins(items: Sequence) -> tuple[str, ...]:
    """Where an operation's added system calls are made, from the explanations among ``items``. A system call
    whose sites only traded places (SQLite's file lock taken under ``fetchall`` instead of ``execute``: -2 at
    one, +2 at the other) is no new work, and names no origin."""
    found = set()
    for item in items:
        rows = (getattr(item, "explanation", None) or {}).get("syscalls", [])
        net = Counter()
        for row in rows:
            net[row["function"].split(" <- ")[0]] += row.get("delta", 0)
        for row in rows:
            if row.get("delta", 0) > 0 and net[row["function"].split(" <- ")[0]] > 0 \
                    and (m := ORIGIN.search(row["function"])):
                found.add(m.group("python") or m.group("caller"))
    return tuple(sorted(found))


def per_statement(points: dict[str, tuple[Fraction, Fraction]]) -> tuple[tuple[Fraction, Fraction], set[str]]:
    """The (calls per statement, calls per request) that explains the most of ``points`` (operation: its
    statements and the calls it added), and which: a line through two operations of different statement
    counts, rising, that others lie on exactly. None explains fewer than two operations."""
    best: tuple[tuple[Fraction, Fraction], set[str]] = ((Fraction(0), Fraction(0)), set())
    for (n1, d1), (n2, d2) in itertools.combinations(sorted(set(points.values())), 2):
        if n1 == n2 or d2 <= d1:
            continue
        a = (d2 - d1) / (n2 - n1)
        b = d1 - a * n1
        if b < 0:
            continue
        fit = {op for op, (n, d) in points.items() if a * n + b == d}
        if (len(fit), -b) > (len(best[1]), -best[0][1]):
            best = ((a, b), fit)
    return best


def group(items: Sequence, statements: dict[str, float] | None = None) -> list[Group]:
    """``items`` by cause, the largest group first. ``statements``: the SQL statements each operation runs
    (:func:`statements_per_operation`), so that work added per statement is one cause; without it, what the
    items say themselves (a history's regression knows its operation's ``statements`` at its commit)."""
    if statements is None:
        statements = {op: n for i in items if (n := getattr(i, "statements", None)) and (op := operation_of(i.id))}
    by_op: dict[str, list] = {}
    loose = []
    for item in items:
        op = operation_of(item.id)
        (by_op.setdefault(op, []) if op else loose).append(item)
    keys: dict[str, tuple] = {}
    exacts: dict[str, set] = {}
    sourced: dict[str, set] = {}  # the exact moves of the operations grouped by origin
    for op, its in by_op.items():
        parts = {p for i in its if (p := _part(i)) is not None}
        # Exact moves name a cause by themselves (the same calls, the same statements, by the same amount);
        # whether an operation's instructions or a phase also crossed their tolerance depends on its size.
        # Without exact moves, the phases that moved name it (an instruction total crosses its tolerance or
        # not with the size of the operation: the scrypt login's does not).
        exact = {p for p in parts if p[0] in EXACT}
        phases = {p for p in parts if p[0] == "phase"}
        keys[op] = tuple(sorted(exact or phases or parts, key=repr))
        if where := origins(its):
            keys[op] = ("from", *where)
            sourced[op] = exact
        elif exact:
            exacts[op] = exact
    # Each kind of system call per SQL statement (and so many per request besides: SQL echo logs each
    # statement and each transaction's BEGIN and COMMIT) where that explains more operations than the same
    # amount per request: an operation of one statement reads the same either way, and stays with the others
    # of its kind.
    def points(ops, kind: str) -> dict[str, tuple[Fraction, Fraction]]:
        """Each of ``ops`` that added system calls of ``kind``: (its statements, the calls it added)."""
        out = {}
        for op in ops:
            n = (statements or {}).get(op)
            for p in exacts.get(op) or sourced.get(op) or ():
                if p[0] == "syscalls" and p[1] == kind and p[2] is not None and n:
                    out[op] = (Fraction(n), Fraction(p[2]))
        return out

    kinds = {p[1] for exact in (*exacts.values(), *sourced.values()) for p in exact if p[0] == "syscalls"}
    as_is = Counter(p for exact in exacts.values() for p in exact)
    for kind in sorted(kinds):
        rate, fit = per_statement(points(exacts, kind))
        for op in fit:
            p = next(p for p in exacts[op] if p[0] == "syscalls" and p[1] == kind)
            if len(fit) > as_is[p]:
                exacts[op] = (exacts[op] - {p}) | {("syscalls", kind, "per statement", *rate)}
    for op, exact in exacts.items():
        keys[op] = tuple(sorted(exact, key=repr))
    groups: dict[tuple, Group] = {}
    for op, its in by_op.items():
        g = groups.setdefault(keys[op], Group(signature=keys[op]))
        g.operations.append(op)
        g.items += its
    # Where one origin's calls of a kind are the same per SQL statement in each of its operations, say so.
    for g in groups.values():
        if g.signature[:1] == ("from",):
            for kind in sorted({p[1] for op in g.operations for p in sourced[op] if p[0] == "syscalls"}):
                found = points(g.operations, kind)
                rate, fit = per_statement(found)
                if fit and fit == set(found):
                    g.signature += (("syscalls", kind, "per statement", *rate),)
    # An operation that has only the counters every operation has (statements, not callgrind's system calls:
    # the derived outcomes that run no line of their own) and moved as a larger group's operations did there
    # is that group's cause: the settings page's extra query is +1 statement in a form's failed submission,
    # and +1 statement and +2 system calls in the page itself.
    for key, g in list(groups.items()):
        if key and all(isinstance(p, tuple) and p[0] == "statements" for p in key):
            wider = [h for k, h in groups.items() if k != key and set(key) <= set(k)
                     and any(isinstance(p, tuple) and p[0] == "syscalls" for p in k)]
            if wider:
                host = max(wider, key=lambda h: len(h.operations))
                host.operations += g.operations
                host.items += g.items
                del groups[key]
    out = sorted(groups.values(), key=lambda g: (-len(g.operations), g.operations[0]))
    if loose:
        if len(out) == 1:
            out[0].items += loose
        else:
            out.append(Group(items=loose, signature=("elsewhere",)))
    return out


def _span(syscalls: list[tuple[str, float]]) -> str:
    """"+2 to +202 write" for many amounts of the same kinds."""
    out = []
    for kind in sorted({k for k, _ in syscalls}):
        amounts = sorted(d for k, d in syscalls if k == kind)
        out.append(f"{amounts[0]:+g}" + (f" to {amounts[-1]:+g}" if amounts[-1] != amounts[0] else "") + f" {kind}")
    return ", ".join(out)


def _pct(item) -> str:
    if not item.before:
        return f"{item.after - item.before:+,.0f}"
    return f"{(item.after - item.before) / abs(item.before):+.1%}"


def describe(operations: list[str], items: Sequence, signature: tuple = ()) -> str:
    """"20 operations (`GET /`, `GET /auth/login`, …): +2 open +1 read system calls each; instructions +1.2% to
    +3.5%; `target_app/auth.py:load` +3.5%"."""
    parts = []
    numeric = [i for i in items if i.before is not None and i.after is not None]
    part_of = {id(i): _part(i) for i in items}  # each finding read once
    syscalls = sorted({(p[1], p[2]) for i in numeric if (p := part_of[id(i)]) and p[0] == "syscalls"})
    if signature[:1] == ("from",):
        parts.append("system calls made by " + ", ".join(f"`{w}`" for w in signature[1:] if isinstance(w, str)))
    scaled = [p for p in signature if isinstance(p, tuple) and p[2:3] == ("per statement",)]
    if scaled:
        kinds = {p[1] for p in scaled}
        besides = {b for *_, b in scaled}
        if besides == {0}:
            besides_text = ""
        elif len(besides) == 1:
            besides_text = f", and {float(next(iter(besides))):+g} of each per request"
        else:
            besides_text = ", and " + ", ".join(f"{float(b):+g} `{kind}`" for _, kind, _, _, b in scaled) + \
                " per request"
        parts.append(", ".join(f"{float(a):+g} `{kind}`" for _, kind, _, a, _ in scaled)
                     + " system calls per SQL statement" + besides_text
                     + (f" ({_span([c for c in syscalls if c[0] in kinds])} in all)" if len(operations) > 1 else ""))
        syscalls = [c for c in syscalls if c[0] not in kinds]
    if syscalls and len({d for _, d in syscalls}) > 3:
        parts.append(f"{_span(syscalls)} system calls")
    elif syscalls:
        parts.append(" ".join(f"{d:+g} {kind}" for kind, d in syscalls) + " system calls"
                     + (" each" if len(operations) > 1 else ""))
    statements = sorted({p[1] for i in numeric if (p := part_of[id(i)]) and p[0] == "statements"})
    if statements:
        parts.append(" or ".join(f"{d:+g}" for d in statements) + " SQL statements"
                     + (" each" if len(operations) > 1 else ""))
    totals = [i for i in numeric if benchmark_name(i.id) == INSTRUCTIONS and i.before]
    if totals:
        changes = sorted((i.after - i.before) / i.before for i in totals)
        low, high = f"{changes[0]:+.1%}", f"{changes[-1]:+.1%}"
        parts.append(f"instructions {low}" + (f" to {high}" if high != low else ""))
    phases: dict[str, list[str]] = {}
    for i in items:
        if (p := part_of[id(i)]) and p[0] == "phase":
            phases.setdefault(p[1], []).append(_pct(i) if i in numeric else "fails")
    if phases:
        parts.append("phases: " + ", ".join(
            f"{phase} {moves[0]}" if len(moves) == 1 else f"{phase} ({len(moves)} operations)"
            for phase, moves in sorted(phases.items())))
    functions = [i for i in numeric if benchmark_name(i.id) == FUNCTIONS]
    for f in functions[:SHOWN_OPERATIONS]:
        parts.append(f"`{BenchmarkId.parse(f.id).params.strip(chr(39))}` {_pct(f)}")
    others = [i for i in items if part_of[id(i)] is not None and part_of[id(i)][0] not in
              ("syscalls", "statements", "instructions", "phase") and i not in functions]
    for i in others[:SHOWN_OPERATIONS]:
        parts.append(f"`{i.id}` {_pct(i) if i in numeric else 'fails'}")
    timings = [i for i in items if is_timing(i.id)]
    if timings:
        parts.append(f"{len(timings)} timing(s)")
    if operations:
        shown = ", ".join(f"`{op}`" for op in operations[:SHOWN_OPERATIONS])
        more = f", and {len(operations) - SHOWN_OPERATIONS} more" if len(operations) > SHOWN_OPERATIONS else ""
        who = f"{len(operations)} operation{'s' if len(operations) != 1 else ''} ({shown}{more})"
    else:
        who = "beyond any one operation"
    return f"{who}: {'; '.join(parts) or f'{len(items)} finding(s)'}"
