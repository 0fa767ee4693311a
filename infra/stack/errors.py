"""The one error the launcher raises: its message is meant to be shown to a person as is."""


class StackError(Exception):
    """A stack could not be started, reached or stopped; the message says what and why."""
