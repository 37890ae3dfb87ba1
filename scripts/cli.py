"""Argument parsing for ``python3 -m scripts``: a thin layer over pure functions."""

from __future__ import annotations

import argparse
import subprocess
import sys

from scripts.bootstrap import ROOT


class UserError(Exception):
    """Bad input: printed as one line, exit status 2."""


def cmd_test(args: argparse.Namespace) -> int:
    """Run ruff and the pytest suite inside .venv."""
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "."], cwd=ROOT)
    tests = subprocess.run([sys.executable, "-m", "pytest", *args.pytest_args], cwd=ROOT)
    return tests.returncode or lint.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m scripts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("test", help="set up .venv and run the linters and the tests; other options go to pytest")
    p.set_defaults(func=cmd_test, passthrough=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.pytest_args = extra
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
