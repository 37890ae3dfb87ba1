"""The site's page per commit and per operation, from what the history kept of each commit.

``history`` keeps each measured commit's artefacts in
``.asv/artefacts/<machine>/<commit>/`` (benchmarks/artefacts.py): the SQL
statements of each route, each operation's instructions by phase and by
Python function, and its top C functions. ``publish`` turns them into
``commits/<commit>.html``, one page per commit, ``commits.html``, the list
of them in the history's order, and ``operations/<operation>.html``, each
operation's phases as a stacked history. A commit's page leads with the
operations that moved there beyond the tolerance of rules.toml: which
phases and Python functions, which statements; the others are one line.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

from scripts.asvtool import ARTEFACTS_DIR
from scripts.explain import DEFAULT_TOLERANCE, Tolerance, component_changes, statement_changes
from scripts.git import commit_titles
from scripts.pages import code, link_from_asv_pages, page, table

KINDS = ("sql", "functions", "phases", "python_functions")
OPERATIONS_FOLDER = "operations"

PAGE = "commits.html"
FOLDER = "commits"
SHOWN = 10


def commit_page(commit: str) -> str:
    """The page of ``commit``, relative to the site's root."""
    return f"{FOLDER}/{commit}.html"


def operation_page(name: str) -> str:
    """The page of operation ``name``, relative to the site's root."""
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_") or "operation"
    return f"{OPERATIONS_FOLDER}/{slug}.html"


def load_artefacts(root: Path, machine: str, commit: str) -> dict:
    """Each kind of artefact (KINDS) of one commit, by operation; a kind not kept is empty."""
    folder = root / ARTEFACTS_DIR / machine / commit
    out = {}
    for kind in KINDS:
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


def moved_operations(before: dict, after: dict, tolerance: Tolerance) -> dict[str, dict]:
    """Per operation that moved beyond its tolerance between two commits' artefacts: its statement changes,
    the phases and Python functions that moved, and its C functions whose counts changed. Largest move first."""
    sql = sql_changes(before["sql"], after["sql"])
    c_functions = function_changes(before["functions"], after["functions"])
    out = {}
    for name in sorted(set(after["sql"]) | set(after["functions"]) | set(after["phases"])):
        moved = {}
        for kind in ("phases", "python_functions"):
            if name in before[kind] and name in after[kind]:
                rows = [r for r in component_changes(before[kind][name], after[kind][name], tolerance) if r["moved"]]
                if rows:
                    moved[kind] = rows
        if name not in after["phases"]:  # not counted by phase (a scrypt operation): its C functions say it
            rows = [r for r in c_functions.get(name, []) if tolerance.moved(r[1] or 0, r[2] or 0)]
            if rows:
                moved["functions"] = rows
        if name in sql:
            moved["sql"] = sql[name]
        if moved:
            moved["functions"] = c_functions.get(name, [])
            out[name] = moved
    size = {name: max([abs(r["delta"]) / max(abs(r["before"]), 1) for r in m.get("phases", [])] or [0])
            for name, m in out.items()}
    return dict(sorted(out.items(), key=lambda kv: (not kv[1].get("sql"), -size[kv[0]], kv[0])))


def _component_rows(rows: list[dict], name: bool = False) -> list[list[str]]:
    def change(r):
        return f"{r['delta']:+,.0f}" + (f" ({r['delta'] / r['before']:+.1%})" if r["before"] else "")

    return [[code(r["component"]) if name else html.escape(r["component"]), f"{r['before']:,.0f}",
             f"{r['after']:,.0f}", change(r)] for r in rows[:SHOWN]]


