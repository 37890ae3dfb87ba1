"""The site's "How far to trust it" page: what the latest calibration measured, per benchmark and per plant.

Made by ``publish`` from ``calibrate``'s reports in .asv/calibration
(report.json; sweep.json and layout.json when ``--sweep`` and ``--layout``
ran) and the rules of benchmarks/rules.toml.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from scripts.ids import benchmark_name
from scripts.pages import code, link_from_asv_pages, nav_item, page, table
from scripts.rules import Rules

PAGE = "trust.html"
CALIBRATION = Path(".asv") / "calibration"
NAV_ITEM = nav_item(PAGE, "How far to trust it", "nav-li-trust")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def render(root: Path, rules: Rules) -> str:
    """The page's HTML for the repository at ``root``."""
    report = _read(root / CALIBRATION / "report.json")
    sweep = _read(root / CALIBRATION / "sweep.json")
    layout = _read(root / CALIBRATION / "layout.json")
    parts = ["<h1>How far to trust each graph</h1>"]
    if report is None:
        parts.append("<p>No calibration exists for this history yet. <code>python3 -m scripts calibrate</code> "
                     "plants known regressions, proves which benchmarks catch them, and measures how much each "
                     "timing moves on identical code; this page then shows what it found.</p>")
    else:
        parts.append(_plants(report))
        parts.append(_benchmarks(report, rules))
    if sweep is not None:
        parts.append(_sweep(sweep))
    if layout is not None:
        parts.append(_layout(layout, rules))
    parts.append("<p>Counters (statements, connections, bytes) and instruction counts are exact or nearly so; "
                 "timings on a shared machine move by tens of percent on identical code, so their graphs show only "
                 "large changes. The rules that judge each benchmark are in <code>benchmarks/rules.toml</code>.</p>")
    parts.append("<h2>Across machines</h2><p>A history measured in shards on several runners "
                 "(<code>history --shard K/N</code>, merged with <code>merge</code>) keeps one machine name. Its "
                 "counters and instruction counts are comparable from commit to commit, whichever runner measured "
                 "them. Its timings are not: different runners differ by more than the steps these graphs look "
                 "for, so read a sharded history's timing graphs as a single-runner signal. The pull-request gate "
                 "never compares timings across machines: it measures base and head on one runner.</p>")
    return page("How far to trust it", PAGE, "\n".join(parts))


def _plants(report: dict) -> str:
    plants = report.get("plants", [])
    planted = [p for p in plants if p.get("expected")]
    caught = sum(bool(p.get("caught")) for p in planted)
    noops = [p for p in plants if not p.get("expected")]
    quiet = sum(not p.get("false_alarm") for p in noops)
    rows = []
    for p in plants:
        if p.get("expected"):
            verdict = "caught" if p.get("caught") else "<b>missed</b>"
        else:
            verdict = "<b>false alarm</b>" if p.get("false_alarm") else "quiet"
        flagged = ", ".join(code(f) for f in p.get("gate_flagged", [])[:3])
        rows.append([html.escape(p["key"]), html.escape(p["title"]), code(p["commit"]), verdict, flagged or "–"])
    return (f"<h2>Planted regressions</h2><p>The latest calibration ({report.get('wall_seconds', 0) / 60:.0f} min) "
            f"caught {caught} of {len(planted)} planted regressions, and {quiet} of {len(noops)} no-op commits "
            f"stayed quiet; {len(report.get('aa_false_positives', []))} false alarms in "
            f"{report.get('aa_pairs', 0)} same-code (A/A) pairs.</p>"
            + table(["Plant", "What", "Commit", "Gate", "Flagged by"], rows))


def _benchmarks(report: dict, rules: Rules) -> str:
    shown: dict[str, list[str]] = {}
    for p in report.get("plants", []):
        if p.get("expected") and p.get("caught"):
            for ident in p.get("gate_flagged", []):
                shown.setdefault(ident, []).append(f"{p['key']}: {p['title']}")
    noise, worst = report.get("noise", {}), report.get("aa_min_ratio", {})
    rows = []
    for ident in sorted(set(noise) | set(shown)):
        name = benchmark_name(ident)
        floor = f"{noise[ident]:.1%}" if ident in noise else "–"
        moved = f"×{worst[ident]:.2f}" if ident in worst else "–"
        caught = "; ".join(html.escape(s) for s in shown.get(ident, [])) or "–"
        rows.append([code(ident), html.escape(rules.describe(ident, name)), floor, moved, caught])
    return ("<h2>Per benchmark</h2><p>Noise floor: the median IQR/median of its samples over the A/A runs. "
            "Same-code move: the largest ratio of its fastest samples between two A/A runs. Shown to catch: "
            "the planted regressions it flagged.</p>"
            + table(["Benchmark", "Rule", "Noise floor", "Same-code move", "Shown to catch"], rows))


def _sweep(sweep: dict) -> str:
    kinds: dict[str, list[int]] = {}
    for m in sweep.get("mutants", []):
        tally = kinds.setdefault(m["kind"], [0, 0])
        tally[0] += bool(m.get("caught"))
        tally[1] += 1
    rows = [[html.escape(k), f"{c} of {n}"] for k, (c, n) in kinds.items()]
    return ("<h2>Mutation sweep</h2><p>Mutants planted automatically in every route's view "
            "(<code>calibrate --sweep</code>), judged by the counters and instruction counts.</p>"
            + table(["Mutant", "Caught"], rows))


def _layout(report: dict, rules: Rules) -> str:
    """``calibrate --layout``: each operation's largest instruction-count move under changes that leave its
    code path alone, beside the tolerance that judges it."""
    rows = []
    name = "bench_instructions.Instructions.track_instructions"
    for op in sorted(report.get("moves", {})):
        moves = {k: v for k, v in report["moves"][op].items() if op not in report.get("touches", {}).get(k, [])}
        if not moves:
            continue
        kind = max(moves, key=lambda k: abs(moves[k]))
        tolerance = rules.counter(f"{name}('{op}')", name).relative
        rows.append([code(op), f"{report.get('base_counts', {}).get(op, 0):,.0f}", f"{moves[kind]:+.2%}",
                     html.escape(kind), f"{tolerance:.1%}"])
    kinds = sorted({k for moves in report.get("moves", {}).values() for k in moves})
    flagged = sum(len(v) for v in report.get("flagged", {}).values())
    return (f"<h2>Layout no-ops</h2><p><code>calibrate --layout</code> at {code(report.get('base', '')[:8])}: "
            f"{len(kinds)} kinds of change that leave every operation's code path alone "
            f"({html.escape(', '.join(kinds))}). The gate flagged {flagged} benchmark(s) across them. "
            "Largest move: the largest change of an operation's instruction count under any of them.</p>"
            + table(["Operation", "Instructions", "Largest move", "Kind", "Tolerance"], rows))


def add_page(html_dir: Path, root: Path, rules: Rules) -> None:
    """Write the page into the site and link it from every page's navigation."""
    (html_dir / PAGE).write_text(render(root, rules))
    link_from_asv_pages(html_dir, PAGE, "How far to trust it", "nav-li-trust")
