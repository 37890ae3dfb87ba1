"""The history command: commit selection, progress, resume, failures, the site."""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asvrepo import ROOT, ThrowawayRepo

from scripts.errors import UserError
from scripts.history.run import format_duration, progress_line, select_commits
from scripts.site.publish import CDN_TO_LOCAL, localize_html


def make_repo(path: Path) -> tuple[ThrowawayRepo, dict[str, str]]:
    r = ThrowawayRepo(path)
    c = {"initial": r.first}
    (r.path / "NOTES.md").write_text("docs only\n")
    c["docs"] = r.commit("docs only")
    r.edit("target_app/main.py", "LATEST = 5", "LATEST = 6")
    c["change"] = r.commit("homepage shows six of each")
    r.edit("pyproject.toml", 'build-backend = "setuptools.build_meta"', 'build-backend = "no_such_backend"')
    (r.path / "target_app" / "broken.txt").write_text("x")
    c["broken"] = r.commit("broken build")
    r.edit("pyproject.toml", 'build-backend = "no_such_backend"', 'build-backend = "setuptools.build_meta"')
    (r.path / "target_app" / "broken.txt").unlink()
    c["fixed"] = r.commit("fix the build")
    return r, c


def test_select_commits_default_skips_commits_that_do_not_touch_the_app(tmp_path):
    r, c = make_repo(tmp_path / "repo")
    chosen = select_commits(r.path, last=10)
    assert c["docs"] not in chosen
    assert chosen[-3:] == [c["change"], c["broken"], c["fixed"]]
    assert select_commits(r.path, last=2) == [c["broken"], c["fixed"]]
    assert c["docs"] in select_commits(r.path, last=10, every_commit=True)
    assert select_commits(r.path, revision_range=f"{c['docs']}..{c['broken']}", last=None) == [
        c["change"],
        c["broken"],
    ]
    hashfile = tmp_path / "hashes.txt"
    hashfile.write_text(f"{c['fixed'][:10]}\n{c['docs']}\n")
    assert select_commits(r.path, hashfile=hashfile) == [c["fixed"], c["docs"]]
    subprocess.run(["git", "tag", "v1", c["change"]], cwd=r.path, check=True)
    assert select_commits(r.path, tags=True) == [c["change"]]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"last": 0}, "--last must be at least 1"),
        ({"revision_range": "nope..alsonope"}, "no such revision or range: nope..alsonope"),
        ({"hashfile": Path("/no/such/file")}, "no such file"),
        ({"tags": True}, "no tags"),
        ({"tags": True, "revision_range": "a..b"}, "at most one"),
    ],
)
def test_select_commits_bad_input_is_a_user_error(tmp_path, kwargs, message):
    r = ThrowawayRepo(tmp_path / "repo")
    with pytest.raises(UserError, match=message):
        select_commits(r.path, **kwargs)


def test_progress_line_estimates_time_left():
    assert format_duration(75) == "1m15s"
    assert progress_line(1, 5, "a" * 40, 0.0, []) == "[history] commit 1 of 5: aaaaaaaa  elapsed 0s"
    line = progress_line(3, 5, "b" * 40, 40.0, [20.0, 20.0])
    assert line.endswith("elapsed 40s, about 1m00s left")


def test_localize_html_replaces_every_cdn_reference():
    asv_index = (Path(__import__("asv").__file__).parent / "www" / "index.html").read_text()
    assert "https://" in asv_index
    out = localize_html(asv_index)
    import re

    external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', out)
    assert external == []
    assert "integrity=" not in out
    for local in CDN_TO_LOCAL.values():
        assert (ROOT / "scripts" / local.replace("vendor/", "vendor/")).exists() or local in out