def _changes_html(prev: str | None, before: dict, after: dict, tolerance: Tolerance) -> str:
    if prev is None:
        return "<p>The first measured commit: nothing to compare with.</p>"
    parts = [f"<h2>Changed since {code(prev[:8])}</h2>",
             f'<p>Against the commit measured before it in the history (<a href="{prev}.html">its page</a>). '
             f"An operation is shown where a statement changed or a phase or Python function moved beyond "
             f"{tolerance.relative:.1%} + {tolerance.absolute:,.0f} instructions (benchmarks/rules.toml).</p>"]
    moved = moved_operations(before, after, tolerance)
    for name, m in moved.items():
        parts.append(f'<h3><a href="../{operation_page(name)}">{html.escape(name)}</a></h3>')
        if m.get("phases"):
            parts.append(table(["Phase", "Before", "After", "Change"], _component_rows(m["phases"])))
        if m.get("python_functions"):
            parts.append(table(["Python function (inclusive)", "Before", "After", "Change"],
                               _component_rows(m["python_functions"], name=True)))
        if m.get("sql"):
            parts.append(f"<p>Statements {len(before['sql'][name])} → {len(after['sql'][name])}:</p><ul>"
                         + "".join(f"<li>{code(f'{d:+d} × {s}')}</li>" for d, s in m["sql"][:SHOWN]) + "</ul>")
        if m.get("functions"):
            parts.append("<details><summary>Beneath: C functions whose self instructions per run changed"
                         "</summary>" + table(["C function", "Before", "After"],
                                              [[code(f), _count(b), _count(a)] for f, b, a in m["functions"]])
                         + "</details>")
    quiet = sorted((set(after["sql"]) | set(after["functions"]) | set(after["phases"])) - set(moved))
    if not moved:
        parts.append("<p>No statement changed, and no phase or Python function of any operation moved beyond its "
                     "tolerance.</p>")
    if quiet:
        parts.append(f"<details><summary>{len(quiet)} other operation(s): nothing moved beyond its tolerance"
                     "</summary><p>" + ", ".join(code(n) for n in quiet) + "</p></details>")
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


def render_commit(commit: str, prev: str | None, artefacts: dict, before: dict | None,
                  tolerance: Tolerance = DEFAULT_TOLERANCE) -> str:
    body = (f"<h1>Commit {code(commit[:8])}</h1><p>{code(commit)}: what target_app's operations did at this commit, "
            f"from the history's own measurement (SQL statements as sent, normalised; instructions by phase and by "
            f"Python function, and by C function beneath, from callgrind).</p>"
            + _changes_html(prev, before or {kind: {} for kind in KINDS}, artefacts, tolerance)
            + _what_it_did(artefacts))
    return page(f"Commit {commit[:8]}", PAGE, body, up="../")


def add_pages(html_dir: Path, root: Path, machine: str, commits: list[str], listed: dict[str, int],
              tolerance: Tolerance = DEFAULT_TOLERANCE) -> int:
    """Write a page for each of ``commits`` (in history order) that has artefacts, the list, and a page per
    operation; returns how many commit pages.

    ``listed``: commit -> how many regressions the regressions list has there.
    """
    folder = html_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rows, prev, before, written = [], None, None, 0
    titles = commit_titles(root, commits)
    history: list[tuple[str, dict]] = []
    for commit in commits:
        artefacts = load_artefacts(root, machine, commit)
        if not any(artefacts.values()):
            continue
        history.append((commit, artefacts["phases"]))
        (folder / f"{commit}.html").write_text(render_commit(commit, prev, artefacts, before, tolerance))
        changed = len(moved_operations(before, artefacts, tolerance)) if before else 0
        regressions = listed.get(commit, 0)
        date, subject = titles.get(commit, ("", ""))
        rows.append([f'<a href="{commit_page(commit)}">{code(commit[:8])}</a>', html.escape(date),
                     html.escape(subject), f"{changed} operation(s)" if before else "–",
                     f"<b>{regressions}</b>" if regressions else "–"])
        prev, before, written = commit, artefacts, written + 1
    operations = add_operation_pages(html_dir, history, titles)
    body = ("<h1>Commits</h1><p>Each measured commit's page shows what moved there beyond its tolerance (phases, "
            "Python functions, statements), and what every operation did. Newest last.</p>"
            + table(["Commit", "Date", "Subject", "Moved", "Listed regressions"], rows)
            + ("<h2>Operations, phase by phase over the history</h2><ul>"
               + "".join(f'<li><a href="{operation_page(n)}">{html.escape(n)}</a></li>' for n in operations)
               + "</ul>" if operations else ""))
    (html_dir / PAGE).write_text(page("Commits", PAGE, body))
    link_from_asv_pages(html_dir, PAGE, "Commits", "nav-li-commits")
    return written


