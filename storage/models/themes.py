"""Collective learning themes: one draft per service and quarter, reviewed before it is posted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow
from storage.models.directory import Service


class ThemeDraft(Base):
    """The Service Manager's draft of a quarter's learning themes for their service.

    Only what the Service Manager decides is stored (their key messages and the lines they
    dropped): the counts and learning points are collated afresh from the audits whenever the
    draft is shown or posted, so a post always matches the audits recorded. The unique
    (quarter, service) pair is what makes the job and a double click create one draft, and
    the status flip draft -> posted (a conditional UPDATE) is what makes the post happen once.
    """

    __tablename__ = "theme_drafts"
    __table_args__ = (UniqueConstraint("quarter", "service_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(12))  # Quarter.key, e.g. 2026-27Q1
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | posted
    key_messages: Mapped[str | None] = mapped_column(Text)
    dropped_lines: Mapped[list[Any] | None] = mapped_column(JSON)  # ids of lines left out of the post
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    edited_by: Mapped[str | None] = mapped_column(String(32))  # Slack id of the last editor
    escalated_at: Mapped[datetime | None]  # when Q&I were told it was waiting
    posted_at: Mapped[datetime | None]
    posted_by: Mapped[str | None] = mapped_column(String(32))  # Slack id, or "qmf-bot" when posted unreviewed
    channel: Mapped[str | None] = mapped_column(String(32))  # where it was posted
    channel_ts: Mapped[str | None] = mapped_column(String(32))  # the post's ts, once the outbox has sent it
    post_outbox_id: Mapped[int | None]  # the outbox row of the first post message

    service: Mapped[Service] = relationship()
