"""Operational tables: the audit log, the outbox of Slack messages, and job runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class AuditLogEntry(Base):
    """Every create, view of detail, edit and export, for data-protection accountability."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxMessage(Base):
    """A message the bot will send to Slack; written in the same transaction as the work."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_channel_queue", "status", "channel", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="post")  # post | update | upload
    channel: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    blocks: Mapped[list[Any] | None] = mapped_column(JSON)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    update_of: Mapped[int | None]  # outbox id whose message this edits (kind=update)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    ts: Mapped[str | None] = mapped_column(String(32))
    sent_channel: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))


class JobRun(Base):
    """One row per job and period: the database decides that a job's work happens once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    summary: Mapped[str | None] = mapped_column(Text)


class SlackEvent(Base):
    """Events API deliveries already taken: Slack retries (X-Slack-Retry-Num) are dropped here."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class HomeView(Base):
    """The hash of the App Home last published to each person, so it is republished only on change."""

    __tablename__ = "home_views"

    slack_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    view_hash: Mapped[str] = mapped_column(String(64))
    page: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class ViewSubmission(Base):
    """A modal submission already taken, keyed by what Slack sends (the view's id and hash): a re-sent
    or double-pressed submission finds its row and is answered with the stored ack, doing nothing."""

    __tablename__ = "view_submissions"
    __table_args__ = (UniqueConstraint("view_id", "view_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    view_id: Mapped[str] = mapped_column(String(64))
    view_hash: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CoverNotice(Base):
    """Work Q&I were told needs cover (its holder away on its due date, gone from the directory, or
    its case closed on the register): one row per (work key, reason, holder), so each is told once."""

    __tablename__ = "cover_notices"
    __table_args__ = (UniqueConstraint("work_key", "reason", "holder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_key: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(12))  # away | left | closed
    holder: Mapped[str] = mapped_column(String(32))
    told_at: Mapped[datetime] = mapped_column(default=utcnow)
