"""The pieces of the pages this project adds to asv's site: a table, code, and a page with the site's navigation."""

from __future__ import annotations

import html
from pathlib import Path

# The site's navigation: asv's own two pages, then ours (href, label).
NAV = [("index.html", "Benchmark grid"), ("index.html#/regressions", "Regressions"),
       ("trust.html", "How far to trust it"), ("commits.html", "Commits")]
ACTIVE = ' class="active"'


def table(head: list[str], rows: list[list[str]]) -> str:
    """A table; ``head`` is text, each cell of ``rows`` is HTML already."""
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<table class="table table-condensed table-striped"><thead><tr>{cells}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def page(title: str, active: str, body: str, up: str = "") -> str:
    """A whole page in the site's style; ``up`` is the way back to the site's root ("../" from a subfolder)."""
    nav = "".join(f'<li{ACTIVE if href == active else ""}><a href="{up}{href}">{html.escape(label)}</a></li>'
                  for href, label in NAV)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="stylesheet" href="{up}vendor/css/bootstrap.min.css">'
            f'<link rel="shortcut icon" href="{up}swallow.ico"></head><body>'
            f'<nav class="navbar navbar-default"><ul class="nav navbar-nav">{nav}</ul></nav>'
            f'<div class="container-fluid">{body}</div></body></html>\n')


def link_from_asv_pages(html_dir: Path, href: str, label: str, ident: str) -> None:
    """Add a link to ``href`` in the navigation of each of asv's pages, after its Regressions link (once)."""
    item = nav_item(href, label, ident)
    for path in html_dir.glob("*.html"):
        text = path.read_text()
        if f'id="{ident}"' in text or 'id="nav-li-regressions"' not in text:
            continue
        marker = text.rindex('id="nav-li-')  # after the last item: ours keep their order
        end = text.index("</li>", marker) + len("</li>")
        path.write_text(text[:end] + "\n\t" + item + text[end:])


def nav_item(href: str, label: str, ident: str) -> str:
    return f'<li id="{ident}"><a href="{href}">{html.escape(label)}</a></li>'
