"""Publish the asv site and make it self-contained (no CDN, works offline)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
from collections import Counter
from pathlib import Path

from scripts.asvtool import AsvError, Project
from scripts.git import commit_hash, commit_titles, last_tag
from scripts.history.regressions import Regression, by_commit, commit_order, open_regressions
from scripts.judging.causes import group
from scripts.judging.rules import load_rules
from scripts.results import load_results
from scripts.site.commits import add_pages
from scripts.site.regressions import add_page as add_regressions_page
from scripts.site.regressions import ledger
from scripts.site.trust import add_page

VENDOR = Path(__file__).resolve().parent.parent / "vendor"

# asv's index.html loads these from public CDNs; each maps to the same file,
# from the same npm package and version, vendored in scripts/vendor/.
CDN_TO_LOCAL = {
    r"jquery-3\.3\.1\.min\.js$": "vendor/js/jquery.min.js",
    r"flot/0\.8\.3/jquery\.flot\.min\.js$": "vendor/js/jquery.flot.js",
    r"flot/0\.8\.3/jquery\.flot\.time\.min\.js$": "vendor/js/jquery.flot.time.js",
    r"flot/0\.8\.3/jquery\.flot\.selection\.min\.js$": "vendor/js/jquery.flot.selection.js",
    r"flot/0\.8\.3/jquery\.flot\.categories\.min\.js$": "vendor/js/jquery.flot.categories.js",
    r"flot-orderbars@1\.0\.0/js/jquery\.flot\.orderBars\.js$": "vendor/js/jquery.flot.orderBars.js",
    r"stupidtable/[\d.]+/stupidtable\.min\.js$": "vendor/js/stupidtable.min.js",
    r"blueimp-md5/2\.19\.0/js/md5\.min\.js$": "vendor/js/md5.min.js",
    r"bootstrap@3\.1\.1/dist/js/bootstrap\.min\.js$": "vendor/js/bootstrap.min.js",
    r"bootstrap@3\.1\.1/dist/css/bootstrap\.min\.css$": "vendor/css/bootstrap.min.css",
}
URL_ATTR = re.compile(r'(src|href)="(https?://[^"]+)"')
SRI_ATTRS = re.compile(r'\s+(integrity|crossorigin|referrerpolicy)="[^"]*"')
TAG = re.compile(r"<(script|link)\b[^>]*>", re.S)


def localize_html(html: str) -> str:
    """Point every CDN <script>/<link> at the vendored copy; fail on an unknown one."""

    def fix_tag(match: re.Match) -> str:
        tag = match.group(0)
        url_match = URL_ATTR.search(tag)
        if not url_match:
            return tag
        url = url_match.group(2)
        for pattern, local in CDN_TO_LOCAL.items():
            if re.search(pattern, url):
                tag = tag.replace(url, local)
                return SRI_ATTRS.sub("", tag)
        raise AsvError(f"asv's page loads {url}, which has no vendored copy: add it to scripts/vendor")

    return TAG.sub(fix_tag, html)


def make_self_contained(html_dir: Path) -> None:
    """Copy the vendored assets into the site and rewrite its HTML pages."""
    target = html_dir / "vendor"
    if target.exists():
        shutil.rmtree(target)
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    for entry in manifest["files"]:
        dest = target / entry["file"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(VENDOR / entry["file"], dest)
    shutil.copytree(VENDOR / "licenses", target / "licenses")
    shutil.copyfile(OFFLINE, html_dir / OFFLINE.name)
    for page in html_dir.glob("*.html"):
        page.write_text(with_offline_loader(localize_html(page.read_text())))


# Loads asv's data without a request where the browser blocks one (the site opened from file://).
OFFLINE = Path(__file__).resolve().parent / "static" / "offline.js"
JQUERY_TAG = re.compile(r'(<script src="vendor/js/jquery\.min\.js"[^>]*></script>)')


def with_offline_loader(html: str) -> str:
    """``html`` with offline.js right after jQuery (a page without jQuery is left as it is)."""
    if OFFLINE.name in html:
        return html
    return JQUERY_TAG.sub(lambda m: m.group(1) + f'\n    <script src="{OFFLINE.name}"></script>', html, count=1)


def write_offline_data(html_dir: Path) -> int:
    """Each JSON data file of the site also as a script that hands its data to offline.js; returns how many."""
    written = 0
    for path in html_dir.rglob("*.json"):
        path.with_name(path.name + ".js").write_text(f"asvOffline({path.read_text().strip()});\n")
        written += 1
    return written


def publish_site(project: Project, found: list[Regression]) -> Path:
    """``asv publish``, :func:`make_self_contained`, then the pages of the history's regressions ``found`` (as
    :func:`scripts.history.regressions.current_regressions` judged them); returns the site's folder."""
    proc = project.asv("publish", capture=True)
    if proc.returncode != 0:
        raise AsvError(f"asv publish failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    make_self_contained(project.html_dir)
    listed = open_regressions(found)
    keep_listed_regressions(project.html_dir, listed)  # an accepted step is no regression: on the commit pages
    rules = load_rules(project.root)
    add_page(project.html_dir, project.root, rules)
    at = by_commit(found)
    order = commit_order(project.root, "main")
    add_pages(project.html_dir, project.root, project.machine, order,
              Counter(r.commit for r in listed), rules.components(),
              causes={c: [g.summary() for g in group(open_regressions(rs))] for c, rs in at.items()},
              accepted={c: [f"{g.summary()}: {g.items[0].accepted}" for g in group([r for r in rs if r.accepted])]
                        for c, rs in at.items()})
    baseline = rules.baseline or (last_tag(project.root, order[-1]) if order else None)
    baseline_commit = commit_hash(project.root, baseline) if baseline else None
    accepted = [r for r in found if r.accepted]
    rows = ledger(found, order, load_results(project.results_dir, project.machine), rules, baseline_commit) \
        if accepted and baseline_commit else []
    add_regressions_page(project.html_dir, found, order, commit_titles(project.root, sorted(at)), rows,
                         baseline or "")
    write_offline_data(project.html_dir)  # last: the regressions' data as kept above
    return project.html_dir


def keep_listed_regressions(html_dir: Path, listed) -> int:
    """Keep on the site's Regressions page only the steps that ``regressions`` lists; returns how many were dropped.

    asv's page finds steps by its thresholds alone; a timing step is listed
    only where the gate's rules (significance, fastest sample, confirmation
    by the next commits) find a regression too, so the page and the command
    agree. A failing benchmark shows on asv's page as a gap: the command
    lists it.
    """
    path = html_dir / "regressions.json"
    index = html_dir / "index.json"
    if not path.exists() or not index.exists():
        return 0
    revisions = json.loads(index.read_text()).get("revision_to_hash", {})
    wanted = {(r.benchmark, r.commit) for r in listed}
    data = json.loads(path.read_text())
    kept, dropped = [], 0
    for entry in data.get("regressions", []):
        jumps = [j for j in entry[-1] or [] if (entry[0], revisions.get(str(j[1]), "")) in wanted]
        dropped += len(entry[-1] or []) - len(jumps)
        if jumps:
            kept.append([*entry[:-1], jumps])
    data["regressions"] = kept
    path.write_text(json.dumps(data))
    return dropped


def serve(html_dir: Path, port: int = 8080, host: str = "127.0.0.1") -> None:
    """Serve the published site on ``host:port`` until interrupted."""
    if not (html_dir / "index.html").exists():
        raise AsvError(f"no site in {html_dir}: run 'python3 -m scripts history' first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html_dir))
    with http.server.ThreadingHTTPServer((host, port), handler) as httpd:
        print(f"serving {html_dir} at http://{host}:{httpd.server_address[1]}/ (Ctrl-C stops)", flush=True)
        httpd.serve_forever()
