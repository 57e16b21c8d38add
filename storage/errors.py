"""Errors a user can cause and fix; the CLI prints them as one line."""


class StorewatchError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""
