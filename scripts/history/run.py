"""``history``: measure the commits of target_app, one asv run a commit, and say what happened to each."""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.asvtool import Project
from scripts.coverage import commit_coverage
from scripts.errors import UserError
from scripts.git import commit_hash, git, revisions
from scripts.results import CommitResult, load_results
from scripts.shared import forget, record
from scripts.suite import APP_PATHS, ARTEFACTS_DIR, ERRORS_DIR


def select_commits(
    root: Path,
    *,
    branch: str = "main",
    last: int | None = 8,
    revision_range: str | None = None,
    tags: bool = False,
    hashfile: Path | None = None,
    every_commit: bool = False,
) -> list[str]:
    """The commits to measure, oldest first.

    By default the last ``last`` commits on ``branch`` that changed
    target_app: a commit that touched only docs or tests has nothing new to
    measure. ``every_commit`` drops that filter; ``last=None`` means no limit.
    """
    if sum(x is not None and x is not False for x in (revision_range, hashfile, tags or None)) > 1:
        raise UserError("give at most one of --range, --tags and --hashfile")
    if last is not None and last < 1:
        raise UserError("--last must be at least 1")
    if hashfile is not None:
        if not hashfile.exists():
            raise UserError(f"no such file: {hashfile}")
        wanted = [line.split()[0] for line in hashfile.read_text().splitlines() if line.strip()]
        return [commit_hash(root, h) for h in wanted]
    if tags:
        names = git(root, "tag", "--merged", branch, "--sort=creatordate").split()
        if not names:
            raise UserError(f"no tags on {branch}")
        commits = [git(root, "rev-list", "-n", "1", name).strip() for name in names]
        return list(dict.fromkeys(commits))
    spec = revision_range or branch
    args = ["--reverse", "--first-parent" if not revision_range else "--topo-order", spec]
    if not every_commit:
        args += ["--", *APP_PATHS]
    commits = revisions(root, *args, spec=spec)
    if last is not None:
        commits = commits[-last:]
    if not commits:
        raise UserError(f"no commits in {spec} changed {', '.join(APP_PATHS)}")
    return commits


def stale_benchmarks(result: CommitResult, versions: dict[str, str], bench: list[str] | None = None) -> list[str]:
    """Benchmarks of today's suite (those matching ``bench``) that ``result`` lacks or holds at another version."""
    wanted = [name for name in versions if not bench or any(re.search(regex, name) for regex in bench)]
    return sorted(name for name in wanted if result.versions.get(name) != versions[name])


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(index: int, total: int, commit: str, elapsed: float, measured_durations: list[float]) -> str:
    """``commit i of n``, time so far and an estimate of the time left."""
    line = f"[history] commit {index} of {total}: {commit[:8]}  elapsed {format_duration(elapsed)}"
    if measured_durations:
        per = sorted(measured_durations)[len(measured_durations) // 2]
        line += f", about {format_duration(per * (total - index + 1))} left"
    return line


@dataclass
class HistoryReport:
    commits: list[str]
    measured: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    build_failures: list[str] = field(default_factory=list)
    benchmark_failures: dict[str, list[str]] = field(default_factory=dict)
    seconds_per_commit: list[float] = field(default_factory=list)
    site: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.build_failures and not self.benchmark_failures

    def summary(self) -> str:
        lines = [
            f"[history] {len(self.commits)} commits: {len(self.measured)} measured now, "
            f"{len(self.skipped_existing)} already measured"
        ]
        if self.seconds_per_commit:
            per = sorted(self.seconds_per_commit)[len(self.seconds_per_commit) // 2]
            lines.append(f"[history] median {per:.0f} s per measured commit")
        for commit in self.build_failures:
            lines.append(f"[history] FAILED to build: {commit[:8]}")
        for commit, names in self.benchmark_failures.items():
            lines.append(f"[history] {commit[:8]}: {len(names)} benchmark(s) failed: {', '.join(names)}")
        if self.site:
            lines.append(f"[history] site: {self.site / 'index.html'}")
            lines.append("[history] look at it with: python3 -m scripts serve")
        return "\n".join(lines)


# A Python exception's own line ("RuntimeError: ..."): it names the cause
# better than the lines a tool prints after it (pip's notes and hints).
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*:")


class ErrorLines:
    """The last line of each failing benchmark's error, read from asv's ``--show-stderr`` output.

    asv does not keep a benchmark's stderr in its results; the history keeps
    this line, so that the regressions list can say why a benchmark fails.
    """

    RESULT = re.compile(r"^\[\s*[\d.]+%\] ·{3} ([A-Za-z_]\w*(?:\.\w+)+)(?:\s|$)")
    STDERR = re.compile(r"^\[\s*[\d.]+%\] ·{4} (?:For parameters: (.*)|(.*))$")
    BUILD = re.compile(r"Error running|Failed to build|Error: ")
    NOT_THE_ERROR = ("asv: benchmark failed", "hint:", "note:", "╰─>", "[end of output]")

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}
        self.benchmark = ""
        self.key: str | None = None
        self.last = ""
        self.exception = ""
        self.skipped = False
        self.unmeasurable = ""

    def __call__(self, line: str) -> None:
        text = line.rstrip("\n")
        if "lockenv: " in text:
            self.unmeasurable = text.split("lockenv: ", 1)[1].strip()[:300]
        if text.startswith("["):
            self._close()
            stderr = self.STDERR.match(text)
            if stderr:
                self.key = f"{self.benchmark}({stderr.group(1)})" if stderr.group(1) else self.benchmark
                self.last = (stderr.group(2) or "").strip()
            elif self.BUILD.search(text):
                self.key, self.last = "(build)", text.split("·")[-1].strip()
            else:
                result = self.RESULT.match(text)
                self.benchmark = result.group(1) if result else self.benchmark
        elif self.key:
            stripped = text.strip()
            if stripped.startswith("For parameters: "):  # the next parameter of the same block
                self._close()
                self.key = f"{self.benchmark}({stripped.removeprefix('For parameters: ')})"
            elif stripped.startswith("asv: skipped"):  # a skip is not an error
                self.last = ""
                self.skipped = True
            elif stripped and not stripped.startswith(self.NOT_THE_ERROR) and not self.skipped:
                self.last = stripped
                if EXCEPTION.match(stripped):
                    self.exception = stripped

    def _close(self) -> None:
        if self.key and (self.exception or self.last):
            self.errors[self.key] = (self.exception or self.last)[:300]
        self.key, self.last, self.exception, self.skipped = None, "", "", False

    def lines(self, build_failed: bool = False) -> dict[str, str]:
        self._close()
        errors = dict(self.errors)
        if self.unmeasurable:  # the install's own line (scripts/lockenv.py) says it better than asv's
            errors["(build)"] = self.unmeasurable
        if not build_failed:
            errors.pop("(build)", None)
        return errors


def keep_errors(root: Path, machine: str, commit: str, errors: dict[str, str]) -> None:
    """Write ``commit``'s error lines where the regressions list reads them (ERRORS_DIR)."""

    path = root / ERRORS_DIR / machine / f"{commit}.json"
    if errors:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(errors, indent=1, sort_keys=True) + "\n")
    else:
        path.unlink(missing_ok=True)


