"""benchmarks/views.py: the views the sweep plants into, read from the app's URL map."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from tests_helpers import ROOT

from benchmarks.views import views
from target_app import create_app
from target_app.config import TestConfig


def test_every_endpoint_but_static_is_a_view_with_the_first_line_of_its_body():
    app = create_app(TestConfig)
    found = views(app, ROOT)
    assert set(found) == {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    for endpoint, view in found.items():
        line = (ROOT / view["file"]).read_text().splitlines()[view["line"] - 1]
        assert line[:view["indent"]].strip() == "" and not line.lstrip().startswith(('"""', "def ", "@")), endpoint
    assert "GET /api/posts" in found["api.posts"]["inputs"]
    assert any(op.startswith("GET /api/users") for op in found["api.users"]["ops"])


def test_run_as_a_program_it_refuses_an_app_from_elsewhere(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.views", str(tmp_path)], cwd=ROOT, text=True,
                          capture_output=True, env={"TARGET_APP_BENCH_CALLGRIND": "0", "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="the cost of an element is counted by valgrind")
def test_it_prints_one_line_of_json_for_this_app():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.views", str(ROOT)], cwd=ROOT, text=True,
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "main.index" in json.loads(proc.stdout.strip().splitlines()[-1])["views"]
