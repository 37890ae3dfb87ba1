"""The site's "How far to trust it" page: what the latest calibration measured, per benchmark and per plant.

Made by ``publish`` from ``calibrate``'s reports in .asv/calibration
(report.json; sweep.json and layout.json when ``--sweep`` and ``--layout``
ran) and the rules of benchmarks/rules.toml.
"""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup

from scripts.judging.layout import LayoutReport
from scripts.judging.rules import Rules
from scripts.site import pages
from scripts.site.pages import link_from_asv_pages
from scripts.suite import INSTRUCTIONS, benchmark_name

PAGE = "trust.html"
CALIBRATION = Path(".asv") / "calibration"


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
    return pages.render(
        "trust.html", title="How far to trust it", active=PAGE, report=report,
        plants=_plants(report) if report else None, benchmarks=_benchmarks(report, rules) if report else None,
        sweep=_sweep(sweep) if sweep is not None else None,
        layout=_layout(layout, rules) if layout is not None else None)


def _plants(report: dict) -> dict:
    plants = report.get("plants", [])
    planted = [p for p in plants if p.get("expected")]
    noops = [p for p in plants if not p.get("expected")]
    rows = []
    for p in plants:
        if p.get("expected"):
            verdict = Markup("caught") if p.get("caught") else Markup("<b>missed</b>")
        else:
            verdict = Markup("<b>false alarm</b>") if p.get("false_alarm") else Markup("quiet")
        flagged = Markup(", ").join(Markup("<code>{}</code>").format(f) for f in p.get("gate_flagged", [])[:3])
        rows.append([p["key"], p["title"], Markup("<code>{}</code>").format(p["commit"]), verdict, flagged or "–"])
    return {"planted": len(planted), "caught": sum(bool(p.get("caught")) for p in planted), "noops": len(noops),
            "quiet": sum(not p.get("false_alarm") for p in noops), "rows": rows}


def _benchmarks(report: dict, rules: Rules) -> list[list]:
    shown: dict[str, list[str]] = {}
    for p in report.get("plants", []):
        if p.get("expected") and p.get("caught"):
            for ident in p.get("gate_flagged", []):
                shown.setdefault(ident, []).append(f"{p['key']}: {p['title']}")
    noise, worst = report.get("noise", {}), report.get("aa_min_ratio", {})
    return [[Markup("<code>{}</code>").format(ident), rules.describe(ident, benchmark_name(ident)),
             f"{noise[ident]:.1%}" if ident in noise else "–", f"×{worst[ident]:.2f}" if ident in worst else "–",
             "; ".join(shown.get(ident, [])) or "–"]
            for ident in sorted(set(noise) | set(shown))]


def _sweep(sweep: dict) -> list[list]:
    kinds: dict[str, list[int]] = {}
    for m in sweep.get("mutants", []):
        tally = kinds.setdefault(m["kind"], [0, 0])
        tally[0] += bool(m.get("caught"))
        tally[1] += 1
    return [[k, f"{c} of {n}"] for k, (c, n) in kinds.items()]


def _layout(report: dict, rules: Rules) -> dict:
    """``calibrate --layout``: each operation's largest instruction-count move under changes that leave its
    code path alone, beside the tolerance that judges it; and the phases that came nearest theirs."""
    rows = []
    name = INSTRUCTIONS
    for op in sorted(report.get("moves", {})):
        moves = {k: v for k, v in report["moves"][op].items() if op not in report.get("touches", {}).get(k, [])}
        if not moves:
            continue
        kind = max(moves, key=lambda k: abs(moves[k]))
        tolerance = rules.counter(f"{name}('{op}')", name).relative
        rows.append([Markup("<code>{}</code>").format(op), f"{report.get('base_counts', {}).get(op, 0):,.0f}",
                     f"{moves[kind]:+.2%}", kind, f"{tolerance:.1%}"])
    tolerance = rules.components()
    phases = [[Markup("<code>{}</code>").format(key), f"{before:,.0f}",
               f"{move:+,.0f}" + (f" ({move / before:+.2%})" if before else ""), kind]
              for key, kind, before, move in LayoutReport(**report).largest_phase_moves(tolerance)]
    return {"base": report.get("base", "")[:8], "rows": rows, "phases": phases,
            "phase_tolerance": f"{tolerance.relative:.1%} + {tolerance.absolute:,.0f} instructions",
            "kinds": sorted({k for moves in report.get("moves", {}).values() for k in moves}),
            "flagged": sum(len(v) for v in report.get("flagged", {}).values())}


def add_page(html_dir: Path, root: Path, rules: Rules) -> None:
    """Write the page into the site and link it from every page's navigation."""
    (html_dir / PAGE).write_text(render(root, rules))
    link_from_asv_pages(html_dir, PAGE, "How far to trust it", "nav-li-trust")
