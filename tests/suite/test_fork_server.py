"""asv's fork server warms up once for the processes it forks (benchmarks/__init__.py,
common.warm_up_fork_server): an app built and thrown away, nothing kept that a benchmark process could share."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.tests_helpers import ROOT

# What the suite's import left behind, as the process that imported it sees it.
PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv.pop())
import benchmarks
from benchmarks.common import cache_dir, fixture
print(json.dumps({
    "app_built": "target_app.auth" in sys.modules,
    "fixtures_kept": fixture.cache_info().currsize,
    "copies_left": sorted(p.name for p in cache_dir().glob(f"bench-{os.getpid()}-*")),
}))
"""


def _import_the_suite(*argv: str, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv, str(ROOT)], capture_output=True, text=True,
                          timeout=120, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_fork_server_builds_an_app_and_keeps_nothing_of_it():
    # asv_runner's fork server runs as `benchmark.py run_server <dir> <socket>`.
    seen = _import_the_suite("run_server", "benchmarks", "socket")
    assert seen == {"app_built": True, "fixtures_kept": 0, "copies_left": []}


def test_every_other_process_imports_the_suite_without_it():
    # asv's discovery and setup_cache processes, the counting processes (python -c), the tests.
    for argv in ([], ["discover", "benchmarks", "out.json"], ["setup_cache", "benchmarks", "bench_x.X.track"]):
        assert _import_the_suite(*argv)["app_built"] is False


def test_a_warm_up_that_fails_leaves_the_fork_server_running():
    # A database that cannot be reached: each benchmark meets the same failure and reports it, the import goes on.
    env = {**os.environ, "TARGET_APP_BENCH_POSTGRES_URL": "postgresql://bench@127.0.0.1:1/none"}
    seen = _import_the_suite("run_server", "benchmarks", "socket", env=env)
    assert seen["fixtures_kept"] == 0
    assert seen["app_built"] is False
