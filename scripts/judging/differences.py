"""What changed in one operation between two sides, from what each side's run recorded (the artefacts of
``benchmarks/counting/explain.py``): statements added or gone and their plans, the phases and the Python
functions whose instructions moved beyond their tolerance, system calls, call counts, allocation sites.
Pure: the measuring is :mod:`scripts.explain`'s.
"""

from __future__ import annotations

from collections import Counter as Tally

from scripts.judging.rules import Counter

TOP = 10


def _grew(before: dict[str, int], after: dict[str, int]) -> list[dict]:
    rows = [{"site": k, "before": before.get(k, 0), "after": after.get(k, 0),
             "delta": after.get(k, 0) - before.get(k, 0)} for k in set(before) | set(after)]
    return sorted([r for r in rows if r["delta"] > 0], key=lambda r: -r["delta"])[:TOP]


def statement_changes(before: list[str], after: list[str]) -> list[dict]:
    """Each statement whose count changed between two runs' statements, with the change; largest first."""
    b, a = Tally(before), Tally(after)
    rows = [{"delta": a[s] - b[s], "statement": s} for s in set(b) | set(a) if a[s] != b[s]]
    return sorted(rows, key=lambda r: (-abs(r["delta"]), r["statement"]))


# How far a component may move before it is named where no rule says (benchmarks/rules.toml's phase rule does).
DEFAULT_TOLERANCE = Counter(relative=0.01, absolute=2000.0)


def component_changes(before: dict[str, float], after: dict[str, float], tolerance: Counter) -> list[dict]:
    """Each component (phase or function) whose instructions changed, largest move first, marked ``moved``
    where beyond the tolerance (a component on one side only counts 0 on the other)."""
    rows = [{"component": k, "before": before.get(k, 0), "after": after.get(k, 0),
             "delta": after.get(k, 0) - before.get(k, 0)} for k in dict.fromkeys([*before, *after])]
    for r in rows:
        r["moved"] = tolerance.moved(r["before"], r["after"])
    return sorted([r for r in rows if r["delta"]], key=lambda r: (-abs(r["delta"]), r["component"]))


def diff(base: dict, head: dict, tolerance: Counter = DEFAULT_TOLERANCE) -> dict:
    """What changed in one operation between base and head; ``moved`` says whether anything did beyond its
    tolerance."""
    if "error" in base or "error" in head:
        return {"error": head.get("error") or base.get("error")}
    sql = statement_changes(base["sql"], head["sql"])
    plans = [{"statement": s, "before": base["plans"][s], "after": head["plans"][s]}
             for s in sorted(set(base["plans"]) & set(head["plans"])) if base["plans"][s] != head["plans"][s]]
    calls = [{"function": f, "before": base["calls"].get(f, 0), "after": head["calls"].get(f, 0),
              "delta": head["calls"].get(f, 0) - base["calls"].get(f, 0)}
             for f in set(base["calls"]) | set(head["calls"])]
    calls = sorted([c for c in calls if c["delta"]], key=lambda c: (-abs(c["delta"]), c["function"]))[:TOP]
    added = {r["statement"]: head["plans"][r["statement"]] for r in sql
             if r["delta"] > 0 and r["statement"] in head["plans"] and r["statement"] not in base["plans"]}
    out = {
        "statements": [len(base["sql"]), len(head["sql"])],
        "sql": sql,
        "plans": plans,
        "new_plans": added,
        "plan_source": head.get("plan_source", "SQLite EXPLAIN QUERY PLAN"),
        "calls": calls,
        "retained": _grew(base["retained"], head["retained"]),
        "allocated": _grew(base["allocated"], head["allocated"]),
    }
    if "syscalls" in base and "syscalls" in head:
        out["syscalls"] = _function_deltas(list(base["syscalls"].items()), list(head["syscalls"].items()))
    if "functions" in base and "functions" in head:
        out["functions"] = {kind: _function_deltas(base["functions"].get(kind, []), head["functions"].get(kind, []))
                            for kind in ("self", "inclusive")}
    for key in ("phases", "python_functions"):
        if key in base and key in head:
            out[key] = component_changes(base[key], head[key], tolerance)
    # target_app's own functions first: the ones its developers can change.
    out.get("python_functions", []).sort(key=lambda r: not r["component"].startswith("target_app/"))
    by_components = any(r["moved"] for key in ("phases", "python_functions") for r in out.get(key, []))
    if "phases" not in out:  # no count by phase (a scrypt operation): the C functions say it
        by_components = any(tolerance.moved(r["before"], r["after"])
                            for rows in out.get("functions", {}).values() for r in rows)
    out["moved"] = bool(sql or plans or calls or out["retained"] or out.get("syscalls") or by_components)
    return out


