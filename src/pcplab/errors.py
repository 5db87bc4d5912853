"""The one error type the CLI turns into a single clear line and exit code 2."""


class PcplabError(Exception):
    """Bad input or usage: the message names the problem and the fix, in one line."""
