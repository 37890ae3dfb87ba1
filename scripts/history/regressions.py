"""``regressions``: the history's current regressions, judged by the gate's own rules.

For each benchmark id, asv's step detection splits its series over the
commits of main into levels (the same change-point method as the site's
Regressions page). Each step up is then judged exactly as the gate judges a
pull request, on the results of the last commit before it and the first
after it: counters by their tolerance, timings by their calibrated factor
with asv's Mann-Whitney test and the fastest sample, tracks by their factor
and floor (benchmarks/rules.toml). A step is listed while it lasts: the
latest commit, judged the same way against the commit before the step, is
still a regression. A benchmark that worked and now fails, and a commit
from which nothing builds, are listed at the commit where they started.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts.asvtool import Project
from scripts.errors import UserError
from scripts.git import commit_hash, revisions, trailers
from scripts.history.confirm import drop_not_confirmed, read_ledger
from scripts.judging.accept import TRAILER, accepting, read
from scripts.judging.causes import group, operation_of
from scripts.judging.judge import compare_results
from scripts.judging.rules import DEFAULT_FACTOR, Rules, load_rules
from scripts.judging.values import fmt
from scripts.results import CommitResult, load_results, param_labels
from scripts.suite import ERRORS_DIR, STATEMENT_COUNTERS, benchmark_id, benchmark_name, commit_page, is_nan


@dataclass
class Regression:
    benchmark: str  # the id, with its parameters
    commit: str  # where it started
    before_commit: str
    before: float | None
    after: float | None  # None: it fails
    unit: str
    kind: str  # time, counter, rate, track, failed, build
    note: str = ""
    accepted: str = ""  # why, when an Accept-Regression trailer of its commit covers it (scripts/judging/accept.py)
    statements: float | None = None  # the SQL statements its operation runs at its commit, where counted

    @property
    def id(self) -> str:  # what scripts.judging.causes groups by
        return self.benchmark

    @property
    def ratio(self) -> float | None:
        if self.before in (None, 0) or self.after is None:
            return None
        return self.after / self.before


def commit_order(root: Path, branch: str = "main") -> list[str]:
    """The commits of ``branch``, oldest first (first parents only, as the history measures them)."""
    return revisions(root, "--first-parent", "--reverse", branch, spec=branch)


def find_regressions(results: dict[str, CommitResult], order: list[str], rules: Rules, *,
                     factor: float = DEFAULT_FACTOR, errors: dict[str, dict[str, str]] | None = None
                     ) -> list[Regression]:
    """Every regression still present at the newest measured commit of ``order``. Pure: no runs, no files."""
    measured = [c for c in order if c in results]
    if not measured:
        return []
    errors = errors or {}
    out = _build_failures(results, measured, errors)
    built = [c for c in measured if not results[c].build_failed]
    if not built:
        return out
    names = sorted({name for c in built for name in results[c].values})
    for name in names:
        # Each benchmark's newest measurement decides its version and parameters: a run of a few
        # benchmarks (--bench) at the newest commit does not hide the others.
        latest = results[next(c for c in reversed(built) if name in results[c].values)]
        version = latest.versions.get(name)
        series = [c for c in built if name in results[c].values and results[c].versions.get(name) == version]
        for label in param_labels(latest.params.get(name) or []):
            points = [(c, _by_label(results[c], name, label)) for c in series]
            points = [(c, v) for c, v in points if not is_nan(v)]
            out += _regressions_of(results, points, name, label, rules, factor, errors)
    counted = {c: _statements(results[c]) for c in {r.commit for r in out}}
    for r in out:
        r.statements = counted[r.commit].get(operation_of(r.benchmark))
    return sorted(out, key=lambda r: (measured.index(r.commit), r.benchmark))


def _statements(result: CommitResult) -> dict[str, float]:
    """The SQL statements each operation runs at one commit, from its statement counters (so that the causes
    can tell work added per statement: scripts/judging/causes.py)."""
    out = {}
    for name in STATEMENT_COUNTERS:
        for label, value in zip(param_labels(result.params.get(name) or []), result.value_list(name), strict=False):
            if isinstance(value, int | float) and not is_nan(value) and (op := operation_of(benchmark_id(name, label))):
                out[op] = value
    return out


def _by_label(result: CommitResult, name: str, label: str):
    """``name``'s value for the parameters ``label`` at one commit (NaN where that commit has no such
    parameter: a function of target_app that did not exist there)."""
    labels = param_labels(result.params.get(name) or [])
    return _at(result.value_list(name), labels.index(label)) if label in labels else float("nan")


def _at(values: list, i: int):
    return values[i] if i < len(values) else None


def _build_failures(results, measured, errors) -> list[Regression]:
    """The commit from which nothing builds or imports, if the newest commits are all such."""
    trailing = []
    for commit in reversed(measured):
        if not results[commit].build_failed:
            break
        trailing.insert(0, commit)
    if not trailing or len(trailing) == len(measured):
        return []
    start = trailing[0]
    before = measured[measured.index(start) - 1]
    note = errors.get(start, {}).get("(build)", "every benchmark fails: it does not build or import")
    return [Regression("(build)", start, before, None, None, "", "build", note)]


def _regressions_of(results, points, name, label, rules, factor, errors) -> list[Regression]:
    ident = benchmark_id(name, label)
    if len(points) < 2:
        return []
    out = _failure(points, ident, errors) if points[-1][1] is None else []
    # Steps before a failure still count: the failure hides them, it does not undo them.
    numeric = [(c, v) for c, v in points if v is not None]
    if len(numeric) < 2:
        return out
    from asv.step_detect import detect_steps  # asv only in the venv: a module imports without it (the bootstrap)

    steps = detect_steps([v for _, v in numeric])
    latest = numeric[-1][0]
    for left, right in zip(steps, steps[1:], strict=False):
        before_commit, commit = numeric[left[1] - 1][0], numeric[right[0]][0]
        step = _judge(results, before_commit, commit, name, label, rules, factor)
        if step is None or step.status != "regressed":
            continue
        still = step if commit == latest else _judge(results, before_commit, latest, name, label, rules, factor)
        if still is not None and still.status == "regressed":
            out.append(Regression(ident, commit, before_commit, step.before, step.after, step.unit, step.kind,
                                  step.note))
    return out


def _failure(points, ident, errors) -> list[Regression]:
    """A benchmark that worked and fails at the newest commit: listed where the failing began.

    Steps measured before it began are judged against its last value.
    """
    start = len(points) - 1
    while start > 0 and points[start - 1][1] is None:
        start -= 1
    if start == 0:
        return []  # it never worked: nothing regressed
    commit, (before_commit, before) = points[start][0], points[start - 1]
    note = errors.get(commit, {}).get(ident) or errors.get(commit, {}).get(benchmark_name(ident)) or "it fails"
    return [Regression(ident, commit, before_commit, before, None, "", "failed", note)]


def _judge(results, base: str, head: str, name: str, label: str, rules: Rules, factor: float):
    """The gate's finding for one benchmark id between two commits of the history."""
    pair = [CommitResult(c, **{k: {name: getattr(results[c], k).get(name)} for k in
                               ("values", "params", "stats", "samples", "versions", "units")}) for c in (base, head)]
    verdict = compare_results(pair[0], pair[1], rules, factor=factor)
    return next((f for f in verdict.findings if f.params == label), None)


