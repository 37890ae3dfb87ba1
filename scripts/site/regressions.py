"""The site's Regressions page: by commit, newest first, each commit's causes first and each cause's
benchmarks one click below (a ``<details>``); the navigation's Regressions tab leads here, and asv's own
table of every step, benchmark by benchmark, stays one link away."""

from __future__ import annotations

from pathlib import Path

from scripts.history.regressions import Regression, by_commit
from scripts.judging.causes import group
from scripts.judging.ledger import value_at
from scripts.judging.rules import Rules
from scripts.judging.values import fmt
from scripts.judging.verdict import LedgerLine
from scripts.results import CommitResult
from scripts.site.pages import render
from scripts.suite import commit_page, is_missing

PAGE = "regressions.html"
ASV_TABLE = "index.html#/regressions"


def commits(found: list[Regression], order: list[str], titles: dict[str, tuple[str, str]]) -> list[dict]:
    """Each commit with a regression (open or accepted), newest first: its causes and what each holds."""
    position = {c: i for i, c in enumerate(order)}
    out = []
    for commit, at in sorted(by_commit(found).items(), key=lambda kv: -position.get(kv[0], -1)):
        date, subject = titles.get(commit, ("", ""))
        causes = []
        for accepted, items in ((False, [r for r in at if not r.accepted]), (True, [r for r in at if r.accepted])):
            for g in group(items):
                causes.append({"summary": g.summary(), "accepted": g.items[0].accepted if accepted else "",
                               "rows": [{"id": r.benchmark, "graph": r.benchmark.split("(")[0],
                                         "before": fmt(r.before, r.unit), "after": fmt(r.after, r.unit),
                                         "ratio": f"×{r.ratio:.3g}" if r.ratio else "–", "note": r.note}
                                        for r in g.items]})
        out.append({"commit": commit, "date": date, "subject": subject, "before": at[0].before_commit,
                    "open": sum(1 for r in at if not r.accepted), "causes": causes})
    return out


def ledger(found: list[Regression], order: list[str], results: dict[str, CommitResult], rules: Rules,
           baseline: str | None) -> list[dict]:
    """Each benchmark with a cost accepted since ``baseline`` (a commit of ``order``), held against its ledger
    budget: its accepted steps, its value at the baseline and at the newest measured commit."""
    if not baseline or baseline not in order:
        return []
    since = set(order[order.index(baseline) + 1:])
    newest = next((c for c in reversed(order) if c in results), None)
    steps: dict[str, list[Regression]] = {}
    for r in found:
        if r.accepted and r.commit in since and rules.ledger_of(r.benchmark):
            steps.setdefault(r.benchmark, []).append(r)
    rows = []
    for ident, accepted in sorted(steps.items()):
        budget = rules.ledger_of(ident)
        before, after = value_at(results.get(baseline), ident), value_at(results.get(newest), ident)
        line = (LedgerLine(ident, budget.name, budget.relative, before, after)
                if not (is_missing(before) or is_missing(after)) else None)
        rows.append({"id": ident, "steps": [(r.commit, r.accepted) for r in accepted], "budget": budget.name,
                     "relative": f"{budget.relative:+.0%}", "before": fmt(before, accepted[0].unit),
                     "after": fmt(after, accepted[0].unit),
                     "change": f"{line.change:+.1%}" if line else "–", "over": bool(line and line.over)})
    return rows


def add_page(html_dir: Path, found: list[Regression], order: list[str], titles: dict[str, tuple[str, str]],
             ledger_rows: list[dict] = (), baseline_name: str = "") -> None:
    """Write the page, and point the Regressions tab of asv's own pages at it."""
    (html_dir / PAGE).write_text(render("regressions.html", title="Regressions", active=PAGE,
                                        commits=commits(found, order, titles), commit_page=commit_page,
                                        asv_table=ASV_TABLE, ledger=list(ledger_rows), baseline=baseline_name))
    for path in html_dir.glob("*.html"):
        text = path.read_text()
        moved = text.replace('<li id="nav-li-regressions"><a href="#/regressions">',
                             f'<li id="nav-li-regressions"><a href="{PAGE}">')
        if moved != text:
            path.write_text(moved)
