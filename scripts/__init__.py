"""The operator's command line: ``python3 -m scripts COMMAND``."""