def keep_coverage(folder: Path, root: Path, commit: str, out) -> None:
    """The commit's benchmark coverage beside its artefacts (``coverage.json``), for its page (scripts/coverage.py);
    a commit whose coverage cannot be measured is said, and the history goes on."""
    try:
        files = commit_coverage(root, commit)
    except UserError as exc:
        print(f"[history] {exc}", file=out, flush=True)
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "coverage.json").write_text(json.dumps(files, indent=1, sort_keys=True))


def run_history(
    project: Project,
    commits: list[str],
    *,
    quick: bool = False,
    bench: list[str] | None = None,
    callgrind: bool = True,
    out=sys.stdout,
) -> HistoryReport:
    """Measure each commit not measured yet, one asv run per commit, and say what happened to each.

    A commit measured before is measured again only for the benchmarks whose
    version changed since (asv's ``--skip-existing`` keeps the rest), so a
    benchmark whose meaning changed gets its whole graph back. Instruction
    counts (callgrind) are on unless ``callgrind`` is False; without
    valgrind they are skipped.
    """
    machine = project.machine
    report = HistoryReport(commits=commits)
    existing = load_results(project.results_dir, machine)
    versions = project.benchmark_versions() if existing else {}
    start = time.monotonic()
    for index, commit in enumerate(commits, 1):
        changed = stale_benchmarks(existing[commit], versions, bench) if commit in existing else None
        if changed == []:
            report.skipped_existing.append(commit)
            print(f"[history] commit {index} of {len(commits)}: {commit[:8]} already measured, skipped", file=out)
            continue
        line = progress_line(index, len(commits), commit, time.monotonic() - start, report.seconds_per_commit)
        if changed:
            line += f" ({len(changed)} benchmark(s) changed since it was measured: measuring them again)"
        print(line, file=out, flush=True)
        t0 = time.monotonic()
        errors = ErrorLines()
        project.run([commit], bench=bench, quick=quick, callgrind=callgrind, skip_existing=True, on_line=errors,
                    artefacts=project.root / ARTEFACTS_DIR / machine / commit)
        report.seconds_per_commit.append(time.monotonic() - t0)
        report.measured.append(commit)
        result = load_results(project.results_dir, machine, commit).get(commit)
        # Measured in full, its exact counts are what a gate whose base is measured alike takes (scripts/shared.py).
        if bench is None and changed is None and result is not None and not result.build_failed:
            record(project.root, machine, commit, callgrind)
        else:
            forget(project.root, machine, commit)
        if result is None or result.build_failed:
            report.build_failures.append(commit)
        elif result.failed():
            report.benchmark_failures[commit] = result.failed()
        keep_errors(project.root, machine, commit, errors.lines(build_failed=commit in report.build_failures))
    # The newest commit measured now: its benchmark coverage, for its page (~5 s: once a run, not per commit).
    newest = [c for c in report.measured if c not in report.build_failures]
    if newest:
        keep_coverage(project.root / ARTEFACTS_DIR / machine / newest[-1], project.root, newest[-1], out)
    # Failures recorded in earlier runs count too: the run's verdict covers every commit asked for.
    for commit in report.skipped_existing:
        result = existing[commit]
        if result.build_failed:
            report.build_failures.append(commit)
        elif result.failed():
            report.benchmark_failures[commit] = result.failed()
    return report
