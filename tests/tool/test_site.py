"""The published site, checked in a real headless Chromium (Debian's chromium).

A throwaway history of three commits, the last of which plants an N+1 query
in /api/users, is benchmarked and published; the browser then checks every
benchmark's graph, the regressions page, navigation, console errors, and
that no request leaves 127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from urllib.parse import unquote, urlparse

import pytest
from asvrepo import ROOT, ThrowawayRepo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / ".site-check"
INSTRUCTIONS = "bench_instructions.Instructions.track_instructions"

pytestmark = pytest.mark.slow

if not CHROMIUM:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail("REQUIRE_BROWSER=1 but chromium is not installed (apt-get install chromium)",
                    pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    repo = ThrowawayRepo(tmp_path_factory.mktemp("site") / "repo")
    repo.edit("target_app/main.py", "LATEST = 5", "LATEST = 6")
    repo.commit("homepage shows six of each")
    repo.edit("target_app/api.py", "        .options(selectinload(User.settings))\n", "")
    repo.commit("api: drop selectinload (plants an N+1)")
    # The whole suite, one sample each: every benchmark gets a graph.
    cmd = [sys.executable, "-m", "scripts", "history", "--repo", str(repo.path), "--quick", "--last", "3"]
    env = {**os.environ, "SCRIPTS_NO_BOOTSTRAP": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = repo.path / ".asv" / "html"
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/", "html": html}
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


class Watched:
    """A page that records console errors, page errors and every request."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.graph_data: dict[str, object] = {}
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"{m.text} {m.location}"))
        self.page.on("pageerror", self._page_error)
        self.page.on("request", lambda r: self.hosts.add(urlparse(r.url).hostname or r.url))
        self.page.on("response", self._response)

    # asv's graph page throws this from flot when the hash changes while a
    # graph is still being laid out (seen once in four runs, 2026-11-28): a
    # race in how quickly this test moves between graphs, not a broken page.
    # Every graph's canvas and data are still checked below.
    LAYOUT_RACE = "Invalid dimensions for plot, width = 0"

    def _page_error(self, error):
        if not str(error).startswith(self.LAYOUT_RACE):
            self.errors.append(str(error))

    def _response(self, response):
        path = unquote(urlparse(response.url).path)
        if path.startswith("/graphs/") and path.endswith(".json") and response.ok:
            self.graph_data[path] = response.json()


def test_every_benchmark_has_a_graph_with_every_commit(site, browser):
    index = json.loads((site["html"] / "index.json").read_text())
    names = sorted(index["benchmarks"])
    with_data = sorted(p.stem for p in (site["html"] / "graphs" / "summary").glob("*.json"))
    assert with_data == names, "some benchmark has no data on the site"
    w = Watched(browser)
    w.page.goto(site["url"] + "index.html")
    w.page.wait_for_selector("#summarygrid-display .benchmark-container, .benchmark-container", timeout=30000)
    SHOTS.mkdir(exist_ok=True)
    w.page.screenshot(path=str(SHOTS / "summary.png"), full_page=True)
    for name in names:
        w.page.goto(site["url"] + f"index.html#{name}")
        w.page.wait_for_selector("#graph-display canvas.flot-base", timeout=30000)
        w.page.wait_for_function(
            "() => document.querySelectorAll('#graph-display canvas').length > 0", timeout=30000
        )
    w.page.goto(site["url"] + "index.html#bench_counters.SqlStatements.track_statements")
    w.page.wait_for_selector("#graph-display canvas.flot-base", timeout=30000)
    w.page.wait_for_timeout(500)
    w.page.screenshot(path=str(SHOTS / "graph.png"), full_page=True)
    # Every benchmark's graph data was fetched, and holds a point per commit.
    fetched = {url.split("/graphs/", 1)[1] for url in w.graph_data}
    for name in names:
        assert any(name in f for f in fetched), f"no graph data fetched for {name}"
    for url, series in w.graph_data.items():
        points = [p for p in series if p[1] is not None] if series and isinstance(series[0], list) else series
        if INSTRUCTIONS in url and not shutil.which("valgrind"):
            # Without valgrind the instruction counts are skipped (README): listed, no points.
            assert points == [], (url, series)
            continue
        assert len(points) >= 3, (url, series)
    assert w.errors == []
    assert w.hosts <= {"127.0.0.1"}, w.hosts


def test_regressions_page_lists_the_planted_n_plus_1(site, browser):
    w = Watched(browser)
    w.page.goto(site["url"] + "index.html#regressions")
    w.page.wait_for_selector("#regressions-display table", timeout=30000)
    text = w.page.inner_text("#regressions-display")
    w.page.screenshot(path=str(SHOTS / "regressions.png"), full_page=True)
    assert "SqlStatements.track_statements" in text
    assert "/api/users" in text
    assert w.errors == []
    assert w.hosts <= {"127.0.0.1"}, w.hosts


