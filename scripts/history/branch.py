"""Results from several places in one history: ``merge`` shards, and keep ``.asv/results`` in a branch.

asv measures one commit after another and has no way to merge results
from several jobs (asv issue 1362) nor to keep them in a repository (asv
issue 774). A history can still fan out over identical runners, because
its counters and instruction counts come out the same on each
(``history --shard K/N --machine NAME``), and fan back in here:

- :func:`merge` copies results folders into one, after checking that
  they agree: one machine name (for shards), one environment, one version
  of each benchmark, and no commit measured twice with different values.
- :func:`pull` and :func:`push` keep the results in an orphan branch of
  the repository (``benchmark-results``): push commits result files only,
  only this machine's folder and the suite's ``benchmarks.json``, on top of
  what the remote has, and tries again when another job pushed first.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from scripts.errors import UserError
from scripts.git import extract_tree, git, git_run

BRANCH = "benchmark-results"
REMOTE = "origin"
PUSH_ATTEMPTS = 5


@dataclass
class MergeReport:
    machines: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)  # result files new to the destination
    joined: list[str] = field(default_factory=list)  # result files whose benchmarks were joined
    same: int = 0  # result files already there, identical

    def summary(self) -> str:
        return (f"[merge] machine {', '.join(sorted(self.machines)) or '-'}: {len(self.added)} result file(s) added, "
                f"{len(self.joined)} joined, {self.same} already there")


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable asv result ({exc})") from None


def _machines(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise UserError(f"{folder}: no such results folder")
    names = sorted(p.name for p in folder.iterdir() if (p / "machine.json").is_file())
    if not names:
        raise UserError(f"{folder}: not an asv results folder (no <machine>/machine.json in it)")
    return names


def _result_files(machine_dir: Path) -> list[Path]:
    return sorted(p for p in machine_dir.glob("*.json") if p.name != "machine.json")


def check_agreement(sources: list[Path], one_machine: bool = True) -> None:
    """Raise a one-line UserError unless ``sources`` agree on machine, environment and benchmark versions."""
    machines = {src: _machines(src) for src in sources}
    if one_machine:
        names = {tuple(m) for m in machines.values()}
        if len(names) > 1:
            shown = "; ".join(f"{src} has {', '.join(m)}" for src, m in machines.items())
            raise UserError(f"the shards disagree on the machine name ({shown}): give every shard the same --machine")
    envs: dict[tuple[str, str], tuple[str, Path]] = {}
    for src, names in machines.items():
        for machine in names:
            for path in _result_files(src / machine):
                env = _read(path).get("env_name", "")
                first = envs.setdefault((machine, "env"), (env, path))
                if first[0] != env:
                    raise UserError(f"the shards disagree on the environment of {machine}: {first[0]} in {first[1]}, "
                                    f"{env} in {path}")
    versions: dict[str, tuple[str, Path]] = {}
    for src in sources:
        meta = src / "benchmarks.json"
        if not meta.exists():
            continue
        for name, info in _read(meta).items():
            if not isinstance(info, dict):
                continue
            first = versions.setdefault(name, (info.get("version"), meta))
            if first[0] != info.get("version"):
                raise UserError(f"the shards disagree on the version of {name}: {first[1]} and {meta} "
                                "(they ran different suites)")


def _join(into: dict, other: dict, into_path: Path, other_path: Path) -> bool:
    """Add ``other``'s benchmarks to ``into`` (same commit, same environment); True when something was added.

    The same benchmark with a different value or version is a conflict that names both files.
    """
    columns = into.get("result_columns", [])
    if other.get("result_columns", []) != columns:
        raise UserError(f"{into_path} and {other_path} are in different asv result formats")
    value, version = columns.index("result"), columns.index("version")
    added = False
    for name, row in other.get("results", {}).items():
        mine = into["results"].get(name)
        if mine is None:
            into["results"][name] = row
            added = True
        elif mine[value] != row[value] or mine[version] != row[version]:
            raise UserError(f"conflicting results for {name} at commit {into.get('commit_hash', '?')[:8]}: "
                            f"{into_path} and {other_path}")
    for key, seconds in other.get("durations", {}).items():
        into.setdefault("durations", {}).setdefault(key, seconds)
    return added


def merge(sources: list[Path], dest: Path, *, one_machine: bool = True, machines: set[str] | None = None,
          dry_run: bool = False) -> MergeReport:
    """Merge asv results folders ``sources`` into ``dest`` (see the module's docstring).

    ``machines``: only these machine folders are taken from the sources.
    Everything is checked before anything is written, so a conflict
    leaves ``dest`` as it was.
    """
    check_agreement(sources + ([dest] if dest.is_dir() and any(dest.glob("*/machine.json")) else []),
                    one_machine=False)
    check_agreement(sources, one_machine=one_machine)
    report = MergeReport()
    planned: dict[Path, dict] = {}
    origin: dict[Path, Path] = {}
    copies: dict[Path, Path] = {}
    for src in sources:
        for machine in _machines(src):
            if machines is not None and machine not in machines:
                continue
            report.machines.add(machine)
            if not (dest / machine / "machine.json").exists():
                copies.setdefault(dest / machine / "machine.json", src / machine / "machine.json")
            for path in _result_files(src / machine):
                target = dest / machine / path.name
                data = _read(path)
                if target not in planned:
                    if target.exists():
                        planned[target], origin[target] = _read(target), target
                    else:
                        planned[target], origin[target] = data, path
                        report.added.append(f"{machine}/{path.name}")
                        continue
                if _join(planned[target], data, origin[target], path):
                    report.joined.append(f"{machine}/{path.name}")
                else:
                    report.same += 1
    meta: dict = {}
    for src in [dest, *sources]:
        if (src / "benchmarks.json").exists():
            meta.update(_read(src / "benchmarks.json"))
    if dry_run:
        return report
    for target, data in planned.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin[target] != target or f"{target.parent.name}/{target.name}" in report.joined:
            target.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    for target, source in copies.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    if meta:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "benchmarks.json").write_text(json.dumps(meta, indent=4, sort_keys=True) + "\n")
    return report


# --- the results branch -------------------------------------------------------------------------------------


def _fetch(root: Path, remote: str, branch: str) -> str | None:
    """The remote branch's commit, fetched; None when the remote has no such branch yet."""
    listed = git(root, "ls-remote", "--heads", remote, branch).split()
    if not listed:
        return None
    git(root, "fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    return git(root, "rev-parse", f"refs/remotes/{remote}/{branch}").strip()


def pull(root: Path, results_dir: Path, *, remote: str = REMOTE, branch: str = BRANCH) -> MergeReport | None:
    """Merge the results branch into ``results_dir``; None when there is no branch yet."""
    head = _fetch(root, remote, branch)
    if head is None:
        return None
    with tempfile.TemporaryDirectory(prefix="results-pull-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        extract_tree(root, head, tree)
        if not any(tree.glob("*/machine.json")):
            return MergeReport()
        return merge([tree], results_dir, one_machine=False)


def push(root: Path, results_dir: Path, machine: str, *, remote: str = REMOTE, branch: str = BRANCH,
         attempts: int = PUSH_ATTEMPTS) -> tuple[str, MergeReport]:
    """Commit this machine's results on top of the remote branch and push; again on a rejected push.

    Returns the pushed commit and what was merged. Another machine's folder
    on the branch is never written, and nothing but result files is committed.
    """
    if not (results_dir / machine / "machine.json").exists():
        raise UserError(f"no results for machine {machine} in {results_dir}: run `python3 -m scripts history` first")
    for attempt in range(1, attempts + 1):
        head = _fetch(root, remote, branch)
        with tempfile.TemporaryDirectory(prefix="results-push-") as tmp:
            tree = Path(tmp) / "tree"
            tree.mkdir()
            if head is not None:
                extract_tree(root, head, tree)
            report = merge([results_dir], tree, one_machine=False, machines={machine})
            index = Path(tmp) / "index"
            env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(tree)}
            git(root, "add", "--all", ".", env=env, cwd=tree)
            tree_id = git(root, "write-tree", env=env).strip()
            if head is not None and tree_id == git(root, "rev-parse", f"{head}^{{tree}}").strip():
                return head, report
            message = (f"results: {machine}, {len(report.added)} result file(s) added, {len(report.joined)} joined\n\n"
                       "Written by `python3 -m scripts results push`.")
            parents = ["-p", head] if head else []
            commit = git(root, "commit-tree", tree_id, *parents, "-m", message,
                         env={"GIT_AUTHOR_NAME": "benchmark results", "GIT_AUTHOR_EMAIL": "results@localhost",
                              "GIT_COMMITTER_NAME": "benchmark results",
                              "GIT_COMMITTER_EMAIL": "results@localhost"}).strip()
        pushed = git_run(root, "push", "--quiet", remote, f"{commit}:refs/heads/{branch}")
        if pushed.returncode == 0:
            return commit, report
        lines = pushed.stderr.strip().splitlines() or ["rejected"]
        tail = next((line for line in lines if "rejected" in line), lines[-1]).strip(" !")
        if attempt == attempts:
            raise UserError(f"results push: the remote kept rejecting the push after {attempts} tries ({tail})")
        print(f"[results] push rejected ({tail.strip()}): fetching, merging and trying again "
              f"({attempt + 1} of {attempts})", file=sys.stderr, flush=True)
    raise AssertionError("unreachable")
