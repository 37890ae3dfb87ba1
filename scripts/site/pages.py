"""What the pages this project adds to asv's site share: their Jinja2 templates (autoescaped), the site's
navigation, and the link from asv's own pages to ours."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

# The site's navigation (href, label): asv's grid, then ours; asv's table of every step is linked from the
# Regressions page.
NAV = [("index.html", "Benchmark grid"), ("regressions.html", "Regressions"),
       ("trust.html", "How far to trust it"), ("commits.html", "Commits")]

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                        keep_trailing_newline=True)


def render(template: str, **context) -> str:
    """A page from ``templates/``: ``title``, ``active`` (its href in the navigation) and ``up`` (the way
    back to the site's root: "../" from a subfolder) go to the layout, the rest to the page."""
    return TEMPLATES.get_template(template).render({"nav": NAV, "up": "", **context})


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
    return str(Markup('<li id="{}"><a href="{}">{}</a></li>').format(ident, href, label))
