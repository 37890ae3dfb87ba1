"""The published site: asv's pages made self-contained (``publish``), and the pages this project adds.

- ``publish.py``: ``asv publish``, the vendored scripts, the regressions list as the judge found it, then
  the pages below;
- ``trust.py``: "How far to trust it", from the calibrations' reports;
- ``commits.py``: a page per commit and per operation, from the artefacts;
- ``pages.py``: the Jinja2 environment (autoescaped) and the helpers the pages share; ``templates/``: the
  pages' HTML.
"""
