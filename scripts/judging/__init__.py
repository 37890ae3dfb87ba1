"""Judging: whether a head regressed against its base, and why, from values already measured.

- ``rules``: the rules of benchmarks/rules.toml (one tolerance type, ``Counter``), and asv's thresholds;
- ``verdict``: what a comparison found (the data model), and the 0/1/2 exit status, said once;
- ``judge``: how each kind of benchmark is judged; ``budgets``: which budgets a head breaks;
- ``accept``: the ``Accept-Regression`` trailers a team writes, and what they accept;
- ``causes``: findings grouped by cause; ``differences``: what changed in one operation;
- ``values``: a value with its unit, as every report writes it; ``layout``: the layout calibration's report.

Nothing here runs asv or git or writes a page: the history, the gate and the site stand on it.
"""