def load_errors(root: Path, machine: str) -> dict[str, dict[str, str]]:
    """commit -> benchmark id (or "(build)") -> the last line of its error, as ``history`` kept them."""
    folder = root / ERRORS_DIR / machine
    out = {}
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out


def current_regressions(project: Project, *, branch: str = "main", since: str | None = None,
                        factor: float = DEFAULT_FACTOR) -> list[Regression]:
    """The history's current regressions (those starting after ``since``, when given)."""
    machine = project.machine
    order = commit_order(project.root, branch)
    if since:

        cut = commit_hash(project.root, since)
        if cut not in order:

            raise UserError(f"--since {since}: {cut[:8]} is not on {branch}")
    found = find_regressions(load_results(project.results_dir, machine), order, load_rules(project.root),
                             factor=factor, errors=load_errors(project.root, machine))
    if since:
        after = set(order[order.index(cut) + 1:])
        found = [r for r in found if r.commit in after]
    # A timing step that a second run did not show is machine noise (scripts/history/confirm.py).
    found = drop_not_confirmed(found, read_ledger(project.root, machine))
    mark_accepted(found, read(trailers(project.root, sorted({r.commit for r in found if r.kind != "build"}), TRAILER)))
    return found


def mark_accepted(found: list[Regression], accepted: list) -> None:
    """Each regression that an acceptance of its own commit covers is marked accepted, with the reason."""
    for r in found:
        covering, _ = accepting([a for a in accepted if a.commit == r.commit], r.benchmark, r.before, r.after)
        if covering:
            r.accepted = covering.describe()


def by_commit(found: list[Regression]) -> dict[str, list[Regression]]:
    """The regressions of each commit where some started, in the history's order."""
    out: dict[str, list[Regression]] = {}
    for r in found:
        out.setdefault(r.commit, []).append(r)
    return out


def open_regressions(found: list[Regression]) -> list[Regression]:
    """Those not accepted on purpose."""
    return [r for r in found if not r.accepted]


def graph_url(site_url: str, r: Regression) -> str:
    if not site_url or r.kind == "build":
        return ""
    return f"{site_url.rstrip('/')}/#{r.benchmark.split('(')[0]}"


