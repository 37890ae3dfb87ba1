"""The suite's own PostgreSQL cluster (scripts/postgres.py): a real server on 127.0.0.1, started and stopped."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tests_helpers import ROOT

from scripts.errors import UserError
from scripts.postgres import INSTALL_HINT, Cluster, binary

ENV = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
HAVE_POSTGRES = bool(shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def test_a_missing_postgresql_is_one_line_that_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    with pytest.raises(UserError) as err:
        binary("initdb")
    assert str(err.value) == INSTALL_HINT and "apt-get install postgresql" in INSTALL_HINT


@pytest.mark.skipif(not HAVE_POSTGRES, reason="postgresql is not installed (apt-get install postgresql)")
def test_start_status_stop_on_loopback():
    # Run as root, the server runs as the postgres user, who must reach the
    # folder: pytest's own tmp_path is private to root.
    tmp_path = Path(tempfile.mkdtemp(prefix="pg-test-"))
    tmp_path.chmod(0o755)
    (tmp_path / "asv.conf.json").write_text((ROOT / "asv.conf.json").read_text())

    def cmd(action: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scripts", "postgres", action, "--repo", str(tmp_path)],
                              cwd=ROOT, env=ENV, text=True, capture_output=True, timeout=120)

    try:
        started = cmd("start")
        assert started.returncode == 0, started.stdout + started.stderr
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("postgresql+psycopg://bench@127.0.0.1:") and url.endswith("/target_app")
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT inet_server_addr()::text")) == "127.0.0.1/32"
        engine.dispose()
        assert cmd("status").returncode == 0
        assert cmd("start").stdout.strip().splitlines()[-1] == url  # already running: the same server
    finally:
        stopped = cmd("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert cmd("status").returncode == 1
    assert Cluster(tmp_path).data.is_dir()  # the data stays for the next start
    shutil.rmtree(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0 or not HAVE_POSTGRES, reason="only root hands the server to postgres")
def test_a_clone_the_postgres_user_cannot_reach_gets_a_cluster_in_a_folder_of_its_own():
    # A clone inside a private folder (mode 0700, as many home folders are).
    private = Path(tempfile.mkdtemp(prefix="pg-private-"))
    private.chmod(0o700)
    clone = private / "clone"
    clone.mkdir()
    cluster = Cluster(clone)
    try:
        url = cluster.start()
        assert cluster.home != cluster.folder and cluster.data.is_dir()
        assert not cluster.home.is_relative_to(private)
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
        engine.dispose()
        assert Cluster(clone).start() == url  # running: the same server, found again
    finally:
        home = cluster.home
        assert cluster.stop()
        shutil.rmtree(private)
    assert not home.exists()  # stop removes a folder of its own


def test_the_postgresql_runs_keep_the_sqlite_history_as_it_was(tmp_path):
    import json

    from scripts.postgres import DRIVER_PINS, asv_config, machine_for

    (tmp_path / "asv.conf.json").write_text((ROOT / "asv.conf.json").read_text())
    before = (tmp_path / "asv.conf.json").read_text()
    conf = json.loads((tmp_path / asv_config(tmp_path)).read_text())
    assert (tmp_path / "asv.conf.json").read_text() == before
    # Its own environment (the driver on top of the same pins), its own machine name.
    assert conf["matrix"]["req"] == {**_sqlite_req(), **DRIVER_PINS}
    assert conf["results_dir"] == str(tmp_path / ".asv" / "results") and conf["repo"] == str(tmp_path)
    assert machine_for("vm") == "vm-postgresql" == machine_for("vm-postgresql")


def _sqlite_req() -> dict:
    from asv.util import load_json

    return load_json(str(ROOT / "asv.conf.json"), js_comments=True)["matrix"]["req"]


def test_the_suite_and_the_scripts_agree_on_the_server_variable():
    from benchmarks.databases import POSTGRES_VARIABLE
    from scripts.postgres import BENCH_VARIABLE

    assert POSTGRES_VARIABLE == BENCH_VARIABLE


def test_a_database_is_a_url_on_postgresql_and_a_file_on_sqlite():
    from benchmarks.target import url_of

    assert url_of("/tmp/x/bench-1.sqlite") == "sqlite:////tmp/x/bench-1.sqlite"
    assert url_of("postgresql+psycopg://bench@127.0.0.1:5432/bench_1_0") == \
        "postgresql+psycopg://bench@127.0.0.1:5432/bench_1_0"


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TARGET_APP_POSTGRES_URL"), reason="no PostgreSQL: set TARGET_APP_POSTGRES_URL "
                    "(python3 -m scripts postgres start prints one); .ci/run does")
def test_the_suite_runs_on_postgresql(tmp_path):
    """A smoke of the suite on PostgreSQL: one commit, the counters, kept apart from the SQLite history."""
    from asvrepo import ThrowawayRepo

    from scripts.results import load_results

    repo = ThrowawayRepo(tmp_path / "repo")
    cmd = [sys.executable, "-m", "scripts", "history", "--repo", str(repo.path), "--db", "postgresql", "--machine",
           "ci", "--quick", "--no-callgrind", "--bench", "SqlStatements|PoolConnections|ConcurrentHomepage"]
    home = tmp_path / "home"  # its machines stay out of the user's ~/.asv-machine.json
    home.mkdir()
    proc = subprocess.run(cmd, cwd=ROOT, env={**ENV, "HOME": str(home)}, text=True, capture_output=True,
                          timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    results = load_results(repo.path / ".asv" / "results", "ci-postgresql")[repo.first]
    assert results.values["bench_counters.SqlStatements.track_statements"][0] == 6  # GET /, as on SQLite
    assert results.values["bench_counters.PoolConnections.track_connections"] == [1]
    assert results.values["bench_server.ConcurrentHomepage.track_success_rate"] == [100]
    assert not (repo.path / ".asv" / "results" / "ci").exists()  # nothing written to the SQLite machine


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TARGET_APP_POSTGRES_URL") or not shutil.which("valgrind"),
                    reason="needs PostgreSQL (TARGET_APP_POSTGRES_URL; .ci/run sets it) and valgrind")
def test_a_round_trip_to_postgresql_is_counted_where_the_statements_stay_the_same():
    """One statement either way, as SQLAlchemy's statement counter sees it; inside a transaction it costs
    a BEGIN and a COMMIT more, round trips to the server that the system-call counter sees."""
    from benchmarks.counting.callgrind import Count

    url = os.environ["TARGET_APP_POSTGRES_URL"]
    setup = (f"from sqlalchemy import create_engine, text\nengine = create_engine({url!r})\n"
             "auto = engine.connect().execution_options(isolation_level='AUTOCOMMIT')\n"
             "tx = engine.connect()")
    ops = {"autocommit": "auto.execute(text('SELECT 1'))",
           "transaction": "tx.execute(text('SELECT 1'))\ntx.commit()"}
    count = Count(ops, setup, repeat=3, warmup=2).start()
    count.finish()
    auto, tx = count.syscalls["autocommit"]["network"], count.syscalls["transaction"]["network"]
    assert auto >= 2, count.syscall_sites  # a send and a receive at least
    assert tx > auto, (count.syscalls, count.syscall_sites)
    assert auto == int(auto) and tx == int(tx)  # the same every run


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TARGET_APP_POSTGRES_URL"), reason="no PostgreSQL: set TARGET_APP_POSTGRES_URL "
                    "(python3 -m scripts postgres start prints one); .ci/run does")
def test_explain_gives_postgresql_plans_node_by_node(monkeypatch):
    from benchmarks.common import CHEAP_HASH, bench_db, make_app, remove_db
    from benchmarks.counting.explain import collect_one
    from benchmarks.databases import POSTGRES_VARIABLE
    from benchmarks.operations import Context

    monkeypatch.setenv(POSTGRES_VARIABLE, os.environ["TARGET_APP_POSTGRES_URL"])
    db = bench_db(password_method=CHEAP_HASH)
    try:
        ctx = Context(make_app(str(db), PASSWORD_HASH_METHOD=CHEAP_HASH))
        try:
            one = collect_one(ctx, "GET /api/users")
        finally:
            ctx.close()
            ctx.engine.dispose()
    finally:
        remove_db(db)
    assert one["plan_source"] == "PostgreSQL EXPLAIN (FORMAT JSON)"
    lines = [line for plan in one["plans"].values() for line in plan]
    assert lines and any(" on users" in line for line in lines), one["plans"]
    assert not any("no plan" in line for line in lines), one["plans"]
