"""Errors of the application layer that the command line and the API report to users."""


class TwinInputError(ValueError):
    """Bad user input to a twin command or endpoint (a file, a flag, a payload)."""