def commit_url(site_url: str, r: Regression) -> str:
    """The site's page of the commit where ``r`` started: what its operations did, and what changed there."""
    if not site_url or r.kind == "build":
        return ""
    return f"{site_url.rstrip('/')}/{commit_page(r.commit)}"


def entry_markdown(r: Regression, site_url: str = "") -> str:
    """One regression as a Markdown table row."""
    change = (f"{fmt(r.before, r.unit)} → fails" if r.after is None and r.before is not None else
              "does not build" if r.kind == "build" else f"{fmt(r.before, r.unit)} → {fmt(r.after, r.unit)}")
    factor = f"×{r.ratio:.3g}" if r.ratio is not None else "–"
    url, page = graph_url(site_url, r), commit_url(site_url, r)
    note = (f"accepted on purpose, {r.accepted}" if r.accepted else r.note).replace("|", "\\|")
    links = " · ".join(f"[{label}]({u})" for label, u in (("graph", url), ("what changed", page)) if u)
    return f"| `{r.commit[:8]}` | `{r.benchmark}` | {change} | {factor} | {note} | {links} |"


TABLE = ["| Commit | Benchmark | Before → after | Factor | Rule | |", "|---|---|---|---|---|---|"]


def commit_markdown(commit: str, found: list[Regression], site_url: str = "") -> list[str]:
    """One commit's regressions: a line per cause, then the table."""
    still = open_regressions(found)
    causes = group(still)
    lines = [f"### `{commit[:8]}`: {len(still)} regression(s) in {len(causes)} cause(s)"
             + (f", {len(found) - len(still)} accepted" if len(found) != len(still) else ""), ""]
    lines += [f"{n}. {g.summary()}" for n, g in enumerate(causes, 1)]
    lines += [f"- accepted: {g.summary()}: {g.items[0].accepted}" for g in group([r for r in found if r.accepted])]
    lines += ["", *TABLE, *[entry_markdown(r, site_url) for r in found], ""]
    return lines


def to_markdown(found: list[Regression], site_url: str = "") -> str:
    """One section per commit where regressions started, each leading with its causes."""
    if not open_regressions(found):
        accepted = f" ({len(found)} accepted on purpose)" if found else ""
        lines = [f"## No regressions in the history{accepted}", ""]
    else:
        n, commits = len(open_regressions(found)), len({r.commit for r in open_regressions(found)})
        lines = [f"## {n} regression{'s' if n != 1 else ''} in the history, at {commits} "
                 f"commit{'s' if commits != 1 else ''}", ""]
    if not found:
        return lines[0] + "\n"
    for commit, at in by_commit(found).items():
        lines += commit_markdown(commit, at, site_url)
    return "\n".join(lines).rstrip("\n") + "\n"


def to_json(found: list[Regression], site_url: str = "") -> list[dict]:
    return [asdict(r) | {"ratio": r.ratio, "graph": graph_url(site_url, r), "commit_page": commit_url(site_url, r)}
            for r in found]


def issue_title(commit: str) -> str:
    """One issue per commit: the same commit always gets the same title, so its issue is updated, not repeated."""
    return f"Performance regression at {commit[:8]}"


def issue_body(commit: str, found: list[Regression], site_url: str = "") -> str:
    """The issue text: the commit's causes first, then its table and what the rules say."""
    before = found[0].before_commit
    return "\n".join([
        "The benchmark history found these regressions on main (`python3 -m scripts regressions`).", "",
        *commit_markdown(commit, found, site_url),
        f"Measured at `{commit}`, against `{before}` before it. The rules that judge them are in "
        "`benchmarks/rules.toml`; `python3 -m scripts compare "
        f"{before[:8]} {commit[:8]}` measures the pair again. A cost accepted on purpose is an "
        "`Accept-Regression:` trailer in the commit that pays it (README, \"The gate\").",
        "", "<!-- target_app-regression -->", ""])


def from_json(entries: list[dict]) -> list[Regression]:
    """The regressions of ``regressions --json`` entries (read back from a file)."""
    fields = set(Regression.__dataclass_fields__)
    return [Regression(**{k: v for k, v in entry.items() if k in fields}) for entry in entries]


def write_issues(found: list[Regression], out: Path, site_url: str = "") -> list[Path]:
    """``out/NN.title`` and ``out/NN.md``, one pair per commit with a regression that is not accepted."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n, (commit, at) in enumerate(((c, a) for c, a in by_commit(found).items() if open_regressions(a)), 1):
        (out / f"{n:03d}.title").write_text(issue_title(commit) + "\n")
        (out / f"{n:03d}.md").write_text(issue_body(commit, at, site_url))
        written.append(out / f"{n:03d}.md")
    return written
