"""The comment workflow's script posts on the run's own pull request, and refuses an artifact that names
another (scripts/pr_comment.py), against a stand-in for GitHub's ``gh api``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests_helpers import ROOT

SCRIPT = ROOT / "scripts" / "pr_comment.py"
HEAD = "a" * 40
# What GitHub lists for the run's head branch: pull request #7 from a fork, whose head is the run's commit.
PULLS = [{"number": 7, "head": {"sha": HEAD, "repo": {"full_name": "forker/app"}}},
         {"number": 8, "head": {"sha": "b" * 40, "repo": {"full_name": "forker/app"}}}]
FAKE_GH = """#!{python}
import json, sys
log = {log!r}
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:] + [sys.stdin.read() if "--input" in sys.argv else ""]) + "\\n")
path = sys.argv[2]
if "/pulls?" in path:
    print({pulls!r})
elif path.endswith("/comments?per_page=100"):
    print("[]")
else:
    print("{{}}")
"""


@pytest.fixture
def gh(tmp_path):
    log = tmp_path / "gh.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "gh"
    fake.write_text(FAKE_GH.format(python=sys.executable, log=str(log), pulls=json.dumps(PULLS)))
    fake.chmod(0o755)
    return bin_dir, log


def run(tmp_path, gh, number: str):
    bin_dir, log = gh
    artifact = tmp_path / "gate"
    artifact.mkdir(exist_ok=True)
    (artifact / "pr-number.txt").write_text(number + "\n")
    (artifact / "comment.md").write_text("## ✅ No performance regression\n")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--artifact", str(artifact), "--repo", "owner/app",
                           "--head-sha", HEAD, "--head-repo", "forker/app", "--head-branch", "feature"],
                          env=env, capture_output=True, text=True)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def test_an_artifact_that_names_another_pull_request_is_refused(tmp_path, gh):
    proc, calls = run(tmp_path, gh, "8")  # someone else's pull request
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "names pull request #8, the run was for #7: nothing posted" in proc.stderr
    assert not [c for c in calls if "POST" in c or "PATCH" in c], calls


def test_the_run_s_own_pull_request_gets_the_comment(tmp_path, gh):
    proc, calls = run(tmp_path, gh, "7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    posted = [c for c in calls if "POST" in c]
    assert len(posted) == 1 and posted[0][1] == "repos/owner/app/issues/7/comments"
    assert json.loads(posted[0][-1])["body"].startswith("<!-- target_app-benchmark-gate -->\n## ✅")
    assert calls[0][1] == "repos/owner/app/pulls?state=open&per_page=100&head=forker:feature"


@pytest.mark.parametrize("number", ["", "7; rm -rf /", "12345678901234567890x"])
def test_an_artifact_without_a_number_is_refused(tmp_path, gh, number):
    proc, calls = run(tmp_path, gh, number)
    assert proc.returncode == 1
    assert not [c for c in calls if "POST" in c or "PATCH" in c]
