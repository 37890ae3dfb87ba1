"""The site's page per commit and per operation, from what the history kept of each commit.

``history`` keeps each measured commit's artefacts in
``.asv/artefacts/<machine>/<commit>/`` (benchmarks/counting/artefacts.py): the SQL
statements of each route, each operation's instructions by phase and by
Python function, and its top C functions. ``publish`` turns them into
``commits/<commit>.html``, one page per commit, ``commits.html``, the list
of them in the history's order, and ``operations/<operation>.html``, each
operation's phases as a stacked history. A commit's page leads with the
operations that moved there beyond the tolerance of rules.toml: which
phases and Python functions, which statements; the others are one line.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from scripts.coverage import spans
from scripts.git import commit_titles
from scripts.judging.differences import DEFAULT_TOLERANCE, component_changes, statement_changes
from scripts.judging.rules import Counter as Tolerance
from scripts.locks import lock_at, lock_changes
from scripts.site.pages import link_from_asv_pages, render
from scripts.suite import ARTEFACTS_DIR, commit_page
from scripts.suite import COMMIT_PAGES as FOLDER

KINDS = ("sql", "functions", "phases", "python_functions", "scans")
OPERATIONS_FOLDER = "operations"

PAGE = "commits.html"
SHOWN = 10


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


def load_coverage(root: Path, machine: str, commit: str) -> list[dict]:
    """The commit's benchmark coverage (scripts/coverage.py) as rows for its page: per file, its lines, those
    the operations run, and those they do not; [] where it was not measured."""
    try:
        files = json.loads((root / ARTEFACTS_DIR / machine / commit / "coverage.json").read_text())
    except (OSError, ValueError):
        return []
    return [{"file": name, "lines": f["lines"], "run": f["lines"] - len(f["missing"]),
             "missing": ", ".join(spans(f["missing"]))} for name, f in sorted(files.items())]


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
                rows.sort(key=lambda r: not r["component"].startswith("target_app/"))  # the app's own first
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


def render_commit(commit: str, prev: str | None, artefacts: dict, before: dict | None,
                  tolerance: Tolerance = DEFAULT_TOLERANCE, lock: dict[str, str] | None = None,
                  lock_before: dict[str, str] | None = None, causes: list[str] = (),
                  accepted: list[str] = (), coverage: list[dict] = ()) -> str:
    """``lock``: the versions the commit ran with (its lock), ``lock_before``: the previous commit's; ``causes``
    and ``accepted``: the regressions listed here, one line a cause, and those accepted on purpose."""
    before = before or {kind: {} for kind in KINDS}
    moved = moved_operations(before, artefacts, tolerance) if prev else {}
    every = set(artefacts["sql"]) | set(artefacts["functions"]) | set(artefacts["phases"])
    return render("commit.html", title=f"Commit {commit[:8]}", active=PAGE, up="../", commit=commit, prev=prev,
                  before=before, after=artefacts, artefacts=artefacts, tolerance=tolerance, moved=moved,
                  quiet=sorted(every - set(moved)), did=sorted(set(artefacts["sql"]) | set(artefacts["functions"])),
                  shown=SHOWN, operation_page=operation_page, counted=lambda s: Counter(s).items(), lock=lock,
                  dependencies=lock_changes(lock_before, lock) if prev and lock and lock_before else [],
                  causes=causes, accepted=accepted, coverage=coverage,
                  covered=_percent(coverage))


def _percent(rows: list[dict]) -> str:
    total = sum(r["lines"] for r in rows)
    return f"{100 * sum(r['run'] for r in rows) / total:.1f}%" if total else ""


def add_pages(html_dir: Path, root: Path, machine: str, commits: list[str], listed: dict[str, int],
              tolerance: Tolerance = DEFAULT_TOLERANCE, causes: dict[str, list[str]] | None = None,
              accepted: dict[str, list[str]] | None = None) -> int:
    """Write a page for each of ``commits`` (in history order) that has artefacts, the list, and a page per
    operation; returns how many commit pages.

    ``listed``: commit -> how many regressions the regressions list has there; ``causes``: commit -> one line
    per cause of them; ``accepted``: commit -> one line per cause accepted on purpose there.
    """
    causes, accepted = causes or {}, accepted or {}
    folder = html_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rows, prev, before, lock_before, written = [], None, None, None, 0
    titles = commit_titles(root, commits)
    history: list[tuple[str, dict]] = []
    for commit in commits:
        artefacts = load_artefacts(root, machine, commit)
        if not any(artefacts.values()):
            continue
        history.append((commit, artefacts["phases"]))
        lock = lock_at(root, commit)
        (folder / f"{commit}.html").write_text(render_commit(commit, prev, artefacts, before, tolerance, lock,
                                                             lock_before, causes.get(commit, []),
                                                             accepted.get(commit, []),
                                                             load_coverage(root, machine, commit)))
        date, subject = titles.get(commit, ("", ""))
        rows.append({"commit": commit, "date": date, "subject": subject, "regressions": listed.get(commit, 0),
                     "moved": len(moved_operations(before, artefacts, tolerance)) if before else None,
                     "dependencies": lock_changes(lock_before, lock) if before and lock and lock_before else [],
                     "causes": causes.get(commit, []), "accepted": accepted.get(commit, [])})
        prev, before, lock_before, written = commit, artefacts, lock, written + 1
    operations = add_operation_pages(html_dir, history, titles)
    (html_dir / PAGE).write_text(render("commits.html", title="Commits", active=PAGE, rows=rows,
                                        operations=operations, commit_page=commit_page,
                                        operation_page=operation_page))
    link_from_asv_pages(html_dir, PAGE, "Commits", "nav-li-commits")
    return written


# One colour per phase, in benchmarks/phases.PHASES's order (a phase this
# list does not know is grey).
PHASE_COLOURS = {"set-up and routing": "#9e9e9e", "view": "#1f77b4", "password hashing": "#bcbd22",
                 "SQL compile": "#ff7f0e",
                 "driver execute": "#d62728", "row loading": "#2ca02c", "ORM flush": "#8c564b",
                 "template render": "#9467bd", "JSON encoding": "#e377c2", "after request and teardown": "#17becf"}


def stacked_history(name: str, history: list[tuple[str, dict]], titles: dict) -> dict:
    """One operation's phases as a stacked bar per commit (history order, oldest left), laid out for the
    operation page's SVG."""
    bars = [(commit, phases[name]) for commit, phases in history if isinstance(phases.get(name), dict)]
    order = list(PHASE_COLOURS) + sorted({p for _, ph in bars for p in ph} - set(PHASE_COLOURS))
    top = max([sum(max(v, 0) for v in ph.values()) for _, ph in bars] or [1]) or 1
    chart = {"width": max(300, 28 * len(bars) + 40), "height": 260, "bar": 20, "top": top, "bars": []}
    for i, (commit, phases) in enumerate(bars):
        date, subject = titles.get(commit, ("", ""))
        bar = {"commit": commit, "date": date, "subject": subject, "x": 40 + 28 * i, "phases": phases,
               "segments": []}
        y = chart["height"] - 20
        for phase in order:
            value = max(phases.get(phase, 0), 0)
            height = value / top * (chart["height"] - 40)
            if height > 0:
                y -= height
                bar["segments"].append({"phase": phase, "value": value, "y": y, "height": height,
                                        "colour": PHASE_COLOURS.get(phase, "#cccccc")})
        chart["bars"].append(bar)
    return chart


def add_operation_pages(html_dir: Path, history: list[tuple[str, dict]], titles: dict) -> list[str]:
    """Write ``operations/<operation>.html`` for each operation counted by phase; returns their names."""
    names = sorted({name for _, phases in history for name, v in phases.items() if isinstance(v, dict)})
    if not names:
        return []
    (html_dir / OPERATIONS_FOLDER).mkdir(parents=True, exist_ok=True)
    for name in names:
        (html_dir / operation_page(name)).write_text(render(
            "operation.html", title=f"{name} by phase", active=PAGE, up="../", name=name,
            chart=stacked_history(name, history, titles), colours=PHASE_COLOURS, commit_page=commit_page))
    return names
