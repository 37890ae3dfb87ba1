"""The live server runs as production runs it: its output goes to a file, never into a pipe that can fill."""

from __future__ import annotations

import shutil

import pytest
from tests_helpers import ROOT

from benchmarks.databases import bench_db, remove_db
from benchmarks.server import LiveServer, run_clients
from benchmarks.target import url_of


@pytest.mark.slow
def test_a_server_that_logs_every_statement_keeps_serving(tmp_path, monkeypatch):
    # target_app with SQL echo on: every statement a log line on stdout, far
    # more than a pipe's 64 KiB over these requests.
    app = tmp_path / "target_app"
    shutil.copytree(ROOT / "target_app", app)
    config = app / "config.py"
    config.write_text(config.read_text().replace("SQL_ECHO = False", "SQL_ECHO = True", 1))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # python -c puts the working directory first on its path
    db = bench_db()
    try:
        with LiveServer(url_of(db)) as server:
            result = run_clients(server.port, clients=4, task=lambda c: c.get("/")[0] == 200, per_client=100)
            logged = (server.folder.name, server.log_tail())
        assert result.success_rate == 100.0
        assert "SELECT" in logged[1], "the app did not echo its SQL: the test proves nothing"
    finally:
        remove_db(db)