# One colour per phase, in benchmarks/phases.PHASES's order (a phase this
# list does not know is grey).
PHASE_COLOURS = {"set-up and routing": "#9e9e9e", "view": "#1f77b4", "SQL compile": "#ff7f0e",
                 "driver execute": "#d62728", "row loading": "#2ca02c", "ORM flush": "#8c564b",
                 "template render": "#9467bd", "JSON encoding": "#e377c2", "after request and teardown": "#17becf"}


def stacked_history(name: str, history: list[tuple[str, dict]], titles: dict) -> str:
    """An SVG of one operation's phases, a stacked bar per commit (history order, oldest left)."""
    bars = [(commit, phases[name]) for commit, phases in history if isinstance(phases.get(name), dict)]
    if not bars:
        return ""
    order = list(PHASE_COLOURS) + sorted({p for _, ph in bars for p in ph} - set(PHASE_COLOURS))
    top = max(sum(max(v, 0) for v in ph.values()) for _, ph in bars) or 1
    width, height, bar = max(300, 28 * len(bars) + 40), 260, 20
    shapes = []
    for i, (commit, phases) in enumerate(bars):
        x, y = 40 + 28 * i, height - 20
        for phase in order:
            value = max(phases.get(phase, 0), 0)
            h = value / top * (height - 40)
            if h <= 0:
                continue
            y -= h
            date, subject = titles.get(commit, ("", ""))
            tip = html.escape(f"{commit[:8]} {date} {subject}\n{phase}: {value:,.0f} instructions")
            shapes.append(f'<a href="../{commit_page(commit)}"><rect x="{x}" y="{y:.1f}" width="{bar}" '
                          f'height="{h:.1f}" fill="{PHASE_COLOURS.get(phase, "#cccccc")}"><title>{tip}</title>'
                          f"</rect></a>")
        shapes.append(f'<text x="{x + bar / 2}" y="{height - 5}" font-size="9" text-anchor="middle">'
                      f"{html.escape(commit[:4])}</text>")
    axis = f'<text x="2" y="14" font-size="10">{top:,.0f}</text>'
    legend = "".join(f'<span style="display:inline-block;margin-right:12px"><span style="display:inline-block;'
                     f'width:10px;height:10px;background:{colour}"></span> {html.escape(phase)}</span>'
                     for phase, colour in PHASE_COLOURS.items())
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(name)} by phase">{axis}{"".join(shapes)}</svg><p>{legend}</p>')


def add_operation_pages(html_dir: Path, history: list[tuple[str, dict]], titles: dict) -> list[str]:
    """Write ``operations/<operation>.html`` for each operation counted by phase; returns their names."""
    names = sorted({name for _, phases in history for name, v in phases.items() if isinstance(v, dict)})
    if not names:
        return []
    (html_dir / OPERATIONS_FOLDER).mkdir(parents=True, exist_ok=True)
    for name in names:
        rows = [[f'<a href="../{commit_page(c)}">{code(c[:8])}</a>']
                + [f"{phases[name].get(p, 0):,.0f}" for p in PHASE_COLOURS]
                for c, phases in history if isinstance(phases.get(name), dict)]
        body = (f"<h1>{html.escape(name)}, by phase</h1><p>Instructions of one run in each phase, at each measured "
                "commit (callgrind; benchmarks/phases.py says what each phase holds). A bar that grows in one colour "
                "is a phase that grew there; each bar links to its commit's page.</p>"
                + stacked_history(name, history, titles)
                + table(["Commit", *PHASE_COLOURS], rows))
        (html_dir / operation_page(name)).write_text(page(f"{name} by phase", PAGE, body, up="../"))
    return names
