"""The one exception type a command raises for bad input (exit status 2)."""


class UserError(Exception):
    """Bad input or an impossible request: printed as one line, exit status 2."""
