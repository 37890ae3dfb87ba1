"""The pull-request gate: compare a base and a head, and decide.

Exit status: 0 no regression, 1 a regression, 2 could not decide
(:attr:`verdict.Verdict.exit_code` is the one place that says so).

- ``verdict``: what a comparison found (the data model);
- ``judge``: how each kind of benchmark is judged, with the rules of
  benchmarks/rules.toml (``scripts/rules.py`` reads them);
- ``budgets``: which budgets the head breaks;
- ``report``: the verdict as Markdown and JSON;
- ``pull_request``: the command: measure base and head, interleaved, and judge.
"""
