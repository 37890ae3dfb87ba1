"""Costs accepted on purpose, in git: one commit trailer a cost.

A team that adds a security header or a stronger hash knows it costs something. It says so in the commit
that pays it, reviewed with the pull request, one line::

    Accept-Regression: "bench_syscalls.SystemCalls.track_syscalls('GET *', 'other')" +4 a host lookup per request

The pattern is an fnmatch over benchmark ids (as ``rules`` prints them; quoted when it holds a space); the
bound is how far each matching benchmark may rise: ``+4`` in its unit, ``+3%`` of its value, or ``x1.05``.
The gate passes a regression that matches and stays within the bound (listed as accepted, with the reason)
and still fails anything beyond the bound or outside the pattern. The history marks such a step accepted
at its commit, and opens no issue for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from scripts.errors import UserError

TRAILER = "Accept-Regression"


@dataclass(frozen=True)
class Acceptance:
    pattern: str
    bound: str  # "+4", "+3%", "x1.05"
    reason: str
    commit: str = ""

    def matches(self, ident: str) -> bool:
        return fnmatchcase(ident, self.pattern)

    def within(self, before: float | None, after: float | None) -> bool:
        """Whether a move from ``before`` to ``after`` stays within the bound."""
        if before is None or after is None:
            return False  # a benchmark that breaks is never accepted
        text = self.bound
        if text[0] in "x×":
            return before > 0 and after / before <= float(text[1:])
        if text.endswith("%"):
            return after - before <= abs(before) * float(text[:-1]) / 100
        return after - before <= float(text)

    def describe(self) -> str:
        where = f" (`{self.commit[:8]}`)" if self.commit else ""
        return f"accepted up to {self.bound}{where}: {self.reason}"


def parse(value: str, commit: str = "") -> Acceptance:
    """One trailer's value; a one-line UserError when it is not PATTERN BOUND REASON."""
    where = f"{TRAILER} at {commit[:8]}" if commit else TRAILER
    text = value.strip()
    if text[:1] in ("'", '"'):  # a quoted pattern (one with a space); the reason is free text
        end = text.find(text[0], 1)
        if end < 0:
            raise UserError(f"{where}: No closing quotation: {value!r}")
        pattern, rest = text[1:end], text[end + 1:].split(None, 1)
    else:
        pattern, _, tail = text.partition(" ")
        rest = tail.split(None, 1)
    if not pattern or len(rest) < 2:
        raise UserError(f"{where}: expected PATTERN BOUND REASON, got {value!r}")
    bound, reason = rest[0], rest[1].strip()
    try:
        number = float(bound[1:-1] if bound.endswith("%") else bound[1:])
        ok = bound[0] in "+x×" and number >= 0 and not (bound[0] in "x×" and bound.endswith("%"))
    except ValueError:
        ok = False
    if not ok:
        raise UserError(f"{where}: the bound {bound!r} is not +N, +N% or xN")
    return Acceptance(pattern, bound, reason, commit)


def read(trailers: list[tuple[str, str]]) -> list[Acceptance]:
    """The acceptances of (commit, trailer value) pairs, as :func:`scripts.git.trailers` reads them."""
    return [parse(value, commit) for commit, value in trailers]


def accepting(found: list[Acceptance], ident: str, before, after) -> tuple[Acceptance | None, Acceptance | None]:
    """(the acceptance that covers this move, or None; one that names the benchmark but not so far, or None)."""
    named = [a for a in found if a.matches(ident)]
    covering = next((a for a in named if a.within(before, after)), None)
    return covering, (None if covering else next(iter(named), None))
