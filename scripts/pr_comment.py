"""Post the gate's comment on the pull request the gate ran for, and on no other.

Run by ``.github/workflows/pr-comment.yml`` (the only workflow that may write
to pull requests), with the standard library and GitHub's ``gh`` alone:
nothing of the pull request's is run, and its artifact is data it wrote.
So the pull request to post on is not the artifact's to say. It is the
one GitHub says the run was for: open, with the ``workflow_run`` event's
head commit and head repository. The artifact's number must name that same
pull request, or nothing is posted::

    python3 scripts/pr_comment.py --artifact gate --repo OWNER/NAME \\
        --head-sha SHA --head-repo OWNER/FORK --head-branch BRANCH

Exit 0: posted or updated; 1: refused (one line says why); 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

MARKER = "<!-- target_app-benchmark-gate -->"
# The gate writes under 60,000 characters by construction (scripts/gate/report.py); this guards GitHub's
# 65,536 against an artifact that is not the gate's.
CAP = 65_000
SHA = re.compile(r"^[0-9a-f]{40}$")
NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class Refused(Exception):
    """The artifact and GitHub disagree: nothing is posted."""


def gh(*args: str, body: str | None = None) -> str:
    proc = subprocess.run(["gh", "api", *args], input=body, capture_output=True, text=True)
    if proc.returncode != 0:
        raise Refused(f"gh api {args[0]}: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")
    return proc.stdout


def artifact_number(folder: Path) -> int:
    try:
        text = (folder / "pr-number.txt").read_text()[:16].strip()
    except OSError:
        raise Refused("the artifact has no pr-number.txt") from None
    if not text.isdigit():
        raise Refused(f"the artifact's pull request number is not a number: {text!r}")
    return int(text)


def pull_request_of_run(pulls: list[dict], head_sha: str, head_repo: str) -> int:
    """The one open pull request whose head is ``head_sha`` in ``head_repo``, as GitHub lists them."""
    found = [p["number"] for p in pulls
             if p.get("head", {}).get("sha") == head_sha
             and (p.get("head", {}).get("repo") or {}).get("full_name") == head_repo]
    if len(found) != 1:
        raise Refused(f"{len(found)} open pull requests have head {head_sha[:8]} in {head_repo}")
    return found[0]


def choose(number: int, pulls: list[dict], head_sha: str, head_repo: str) -> int:
    """The pull request to post on: GitHub's, which the artifact must name too."""
    ours = pull_request_of_run(pulls, head_sha, head_repo)
    if number != ours:
        raise Refused(f"the artifact names pull request #{number}, the run was for #{ours}: nothing posted")
    return ours


def post(repo: str, number: int, body: str) -> str:
    """Update the gate's sticky comment on ``number``, or add it; returns what was done."""
    comments = json.loads(gh(f"repos/{repo}/issues/{number}/comments?per_page=100") or "[]")
    mine = [c["id"] for c in comments if str(c.get("body", "")).startswith(MARKER)]
    payload = json.dumps({"body": body})
    if mine:
        gh(f"repos/{repo}/issues/comments/{mine[0]}", "--method", "PATCH", "--input", "-", body=payload)
        return f"updated the comment on #{number}"
    gh(f"repos/{repo}/issues/{number}/comments", "--method", "POST", "--input", "-", body=payload)
    return f"commented on #{number}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pr_comment.py", description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, required=True, help="the gate's artifact, downloaded")
    parser.add_argument("--repo", required=True, help="OWNER/NAME of this repository")
    parser.add_argument("--head-sha", required=True, help="the workflow_run event's head_sha")
    parser.add_argument("--head-repo", required=True, help="the workflow_run event's head_repository.full_name")
    parser.add_argument("--head-branch", required=True, help="the workflow_run event's head_branch")
    args = parser.parse_args(argv)
    if not SHA.match(args.head_sha) or not NAME.match(args.repo) or not NAME.match(args.head_repo):
        print("pr_comment: --head-sha must be 40 hex digits, --repo and --head-repo OWNER/NAME", file=sys.stderr)
        return 2
    try:
        number = artifact_number(args.artifact)
        owner = args.head_repo.split("/")[0]
        pulls = json.loads(gh(f"repos/{args.repo}/pulls?state=open&per_page=100&head={owner}:{args.head_branch}")
                           or "[]")
        chosen = choose(number, pulls, args.head_sha, args.head_repo)
        try:
            report = (args.artifact / "comment.md").read_text()[:CAP]
        except OSError:
            report = "The gate produced no report."
        print(f"pr_comment: {post(args.repo, chosen, MARKER + chr(10) + report)}")
    except Refused as exc:
        print(f"::error::pr_comment: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
