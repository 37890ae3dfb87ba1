"""The site's page per commit: what target_app's operations did there, and what changed since the commit before.

``history`` keeps each measured commit's artefacts in
``.asv/artefacts/<machine>/<commit>/`` (benchmarks/artefacts.py): the SQL
statements of each route and the top functions of each operation by
callgrind's instruction counts. ``publish`` turns them into
``commits/<commit>.html``, one page per commit, and ``commits.html``, the
list of them in the history's order; the regressions list links a step to
the page of its commit. A reader who sees a step in a graph sees there which
statements came or went and which functions cost more.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

from scripts.asvtool import ARTEFACTS_DIR
from scripts.explain import statement_changes
from scripts.git import commit_titles
from scripts.pages import code, link_from_asv_pages, page, table

PAGE = "commits.html"
FOLDER = "commits"
SHOWN = 10


def commit_page(commit: str) -> str:
    """The page of ``commit``, relative to the site's root."""
    return f"{FOLDER}/{commit}.html"


def load_artefacts(root: Path, machine: str, commit: str) -> dict:
    """``{"sql": {...}, "functions": {...}}`` of one commit; a kind not kept is empty."""
    folder = root / ARTEFACTS_DIR / machine / commit
    out = {}
    for kind in ("sql", "functions"):
        try:
            out[kind] = json.loads((folder / f"{kind}.json").read_text())
        except (OSError, ValueError):
            out[kind] = {}
    return out


def sql_changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[tuple[int, str]]]:
    """Per operation on both sides: each statement whose count changed, with the change (``+20``, ``-1``),
    as ``explain`` gives it."""
    out = {}
    for name in sorted(set(before) & set(after)):
        changed = [(r["delta"], r["statement"]) for r in statement_changes(before[name], after[name])]
        if changed:
            out[name] = changed
    return out


Row = tuple[str, int | None, int | None]


def function_changes(before: dict, after: dict, kind: str = "self") -> dict[str, list[Row]]:
    """Per operation: the functions of either side's top list whose instructions per run changed.

    A function below one side's top list has no count there (None): the
    artefacts keep only each side's top functions.
    """
    out = {}
    for name in sorted(set(before) & set(after)):
        b, a = dict(map(tuple, before[name].get(kind, []))), dict(map(tuple, after[name].get(kind, [])))
        rows = [(f, b.get(f), a.get(f)) for f in set(b) | set(a) if b.get(f) != a.get(f)]
        rows.sort(key=lambda r: (-abs((r[2] or 0) - (r[1] or 0)), r[0]))
        if rows:
            out[name] = rows[:SHOWN]
    return out


def _count(value: int | None) -> str:
    return "below the top" if value is None else f"{value:,}"


def _changes_html(prev: str | None, before: dict, after: dict) -> str:
    if prev is None:
        return "<p>The first measured commit: nothing to compare with.</p>"
    parts = [f"<h2>Changed since {code(prev[:8])}</h2>",
             f'<p>Against the commit measured before it in the history (<a href="{prev}.html">its page</a>).</p>']
    sql = sql_changes(before["sql"], after["sql"])
    for name, rows in sql.items():
        parts.append(f"<h3>{html.escape(name)}: statements {len(before['sql'][name])} → {len(after['sql'][name])}</h3>")
        parts.append("<ul>" + "".join(f"<li>{code(f'{d:+d} × {s}')}</li>" for d, s in rows[:SHOWN]) + "</ul>")
    functions = function_changes(before["functions"], after["functions"])
    for name, rows in functions.items():
        parts.append(f"<h3>{html.escape(name)}: instructions per run, by function (self)</h3>")
        parts.append(table(["Function", "Before", "After"], [[code(f), _count(b), _count(a)] for f, b, a in rows]))
    if not sql and not functions:
        parts.append("<p>No statement changed, and no function of any operation's top list changed its count.</p>")
    return "\n".join(parts)


def _what_it_did(artefacts: dict) -> str:
    parts = ["<h2>What each operation did</h2>"]
    for name in sorted(set(artefacts["sql"]) | set(artefacts["functions"])):
        parts.append(f"<h3>{html.escape(name)}</h3>")
        statements = artefacts["sql"].get(name)
        if statements is not None:
            counted = Counter(statements)
            parts.append(f"<p>{len(statements)} SQL statement(s):</p><ul>"
                         + "".join(f"<li>{n} × {code(s)}</li>" for s, n in counted.items()) + "</ul>")
        functions = artefacts["functions"].get(name)
        if functions:
            rows = [[code(f), f"{n:,}"] for f, n in functions.get("self", [])[:SHOWN]]
            parts.append(table(["Function (self instructions per run)", "Instructions"], rows))
            rows = [[code(f), f"{n:,}"] for f, n in functions.get("inclusive", [])[:SHOWN]]
            parts.append(table(["Function (inclusive instructions per run)", "Instructions"], rows))
    return "\n".join(parts)


def render_commit(commit: str, prev: str | None, artefacts: dict, before: dict | None) -> str:
    body = (f"<h1>Commit {code(commit[:8])}</h1><p>{code(commit)}: what target_app's operations did at this commit, "
            f"from the history's own measurement (SQL statements as sent, normalised; functions by callgrind's "
            f"instruction counts, C functions of Python, SQLite and the libraries included).</p>"
            + _changes_html(prev, before or {"sql": {}, "functions": {}}, artefacts) + _what_it_did(artefacts))
    return page(f"Commit {commit[:8]}", PAGE, body, up="../")


def add_pages(html_dir: Path, root: Path, machine: str, commits: list[str], listed: dict[str, int]) -> int:
    """Write a page for each of ``commits`` (in history order) that has artefacts, and the list; returns how many.

    ``listed``: commit -> how many regressions the regressions list has there.
    """
    folder = html_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rows, prev, before, written = [], None, None, 0
    titles = commit_titles(root, commits)
    for commit in commits:
        artefacts = load_artefacts(root, machine, commit)
        if not artefacts["sql"] and not artefacts["functions"]:
            continue
        (folder / f"{commit}.html").write_text(render_commit(commit, prev, artefacts, before))
        changed = len(sql_changes(before["sql"], artefacts["sql"])) if before else 0
        regressions = listed.get(commit, 0)
        date, subject = titles.get(commit, ("", ""))
        rows.append([f'<a href="{commit_page(commit)}">{code(commit[:8])}</a>', html.escape(date),
                     html.escape(subject), f"{changed} operation(s)" if before else "–",
                     f"<b>{regressions}</b>" if regressions else "–"])
        prev, before, written = commit, artefacts, written + 1
    body = ("<h1>Commits</h1><p>Each measured commit's page shows the SQL of every route and the top functions of "
            "every operation, and what changed since the commit before. Newest last.</p>"
            + table(["Commit", "Date", "Subject", "SQL changed in", "Listed regressions"], rows))
    (html_dir / PAGE).write_text(page("Commits", PAGE, body))
    link_from_asv_pages(html_dir, PAGE, "Commits", "nav-li-commits")
    return written
