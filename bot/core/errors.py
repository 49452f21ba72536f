"""Domain errors: each says, in words for the person, what went wrong and what to do."""

from __future__ import annotations


class QmfError(Exception):
    """Base for errors whose message is safe and useful to show the person who acted."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotPermitted(QmfError):
    """The person may not do this; the check is always made on the server."""


class NotFound(QmfError):
    """What the person asked about does not exist (or is not theirs to see)."""


class Conflict(QmfError):
    """The action clashes with what is already stored (a duplicate, a closed stage)."""


class InvalidInput(QmfError):
    """Bad input, with an inline message per modal block id."""

    def __init__(self, errors: dict[str, str], message: str | None = None) -> None:
        super().__init__(message or "; ".join(errors.values()))
        self.errors = errors