def _function_deltas(before: list[list], after: list[list]) -> list[dict]:
    """The functions whose instructions per run changed most (a function off one side's list counts 0 there)."""
    b, a = {f: n for f, n in before}, {f: n for f, n in after}
    rows = [{"function": f, "before": b.get(f, 0), "after": a.get(f, 0), "delta": a.get(f, 0) - b.get(f, 0)}
            for f in set(b) | set(a)]
    return sorted([r for r in rows if r["delta"]], key=lambda r: (-abs(r["delta"]), r["function"]))[:TOP]


def _short(statement: str, width: int = 110) -> str:
    return statement if len(statement) <= width else statement[: width - 1] + "…"


def to_markdown(name: str, d: dict) -> str:
    """One operation's explanation, short enough for a pull-request comment."""
    if "error" in d:
        return f"- {d['error']}\n"
    lines = []
    for key, title in (("phases", "By phase"), ("python_functions", "By Python function, inclusive")):
        rows = [r for r in d.get(key, []) if r["moved"]]
        if rows:
            lines.append(f"{title} (instructions per run, beyond the tolerance):")
            lines += [f"- {_component(r['component'], key)}: {r['before']:,.0f} → {r['after']:,.0f} "
                      f"({_percent(r)})" for r in rows[:TOP]]
    if "phases" in d and not any(r["moved"] for r in d["phases"]):
        lines.append("By phase: no phase moved beyond its tolerance.")
    before, after = d["statements"]
    if d["sql"]:
        lines.append(f"SQL: {before} → {after} statements")
        lines += [f"- `{r['delta']:+d} × {_short(r['statement'])}`" for r in d["sql"][:TOP]]
    source = d.get("plan_source", "SQLite EXPLAIN QUERY PLAN")
    for p in d["plans"]:
        lines.append(f"Plan ({source}) of `{_short(p['statement'], 80)}`: {'; '.join(p['before'])} → "
                     f"{'; '.join(p['after'])}")
    for statement, plan in list(d.get("new_plans", {}).items())[:TOP]:
        lines.append(f"Plan ({source}) of the new `{_short(statement, 80)}`: {'; '.join(x.strip() for x in plan)}")
    if d.get("syscalls"):
        lines.append("System calls per run, by kind and where they were made (callgrind, changed):")
        lines += [f"- `{r['function']}`: {r['before']:g} → {r['after']:g} ({r['delta']:+g})" for r in d["syscalls"]]
    for kind in ("self", "inclusive"):
        rows = d.get("functions", {}).get(kind, [])
        if rows:
            lines.append(f"Beneath, instructions per run by C function, {kind} (callgrind, most changed):")
            lines += [f"- `{r['function']}`: {r['before']:,} → {r['after']:,} ({r['delta']:+,})" for r in rows]
    if d["calls"]:
        lines.append("Calls (deterministic counts, most changed):")
        lines += [f"- `{c['function']}`: {c['before']:,} → {c['after']:,} ({c['delta']:+,})" for c in d["calls"]]
    if d["retained"]:
        lines.append("Memory kept after the request, by allocation site:")
        lines += [f"- `{r['site']}`: {r['before']:,} → {r['after']:,} bytes" for r in d["retained"]]
    if d["allocated"] and not d["retained"]:
        lines.append("Memory allocated during the request, by site:")
        lines += [f"- `{r['site']}`: {r['before']:,} → {r['after']:,} bytes" for r in d["allocated"][:5]]
    if not lines:
        return "- no difference in statements, calls or allocation sites\n"
    return "\n".join(lines) + "\n"


def _component(name: str, key: str) -> str:
    return f"`{name}`" if key == "python_functions" else name


def _percent(r: dict) -> str:
    if not r["before"]:
        return f"{r['delta']:+,.0f}, new"
    return f"{r['delta']:+,.0f}, {r['delta'] / abs(r['before']):+.1%}"


def report(explained: dict[str, dict]) -> str:
    """Each operation that moved, in full; the others on one line."""
    parts, quiet = [], []
    for name, d in explained.items():
        if d.get("moved", True):
            parts += [f"### {name}", "", to_markdown(name, d)]
        else:
            quiet.append(name)
    if quiet:
        parts.append(f"Nothing moved beyond its tolerance in {len(quiet)} other operation(s): "
                     + ", ".join(f"`{n}`" for n in quiet) + "\n")
    return "\n".join(parts) if parts else "No operation matched.\n"