def test_every_asv_page_loads_the_offline_loader_after_jquery_and_every_data_file_has_its_script(tmp_path):
    from scripts.site.publish import with_offline_loader, write_offline_data

    asv_index = localize_html((Path(__import__("asv").__file__).parent / "www" / "index.html").read_text())
    out = with_offline_loader(asv_index)
    assert out.index('src="vendor/js/jquery.min.js"') < out.index('<script src="offline.js"></script>')
    assert with_offline_loader(out) == out
    assert with_offline_loader("<p>no scripts</p>") == "<p>no scripts</p>"
    (tmp_path / "graphs").mkdir()
    (tmp_path / "graphs" / "a.json").write_text('[[1, 2.5]]\n')
    (tmp_path / "index.json").write_text('{"project": "x"}')
    assert write_offline_data(tmp_path) == 2
    assert (tmp_path / "graphs" / "a.json.js").read_text() == "asvOffline([[1, 2.5]]);\n"


def test_localize_html_refuses_an_unknown_cdn():
    from scripts.asvtool import AsvError

    with pytest.raises(AsvError, match="no vendored copy"):
        localize_html('<script src="https://cdn.example/new-lib.js"></script>')


def test_vendored_files_match_manifest():
    import hashlib
    import json

    manifest = json.loads((ROOT / "scripts" / "vendor" / "MANIFEST.json").read_text())
    for entry in manifest["files"]:
        data = (ROOT / "scripts" / "vendor" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        lic = entry["license"]
        assert lic.startswith("(MIT") or (ROOT / "scripts" / "vendor" / lic).exists()


def history_cmd(repo: ThrowawayRepo, *args: str) -> list[str]:
    return [sys.executable, "-m", "scripts", "history", "--repo", str(repo.path), "--quick",
            "--bench", "SqlStatements", *args]


ENV = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}


