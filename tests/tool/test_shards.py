"""A history measured in two shards side by side, merged and published, equals one machine's history.

A proof (minutes): ``python3 -m scripts test -m proof -k shards``. Each clone
has its own asv environment, as separate runners would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from asvrepo import ROOT, ThrowawayRepo, sh

from scripts.judging.rules import load_rules
from scripts.results import load_results, param_labels
from scripts.suite import benchmark_id

pytestmark = [pytest.mark.slow, pytest.mark.proof]
ENV = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
MACHINE = "shard-proof"
# The exact measurements (statements, bytes, instruction counts) share one
# setup_cache: these ids bring all of them, without the timings.
BENCH = ["--bench", "SqlStatements|FormStatements|Instructions|PoolConnections"]


def _clone(repo: ThrowawayRepo, where: Path) -> Path:
    sh(repo.path.parent, "git", "clone", "-q", str(repo.path), str(where))
    conf = where / "asv.conf.json"
    # Its own environment, as a separate runner has.
    conf.write_text(re.sub(r'"env_dir": "[^"]*"', '"env_dir": ".asv/env"', conf.read_text()))
    return where


def _history(clone: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scripts", "history", "--repo", str(clone), "--all", "--machine", MACHINE,
           "--no-publish", *BENCH, *args]
    # A home of its own, as a runner has: asv rewrites ~/.asv-machine.json on
    # every run, not atomically, so two runs on one host at once can read it
    # half-written (and lose a commit's results).
    home = clone / ".home"
    home.mkdir(exist_ok=True)
    return subprocess.Popen(cmd, cwd=ROOT, env={**ENV, "HOME": str(home)}, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        log = Path(tempfile.mkdtemp(prefix="shard-log-")) / "history.log"
        log.write_text(out)
        pytest.fail(f"history failed ({proc.returncode}); its whole output is in {log}:\n{out[-2000:]}")
    return out


def test_two_shards_side_by_side_merge_into_the_one_machine_history(tmp_path):
    repo = ThrowawayRepo(tmp_path / "repo")
    steps = [("target_app/main.py", '"""The homepage and the health check', '"""The homepage and the health check (1)'),
             ("target_app/api.py", "        .options(selectinload(User.settings))\n", ""),  # an N+1
             ("target_app/main.py", "(1)", "(2)"),
             ("target_app/api.py", "def settings():\n", "def settings():\n    sum(range(4200))\n"),  # CPU
             ("target_app/main.py", "(2)", "(3)")]
    for n, (rel, old, new) in enumerate(steps, 1):
        repo.edit(rel, old, new)
        repo.commit(f"step {n}")
    commits = sh(repo.path, "git", "rev-list", "--reverse", "main").split()
    assert len(commits) == 6

    a, b, one = (_clone(repo, tmp_path / name) for name in ("shard1", "shard2", "one"))
    # Environments first, so that the times below compare measuring alone.
    for clone in (a, b, one):
        # asv 0.6.6's `setup` exits 1 after success (it exits with its list of environments).
        proc = subprocess.run([sys.executable, "-m", "asv", "setup"], cwd=clone, env=ENV, text=True,
                              capture_output=True, timeout=1800)
        assert list(clone.glob(".asv/env/*/bin/python")), proc.stdout[-2000:] + proc.stderr[-2000:]
    start = time.monotonic()
    shards = [_history(a, "--shard", "1/2"), _history(b, "--shard", "2/2")]
    outs = [_finish(p) for p in shards]
    side_by_side = time.monotonic() - start
    start = time.monotonic()
    _finish(_history(one))
    alone = time.monotonic() - start
    print(f"\n[shards] 6 commits: two shards side by side {side_by_side:.0f} s, one run {alone:.0f} s")
    assert "(shard 1/2)" in outs[0] and "(shard 2/2)" in outs[1]

    merged = _clone(repo, tmp_path / "merged")
    (merged / ".home").mkdir()
    env = {**ENV, "HOME": str(merged / ".home")}
    proc = subprocess.run([sys.executable, "-m", "scripts", "merge", str(a / ".asv" / "results"),
                           str(b / ".asv" / "results"), "--repo", str(merged)], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    assert "6 result file(s) added" in proc.stdout
    env["ASV_MACHINE"] = MACHINE
    proc = subprocess.run([sys.executable, "-m", "scripts", "publish", "--repo", str(merged)], cwd=ROOT, env=env,
                          text=True, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    sharded = load_results(merged / ".asv" / "results", MACHINE)
    single = load_results(one / ".asv" / "results", MACHINE)
    assert set(sharded) == set(single) == set(commits)
    graph = json.loads(next((merged / ".asv" / "html" / "graphs").rglob(
        "bench_counters.SqlStatements.track_statements.json")).read_text())
    assert len(graph) == 6, graph
    rules = load_rules(ROOT)
    instructions = 0
    for commit in commits:
        for name, value in single[commit].values.items():
            got = sharded[commit].values[name]
            if ".Instructions." in name:
                # Within each count's own tolerance (benchmarks/rules.toml), the gate's measure of "the same".
                labels = param_labels(single[commit].params[name])
                for label, x, y in zip(labels, value, got, strict=True):
                    if x is not None:
                        tolerance = rules.counter(benchmark_id(name, label), name).relative
                        assert abs(y - x) <= tolerance * x, (name, label, commit[:8], x, y, tolerance)
                        instructions += 1
            else:
                assert got == value, (name, commit[:8], value, got)
    assert instructions > 0

