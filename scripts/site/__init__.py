"""The published site: asv's pages made self-contained (``publish``), and the pages this project adds.

- ``publish.py``: ``asv publish``, the vendored scripts, the regressions
  list kept as the gate judges it, then the pages below;
- ``trust.py``: "How far to trust it", from the calibrations' reports;
- ``commits.py``: a page per commit and per operation, from the artefacts;
- ``pages.py``: the Jinja2 environment (autoescaped) and the helpers the
  pages share; ``templates/``: the pages' HTML.

Import the module you need (``scripts.site.publish``): this package imports
none of them, so that ``scripts.regressions`` may use ``commits`` while
``publish`` uses ``regressions``.
"""
