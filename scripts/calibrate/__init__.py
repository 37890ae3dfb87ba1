"""``calibrate``: prove that the suite catches regressions, and stays quiet on same code.

- ``plants``: the catalogue of planted regressions and the throwaway history they go into;
- ``noise``: same-code (A/A) runs, noise floors and the timing factors they suggest;
- ``report``: the detection report (Markdown, JSON, SVG);
- ``run``: the command: plant, measure, check each plant as the gate and the site judge it;
- ``sweep``: ``calibrate --sweep``, mutants planted automatically in every route (``discover`` lists the
  routes, run in the benchmark environment);
- ``layout``: ``calibrate --layout``, layout-only commits and how far each instruction count moves.
"""