@pytest.mark.slow
def test_history_records_a_failed_build_and_goes_on(tmp_path):
    r, c = make_repo(tmp_path / "repo")
    proc = subprocess.run(history_cmd(r, "--last", "3"), cwd=ROOT, env=ENV, text=True, capture_output=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "commit 1 of 3" in out and "commit 3 of 3" in out
    assert f"FAILED to build: {c['broken'][:8]}" in out
    # The build broke and was fixed: nothing is left to list as a regression.
    assert "## No regressions in the history" in proc.stdout
    results = r.results()
    assert set(results) == {c["change"], c["broken"], c["fixed"]}
    site = r.path / ".asv" / "html"
    assert (site / "index.html").exists()
    assert "https://code.jquery.com" not in (site / "index.html").read_text()
    assert (site / "vendor" / "js" / "jquery.min.js").exists()
    # A page per measured commit that built, with what its routes sent.
    page = (site / "commits" / f"{c['fixed']}.html").read_text()
    assert "SQL statement(s)" in page and "GET /api/users" in page
    listing = (site / "commits.html").read_text()
    assert f'href="commits/{c["fixed"]}.html"' in listing
    # Each commit beside its date and subject, as git has them.
    subject = subprocess.run(["git", "log", "-1", "--format=%cs|%s", c["fixed"]], cwd=r.path, text=True,
                             capture_output=True, check=True).stdout.strip()
    date, title = subject.split("|", 1)
    assert f"<td>{date}</td><td>{html.escape(title)}</td>" in listing, listing[-2000:]
    assert not (site / "commits" / f"{c['broken']}.html").exists()
    # A second run measures nothing again, and still reports the failure.
    proc = subprocess.run(history_cmd(r, "--last", "3"), cwd=ROOT, env=ENV, text=True, capture_output=True,
                          timeout=900)
    assert proc.returncode == 1
    assert "0 measured now, 3 already measured" in proc.stdout
    assert f"FAILED to build: {c['broken'][:8]}" in proc.stdout


@pytest.mark.slow
def test_interrupted_history_resumes_without_losing_anything(tmp_path):
    r, c = make_repo(tmp_path / "repo")
    wanted = [c["initial"], c["change"], c["fixed"]]
    hashfile = tmp_path / "hashes.txt"
    hashfile.write_text("\n".join(wanted) + "\n")
    cmd = history_cmd(r, "--hashfile", str(hashfile))
    # A shell that starts jobs in the background hands them SIGINT ignored; Ctrl-C must reach this one.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    while c["initial"] not in r.results():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    first = r.results()[c["initial"]]
    saved = first.read_bytes()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, to the whole process group
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert set(r.results()) < set(wanted), "the run was meant to be cut short"

    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, text=True, capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{c['initial'][:8]} already measured, skipped" in proc.stdout
    assert set(r.results()) == set(wanted)
    assert first.read_bytes() == saved, "the result measured before the interruption changed"


def test_a_commit_is_measured_again_for_the_benchmarks_whose_version_changed():
    from scripts.history.run import stale_benchmarks
    from scripts.results import CommitResult

    result = CommitResult("a" * 40, versions={"m.A.time_x": "1", "m.B.track_y": "abc"})
    assert stale_benchmarks(result, {"m.A.time_x": "1", "m.B.track_y": "abc"}) == []
    assert stale_benchmarks(result, {"m.A.time_x": "2", "m.B.track_y": "abc"}) == ["m.A.time_x"]
    assert stale_benchmarks(result, {"m.A.time_x": "1", "m.C.track_new": "1"}) == ["m.C.track_new"]
    assert stale_benchmarks(result, {"m.A.time_x": "2", "m.C.track_new": "1"}, bench=["track_"]) == [
        "m.C.track_new"]


def test_error_lines_are_read_from_asv_output():
    from scripts.history.run import ErrorLines

    out = """[50.00%] ··· Setting up exact:14                                  ok
[50.00%] ··· bench_counters.SqlStatements.track_statements          1/12 failed
[50.00%] ··· ====================== ========
              '/api/settings'         failed
             ====================== ========
[50.00%] ···· For parameters: '/api/settings'
               Traceback (most recent call last):
                 File "x.py", line 1, in setup
               RuntimeError: GET /api/settings answered 500
               asv: benchmark failed (exit status 1)

[75.00%] ··· bench_pages.HomePage.time_homepage                          failed
[75.00%] ···· Traceback (most recent call last):
                ImportError: cannot import name 'x'
[90.00%] ··· bench_queries.BulkInsert.time_insert_100                             failed
[90.00%] ···· For parameters: 'core'
               asv: skipped: NotImplementedError('target_app.bulk is missing at this commit')

               For parameters: 'orm'
               RuntimeError: bulk insert failed
               asv: benchmark failed (exit status 1)
[100.00%] ··· bench_pages.LoginPage.time_login_page                     1.2ms
"""
    build = """[ 0.00%] ·· Building 71fbd7e1 <main> for virtualenv-py3.11
[ 0.00%] ··· Error running /env/bin/python -c import importlib, sys; importlib.import_module(m) /cache (exit status 1)
             STDOUT -------->
             Traceback (most recent call last):
               File "<string>", line 1, in <module>
             ModuleNotFoundError: No module named 'no_such_backend'
[ 0.00%] · For target_app commit 71fbd7e1 <main>:
"""
    failed_build = ErrorLines()
    for line in build.splitlines(keepends=True):
        failed_build(line)
    assert failed_build.lines(build_failed=True) == {
        "(build)": "ModuleNotFoundError: No module named 'no_such_backend'"}
    assert failed_build.lines(build_failed=False) == {}
    errors = ErrorLines()
    for line in out.splitlines(keepends=True):
        errors(line)
    assert errors.lines() == {
        "bench_counters.SqlStatements.track_statements('/api/settings')":
            "RuntimeError: GET /api/settings answered 500",
        "bench_pages.HomePage.time_homepage": "ImportError: cannot import name 'x'",
        "bench_queries.BulkInsert.time_insert_100('orm')": "RuntimeError: bulk insert failed",
    }