def test_the_regressions_page_shows_each_commit_by_cause_with_its_benchmarks_one_click_below(site, browser):
    w = Watched(browser)
    w.page.goto(site["url"] + "regressions.html")
    w.page.wait_for_selector("div.commit", timeout=30000)
    first = w.page.locator("div.commit >> nth=0")
    assert "GET /api/users" in first.inner_text() and "SQL statements" in first.inner_text()
    assert not first.locator("table").first.is_visible()  # the benchmarks wait one click below the cause
    first.locator("summary").first.click()
    assert "SqlStatements.track_statements('/api/users')" in first.locator("table").first.inner_text()
    w.page.screenshot(path=str(SHOTS / "regressions-by-commit.png"), full_page=True)
    first.locator("h3 a").click()
    w.page.wait_for_selector("h1", timeout=30000)
    assert "/commits/" in w.page.url
    assert w.errors == []
    assert w.hosts <= {"127.0.0.1"}, w.hosts


def test_navigation_from_summary_to_graph_and_back(site, browser):
    w = Watched(browser)
    w.page.goto(site["url"] + "index.html")
    w.page.wait_for_selector(".benchmark-container", timeout=30000)
    w.page.click("a.benchmark-container >> nth=0")
    w.page.wait_for_selector("#graph-display canvas.flot-base", timeout=30000)
    assert w.page.url.endswith("#bench_api.Api.time_api_me")
    w.page.click("text=Benchmark list")
    w.page.wait_for_selector("#summarylist-display table", timeout=30000)
    # The Regressions tab leads to the page by commit and cause; asv's table of every step is one link on.
    w.page.click("text=Regressions")
    w.page.wait_for_selector("h1", timeout=30000)
    assert w.page.url.endswith("/regressions.html")
    w.page.click("text=asv's table")
    w.page.wait_for_selector("#regressions-display table", timeout=30000)
    w.page.click("text=Benchmark grid")
    w.page.wait_for_selector("a.benchmark-container", timeout=30000)
    # The calibration page, from the navigation; this history has none, and it says so.
    w.page.click("text=How far to trust it")
    w.page.wait_for_selector("h1", timeout=30000)
    assert w.page.url.endswith("/trust.html")
    assert "No calibration exists for this history yet" in w.page.inner_text("body")
    w.page.click("text=Benchmark grid")
    w.page.wait_for_selector("a.benchmark-container", timeout=30000)
    assert w.errors == []
    assert w.hosts <= {"127.0.0.1"}, w.hosts


def test_a_commit_page_leads_with_what_moved_and_links_its_operation_by_phase(site, browser):
    w = Watched(browser)
    w.page.goto(site["url"] + "commits.html")
    w.page.click("table a >> nth=-1")  # the newest commit: the planted N+1 on /api/users
    w.page.wait_for_selector("h1", timeout=30000)
    assert w.page.inner_text("h3 >> nth=0") == "GET /api/users"
    assert "other operation(s): nothing moved beyond its tolerance" in w.page.inner_text("body")
    if not (site["html"] / "operations").exists():
        pytest.skip("no counts by phase in this history (valgrind or a C compiler is missing)")
    w.page.click("h3 a >> nth=0")
    w.page.wait_for_selector("svg rect", timeout=30000)
    assert w.page.url.endswith("/operations/GET__api_users.html")
    assert w.page.locator("svg rect").count() >= 3 * 5  # three commits, at least five phases each
    assert w.errors == []
    assert w.hosts <= {"127.0.0.1"}, w.hosts


def test_the_site_opened_from_the_file_system_renders_its_graphs(site, browser):
    # A downloaded CI artefact, opened as a file: the browser refuses asv's requests for its JSON there, and
    # the site loads each data file as a script instead (scripts/site/static/offline.js).
    w = Watched(browser)
    root = site["html"].resolve().as_uri()
    w.page.goto(f"{root}/index.html")
    w.page.wait_for_selector(".benchmark-container", timeout=30000)
    w.page.goto(f"{root}/index.html#bench_counters.SqlStatements.track_statements")
    w.page.wait_for_selector("#graph-display canvas.flot-base", timeout=30000)
    assert "Error fetching content" not in w.page.inner_text("body")
    w.page.goto(f"{root}/index.html#regressions")
    w.page.wait_for_selector("#regressions-display table", timeout=30000)
    assert "SqlStatements.track_statements" in w.page.inner_text("#regressions-display")
    assert w.errors == []
    assert all(h.startswith("file://") for h in w.hosts), w.hosts  # nothing but files
