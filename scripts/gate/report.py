"""The verdict as a pull-request comment (Markdown) and as data (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.explain import to_markdown as explanation
from scripts.gate.verdict import Finding, Verdict
from scripts.ids import BenchmarkId, is_nan

# The benchmarks whose parameters are an operation and one of its phases, or one of target_app's functions
# over every operation (benchmarks/bench_phases.py).
PHASES = "bench_phases.Phases.track_phase_instructions"
FUNCTIONS = "bench_phases.Functions.track_function_instructions"


def _fmt(value, unit: str) -> str:
    if value is None:
        return "failed"
    if is_nan(value):
        return "n/a"
    if unit in ("seconds", ""):
        if unit == "seconds":
            for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
                if abs(value) >= scale:
                    return f"{value / scale:.3g} {suffix}"
            return f"{value:.3g} s"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3g} {unit}".strip()
    return f"{value:,.0f} {unit}".strip()


def graph_link(site_url: str, f: Finding) -> str:
    if not site_url:
        return ""
    return f"[graph]({site_url.rstrip('/')}/#{f.benchmark})"


def component(f: Finding) -> str | None:
    """"template render of `GET /` +4.1%" for a phase's finding, "`target_app/api.py:settings` +5.0%" for a
    function's; None for any other."""
    ident = BenchmarkId.parse(f.id)
    if ident.name not in (PHASES, FUNCTIONS) or f.before is None or f.after is None:
        return None
    change = f"{(f.after - f.before) / f.before:+.1%}" if f.before else f"{f.after - f.before:+,.0f} instructions"
    if ident.name == FUNCTIONS:
        return f"`{ident.params.strip(chr(39))}` {change}"
    operation, _, phase = ident.params.partition(", ")
    return f"{phase.strip(chr(39))} of `{operation.strip(chr(39))}` {change}"


def to_markdown(v: Verdict, site_url: str = "") -> str:
    lines = [f"## {v.headline}", ""]
    if v.dependencies:
        lines += ["Dependencies changed (each side ran with its own lock): " + "; ".join(v.dependencies) + ".", ""]
    named = [c for f in v.regressions if (c := component(f))]
    if named:
        lines += ["Where, in the app's terms: " + "; ".join(named) + ".", ""]
    lines.append(f"Base `{v.base[:8]}` → head `{v.head[:8]}`; timings must be slower by more than "
                 f"×{v.factor:g} and statistically significant; counters by more than their tolerance.")
    lines.append("")
    if v.reason:
        lines += [f"**Reason:** {v.reason}", ""]
    changed = [f for f in v.findings if f.status in ("regressed", "improved") and f.ratio is not None]
    timing = [f for f in changed if f.kind in ("time", "track")]
    counters = [f for f in changed if f.kind in ("counter", "rate")]
    failed = [f for f in v.findings if f.status in ("failed", "missing") or
              (f.status == "regressed" and f.after is None)]
    if timing:
        lines += ["### Timings that changed", "",
                  "| | Benchmark | Before | After | Ratio | Fastest ratio | Significant | |",
                  "|---|---|---|---|---|---|---|---|"]
        for f in sorted(timing, key=lambda f: -(f.ratio or 0)):
            mark = "🔴" if f.status == "regressed" else "🟢"
            sig = {True: "yes", False: "no", None: "no stats"}[f.significant]
            fastest = f"{f.min_ratio:.2f}" if f.min_ratio else "–"
            lines.append(f"| {mark} | `{f.id}` | {_fmt(f.before, f.unit)} | {_fmt(f.after, f.unit)} | "
                         f"{f.ratio:.2f} | {fastest} | {sig} | {graph_link(site_url, f)} |")
        lines.append("")
    if counters:
        lines += ["### Counters that changed", "",
                  "| | Counter | Before | After | Ratio | |", "|---|---|---|---|---|---|"]
        for f in sorted(counters, key=lambda f: -(f.ratio or 0)):
            mark = "🔴" if f.status == "regressed" else "🟢"
            lines.append(f"| {mark} | `{f.id}` | {_fmt(f.before, f.unit)} | {_fmt(f.after, f.unit)} | "
                         f"{f.ratio:.2f} | {graph_link(site_url, f)} |")
        lines.append("")
    explained = [f for f in v.findings if f.status == "regressed" and f.explanation]
    if explained:
        lines += ["### Why", ""]
        for f in explained:
            lines += [f"<details><summary><code>{f.id}</code></summary>", "", explanation(f.id, f.explanation),
                      "</details>", ""]
    if failed:
        lines += ["### Failures", ""]
        for f in failed:
            lines.append(f"- `{f.id}`: {f.note or f.status}")
        lines.append("")
    if v.budgets:
        lines += ["### Budget violations", "", "| Budget | Benchmark | Value | Limit | Enforced |",
                  "|---|---|---|---|---|"]
        for b in v.budgets:
            lines.append(f"| {b.name} | `{b.benchmark}` | {b.value:.4g} | {b.limit} | {'yes' if b.enforce else 'no'} |")
        lines.append("")
    noisy = [f for f in v.findings if f.noise]
    if noisy:
        lines.append(f"<details><summary>{len(noisy)} timing(s) slower beyond the factor, judged noise"
                     "</summary>\n")
        for f in noisy:
            lines.append(f"- `{f.id}`: ×{f.ratio:.2f}: {f.note}")
        lines += ["", "</details>", ""]
    compared = sum(1 for f in v.findings if f.status not in ("new", "missing"))
    lines.append(f"<sub>{compared} measurements compared. Exit status {v.exit_code}.</sub>")
    return "\n".join(lines) + "\n"


def write_outputs(v: Verdict, markdown_path: Path | None, json_path: Path | None, site_url: str = "") -> str:
    md = to_markdown(v, site_url)
    if markdown_path:
        markdown_path.write_text(md)
    if json_path:
        json_path.write_text(json.dumps(v.to_json(), indent=2, default=str) + "\n")
    return md
