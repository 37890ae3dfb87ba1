"""The gate on PostgreSQL: the N+1 and NullPool plants, each caught at its commit, PostgreSQL against itself.

A proof (minutes, and a PostgreSQL server: TARGET_APP_POSTGRES_URL, or
`python3 -m scripts postgres start`): ``python3 -m scripts test -m proof -k postgres``.
It also prints what the N+1 costs on each database, for the README.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from asvrepo import ROOT, ThrowawayRepo, sh

pytestmark = [pytest.mark.slow, pytest.mark.proof,
              pytest.mark.skipif(not os.environ.get("TARGET_APP_POSTGRES_URL"),
                                 reason="no PostgreSQL: set TARGET_APP_POSTGRES_URL")]
ENV = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
USERS = "bench_counters.SqlStatements.track_statements('/api/users')"
USERS_TIME = "bench_api.Api.time_api_users"
POOL = "bench_counters.PoolConnections.track_connections"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = ThrowawayRepo(tmp_path_factory.mktemp("pg-gate") / "repo")

    def branch(name, rel, old, new):
        sh(r.path, "git", "checkout", "-q", "-b", name, "main")
        r.edit(rel, old, new)
        r.commit(name)
        sh(r.path, "git", "checkout", "-q", "main")

    branch("nplus1", "target_app/api.py", "        .options(selectinload(User.settings))\n", "")
    # The calibration's NullPool plant, on the server branch of make_engine.
    branch("nullpool", "target_app/db.py",
           "    return create_engine(url, echo=echo, pool_size=pool_size, pool_recycle=pool_recycle, "
           "pool_pre_ping=True)",
           "    from sqlalchemy.pool import NullPool\n\n    return create_engine(url, echo=echo, poolclass=NullPool)")
    return r


def gate(repo, branch, tmp_path, *args):
    out = tmp_path / f"{branch}.json"
    cmd = [sys.executable, "-m", "scripts", "compare", "main", branch, "--repo", str(repo.path), "--json", str(out),
           "--rounds", "2", "--no-explain", "--no-callgrind", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, text=True, capture_output=True, timeout=1800)
    return proc, json.loads(out.read_text()) if out.exists() else None


def test_the_n_plus_1_is_caught_on_postgresql_and_costs_more_there(repo, tmp_path):
    bench = ["--bench", r"SqlStatements\.track_statements|Api\.time_api_users"]
    proc, pg = gate(repo, "nplus1", tmp_path, *bench, "--db", "postgresql")
    assert proc.returncode == 1, (proc.stdout + proc.stderr)[-3000:]
    findings = {f["id"]: f for f in pg["findings"]}
    assert findings[USERS]["status"] == "regressed" and findings[USERS]["after"] > findings[USERS]["before"]
    _, lite = gate(repo, "nplus1", tmp_path, *bench)
    lite_findings = {f["id"]: f for f in lite["findings"]}
    slower_pg = findings[USERS_TIME]["after"] / findings[USERS_TIME]["before"]
    slower_lite = lite_findings[USERS_TIME]["after"] / lite_findings[USERS_TIME]["before"]
    print(f"\n[postgres] N+1 on GET /api/users: statements {findings[USERS]['before']} -> {findings[USERS]['after']}; "
          f"time x{slower_pg:.2f} on PostgreSQL ({findings[USERS_TIME]['before'] * 1e3:.2f} -> "
          f"{findings[USERS_TIME]['after'] * 1e3:.2f} ms), x{slower_lite:.2f} on SQLite "
          f"({lite_findings[USERS_TIME]['before'] * 1e3:.2f} -> {lite_findings[USERS_TIME]['after'] * 1e3:.2f} ms)")
    assert slower_pg > slower_lite


def test_nullpool_is_caught_on_postgresql(repo, tmp_path):
    proc, pg = gate(repo, "nullpool", tmp_path, "--bench", r"PoolConnections|ConnectionPool", "--db", "postgresql")
    assert proc.returncode == 1, (proc.stdout + proc.stderr)[-3000:]
    findings = {f["id"]: f for f in pg["findings"]}
    assert findings[POOL]["status"] == "regressed", findings[POOL]
