"""Benchmark coverage at a commit, and the changed lines no measured operation runs (scripts/coverage.py)."""

from __future__ import annotations

from asvrepo import ThrowawayRepo

from scripts.coverage import (
    changed_lines,
    commit_coverage,
    percent,
    spans,
    uncovered_changes,
    uncovered_summary,
)
from scripts.gate.report import to_markdown
from scripts.judging.verdict import Verdict


def test_spans_and_the_summary_count_lines():
    assert spans([58, 59, 60, 63]) == ["58-60", "63"]
    refs = uncovered_changes({"target_app/errors.py": {"lines": 40, "missing": [58, 59, 60, 63, 70]}},
                             {"target_app/errors.py": {57, 58, 59, 60, 61, 63}})
    assert refs == ["target_app/errors.py:58-60", "target_app/errors.py:63"]
    assert uncovered_summary(refs) == ("4 changed lines run in no benchmark: `target_app/errors.py:58-60`, "
                                       "`target_app/errors.py:63`")


def test_a_change_no_operation_runs_is_named_and_one_they_run_is_not(tmp_path):
    repo = ThrowawayRepo(tmp_path / "repo")
    files = commit_coverage(repo.path, repo.first)
    assert percent(files) >= 95.0, files  # the request-serving lines (docs/measurements.md has the table)
    assert "target_app/cli.py" not in files and "target_app/seed.py" not in files
    # A branch no request takes (a header nobody sends), and a line every request runs.
    repo.edit("target_app/errors.py", "    def handle_http(exc: HTTPException):\n",
              "    def handle_http(exc: HTTPException):\n"
              "        if request.headers.get(\"X-Never-Sent\"):\n"
              "            status = 418\n"
              "            return json_error(status, \"never\")\n")
    repo.edit("target_app/__init__.py", '    headers.setdefault("X-Frame-Options", "DENY")\n',
              '    headers.setdefault("X-Frame-Options", "DENY")\n    headers.setdefault("X-Benchmarked", "yes")\n')
    head = repo.commit("a branch no request takes")
    changed = changed_lines(repo.path, repo.first, head)
    refs = uncovered_changes(commit_coverage(repo.path, head), changed)
    assert set(changed) == {"target_app/errors.py", "target_app/__init__.py"}
    assert len(refs) == 1 and refs[0].startswith("target_app/errors.py:"), refs
    text = to_markdown(Verdict(base=repo.first, head=head, factor=1.1, uncovered=refs))
    assert "2 changed lines run in no benchmark: `target_app/errors.py:" in text


def test_coverage_at_a_commit_that_lacks_a_route_skips_its_operations(tmp_path):
    repo = ThrowawayRepo(tmp_path / "repo")
    repo.edit("target_app/api.py", '@bp.get("/posts")\n@api_login_required\ndef posts():',
              "@api_login_required\ndef posts():")
    old = repo.commit("before the posts API")
    files = commit_coverage(repo.path, old)
    assert files["target_app/api.py"]["missing"], "the view no request reaches is not run"
