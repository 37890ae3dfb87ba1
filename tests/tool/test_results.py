"""Results from several places in one history: shards merged, and results kept in a branch
(scripts/history/branch.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests_helpers import ROOT

from scripts.cli import shard
from scripts.errors import UserError
from scripts.history.branch import merge

ENV = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
COLUMNS = ["result", "params", "version", "started_at", "duration"]


def write_result(folder: Path, commit: str, values: dict, *, machine: str = "ci", env: str = "virtualenv-py3.11",
                 version: str = "v1") -> Path:
    (folder / machine).mkdir(parents=True, exist_ok=True)
    (folder / machine / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    meta = {name: {"version": version, "unit": "statements"} for name in values}
    (folder / "benchmarks.json").write_text(json.dumps({**meta, "version": 2}))
    path = folder / machine / f"{commit[:8]}-{env}.json"
    data = {"commit_hash": commit, "env_name": env, "result_columns": COLUMNS, "version": 2,
            "results": {name: [[v], [], version, 0, 0.1] for name, v in values.items()},
            "durations": {}}
    path.write_text(json.dumps(data))
    return path


def test_a_shard_is_an_interleaved_slice_that_spans_the_range():
    commits = [f"c{i}" for i in range(1, 7)]
    assert shard(commits, "1/2") == ["c1", "c3", "c5"] and shard(commits, "2/2") == ["c2", "c4", "c6"]
    assert sorted(shard(commits, "1/4") + shard(commits, "2/4") + shard(commits, "3/4") + shard(commits, "4/4")) \
        == sorted(commits)
    for bad in ("0/2", "3/2", "x", "1/"):
        with pytest.raises(UserError, match="--shard"):
            shard(commits, bad)
    with pytest.raises(UserError, match="no commit falls to this shard"):
        shard(commits[:2], "3/3")


def test_shards_merge_into_one_history(tmp_path):
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    write_result(a, "1" * 40, {"s.T.track": 4})
    write_result(a, "3" * 40, {"s.T.track": 5})
    write_result(b, "2" * 40, {"s.T.track": 4})
    report = merge([a, b], dest)
    assert sorted(p.name[:8] for p in (dest / "ci").glob("*-*.json")) == ["11111111", "22222222", "33333333"]
    assert report.summary() == "[merge] machine ci: 3 result file(s) added, 0 joined, 0 already there"
    assert (dest / "ci" / "machine.json").exists() and "s.T.track" in json.loads((dest / "benchmarks.json").read_text())
    # Merging the same shard again changes nothing: an identical duplicate is fine.
    again = merge([a], dest)
    assert again.added == [] and again.same == 2


def test_one_commit_measured_in_parts_is_joined(tmp_path):
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    write_result(a, "1" * 40, {"s.A.track": 4})
    write_result(b, "1" * 40, {"s.B.track": 7})
    report = merge([a, b], dest)
    assert report.joined == ["ci/11111111-virtualenv-py3.11.json"]
    data = json.loads((dest / "ci" / "11111111-virtualenv-py3.11.json").read_text())
    assert {k: v[0] for k, v in data["results"].items()} == {"s.A.track": [4], "s.B.track": [7]}


def test_a_conflicting_duplicate_names_both_files_and_writes_nothing(tmp_path):
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    first = write_result(a, "1" * 40, {"s.T.track": 4})
    write_result(a, "2" * 40, {"s.T.track": 4})
    second = write_result(b, "1" * 40, {"s.T.track": 9})
    with pytest.raises(UserError) as err:
        merge([a, b], dest)
    assert str(err.value) == f"conflicting results for s.T.track at commit 11111111: {first} and {second}"
    assert not dest.exists()


@pytest.mark.parametrize("other, message", [
    ({"machine": "elsewhere"}, "the shards disagree on the machine name"),
    ({"env": "virtualenv-py3.12"}, "the shards disagree on the environment of ci"),
    ({"version": "v2"}, "the shards disagree on the version of s.T.track"),
])
def test_shards_must_agree(tmp_path, other, message):
    a, b = tmp_path / "a", tmp_path / "b"
    write_result(a, "1" * 40, {"s.T.track": 4})
    write_result(b, "2" * 40, {"s.T.track": 4}, **other)
    with pytest.raises(UserError, match=message):
        merge([a, b], tmp_path / "dest")


def test_merge_command_prints_what_it_merged_and_fails_in_one_line(tmp_path):
    a = tmp_path / "a"
    write_result(a, "1" * 40, {"s.T.track": 4})
    cmd = [sys.executable, "-m", "scripts", "merge", str(a), "--into", str(tmp_path / "dest")]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, text=True, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert "1 result file(s) added" in proc.stdout and "ci/11111111-virtualenv-py3.11.json" in proc.stdout
    proc = subprocess.run([*cmd[:4], str(tmp_path / "nothing")], cwd=ROOT, env=ENV, text=True, capture_output=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "no such results folder" in proc.stderr


def _sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, text=True, capture_output=True).stdout


def _clone(bare: Path, where: Path) -> Path:
    _sh(bare.parent, "git", "clone", "-q", str(bare), str(where))
    _sh(where, "git", "config", "user.email", "t@example.test")
    _sh(where, "git", "config", "user.name", "t")
    return where


def _results(clone: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.Popen([sys.executable, "-m", "scripts", "results", *args, "--repo", str(clone)], cwd=ROOT,
                            env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_clones_pushing_at_once_lose_nothing(tmp_path):
    bare = tmp_path / "origin.git"
    _sh(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    seed = _clone(bare, tmp_path / "seed")
    (seed / "asv.conf.json").write_text((ROOT / "asv.conf.json").read_text())
    _sh(seed, "git", "add", "asv.conf.json")
    _sh(seed, "git", "commit", "-qm", "init")
    _sh(seed, "git", "push", "-q", "origin", "main")
    a, b = _clone(bare, tmp_path / "a"), _clone(bare, tmp_path / "b")
    for clone, commits in ((a, "135"), (b, "246")):
        for c in commits:
            write_result(clone / ".asv" / "results", c * 40, {"s.T.track": int(c)})
    # b also holds another machine's folder: push never sends it.
    write_result(b / ".asv" / "results", "9" * 40, {"s.T.track": 9}, machine="elsewhere")
    procs = [_results(clone, "push", "--machine", "ci") for clone in (a, b)]
    said = ""
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        assert "[results] pushed" in out
        said += err
    print(said)  # when both fetched before either pushed: "push rejected ...: trying again (2 of 5)"
    c = _clone(bare, tmp_path / "c")
    proc = _results(c, "pull")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert sorted(p.name[:1] for p in (c / ".asv" / "results" / "ci").glob("*-*.json")) == list("123456")
    assert not (c / ".asv" / "results" / "elsewhere").exists()
    # Only result files are on the branch, and main is untouched.
    files = _sh(c, "git", "ls-tree", "-r", "--name-only", "origin/benchmark-results").split()
    assert all(f == "benchmarks.json" or f.startswith("ci/") for f in files), files
    assert _sh(c, "git", "log", "--format=%s", "origin/main").split("\n")[0] == "init"
    # Pushing again with nothing new makes no commit.
    before = _sh(c, "git", "rev-parse", "origin/benchmark-results")
    proc = _results(a, "push", "--machine", "ci")
    proc.communicate(timeout=120)
    _sh(c, "git", "fetch", "-q")
    assert _sh(c, "git", "rev-parse", "origin/benchmark-results") == before


def test_pull_without_a_branch_says_so(tmp_path):
    bare = tmp_path / "origin.git"
    _sh(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    clone = _clone(bare, tmp_path / "a")
    (clone / "asv.conf.json").write_text((ROOT / "asv.conf.json").read_text())
    proc = _results(clone, "pull")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "no branch benchmark-results on origin yet" in out


def test_a_rejected_push_is_merged_and_tried_again(tmp_path):
    bare = tmp_path / "origin.git"
    _sh(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(bare))
    # The remote turns the first push away, as it does when another job pushed first.
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nif [ ! -e {tmp_path}/turned-away ]; then touch {tmp_path}/turned-away; "
                    "echo 'busy: another job pushed first' >&2; exit 1; fi\n")
    hook.chmod(0o755)
    a = _clone(bare, tmp_path / "a")
    (a / "asv.conf.json").write_text((ROOT / "asv.conf.json").read_text())
    write_result(a / ".asv" / "results", "1" * 40, {"s.T.track": 1})
    proc = _results(a, "push", "--machine", "ci")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert "push rejected" in err and "trying again (2 of 5)" in err
    assert _sh(a, "git", "ls-tree", "-r", "--name-only", "origin/benchmark-results").split() == [
        "benchmarks.json", "ci/11111111-virtualenv-py3.11.json", "ci/machine.json"]


def test_the_default_machine_is_this_hosts_not_the_first_in_the_file(tmp_path, monkeypatch):
    import platform

    from scripts.asvtool import machine_name

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ASV_MACHINE", raising=False)
    # Other machines sort first: a shard's, a PostgreSQL run's.
    (tmp_path / ".asv-machine.json").write_text(json.dumps({"aaa-postgresql": {"machine": "aaa-postgresql"},
                                                            "version": 1}))
    assert machine_name() == platform.node()
    assert platform.node() in json.loads((tmp_path / ".asv-machine.json").read_text())
    monkeypatch.setenv("ASV_MACHINE", "aaa-postgresql")
    assert machine_name() == "aaa-postgresql"
