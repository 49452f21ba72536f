"""The Board's ids and plain values, and the small parsers the work that reports to it shares.

Nothing here touches the database or Slack: the service builds these values, the messages lay
them out, and the handlers parse what Slack sent with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ValidationError

THEMED, VISIT = "themed_audit", "learning_visit"
"""Where a Board item comes from (``CibItem.source_kind``), and the action-plan source kinds."""


class CibIds(StrEnum):
    """Every block, action and callback id of the Board's flows (kebab-case ``flow-field``)."""

    CIB_SCHEDULE_MODAL = "cib-schedule"
    CIB_DATE = "cib-date"
    CIB_RECORD_DECISION = "cib-record-decision"
    CIB_DECISION_MODAL = "cib-decision"
    CIB_RECEIVED = "cib-received"
    CIB_DECISION_TEXT = "cib-decision-text"


class ModalMeta(BaseModel):
    """A modal's private_metadata: says *which* record, never who may act (that is re-checked)."""

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> Self:
        try:
            return cls.model_validate_json(raw or "{}")
        except ValidationError:
            return cls()


class CibMeta(ModalMeta):
    item_id: int | None = None
    channel: str | None = None
    ts: str | None = None


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def parse_day(value: Any) -> date | None:
    """A date picker's value (ISO), or None when empty or not a date."""
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class DigestThemed:
    item_id: int
    theme: str
    source: str
    priority: str
    cases_audited: str  # already suppressed
    findings: str
    recommendations: str
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestVisit:
    item_id: int
    service_name: str
    visit_on: date
    need_or_risk: str
    feedback: str
    plan_summary: str | None
    actions: tuple[tuple[str, date], ...]  # (description, due), never owners
    action_count: str  # already suppressed


@dataclass(frozen=True)
class DigestContent:
    meeting_on: date
    since: date | None
    themed: tuple[DigestThemed, ...]
    visits: tuple[DigestVisit, ...]
    theme_lines: tuple[str, ...]
    sample_lines: tuple[str, ...]
    action_lines: tuple[str, ...]
    carried: int = 0


@dataclass(frozen=True)
class CibListing:
    """``/qmf cib``: the upcoming meetings and what is queued for each, and items awaiting a decision."""

    meetings: tuple[tuple[date, tuple[str, ...]], ...]
    unscheduled: tuple[str, ...] = ()
    awaiting: tuple[tuple[int, str, date | None], ...] = ()  # (item id, title, meeting date)
    can_schedule: bool = False
    can_chair: bool = False
    recent: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (title, decision)
