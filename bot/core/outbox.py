"""The outbox: every message the bot sends is a row first, then a Slack call.

This module is what features use: ``enqueue`` (and files and charts) adds the rows inside the
work's own transaction. The sender (``bot.app.sender``) sends them. Work and its messages commit together, so a crash never leaves work done without its message
or a message about work that rolled back. The sender keeps each channel's messages in order,
paces itself to Slack's per-channel rate, honours 429 Retry-After, backs off on 5xx and
connection errors, and records the Slack ``ts``. A sender that died between Slack's answer and
its own commit leaves a claim that another sender sends again after the lease: at least once, as
the bot may not read channel history (see ``bot.app.sender.OutboxSender._recover_stale``). Each
message carries its outbox id in Slack message metadata, so a duplicate can be told apart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import Block
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import OutboxMessage

log = logging.getLogger(__name__)

METADATA_EVENT = "qmf_outbox"
PRIVATE_FILE = "(private)"  # an upload shared in no channel: only the bot has it, to show in Home's image blocks
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif")
ALT_TEXT_MAX = 1000  # files.getUploadURLExternal's alt_txt limit


def clip_alt_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ALT_TEXT_MAX else text[: ALT_TEXT_MAX - 1].rstrip() + "…"


def _now() -> datetime:
    return datetime.now(UTC)


def _block_dicts(blocks: Sequence[Block | dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if blocks is None:
        return None
    return [b.to_dict() if isinstance(b, Block) else b for b in blocks]


def enqueue(
    session: Session,
    *,
    channel: str,
    text: str,
    blocks: Sequence[Block | dict[str, Any]] | None = None,
    dedupe_key: str | None = None,
    thread_ts: str | None = None,
) -> bool:
    """Queue a message in the caller's transaction; False if the dedupe key was queued before."""
    values = {
        "kind": "post",
        "channel": channel,
        "text": text,
        "blocks": _block_dicts(blocks),
        "dedupe_key": dedupe_key,
        "thread_ts": thread_ts,
        "not_before": _now(),
        "created_at": _now(),
    }
    return _insert(session, values)


def enqueue_file(
    session: Session, *, channel: str, file_name: str, content: bytes, title: str, text: str = "",
    dedupe_key: str | None = None, alt_text: str | None = None,
) -> bool:
    """Queue a file upload; an image (png, jpg, gif) needs ``alt_text`` saying what it shows."""
    if file_name.lower().endswith(IMAGE_EXTENSIONS) and not (alt_text or "").strip():
        raise ValueError(f"{file_name} is an image: give it alt text that says what it shows")
    spec: dict[str, Any] = {"title": title}
    if alt_text:
        spec["alt_text"] = clip_alt_text(alt_text)
    values = {
        "kind": "upload",
        "channel": channel,
        "text": text,
        "file_name": file_name,
        "file_content": content,
        "blocks": [spec],
        "dedupe_key": dedupe_key,
        "not_before": _now(),
        "created_at": _now(),
    }
    return _insert(session, values)


def enqueue_chart(
    session: Session, *, channel: str, file_name: str, title: str, categories: Sequence[str],
    series: dict[str, Sequence[float]], chart_title: str, alt_text: str, xlabel: str = "",
    horizontal: bool = True, text: str = "", dedupe_key: str | None = None,
) -> bool:
    """Queue a bar chart to be drawn by the sender and uploaded: matplotlib stays off the ack path.
    ``alt_text`` says what the chart shows, numbers included (``bot.core.charts.alt_text`` builds it
    from the same data): Slack reads it to people who cannot see the picture."""
    if not alt_text.strip():
        raise ValueError(f"chart {file_name} needs alt text that says what it shows")
    spec = {"title": title, "alt_text": clip_alt_text(alt_text), "chart": {"categories": list(categories),
                                      "series": {k: list(v) for k, v in series.items()},
                                      "title": chart_title, "xlabel": xlabel, "horizontal": horizontal}}
    values = {
        "kind": "chart",
        "channel": channel,
        "text": text,
        "file_name": file_name,
        "blocks": [spec],
        "dedupe_key": dedupe_key,
        "not_before": _now(),
        "created_at": _now(),
    }
    return _insert(session, values)


def render_chart(spec: dict[str, Any]) -> bytes:
    from bot.core.charts import bar_chart_png

    chart = spec["chart"]
    return bar_chart_png(chart["categories"], chart["series"], title=chart["title"], xlabel=chart["xlabel"],
                         horizontal=chart["horizontal"])


@lru_cache(maxsize=8)
def _insert_statement(dialect: str, deduped: bool) -> Any:
    """Built once: a statement with the values as parameters is compiled once, not per message."""
    if not deduped:
        return insert(OutboxMessage)
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(OutboxMessage)
    return upsert.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OutboxMessage.id)


@lru_cache(maxsize=4)
def _with_audit_entry(deduped: bool) -> Any:
    """PostgreSQL: the outbox row and the audit-log entry held by ``bot.core.audit.record`` in one
    statement (a data-modifying WITH), so the two inserts cost one round trip. Built once."""
    from sqlalchemy import bindparam

    from storage.models import AuditLogEntry

    columns = ("at", "actor", "action", "entity", "entity_id", "detail")
    entry = insert(AuditLogEntry).values({c: bindparam(f"audit_{c}") for c in columns}).cte("audit_entry")
    statement = _insert_statement("postgresql", deduped)
    return statement.add_cte(entry)


def _insert(session: Session, values: dict[str, Any]) -> bool:
    """A plain insert on the session's connection, inside its transaction: the row is nothing the
    session needs to track, and the ORM's unit of work cost more than the insert on the ack path.
    An audit-log entry held for the transaction's next statement goes in the same statement."""
    from bot.core.audit import take_pending

    connection = session.connection()
    deduped = values.get("dedupe_key") is not None
    entry = take_pending(session) if connection.dialect.name == "postgresql" else None
    if entry is not None:
        statement = _with_audit_entry(deduped)
        # with a WITH clause the columns' Python defaults are not filled in: give them here
        values = {"status": "pending", "attempts": 0} | values | {f"audit_{k}": v for k, v in entry.items()}
    else:
        statement = _insert_statement(connection.dialect.name, deduped)
    result = connection.execute(statement, values)
    return not deduped or result.scalar() is not None
