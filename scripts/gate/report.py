"""The verdict as a pull-request comment (Markdown) and as data (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.coverage import uncovered_summary
from scripts.judging.causes import group, statements_per_operation
from scripts.judging.differences import to_markdown as explanation
from scripts.judging.values import fmt
from scripts.judging.verdict import Finding, Verdict


def graph_link(site_url: str, f: Finding) -> str:
    if not site_url:
        return ""
    return f"[graph]({site_url.rstrip('/')}/#{f.benchmark})"


# GitHub refuses a comment over 65,536 characters; the workflow adds a few lines of its own.
LIMIT = 60_000
ROWS = 25  # a group's table shows this many rows; the rest are in the JSON
MARK = {"regressed": "🔴", "improved": "🟢", "fixed": "🟢", "accepted": "🟡", "moved": "⚪"}


def _row(f: Finding, site_url: str) -> str:
    note = f.note
    if f.kind == "time" and f.ratio is not None:
        sig = {True: "significant", False: "not significant", None: "no stats"}[f.significant]
        note = "; ".join(x for x in (f"fastest ×{f.min_ratio:.2f}" if f.min_ratio else "", sig, note) if x)
    ratio = f"{f.ratio:.3g}" if f.ratio is not None else "–"
    return (f"| {MARK.get(f.status, '')} | `{f.id}` | {fmt(f.before, f.unit)} | {fmt(f.after, f.unit)} | "
            f"{ratio} | {note.replace('|', chr(92) + '|')} | {graph_link(site_url, f)} |")


TABLE = ["| | Benchmark | Before | After | Ratio | Note | |", "|---|---|---|---|---|---|---|"]


def _group_section(title: str, g, site_url: str) -> list[str]:
    """One cause: its line, one table of its findings, one explanation."""
    rows = sorted(g.items, key=lambda f: (f.status != "regressed", -(f.ratio or 0)))
    lines = [f"### {title}", "", g.summary(), "", *TABLE, *[_row(f, site_url) for f in rows[:ROWS]]]
    if len(rows) > ROWS:
        lines.append(f"| | … and {len(rows) - ROWS} more of this cause (the JSON has them all) | | | | | |")
    lines.append("")
    explained = next((f for f in rows if f.status == "regressed" and f.explanation), None)
    if explained:
        others = sum(1 for f in rows if f.status == "regressed" and f.explanation) - 1
        also = f" (one explanation for the cause; {others} more in the JSON)" if others > 0 else ""
        lines += [f"<details><summary>Why: <code>{explained.id}</code>{also}</summary>", "",
                  explanation(explained.id, explained.explanation), "</details>", ""]
    return lines


def to_markdown(v: Verdict, site_url: str = "", limit: int = LIMIT) -> str:
    """The comment: the verdict and one line per cause first, then one section per cause while they fit in
    ``limit`` characters (the JSON and the site have everything)."""
    statements = statements_per_operation(v.findings)
    regressed = group([f for f in v.findings if f.status == "regressed" and f.after is not None], statements)
    causes = f" from {len(regressed)} cause{'s' if len(regressed) != 1 else ''}" if regressed else ""
    head = [f"## {v.headline}{causes}", ""]
    if regressed:
        head += ["### Causes", ""]
        head += [f"{n}. 🔴 {g.summary()}" for n, g in enumerate(regressed, 1)] + [""]
    if v.dependencies:
        head += ["Dependencies changed (each side ran with its own lock): " + "; ".join(v.dependencies) + ".", ""]
    if v.uncovered:
        head += [uncovered_summary(v.uncovered) + ".", ""]
    head.append(f"Base `{v.base[:8]}` → head `{v.head[:8]}`; timings must be slower by more than "
                f"×{v.factor:g} and statistically significant; counters by more than their tolerance.")
    head.append("")
    if v.reason:
        head += [f"**Reason:** {v.reason}", ""]
    accepted = group(v.accepted, statements)
    improved = group([f for f in v.improvements if f.ratio is not None], statements)
    moved = [f for f in v.findings if f.status == "moved"]
    failed = [f for f in v.findings if f.status in ("failed", "missing") or
              (f.status == "regressed" and f.after is None)]
    if accepted:
        head += ["### Accepted on purpose", ""]
        head += [f"- 🟡 {g.summary()}: {g.items[0].note}" for g in accepted] + [""]
    if improved:
        head += ["### Improvements", ""]
        head += [f"- 🟢 {g.summary()}" for g in improved] + [""]
    if v.ledger:
        head += [f"### Ledger of accepted costs since `{v.ledger_baseline}`", "",
                 "| | Benchmark | At the baseline | At the head | Since the baseline | Ledger budget |",
                 "|---|---|---|---|---|---|",
                 *[f"| {'🔴' if x.over else '🟡'} | `{x.id}` | {x.baseline:,.0f} | {x.head:,.0f} | {x.change:+.1%} | "
                   f"{x.budget}: {x.relative:+.0%} |" for x in v.ledger], ""]
    if moved:
        head += [f"⚪ {len(moved)} phase(s) rose while their operation as a whole improved: cost moved between "
                 "phases, not a regression (" + ", ".join(f"`{f.id}`" for f in moved[:5])
                 + (", …" if len(moved) > 5 else "") + ").", ""]
    sections = [_group_section(f"Cause {n}", g, site_url) for n, g in enumerate(regressed, 1)]
    sections += [_group_section(f"Accepted {n}", g, site_url) for n, g in enumerate(accepted, 1)]
    sections += [_group_section(f"Improvement {n}", g, site_url) for n, g in enumerate(improved, 1)]
    if failed:
        sections.append(["### Failures", "", *[f"- `{f.id}`: {f.note or f.status}" for f in failed], ""])
    if v.budgets:
        sections.append(["### Budget violations", "", "| Budget | Benchmark | Value | Limit | Enforced |",
                         "|---|---|---|---|---|",
                         *[f"| {b.name} | `{b.benchmark}` | {b.value:.4g} | {b.limit} | "
                           f"{'yes' if b.enforce else 'no'} |" for b in v.budgets], ""])
    noisy = [f for f in v.findings if f.noise]
    if noisy:
        sections.append([f"<details><summary>{len(noisy)} timing(s) or track(s) worse beyond the factor, judged "
                         "noise</summary>", "", *[f"- `{f.id}`: ×{f.ratio:.2f}: {f.note}" for f in noisy], "",
                         "</details>", ""])
    compared = sum(1 for f in v.findings if f.status not in ("new", "missing"))
    footer = f"<sub>{compared} measurements compared. Exit status {v.exit_code}.</sub>"
    lines, size = list(head), sum(len(x) + 1 for x in head) + len(footer) + 200
    for n, section in enumerate(sections):
        cost = sum(len(x) + 1 for x in section)
        if size + cost > limit:
            lines += [f"*{len(sections) - n} more section(s) left out to stay under GitHub's comment limit: "
                      "the verdict's JSON (`--json`) and the site have them all.*", ""]
            break
        lines += section
        size += cost
    lines.append(footer)
    return "\n".join(lines) + "\n"


def write_outputs(v: Verdict, markdown_path: Path | None, json_path: Path | None, site_url: str = "") -> str:
    md = to_markdown(v, site_url)
    if markdown_path:
        markdown_path.write_text(md)
    if json_path:
        json_path.write_text(json.dumps(v.to_json(), indent=2, default=str) + "\n")
    return md
