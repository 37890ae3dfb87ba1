"""The calibration's report: Markdown, JSON and an SVG plot of each timing's noise floor."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class PlantCheck:
    key: str
    title: str
    commit: str
    expected: list[str]
    gate_exit: int
    gate_flagged: list[str]
    site_flagged: list[str]
    bisect: str | None = None
    caught: bool = False
    at_exact_commit: bool = False
    false_alarm: bool = False
    listed: list[str] = field(default_factory=list)  # the history's regressions list at this commit
    listed_at_commit: bool = False


@dataclass
class Report:
    factor: float
    wall_seconds: float = 0.0
    plants: list[PlantCheck] = field(default_factory=list)
    aa_pairs: int = 0
    aa_false_positives: list[str] = field(default_factory=list)
    noise: dict[str, float] = field(default_factory=dict)  # benchmark id -> IQR/median (median over runs)
    aa_min_ratio: dict[str, float] = field(default_factory=dict)  # id -> worst fastest-sample ratio in A/A
    smallest_cpu_caught: str = ""
    suggested_factors: dict[str, float] = field(default_factory=dict)
    rejudged: dict[str, dict] = field(default_factory=dict)  # plant key -> verdict with suggested factors


def svg_plot(noise: dict[str, float], path: Path) -> None:
    """A horizontal bar chart of IQR/median per timing, with the 3% target line."""
    items = sorted(noise.items(), key=lambda kv: -kv[1])
    width, bar_h, left = 900, 18, 420
    height = 40 + bar_h * len(items)
    scale = (width - left - 60) / max([0.3] + [v for _, v in items])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           'font-size="11">', '<text x="10" y="16" font-size="13">Noise floor: IQR/median per timing '
           '(A/A runs; red line = 3%)</text>']
    for i, (name, value) in enumerate(items):
        y = 30 + i * bar_h
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{name[-60:]}</text>')
        out.append(f'<rect x="{left}" y="{y + 2}" width="{value * scale:.1f}" height="{bar_h - 5}" '
                   f'fill="{"#c0392b" if value > 0.03 else "#2e86c1"}"/>')
        out.append(f'<text x="{left + value * scale + 4:.1f}" y="{y + 12}">{value:.1%}</text>')
    x = left + 0.03 * scale
    out.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height}" stroke="red" stroke-dasharray="3,3"/>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def to_markdown(r: Report) -> str:
    lines = ["# Detection report", "",
             f"Factor x{r.factor:g} (per-benchmark factors from benchmarks/rules.toml), "
             f"wall time {r.wall_seconds / 60:.1f} min.", "",
             "| Plant | What | Commit | Gate exit | Caught by gate | Site flags it at that commit | "
             "`regressions` lists it there | asv find | Flagged |", "|---|---|---|---|---|---|---|---|---|"]
    for p in r.plants:
        if p.expected:
            caught, exact = ("yes" if p.caught else "**no**"), ("yes" if p.at_exact_commit else "**no**")
            listed = "yes" if p.listed_at_commit else "**no**"
        else:
            caught = "false alarm" if p.false_alarm else (
                "undecided (ok: fails on both sides)" if p.gate_exit == 2 else "quiet (ok)")
            exact = ", ".join(p.site_flagged) or "-"
            listed = ", ".join(f"**{i}**" for i in p.listed) or "-"
        flagged = ", ".join(f"`{f}`" for f in p.gate_flagged[:4]) + (" ..." if len(p.gate_flagged) > 4 else "")
        lines.append(f"| {p.key} | {p.title} | `{p.commit}` | {p.gate_exit} | {caught} | {exact} | {listed} | "
                     f"{p.bisect or '-'} | {flagged or '-'} |")
    fps = [p for p in r.plants if not p.expected and p.false_alarm]
    planted = [p for p in r.plants if p.expected]
    quiet_noops = [p for p in r.plants if not p.expected and not p.listed]
    lines += ["", f"**Regressions list:** {sum(p.listed_at_commit for p in planted)} of {len(planted)} plants "
              f"listed at their commit; {len(quiet_noops)} of {len(r.plants) - len(planted)} no-ops list nothing."]
    lines += ["", f"**False positives:** {len(r.aa_false_positives)} in {r.aa_pairs} A/A pairs, "
              f"{len(fps)} among the no-op commits.", ""]
    for fp in r.aa_false_positives:
        lines.append(f"- A/A {fp}")
    if r.rejudged:
        lines += ["", "## With per-benchmark factors from this A/A", "",
                  "The same results judged again with the factors below (no new runs):", "",
                  "| Plant | Gate exit | Result | Flagged |", "|---|---|---|---|"]
        for key, v in r.rejudged.items():
            result = ("caught" if v["caught"] else "**missed**") if key[:4] != "noop" else (
                "**false alarm**" if v["false_alarm"] else "quiet (ok)")
            flagged = ", ".join(f"`{f}`" for f in v["flagged"][:4]) + (" ..." if len(v["flagged"]) > 4 else "")
            lines.append(f"| {key} | {v['exit']} | {result} | {flagged or '-'} |")
        if r.suggested_factors:
            lines += ["", "Suggested `benchmarks/rules.toml` factors:", "", "```toml", "[timing]"]
            lines += [f'"{k}" = {v}' for k, v in r.suggested_factors.items()]
            lines += ["```"]
    lines += ["", f"**Smallest CPU slowdown caught reliably:** {r.smallest_cpu_caught}", "",
              "## Noise floor (IQR/median, median over the A/A runs)", "", "| Benchmark | IQR/median | "
              "worst fastest-sample ratio, A/A |", "|---|---|---|"]
    for name, value in sorted(r.noise.items(), key=lambda kv: -kv[1]):
        worst = r.aa_min_ratio.get(name)
        lines.append(f"| `{name}` | {value:.1%} | {f'x{worst:.3f}' if worst else '-'} |")
    return "\n".join(lines) + "\n"


def write_report(r: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(to_markdown(r))
    (out / "report.json").write_text(json.dumps(asdict(r), indent=2) + "\n")
    if r.noise:
        svg_plot(r.noise, out / "noise.svg")
