"""``python3 -m scripts COMMAND``: argument parsing in front of pure functions.

A command is one ``add_parser`` in :func:`build_parser` and its ``cmd_*``
function; the command list (``--help``, the bootstrap's) comes from the
parser. This module imports only the standard library at the top, so the
bootstrap can read the commands before ``.venv`` exists."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from scripts.bootstrap import ROOT
from scripts.errors import UserError
from scripts.judging.rules import DEFAULT_FACTOR


def cmd_test(args: argparse.Namespace) -> int:
    """Run ruff and the pytest suite inside .venv."""
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "."], cwd=ROOT)
    tests = subprocess.run([sys.executable, "-m", "pytest", *args.pytest_args], cwd=ROOT)
    return tests.returncode or lint.returncode


def cmd_setup(args: argparse.Namespace) -> int:
    """Nothing to do: reaching here means .venv exists and is up to date."""
    print(f"ready: {ROOT / '.venv'} (activate with: . .venv/bin/activate)")
    return 0


def _project(args: argparse.Namespace):
    """The asv project of ``--repo``; with ``--db postgresql``, its PostgreSQL runs (another environment,
    another machine name: the SQLite history stays as it was)."""
    from scripts.asvtool import Project

    root = args.repo
    # The run-wide settings go into this process's environment here, once,
    # and nowhere below: asv and the suite read them from there.
    if getattr(args, "db", "sqlite") == "postgresql":
        from scripts.postgres import postgres_run

        config, env = postgres_run(root, getattr(args, "machine", None))
        os.environ.update(env)
        return Project(root, config=config)
    if getattr(args, "machine", None):
        os.environ["ASV_MACHINE"] = args.machine  # machine_name() creates it if needed
    return Project(root)


def cmd_history(args: argparse.Namespace) -> int:
    from scripts.history.confirm import confirm_history
    from scripts.history.regressions import current_regressions, to_markdown
    from scripts.history.run import run_history, select_commits
    from scripts.site.publish import publish_site

    project = _project(args)
    commits = select_commits(
        project.root,
        last=None if args.all else args.last,
        revision_range=args.range,
        tags=args.tags,
        hashfile=Path(args.hashfile) if args.hashfile else None,
        every_commit=args.every_commit,
    )
    if args.shard:
        commits = shard(commits, args.shard)
    print(f"[history] {len(commits)} commit(s) to consider: {commits[0][:8]} .. {commits[-1][:8]}"
          + (f" (shard {args.shard})" if args.shard else ""), flush=True)
    report = run_history(project, commits, quick=args.quick, bench=args.bench, callgrind=not args.no_callgrind)
    # The history judged once: the same regressions go to the site and to the terminal. A timing step is
    # measured again first, and listed only where it regresses again (scripts/history/confirm.py).
    found = current_regressions(project)
    if not args.no_confirm and confirm_history(project, found, quick=args.quick):
        found = current_regressions(project)
    if not args.no_publish:
        report.site = publish_site(project, found)
    print(report.summary())
    print(to_markdown(found), end="")
    return 0 if report.ok else 1


def cmd_lock(args: argparse.Namespace) -> int:
    from scripts.locks import main_lock

    return main_lock(args.repo, upgrade=args.upgrade_package, upgrade_all=args.upgrade,
                     check=args.check)


def shard(commits: list[str], spec: str) -> list[str]:
    """The K-th of N interleaved slices of ``commits`` (``spec`` is "K/N"): every shard spans the whole range."""
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise UserError(f"--shard {spec}: expected K/N, e.g. 2/4") from None
    if not 1 <= k <= n:
        raise UserError(f"--shard {spec}: K must be between 1 and N")
    picked = commits[k - 1::n]
    if not picked:
        raise UserError(f"--shard {spec}: no commit falls to this shard ({len(commits)} commit(s) for {n} shards)")
    return picked


def cmd_merge(args: argparse.Namespace) -> int:
    from scripts.history.branch import merge

    project = _project(args)
    dest = Path(args.into).resolve() if args.into else project.results_dir
    report = merge([Path(d).resolve() for d in args.dirs], dest)
    print(report.summary())
    for name in report.added + report.joined:
        print(f"  {name}")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from scripts.history.branch import pull, push

    project = _project(args)
    if args.action == "pull":
        report = pull(project.root, project.results_dir, remote=args.remote, branch=args.branch)
        print(f"[results] no branch {args.branch} on {args.remote} yet: nothing to pull" if report is None
              else report.summary().replace("[merge]", f"[results] pulled {args.branch}:"))
        return 0
    commit, report = push(project.root, project.results_dir, project.machine, remote=args.remote,
                          branch=args.branch)
    print(report.summary().replace("[merge]", f"[results] pushed {commit[:8]} to {args.remote}/{args.branch}:"))
    return 0


def cmd_postgres(args: argparse.Namespace) -> int:
    from scripts.postgres import URL_VARIABLE, Cluster

    cluster = Cluster(args.repo)
    if args.action == "start":
        url = cluster.start()
        print(f"[postgres] running in {cluster.folder}: {url}")
        print(url)
    elif args.action == "stop":
        print("[postgres] stopped" if cluster.stop() else "[postgres] was not running")
    else:
        if not cluster.running():
            print(f"[postgres] not running (python3 -m scripts postgres start, or set {URL_VARIABLE})")
            return 1
        print(f"[postgres] running in {cluster.folder}: {cluster.url}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from scripts.gate.pull_request import GateOptions, gate_pull_request, judge_result_sets, print_reason
    from scripts.gate.report import write_outputs

    project = _project(args)
    if args.base_results or args.head_results:
        if not (args.base_results and args.head_results):
            raise UserError("give both --base-results and --head-results")
        verdict = judge_result_sets(project, args.base, args.head, Path(args.base_results), Path(args.head_results),
                                    factor=args.factor, enforce_budgets=True if args.enforce_budgets else None)
    else:
        options = GateOptions(
            run=not args.no_run,
            results=Path(args.results) if args.results else None,
            factor=args.factor,
            bench=args.bench,
            quick=args.quick,
            rounds=args.rounds,
            merge_base=not args.no_merge_base,
            enforce_budgets=True if args.enforce_budgets else None,
            confirm=not args.no_confirm,
            callgrind=not args.no_callgrind,
            explain=not args.no_explain,
        )
        verdict = gate_pull_request(project, args.base, args.head, options)
    md = write_outputs(
        verdict,
        Path(args.markdown) if args.markdown else None,
        Path(args.json) if args.json else None,
        site_url=args.site_url,
    )
    print(md)
    print_reason(verdict)
    return verdict.exit_code


def cmd_calibrate(args: argparse.Namespace) -> int:
    from scripts.calibrate.plants import PLANTS
    from scripts.calibrate.run import main_calibrate

    if args.layout:
        from scripts.calibrate.layout import main_layout

        return main_layout(_project(args), Path(args.out).resolve())
    if args.sweep:
        from scripts.calibrate.sweep import KINDS, main_sweep

        kinds = tuple(args.kinds.split(",")) if args.kinds else KINDS
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise UserError(f"unknown mutant kind(s): {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
        return main_sweep(_project(args), Path(args.out).resolve(), kinds=kinds,
                          routes=args.routes, quick=args.quick)

    wanted = set(args.plants.split(",")) if args.plants else None
    if wanted:
        unknown = wanted - {p.key for p in PLANTS}
        if unknown:
            raise UserError(f"unknown plant(s): {', '.join(sorted(unknown))}; known: "
                            f"{', '.join(p.key for p in PLANTS)}")
    plants = tuple(p for p in PLANTS if wanted is None or p.key in wanted)
    return main_calibrate(
        _project(args),
        Path(args.out).resolve(),
        factor=args.factor,
        aa=args.aa,
        plants=plants,
        bench=args.bench,
        quick=args.quick,
        do_bisect=not args.no_bisect,
        callgrind=not args.no_callgrind,
    )


def cmd_regressions(args: argparse.Namespace) -> int:
    import json

    from scripts.history.regressions import current_regressions, open_regressions, to_json, to_markdown

    found = current_regressions(_project(args), since=args.since, factor=args.factor)
    if args.issues:
        from scripts.history.regressions import write_issues

        written = write_issues(found, Path(args.issues), args.site_url)
        print(f"{len(written)} issue text(s) in {args.issues}", file=sys.stderr)
    print(json.dumps(to_json(found, args.site_url), indent=2) if args.json else to_markdown(found, args.site_url),
          end="\n" if args.json else "")
    return 1 if open_regressions(found) else 0


def cmd_explain(args: argparse.Namespace) -> int:
    import json
    import re

    from scripts.explain import explain
    from scripts.git import commit_hash
    from scripts.judging.differences import report
    from scripts.locks import changes_between

    project = _project(args)
    wanted = [i for i in project.benchmark_ids() if not args.bench or any(re.search(r, i) for r in args.bench)]
    if not wanted:
        raise UserError(f"no benchmark matches {' or '.join(args.bench)}")
    explained, ids = explain(project, args.base, args.head, wanted,
                             functions_for=[] if args.no_callgrind else wanted)
    dependencies = changes_between(project.root, commit_hash(project.root, args.base),
                                   commit_hash(project.root, args.head))
    if args.json:
        Path(args.json).write_text(json.dumps({"dependencies": dependencies, "operations": explained, "ids": ids},
                                              indent=2) + "\n")
    if dependencies:
        print("Dependencies changed (each side ran with its own lock): " + "; ".join(dependencies) + ".\n")
    print(report(explained), end="")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from scripts.judging.rules import RULES_FILE, asv_thresholds, load_rules, write_asv_thresholds

    project = _project(args)
    rules = load_rules(project.root)
    ids = project.benchmark_ids()
    if args.write_asv_conf:
        changed = write_asv_thresholds(project.root / project.config, asv_thresholds(rules, ids))
        print(f"{project.config}: regressions_thresholds {'rewritten' if changed else 'already up to date'} "
              f"from {RULES_FILE}")
        return 0
    for ident, name in sorted(ids.items()):
        print(f"{ident}\t{rules.kind(name)}\t{rules.describe(ident, name, args.factor)}\t"
              f"site {rules.site_threshold(ident, name):g}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from scripts.history.regressions import current_regressions
    from scripts.site.publish import publish_site

    project = _project(args)
    site = publish_site(project, current_regressions(project))
    print(f"site: {site / 'index.html'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from scripts.site.publish import serve

    try:
        serve(_project(args).html_dir, port=args.port)
    except KeyboardInterrupt:
        pass
    return 0


def _no_callgrind(p: argparse.ArgumentParser,
                  what: str = "skip the instruction counts (on by default where valgrind is installed)") -> None:
    p.add_argument("--no-callgrind", action="store_true", help=what)


def _shared() -> dict[str, argparse.ArgumentParser]:
    """The options several commands share, each defined once, as parent parsers."""
    def parent(*args, **kwargs) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument(*args, **kwargs)
        return p

    return {
        # Every command works on the repository at --repo (the tests' throwaway ones), resolved once here.
        "repo": parent("--repo", type=lambda s: Path(s).resolve(), default=ROOT, help=argparse.SUPPRESS),
        "bench": parent("--bench", action="append", metavar="REGEX",
                        help="only benchmarks matching REGEX (repeatable)"),
        "quick": parent("--quick", action="store_true",
                        help="one sample per benchmark (a smoke test: timings mean nothing)"),
        "db": parent("--db", choices=["sqlite", "postgresql"], default="sqlite",
                     help="the database the suite runs on (default sqlite; postgresql: the server of "
                          "`postgres start` or TARGET_APP_POSTGRES_URL, kept as machine NAME-postgresql)"),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m scripts",
        description="Benchmark target_app's history, gate pull requests, and prove it (README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    shared = _shared()

    p = sub.add_parser("test", help="set up .venv and run the linters and the tests; other options go to pytest")
    p.set_defaults(func=cmd_test, passthrough=True)

    p = sub.add_parser("setup", help="create .venv and install everything, then stop")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("history", parents=[shared["repo"], shared["bench"], shared["quick"], shared["db"]],
                       help="measure commits of target_app, then publish the site and list the regressions")
    p.add_argument("--last", type=int, default=8, metavar="N",
                   help="the last N commits on main that changed target_app (default 8)")
    p.add_argument("--all", action="store_true", help="every commit on main that changed target_app")
    p.add_argument("--every-commit", action="store_true", help="also commits that did not change target_app")
    p.add_argument("--range", metavar="A..B", help="a git revision range instead of the last N")
    p.add_argument("--tags", action="store_true", help="the tagged commits on main")
    p.add_argument("--hashfile", metavar="FILE", help="a file of commit hashes, one per line")
    p.add_argument("--no-publish", action="store_true", help="do not publish the site at the end")
    p.add_argument("--no-confirm", action="store_true",
                   help="list a timing step without measuring it again (by default only a step that regresses "
                        "again, its two commits interleaved, is listed)")
    p.add_argument("--shard", metavar="K/N", help="measure only the K-th of N interleaved slices of the commits "
                                                  "(merge the shards' results with `merge`)")
    p.add_argument("--machine", metavar="NAME", help="the asv machine name (every shard of a history uses the same)")
    _no_callgrind(p)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("compare", parents=[shared["repo"], shared["bench"], shared["quick"], shared["db"]],
                       help="gate HEAD against its merge base with BASE: exit 0, 1 or 2")
    p.add_argument("base", help="the base revision (its merge base with HEAD is measured)")
    p.add_argument("head", help="the head revision")
    p.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                   help=f"timing slowdown that counts, if significant ({DEFAULT_FACTOR:g})")
    p.add_argument("--no-run", action="store_true", help="compare results already recorded, run nothing")
    p.add_argument("--results", metavar="DIR", help="with --no-run: results folder (default: the history's)")
    p.add_argument("--base-results", metavar="DIR", help="results folder holding BASE (e.g. an A/A rerun)")
    p.add_argument("--head-results", metavar="DIR", help="results folder holding HEAD")
    p.add_argument("--no-merge-base", action="store_true", help="measure BASE itself, not the merge base")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per benchmark (3)")
    p.add_argument("--enforce-budgets", action="store_true", help="every violated budget fails the gate")
    p.add_argument("--no-confirm", action="store_true",
                   help="do not re-run a timing regression to confirm it (by default only a timing that "
                        "regresses in two interleaved runs fails the gate)")
    _no_callgrind(p)
    p.add_argument("--no-explain", action="store_true",
                   help="do not explain counter regressions (their statements, calls and allocation sites)")
    p.add_argument("--markdown", metavar="FILE", help="also write the Markdown here")
    p.add_argument("--json", metavar="FILE", help="write the verdict as JSON here")
    p.add_argument("--site-url", default="", help="history site URL for graph links")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("calibrate", parents=[shared["repo"], shared["bench"], shared["quick"]],
                       help="plant regressions in a throwaway history and prove they are caught")
    p.add_argument("--out", default=str(ROOT / ".asv" / "calibration"), help="report folder")
    p.add_argument("--factor", type=float, default=DEFAULT_FACTOR)
    p.add_argument("--aa", type=int, default=6, metavar="K", help="same-code runs of one commit (0 skips)")
    p.add_argument("--plants", metavar="KEYS", help="comma-separated subset, e.g. a,c,noop1 (default: all)")
    p.add_argument("--no-bisect", action="store_true", help="skip the asv find checks")
    _no_callgrind(p)
    p.add_argument("--sweep", action="store_true",
                   help="instead: plant mutants of each kind (cpu, sql, a cache...) in every route's view and report "
                        "the kill rate (counters and instruction counts only)")
    p.add_argument("--layout", action="store_true",
                   help="instead: commit layout-only changes (unused code, reordered imports, longer docstrings...) "
                        "and report how far each instruction count moves")
    p.add_argument("--routes", metavar="REGEX", help="with --sweep: only the endpoints matching REGEX")
    p.add_argument("--kinds", metavar="KINDS",
                   help="with --sweep: a comma-separated subset of the mutant kinds (all by default; a kind it "
                        "does not know is refused with the list)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("regressions", parents=[shared["repo"], shared["db"]],
                       help="the history's current regressions: exit 0 when none, 1 when some")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--since", metavar="REV", help="only regressions that started after REV")
    p.add_argument("--site-url", default="", help="history site URL for graph links")
    p.add_argument("--factor", type=float, default=DEFAULT_FACTOR, help="the gate's global timing factor")
    p.add_argument("--issues", metavar="DIR",
                   help="also write one issue title and text per commit that regressed into DIR")
    p.set_defaults(func=cmd_regressions)

    p = sub.add_parser("explain", parents=[shared["repo"], shared["bench"]],
                       help="why benchmarks changed between BASE and HEAD: statements, plans, "
                            "call counts and allocation sites, per operation")
    p.add_argument("base", help="the base revision")
    p.add_argument("head", help="the head revision")
    p.add_argument("--json", metavar="FILE", help="also write the explanation as JSON")
    _no_callgrind(p, "skip counting each operation's instructions by function under callgrind (on by default "
                     "where valgrind is installed; about 10 s a side)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("lock", parents=[shared["repo"]],
                       help="regenerate requirements.lock (what target_app ships) from pyproject.toml")
    p.add_argument("--upgrade-package", "-P", action="append", metavar="NAME",
                   help="let this package move to its newest allowed version (repeatable)")
    p.add_argument("--upgrade", action="store_true", help="let every package move to its newest allowed version")
    p.add_argument("--check", action="store_true", help="change nothing: exit 1 if the lock disagrees with "
                                                        "pyproject.toml")
    p.set_defaults(func=cmd_lock)

    p = sub.add_parser("rules", parents=[shared["repo"]],
                       help="every benchmark id and the rule that judges it (benchmarks/rules.toml)")
    p.add_argument("--factor", type=float, default=DEFAULT_FACTOR, help="the gate's global timing factor")
    p.add_argument("--write-asv-conf", action="store_true",
                   help="regenerate asv.conf.json's regressions_thresholds from the rules")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("merge", parents=[shared["repo"]],
                       help="merge results folders (a sharded history's) into .asv/results")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="an asv results folder (holding <machine>/machine.json)")
    p.add_argument("--into", metavar="DIR", help="the folder to merge into (default: the history's .asv/results)")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("results", parents=[shared["repo"]],
                       help="keep .asv/results in a branch of this repository: pull or push")
    p.add_argument("action", choices=["pull", "push"])
    p.add_argument("--branch", default="benchmark-results", help="the results branch (default benchmark-results)")
    p.add_argument("--remote", default="origin", help="the remote that holds it (default origin)")
    p.add_argument("--machine", metavar="NAME", help="push: the machine whose folder is pushed (default: this one's)")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("postgres", parents=[shared["repo"]],
                       help="the suite's own PostgreSQL cluster in .asv/postgres: start, stop, status")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_postgres)

    p = sub.add_parser("publish", parents=[shared["repo"]], help="publish the site from the recorded results")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("serve", parents=[shared["repo"]], help="serve the published site on 127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_serve)
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    """What argparse cannot check by type: each --bench a regular expression, --port a port, --machine a name."""
    import re

    from scripts.asvtool import check_machine_name

    for regex in getattr(args, "bench", None) or []:
        try:
            re.compile(regex)
        except re.error as exc:
            raise UserError(f"--bench {regex!r}: not a regular expression ({exc})") from None
    port = getattr(args, "port", None)
    if port is not None and not 1 <= port <= 65535:
        raise UserError(f"--port {port}: a port is between 1 and 65535")
    if getattr(args, "machine", None):
        check_machine_name(args.machine)


def commands() -> list[str]:
    """Every command's name, from the parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.pytest_args = extra
    from scripts.asvtool import AsvError

    try:
        check_arguments(args)
        return args.func(args)
    except (UserError, AsvError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: what was measured is kept; run the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
