"""What a log line is about (a Slack request, a scheduled job), for logs written as JSON lines.

The shell's formatter (``bot.app.logs``) adds these fields to every line logged inside the block;
set them with ``with log_context(job="send-reminders"):``. Nothing here formats or writes logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_fields: ContextVar[dict[str, str] | None] = ContextVar("qmf_log_context", default=None)


def current_context() -> dict[str, str]:
    return dict(_fields.get() or {})


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Add ``fields`` to every line logged in this block (on this thread or task)."""
    token = _fields.set({**(_fields.get() or {}), **fields})
    try:
        yield
    finally:
        _fields.reset(token)
