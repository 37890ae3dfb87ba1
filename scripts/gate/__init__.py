"""The pull-request gate: measure a base and a head, interleaved, judge them (:mod:`scripts.judging`), and
write the verdict.

- ``pull_request``: the command: measure and judge a pull request, or judge two result sets (A/A);
- ``report``: the verdict as Markdown and JSON.
"""
