"""The site's page per commit, made from the artefacts history keeps (benchmarks/counting/artefacts.py)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.counting import artefacts
from scripts.site.commits import PAGE, add_pages, function_changes, operation_page, sql_changes
from scripts.suite import ARTEFACTS_DIR, ARTEFACTS_VARIABLE

SELECT_USER = "SELECT users.id FROM users WHERE users.id = ?"
SELECT_SETTINGS = "SELECT settings.key FROM settings WHERE settings.user_id = ?"


def _keep(root: Path, commit: str, sql: dict, functions: dict, **kinds: dict) -> None:
    folder = root / ARTEFACTS_DIR / "vm" / commit
    folder.mkdir(parents=True)
    (folder / "sql.json").write_text(json.dumps(sql))
    (folder / "functions.json").write_text(json.dumps(functions))
    for kind, value in kinds.items():
        (folder / f"{kind}.json").write_text(json.dumps(value))


def test_the_suite_and_the_scripts_agree_on_the_variable():
    assert artefacts.VARIABLE == ARTEFACTS_VARIABLE


def test_artefacts_are_kept_only_when_history_names_a_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(artefacts.VARIABLE, raising=False)
    artefacts.keep_statements("GET /", ["SELECT 1"])
    artefacts.write()
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(artefacts.VARIABLE, str(tmp_path / "c1"))
    artefacts.keep_statements("GET /", ["SELECT  users.id\n FROM users WHERE users.id IN (?, ?, ?)"])
    artefacts.write()
    artefacts.keep("functions", "GET /", {"self": [["builtin_sum", 5]]})
    artefacts.write()  # a second kind joins the first; nothing kept twice
    assert json.loads((tmp_path / "c1" / "sql.json").read_text()) == {
        "GET /": ["SELECT users.id FROM users WHERE users.id IN (?...)"]}
    assert json.loads((tmp_path / "c1" / "functions.json").read_text()) == {"GET /": {"self": [["builtin_sum", 5]]}}


def test_the_statement_counter_keeps_what_it_counts():
    from sqlalchemy import create_engine, text

    from benchmarks.common import StatementCounter

    engine = create_engine("sqlite://")
    with engine.connect() as conn, StatementCounter(engine) as counter:
        conn.execute(text("SELECT 1"))
        conn.execute(text("SELECT 2"))
    assert counter.count == 2 and counter.statements == ["SELECT 1", "SELECT 2"]


def test_changes_name_the_added_statements_and_the_functions_that_cost_more():
    before = {"GET /": [SELECT_USER], "GET /healthz": []}
    after = {"GET /": [SELECT_USER] + [SELECT_SETTINGS] * 20, "GET /healthz": []}
    assert sql_changes(before, after) == {"GET /": [(20, SELECT_SETTINGS)]}
    f_before = {"GET /": {"self": [["_PyEval_EvalFrameDefault", 900], ["sqlite3VdbeExec", 100]]}}
    f_after = {"GET /": {"self": [["_PyEval_EvalFrameDefault", 900], ["sqlite3VdbeExec", 400], ["builtin_sum", 50]]}}
    assert function_changes(f_before, f_after) == {"GET /": [("sqlite3VdbeExec", 100, 400),
                                                             ("builtin_sum", None, 50)]}


def test_a_page_per_commit_shows_what_changed_there_and_the_list_links_them(tmp_path):
    root, html_dir = tmp_path, tmp_path / "html"
    html_dir.mkdir()
    (html_dir / "index.html").write_text('<ul>\n\t<li id="nav-li-regressions"><a href="#/regressions">R</a></li>\n'
                                         '</ul>\n')
    functions = {"GET /": {"self": [["sqlite3VdbeExec", 100]], "inclusive": [["main", 1000]]}}
    _keep(root, "a" * 40, {"GET /": [SELECT_USER]}, functions)
    _keep(root, "b" * 40, {"GET /": [SELECT_USER] + [SELECT_SETTINGS] * 20},
          {"GET /": {"self": [["sqlite3VdbeExec", 400]], "inclusive": [["main", 4000]]}})
    written = add_pages(html_dir, root, "vm", ["a" * 40, "c" * 40, "b" * 40], {"b" * 40: 2})
    assert written == 2  # c was never measured: no page
    page = (html_dir / "commits" / f"{'b' * 40}.html").read_text()
    assert f"Changed since <code>{'a' * 8}</code>" in page
    assert f"<code>+20 × {SELECT_SETTINGS}</code>" in page
    assert "Statements 1 → 21:" in page
    assert "<td><code>sqlite3VdbeExec</code></td><td>100</td><td>400</td>" in page
    assert 'href="../vendor/css/bootstrap.min.css"' in page
    first = (html_dir / "commits" / f"{'a' * 40}.html").read_text()
    assert "The first measured commit" in first
    listing = (html_dir / PAGE).read_text()
    assert f'<a href="commits/{"b" * 40}.html">' in listing and "<b>2</b>" in listing
    assert listing.index("a" * 8) < listing.index("b" * 8)
    assert 'id="nav-li-commits"' in (html_dir / "index.html").read_text()


def _phases(render: float) -> dict:
    return {"set-up and routing": 1_900_000, "view": 2_300_000, "template render": render}


def test_a_commit_page_leads_with_the_operation_that_moved_and_folds_the_rest_into_one_line(tmp_path):
    root, html_dir = tmp_path, tmp_path / "html"
    html_dir.mkdir()
    steady = {"GET /healthz": {"set-up and routing": 1_866_000, "view": 271_000}}
    for commit, render, settings in (("a" * 40, 1_390_000, 904_000), ("b" * 40, 1_496_000, 904_900)):
        _keep(root, commit, {"GET /": [SELECT_USER], "GET /healthz": []}, {},
              phases={"GET /": _phases(render), "GET /api/settings": {"view": settings}, **steady},
              python_functions={"GET /": {"target_app/main.py:index": 6_025_000 + render}})
    add_pages(html_dir, root, "vm", ["a" * 40, "b" * 40], {})
    page = (html_dir / "commits" / f"{'b' * 40}.html").read_text()
    moved = page[page.index("Changed since"):page.index("other operation(s)")]
    assert '<a href="../operations/GET.html">GET /</a>' in moved
    assert "<td>template render</td><td>1,390,000</td><td>1,496,000</td><td>+106,000 (+7.6%)</td>" in moved
    assert "<code>target_app/main.py:index</code>" in moved
    # /api/settings moved 900 instructions, within 1% + 2000; /healthz not at all: one folded line.
    assert "GET /api/settings" not in moved and "GET /healthz" not in moved
    assert "2 other operation(s): nothing moved beyond its tolerance" in page
    operation = (html_dir / operation_page("GET /")).read_text()
    assert operation.count('fill="#9467bd"') == 2  # the render, one bar per commit
    assert f'href="../commits/{"b" * 40}.html"' in operation
    assert f'href="{operation_page("GET /")}"' in (html_dir / PAGE).read_text()


def test_the_pages_escape_what_they_show(tmp_path):
    root, html_dir = tmp_path, tmp_path / "html"
    html_dir.mkdir()
    evil = "GET /<script>alert(1)</script>"
    for commit, n in (("a" * 40, 1_000_000), ("b" * 40, 1_100_000)):
        _keep(root, commit, {evil: [f"SELECT '<b>{n}</b>'"]}, {}, phases={evil: {"view": n}})
    add_pages(html_dir, root, "vm", ["a" * 40, "b" * 40], {})
    for path in [html_dir / "commits" / f"{'b' * 40}.html", html_dir / operation_page(evil), html_dir / PAGE]:
        text = path.read_text()
        assert "<script>" not in text and "&lt;script&gt;" in text, path
    assert "&lt;b&gt;1100000&lt;/b&gt;" in (html_dir / "commits" / f"{'b' * 40}.html").read_text()
