"""The history: measure main's commits (``run``), list the regressions found in them (``regressions``), and
share results between machines through a git branch (``branch``). It measures and returns what it found;
the command line publishes the site and prints the regressions, from one judging of the history.
"""
