"""Findings grouped by cause: one notice per cause, not one per benchmark.

A change on every request (a lookup in a ``before_request`` hook) moves
dozens of benchmarks: each route's instructions, its system calls by kind,
its phases. They are one cause. A finding belongs to an operation (``GET
/``, ``user_lookup``, ``cold_start``); operations whose exact moves are the
same (the same system calls by kind and by the same amount, the same
statements added, the same phases moved) are one group. What belongs to no
operation (a target_app function over every operation, a live-server
track) joins the group when there is one, or makes its own.

Pure: works on anything with an ``id``, a ``before`` and an ``after``
(the gate's findings, the history's regressions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scripts.suite import FUNCTIONS, INSTRUCTIONS, BenchmarkId, benchmark_name, is_timing

SHOWN_OPERATIONS = 3
EXACT = ("syscalls", "statements", "connections")


@dataclass
class Group:
    operations: list[str] = field(default_factory=list)
    items: list = field(default_factory=list)  # the findings or regressions, in their given order
    signature: tuple = ()

    def summary(self) -> str:
        """One line: which operations, and what moved in each."""
        return describe(self.operations, self.items)


def operation_of(ident: str) -> str | None:
    """The operation a benchmark id measures, or None (a function over every operation, a live server)."""
    bid = BenchmarkId.parse(ident)
    if not bid.params or bid.name == FUNCTIONS or bid.name.startswith("bench_server."):
        return None
    first = bid.params.split(", ")[0].strip("'")
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
    if method == "track_syscalls":
        return ("syscalls", bid.params.split(", ")[-1].strip("'"), delta)
    if method == "track_statements":
        return ("statements", delta)
    if method == "track_connections":
        return ("connections", delta)
    if method == "track_phase_instructions":
        return ("phase", bid.params.split(", ")[-1].strip("'"))
    if method == "track_instructions":
        return ("instructions",)
    if is_timing(item.id):
        return None  # noisy: a timing joins its operation's group without defining it
    return (method,)


def group(items: Sequence) -> list[Group]:
    """``items`` by cause, the largest group first."""
    by_op: dict[str, list] = {}
    loose = []
    for item in items:
        op = operation_of(item.id)
        (by_op.setdefault(op, []) if op else loose).append(item)
    groups: dict[tuple, Group] = {}
    for op, its in by_op.items():
        parts = {p for i in its if (p := _part(i)) is not None}
        # Exact moves name a cause by themselves (the same calls, the same statements, by the same amount);
        # whether an operation's instructions or a phase also crossed their tolerance depends on its size.
        # Without exact moves, the phases that moved name it (an instruction total crosses its tolerance or
        # not with the size of the operation: the scrypt login's does not).
        exact = {p for p in parts if p[0] in EXACT}
        phases = {p for p in parts if p[0] == "phase"}
        signature = tuple(sorted(exact or phases or parts, key=repr))
        g = groups.setdefault(signature, Group(signature=signature))
        g.operations.append(op)
        g.items += its
    out = sorted(groups.values(), key=lambda g: (-len(g.operations), g.operations[0]))
    if loose:
        if len(out) == 1:
            out[0].items += loose
        else:
            out.append(Group(items=loose, signature=("elsewhere",)))
    return out


def _pct(item) -> str:
    if not item.before:
        return f"{item.after - item.before:+,.0f}"
    return f"{(item.after - item.before) / abs(item.before):+.1%}"


def describe(operations: list[str], items: Sequence) -> str:
    """"20 operations (`GET /`, `GET /auth/login`, …): +2 open +1 read system calls each; instructions +1.2% to
    +3.5%; `target_app/auth.py:load` +3.5%"."""
    parts = []
    numeric = [i for i in items if i.before is not None and i.after is not None]
    part_of = {id(i): _part(i) for i in items}  # each finding read once
    syscalls = sorted({(p[1], p[2]) for i in numeric if (p := part_of[id(i)]) and p[0] == "syscalls"})
    if syscalls:
        parts.append(" ".join(f"{d:+g} {kind}" for kind, d in syscalls) + " system calls"
                     + (" each" if len(operations) > 1 else ""))
    statements = sorted({p[1] for i in numeric if (p := part_of[id(i)]) and p[0] == "statements"})
    if statements:
        parts.append(" or ".join(f"{d:+g}" for d in statements) + " SQL statements"
                     + (" each" if len(operations) > 1 else ""))
    totals = [i for i in numeric if benchmark_name(i.id) == INSTRUCTIONS and i.before]
    if totals:
        changes = sorted((i.after - i.before) / i.before for i in totals)
        parts.append(f"instructions {changes[0]:+.1%}" + (f" to {changes[-1]:+.1%}" if len(changes) > 1 else ""))
    phases = sorted({p[1] for i in items if (p := part_of[id(i)]) and p[0] == "phase"})
    if phases:
        parts.append("phases: " + ", ".join(phases))
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
