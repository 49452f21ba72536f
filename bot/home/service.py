"""App Home: what is each person's to do now, what is coming, and (for Q&I and admins) the
quarter's progress across services. Built from each flow's ``todo_for``; plain data, no Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.core import directory
from bot.core.calendar import Quarter
from bot.core.features import TodoSource
from bot.core.formatting import date_only, day
from bot.core.roles import Role
from bot.core.todo import Todo
from bot.home import picture
from storage.models import CibMeeting, LearningAudit, LearningRound, Proposal, Service


@dataclass(frozen=True)
class HomeJob:
    """A piece of the quarter's work Q&I may start early from Home, in the words its button and its
    answer use: people read what happened and what comes next, never the job's log line (the CLI
    and the audit log keep that)."""

    label: str  # on the button
    done: str  # what has happened, once it ran
    then: str  # what comes next, so the reader knows whether anything is theirs to do


# What a Q&I person or admin may start from Home.
HOME_JOBS: dict[str, HomeJob] = {
    "open-proposals": HomeJob(
        "Open proposals now",
        "Proposals for this quarter's learning audits are open: Service and Team Managers have their "
        "invitation by DM.",
        "Anyone who has not proposed is reminded two working days before the deadline; the cases are "
        "allocated after it."),
    "allocate-learning-audits": HomeJob(
        "Allocate learning audits now",
        "This quarter's learning audits are allocated: each auditor, case holder and team manager has "
        "been told by DM.",
        "Auditors set up their meetings from that message; progress shows on this Home tab."),
    "draw-random-sample": HomeJob(
        "Draw the random sample now",
        "This quarter's random sample is drawn: each Q&I auditor and Practice Consultant has their "
        "cases by DM.",
        "Each of the pair grades their cases blind, then they agree a moderated grade."),
    "post-learning-themes": HomeJob(
        "Draft learning themes now",
        "The learning themes are drafted: each Service Manager has their service's draft by DM.",
        "They review it and post it to their service's channel; Q&I hear of any left waiting."),
    "send-reminders": HomeJob(
        "Send today's reminders now",
        "Today's reminders have gone to everyone with something due.",
        "Nobody gets the same reminder twice, so pressing this again sends nothing new."),
    "cib-digest": HomeJob(
        "Send the CIB digest now",
        "The Continuous Improvement Board's digest is posted to the Board's channel.",
        "The next digest goes before the Board's next meeting."),
}


@dataclass
class ServiceProgress:
    service: str
    proposals: int
    allocated: int
    recorded: int
    overdue: int


@dataclass
class HomeContent:
    slack_id: str
    known: bool
    quarter: Quarter
    todos: list[Todo] = field(default_factory=list)
    coming: list[str] = field(default_factory=list)
    progress: list[ServiceProgress] | None = None
    jobs: dict[str, HomeJob] = field(default_factory=dict)
    away: str | None = None  # "You are marked away from ... to ...", while that is today or ahead
    picture: picture.Picture | None = None  # Q&I's picture of the quarter's progress, once uploaded
    reports: tuple[str, ...] = ()  # the reports this person may have (sample, themes, year): Home's buttons


def todos(session: Session, slack_id: str, today: date, sources: Sequence[TodoSource]) -> list[Todo]:
    items: list[Todo] = []
    for todo_for in sources:
        items.extend(todo_for(session, slack_id, today))
    return sorted(items, key=lambda t: t.sort_key)


def coming_up(session: Session, quarter: Quarter, today: date) -> list[str]:
    lines: list[str] = []
    learning = session.get(LearningRound, quarter.key)
    if learning is None:
        lines.append(f"Learning-audit proposals for {quarter.label} open on the quarter's first working day.")
    else:
        if learning.deadline >= today:
            lines.append(f"Proposals for {quarter.label} close on {day(learning.deadline)}.")
        if learning.audits_due and learning.audits_due >= today:
            lines.append(f"Learning audits are due by {day(learning.audits_due)}.")
    meeting = session.scalar(
        select(CibMeeting.meets_on).where(CibMeeting.meets_on >= today).order_by(CibMeeting.meets_on).limit(1)
    )
    if meeting:
        lines.append(f"Next Continuous Improvement Board: {day(meeting)}.")
    lines.append(f"{quarter.label} ends on {day(quarter.end)}.")
    return lines


def progress(session: Session, quarter: Quarter, today: date) -> list[ServiceProgress]:
    """Counts per service in three grouped queries, whatever the size of the quarter."""
    proposals = dict(session.execute(
        select(Proposal.service_id, func.count())
        .where(Proposal.quarter == quarter.key, Proposal.status != "withdrawn")
        .group_by(Proposal.service_id)
    ).all())
    audits = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                LearningAudit.service_id,
                func.count(),
                func.sum(case((LearningAudit.status == "recorded", 1), else_=0)),
                func.sum(case(((LearningAudit.status != "recorded") & (LearningAudit.due_on < today), 1), else_=0)),
            )
            .where(LearningAudit.quarter == quarter.key, LearningAudit.status != "closed")  # closed: case left
            .group_by(LearningAudit.service_id)
        ).all()
    }
    out = []
    for service in session.scalars(select(Service).where(Service.active).order_by(Service.position)):
        allocated, recorded, overdue = audits.get(service.id, (0, 0, 0))
        out.append(ServiceProgress(service.name, int(proposals.get(service.id, 0)), int(allocated or 0),
                                   int(recorded or 0), int(overdue or 0)))
    return out


def progress_picture(session: Session, quarter: Quarter, today: date,
                     rows: Sequence[ServiceProgress]) -> picture.Picture | None:
    """The quarter's progress as a picture: queued for the sender to draw when the figures change
    (an insert, no drawing here), and the newest one uploaded shown."""
    numbers = picture.figures(session, quarter, proposals=sum(p.proposals for p in rows),
                              allocated=sum(p.allocated for p in rows), recorded=sum(p.recorded for p in rows))
    key = picture.ensure(session, quarter, numbers, today_label=date_only(today))
    return picture.latest(session, quarter, key)


def build_home(session: Session, slack_id: str, *, today: date, quarter: Quarter,
               sources: Sequence[TodoSource]) -> HomeContent:
    me = directory.who(session, slack_id)
    content = HomeContent(slack_id=slack_id, known=me.known, quarter=quarter)
    if not me.known:
        return content
    if me.person is not None:
        content.away = directory.away_text(me.person, today, slack_id)
    content.todos = todos(session, slack_id, today, sources)
    content.coming = coming_up(session, quarter, today)
    if me.has(Role.QUALITY_IMPROVEMENT, Role.ADMIN):
        content.progress = progress(session, quarter, today)
        content.picture = progress_picture(session, quarter, today, content.progress)
        content.jobs = dict(HOME_JOBS)
    # the same people /qmf report serves (handlers.reports checks again when a button is pressed)
    if me.has(Role.QUALITY_IMPROVEMENT, Role.ADMIN, Role.DLT):
        content.reports = ("sample", "themes", "year")
    elif me.services_managed:
        content.reports = ("themes",)
    return content
