"""The site's "How far to trust it" page, made from calibrate's report."""

from __future__ import annotations

import json

from tests_helpers import ROOT

from scripts.judging.rules import load_rules
from scripts.site.trust import PAGE, add_page, render

RULES = load_rules(ROOT)


def test_without_a_calibration_the_page_says_so(tmp_path):
    page = render(tmp_path, RULES)
    assert "No calibration exists for this history yet" in page


def test_the_page_says_what_is_comparable_across_a_sharded_history(tmp_path):
    page = render(tmp_path, RULES)
    assert "counters and instruction counts are comparable" in page
    assert "read a sharded history's timing graphs as a single-runner signal" in page


def test_the_page_shows_plants_noise_factors_and_what_each_benchmark_caught(tmp_path):
    folder = tmp_path / ".asv" / "calibration"
    folder.mkdir(parents=True)
    home = "bench_pages.HomePage.time_homepage"
    (folder / "report.json").write_text(json.dumps({
        "wall_seconds": 1656, "aa_pairs": 3, "aa_false_positives": [],
        "plants": [{"key": "a", "title": "homepage renders ~10% slower (CPU)", "commit": "b9ffa73a",
                    "expected": ["x"], "caught": True, "gate_flagged": [home, "x.y('GET /')"]},
                   {"key": "noop1", "title": "no-op #1", "commit": "42f4f20d", "expected": [], "caught": False,
                    "false_alarm": False, "gate_flagged": []}],
        "noise": {home: 0.052}, "aa_min_ratio": {home: 1.31}}))
    (folder / "sweep.json").write_text(json.dumps({"mutants": [{"kind": "cpu", "caught": True},
                                                               {"kind": "cpu", "caught": False}]}))
    page = render(tmp_path, RULES)
    assert "caught 1 of 1 planted regressions, and 1 of 1 no-op commits stayed quiet" in page
    factor = RULES.factor(home, home)  # as benchmarks/rules.toml has it today
    assert f"<td><code>{home}</code></td><td>slower than x{factor:g}, significant, confirmed</td><td>5.2%</td>" in page
    assert "a: homepage renders ~10% slower (CPU)" in page
    assert "<td>cpu</td><td>1 of 2</td>" in page


def test_every_page_with_asvs_navigation_links_to_it(tmp_path):
    html_dir = tmp_path / "html"
    html_dir.mkdir()
    (html_dir / "index.html").write_text('<ul>\n\t<li id="nav-li-regressions"><a href="#/regressions">R</a></li>\n'
                                         '</ul>\n')
    (html_dir / "other.html").write_text("<p>no navigation</p>\n")
    add_page(html_dir, tmp_path, RULES)
    add_page(html_dir, tmp_path, RULES)  # publishing again adds no second link
    index = (html_dir / "index.html").read_text()
    assert index.count('id="nav-li-trust"') == 1
    assert index.index("nav-li-regressions") < index.index("nav-li-trust")
    assert (html_dir / PAGE).exists()
    assert "nav-li-trust" not in (html_dir / "other.html").read_text()


def test_the_layout_no_ops_show_each_operation_and_the_phases_nearest_their_tolerance(tmp_path):
    folder = tmp_path / ".asv" / "calibration"
    folder.mkdir(parents=True)
    (folder / "layout.json").write_text(json.dumps({
        "base": "8389276d" + "0" * 32, "wall_seconds": 600, "base_counts": {"GET /": 7_768_312},
        "moves": {"GET /": {"clone_path": -0.0006, "unused_module": 0.0002}}, "flagged": {"clone_path": []},
        "touches": {}, "phase_moves": {"bulk_insert_orm, driver execute": {"clone_path": [4_592_778, 31_298]},
                                       "GET /, view": {"env_size": [2_277_000, -500]}}}))
    page = render(tmp_path, RULES)
    assert "<td><code>GET /</code></td><td>7,768,312</td><td>-0.06%</td><td>clone_path</td>" in page
    assert "By phase, the moves that came nearest their tolerance (1.0% + 2,000 instructions)" in page
    rows = page[page.index("By phase, the moves"):]
    assert rows.index("bulk_insert_orm, driver execute") < rows.index("GET /, view")
    assert "+31,298 (+0.68%)" in rows
