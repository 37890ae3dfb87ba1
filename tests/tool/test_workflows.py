"""The GitHub workflows: actionlint, and the security rules the project keeps."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests_helpers import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
UNTRUSTED = re.compile(
    r"\$\{\{\s*github\.event\.(pull_request\.(title|body|head\.ref|head\.label)|"
    r"workflow_run\.(head_branch|display_title|head_commit)|comment\.body|issue\.(title|body)|inputs\.)"
    r"|\$\{\{\s*inputs\."
)


def actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(exe).exists():
        pytest.fail("actionlint is not installed (pip install .[dev])")
    return exe


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_there_are_the_five_workflows():
    assert {p.name for p in WORKFLOWS} == {"tests.yml", "pr-benchmarks.yml", "pr-comment.yml", "main.yml",
                                           "backfill.yml"}


def test_actionlint_passes():
    proc = subprocess.run([actionlint(), "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    proc = subprocess.run([actionlint(), "-no-color", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_default_permissions_are_empty(path):
    assert load(path)["permissions"] == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_sha(path):
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), step["uses"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_user_controlled_values_never_reach_a_run_block(path):
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            assert not UNTRUSTED.search(step.get("run", "")), step.get("name")


def test_pull_request_code_runs_read_only_and_without_secrets():
    text = (ROOT / ".github/workflows/pr-benchmarks.yml").read_text()
    data = load(ROOT / ".github/workflows/pr-benchmarks.yml")
    assert "pull_request" in data["on"] and "pull_request_target" not in data["on"]
    assert "secrets." not in text.replace("no secrets.", "")
    assert "github.token" not in text
    for job in data["jobs"].values():
        assert set(job["permissions"].values()) <= {"read"}
        for step in job["steps"]:
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False


def test_only_the_comment_workflow_writes_to_pull_requests():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            perms = job.get("permissions", {})
            if perms.get("pull-requests") == "write":
                assert path.name == "pr-comment.yml"
    comment = load(ROOT / ".github/workflows/pr-comment.yml")
    assert "workflow_run" in comment["on"]
    steps = comment["jobs"]["comment"]["steps"]
    # It checks out the default branch's script alone (workflow_run runs there), never the pull request's.
    checkouts = [s for s in steps if "actions/checkout" in s.get("uses", "")]
    assert all(set(s["with"]) == {"persist-credentials", "sparse-checkout", "sparse-checkout-cone-mode"}
               and s["with"]["sparse-checkout"] == "scripts/pr_comment.py"
               and s["with"]["persist-credentials"] is False for s in checkouts), checkouts
    run = steps[-1]["run"]
    assert "scripts/pr_comment.py" in run and "$HEAD_SHA" in run and "$HEAD_REPO" in run
    env = steps[-1]["env"]
    assert env["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert env["HEAD_REPO"] == "${{ github.event.workflow_run.head_repository.full_name }}"


def test_zizmor_finds_nothing_unsuppressed():
    exe = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not Path(exe).exists():
        pytest.fail("zizmor is not installed (pip install .[dev])")
    proc = subprocess.run([exe, "--offline", "--no-progress", str(ROOT / ".github" / "workflows")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


def test_every_checkout_keeps_no_credentials():
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                if "actions/checkout" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False, (path.name, name)


def test_regression_issues_are_written_by_main_alone_with_issues_write_only():
    data = load(ROOT / ".github" / "workflows" / "main.yml")
    assert "pull_request" not in data["on"] and "pull_request_target" not in data["on"]
    job = data["jobs"]["issues"]
    assert job["permissions"] == {"issues": "write"}
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert not any("actions/checkout" in s.get("uses", "") for s in job["steps"]), "runs no code of the repository"
    for name, other in data["jobs"].items():
        if name != "issues":
            assert "issues" not in (other.get("permissions") or {}), name


def test_the_issue_text_is_the_regressions_entry(tmp_path):
    """What `regressions --json` gives is what the issues job posts, one issue per commit that regressed."""
    import json

    from scripts.history.regressions import from_json, write_issues

    sample = [{"benchmark": "bench_counters.SqlStatements.track_statements('/api/users')", "commit": "c" * 40,
               "before_commit": "b" * 40, "before": 4, "after": 23, "unit": "", "kind": "counter",
               "note": "counter rose beyond its tolerance (0.0% + 0)", "ratio": 5.75, "graph": ""},
              {"benchmark": "bench_pages.Routes.time_route('/api/settings')", "commit": "d" * 40,
               "before_commit": "c" * 40, "before": 0.002, "after": None, "unit": "seconds", "kind": "failed",
               "note": "RuntimeError: GET /api/settings answered 500", "ratio": None, "graph": ""}]
    written = write_issues(from_json(json.loads(json.dumps(sample))), tmp_path, "https://example.test/site")
    assert [p.name for p in written] == ["001.md", "002.md"]
    assert (tmp_path / "001.title").read_text() == "Performance regression at cccccccc\n"
    body = (tmp_path / "001.md").read_text()
    assert "1. 1 operation (`GET /api/users`): +19 SQL statements" in body
    assert ("| `cccccccc` | `bench_counters.SqlStatements.track_statements('/api/users')` | 4 → 23 | ×5.75 | "
            "counter rose beyond its tolerance (0.0% + 0) | "
            "[graph](https://example.test/site/#bench_counters.SqlStatements.track_statements) · "
            f"[what changed](https://example.test/site/commits/{'c' * 40}.html) |") in body
    assert "python3 -m scripts compare bbbbbbbb cccccccc" in body
    failed = (tmp_path / "002.md").read_text()
    assert "2 ms → fails" in failed and "RuntimeError: GET /api/settings answered 500" in failed


def test_results_live_in_a_branch_written_by_one_job_per_workflow():
    main = load(ROOT / ".github" / "workflows" / "main.yml")
    assert "actions/cache" not in (ROOT / ".github" / "workflows" / "main.yml").read_text()
    writers = {name for name, job in main["jobs"].items() if (job.get("permissions") or {}).get("contents") == "write"}
    assert writers == {"store"}
    assert "results push" in main["jobs"]["store"]["steps"][-1]["run"]
    history = "\n".join(s.get("run", "") for s in main["jobs"]["history"]["steps"])
    assert history.index("results pull") < history.index("scripts history")
    backfill = load(ROOT / ".github" / "workflows" / "backfill.yml")
    assert "workflow_dispatch" in backfill["on"]
    assert set(backfill["on"]["workflow_dispatch"]["inputs"]) == {"range", "shards"}
    writers = {n for n, job in backfill["jobs"].items() if (job.get("permissions") or {}).get("contents") == "write"}
    assert writers == {"fan-in"}
    shard = backfill["jobs"]["shard"]
    assert shard["permissions"] == {"contents": "read"}
    run = next(s["run"] for s in shard["steps"] if "history" in s.get("run", ""))
    assert '--shard "$SHARD"' in run and "--machine" in run and "--no-publish" in run
    fan_in = "\n".join(s.get("run", "") for s in backfill["jobs"]["fan-in"]["steps"])
    assert "scripts merge" in fan_in and "results push" in fan_in and "scripts publish" in fan_in
