"""Q&I's picture of the quarter's progress on App Home: one bar chart of where the quarter's work
stands (proposals, allocated, reflections, recorded; the random sample's blind grades and moderated
cases), drawn and uploaded by the outbox sender, never on Home's path.

The picture is uploaded privately (``outbox.PRIVATE_FILE``: in no channel, so nobody is notified)
once for each set of figures: the dedupe key carries a digest of the figures, so a change makes a
new picture and no change makes none. The sent row's ``ts`` is the Slack file id, which Home shows
in an image block (``slack_file``); until the first picture is uploaded, Home shows the figures in
words only. The counts go only to Q&I and admins (named people who may see them), so none is
withheld."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.core.calendar import Quarter
from bot.core.charts import alt_text
from storage.models import LearningAudit, OutboxMessage
from storage.models.learning import Reflection
from storage.models.sampling import SampleAudit, SampledCase, SampleDraw, SampleModeration

KEY = "home-progress"


@dataclass(frozen=True)
class Picture:
    file_id: str
    alt_text: str
    title: str


def figures(session: Session, quarter: Quarter, *, proposals: int, allocated: int, recorded: int
            ) -> list[tuple[str, int]]:
    """The quarter's progress in six numbers, from the per-service counts Home already has plus two
    grouped queries (reflections; the random sample)."""
    reflections = session.scalar(
        select(func.count()).select_from(Reflection).join(LearningAudit, Reflection.audit_id == LearningAudit.id)
        .where(LearningAudit.quarter == quarter.key, LearningAudit.status != "closed")) or 0
    draw = session.scalar(select(SampleDraw.id).where(SampleDraw.quarter == quarter.key))
    blind = moderated = 0
    if draw is not None:
        blind = session.scalar(select(func.count()).select_from(SampleAudit).join(SampledCase)
                               .where(SampledCase.draw_id == draw)) or 0
        moderated = session.scalar(select(func.count()).select_from(SampleModeration).join(SampledCase)
                                   .where(SampledCase.draw_id == draw)) or 0
    return [("Learning-audit proposals", proposals), ("Learning audits allocated", allocated),
            ("Reflections in", int(reflections)), ("Learning audits recorded", recorded),
            ("Random-sample blind grades in", int(blind)), ("Random-sample cases moderated", int(moderated))]


def _prefix(quarter: Quarter) -> str:
    return f"{KEY}:{quarter.key}:"


def key_of(quarter: Quarter, numbers: Sequence[tuple[str, int]]) -> str:
    return f"{_prefix(quarter)}{hashlib.sha256(repr(list(numbers)).encode()).hexdigest()[:16]}"


def ensure(session: Session, quarter: Quarter, numbers: Sequence[tuple[str, int]], *, today_label: str) -> str:
    """Queue a picture of these figures unless one was queued before (one insert, no drawing);
    the picture's dedupe key."""
    labels = [name for name, _ in numbers]
    values = [n for _, n in numbers]
    title = f"Progress, {quarter.label}"
    key = key_of(quarter, numbers)
    outbox.enqueue_chart(
        session, channel=outbox.PRIVATE_FILE, file_name=f"progress-{quarter.key}.png", title=title,
        categories=labels, series={quarter.label: values}, chart_title=f"{title} (as of {today_label})",
        xlabel="Count", alt_text=alt_text(f"the quarter's progress, {quarter.label}, as of {today_label}",
                                          labels, {quarter.label: values}),
        dedupe_key=key)
    return key


def latest(session: Session, quarter: Quarter, key: str | None = None) -> Picture | None:
    """The uploaded picture of these figures (``key``) if it is sent, else the newest of the quarter
    (figures a moment older), or None before the first is sent."""
    row = session.execute(
        select(OutboxMessage.ts, OutboxMessage.blocks).where(
            OutboxMessage.dedupe_key.like(f"{_prefix(quarter)}%"), OutboxMessage.status == "sent",
            OutboxMessage.ts.is_not(None))
        .order_by((OutboxMessage.dedupe_key == (key or "")).desc(), OutboxMessage.id.desc()).limit(1)).first()
    if row is None:
        return None
    spec = (row.blocks or [{}])[0]
    return Picture(file_id=str(row.ts), alt_text=str(spec.get("alt_text") or spec.get("title") or "Progress chart"),
                   title=str(spec.get("chart", {}).get("title") or spec.get("title") or "Progress"))
