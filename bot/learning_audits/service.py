"""Learning audits once the proposals close: the rules every step shares.

Who may act on an audit (its auditor, its case holder), the case as its messages describe it, the
checks on what people write, and the meeting. The steps live beside this module: the allocation
run (``allocation_run``, solved by the pure ``allocation``), who is told what (``notify``), the
case holder's reflection (``reflection``), the auditor's record (``record``), and the job,
reminders and to-dos (``jobs``).

The framework asks for two things that shape the feature. Auditors must be *entirely independent*
of their cases (``bot.core.independence`` says what that means). And the process is for learning,
not performance management, so nothing here grades anything, and what goes to a channel never
carries a case reference (those stay in DMs to the people concerned).

Every permission is checked here, on the server, from the database: a button's value or a
modal's private_metadata only says *which* audit, never *who may*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from slack_sdk.models.views import View
from sqlalchemy.orm import Session

from bot.core import audit as audit_log
from bot.core import outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.formatting import day as nice_date
from bot.core.policy import Policy
from bot.core.privacy import escape, free_text_problem
from bot.learning_audits import messages as blocks
from bot.learning_audits.record_messages import themes_from_values
from bot.learning_audits.types import CaseCard, MeetingField
from storage.models import LearningAudit

SOURCE_KIND = "learning_audit"


# ---------------------------------------------------------------------------------------------
# the audit, and who may act on it


def quarter_label(key: str, policy: Policy) -> str:
    try:
        return Quarter.parse(key, policy.year_start_month).label
    except ValueError:
        return key


def case_card(audit: LearningAudit, policy: Policy, calendar: WorkingCalendar | None = None) -> CaseCard:
    """The card; with the calendar it also carries the meeting's council-local day."""
    meeting_on = calendar.today(audit.meeting_at) if calendar and audit.meeting_at else None
    return CaseCard(
        audit_id=audit.id,
        case_ref=audit.case_ref,
        quarter_label=quarter_label(audit.quarter, policy),
        service_name=audit.service.name,
        team_name=audit.team.name,
        auditor=audit.auditor.slack_id,
        case_holder=audit.case_holder.slack_id,
        team_manager=audit.team_manager.slack_id,
        due_on=audit.due_on,
        meeting_on=meeting_on,
    )


def _get_audit(session: Session, audit_id: int) -> LearningAudit:
    found = session.get(LearningAudit, audit_id)
    if found is None:
        raise NotFound("Sorry, I can't find that learning audit. It may have been removed.")
    return found


def audit_for_auditor(session: Session, audit_id: int, actor: str) -> LearningAudit:
    """The audit, if ``actor`` is the Service Manager allocated to it."""
    found = _get_audit(session, audit_id)
    if found.auditor.slack_id != actor:
        raise NotPermitted(
            "Sorry, only the Service Manager allocated to this learning audit can do that. If you think "
            "it should be yours, ask the Quality & Improvement team."
        )
    return found


def audit_for_case_holder(session: Session, audit_id: int, actor: str) -> LearningAudit:
    """The audit, if ``actor`` holds its case: only they may write its reflection."""
    found = _get_audit(session, audit_id)
    if found.case_holder.slack_id != actor:
        raise NotPermitted(
            "Sorry, only the case holder for this learning audit can open or save its reflection. If you "
            "think it should be yours, ask the Quality & Improvement team."
        )
    return found


def refuse_if_recorded(found: LearningAudit, calendar: WorkingCalendar | None = None) -> None:
    if found.status == "recorded":
        raise Conflict(
            f"This learning audit was already recorded{_on(found, calendar)}; nothing was changed."
        )


def _on(found: LearningAudit, calendar: WorkingCalendar | None) -> str:
    if found.recorded_at is None:
        return ""
    day = calendar.today(found.recorded_at) if calendar else found.recorded_at.date()
    return f" on {blocks.nice_date(day)}"



# ---------------------------------------------------------------------------------------------
# what people write in the reflection and the record


class ModalAnswers(BaseModel):
    """Parsed modal state keyed by block id: empty answers are "" and empty selections []."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            annotation = cls.model_fields[info.field_name].annotation
            return [] if annotation == list[str] else ""
        if isinstance(value, str):
            return value.strip()
        return value


def check_text(
    errors: dict[str, str], block_id: str, label: str, text: str, today: date, *, required: bool
) -> None:
    if not text.strip():
        if required:
            errors[block_id] = f"Please answer “{label.rstrip('?')}”."
        return
    problem = free_text_problem(text, label, today)
    if problem:
        errors[block_id] = problem


def check_themes(errors: dict[str, str], block_id: str, chosen: Sequence[str], policy: Policy) -> list[str]:
    unknown = [t for t in chosen if t not in policy.learning_themes]
    if unknown:
        errors[block_id] = "Choose themes from the council's list."
    return [t for t in dict.fromkeys(chosen) if t in policy.learning_themes]


def themes_from_values_or_same(values: Sequence[str], policy: Policy) -> list[str]:
    return themes_from_values(values, policy.learning_themes)


# ---------------------------------------------------------------------------------------------
# step 5: the meeting


def meeting_people(learning_audit: LearningAudit) -> list[str]:
    """The three people who meet (two when the team manager holds the case)."""
    return list(
        dict.fromkeys(
            [
                learning_audit.auditor.slack_id,
                learning_audit.team_manager.slack_id,
                learning_audit.case_holder.slack_id,
            ]
        )
    )


@dataclass(frozen=True)
class MeetingChoice:
    """A meeting as the auditor chose it: an aware start, a length in minutes, where (may be "")."""

    start: datetime
    minutes: int
    place: str


def meeting_modal_for(session: Session, *, audit_id: int, actor: str, policy: Policy,
                      calendar: WorkingCalendar) -> View:
    found = audit_for_auditor(session, audit_id, actor)
    refuse_if_recorded(found, calendar)
    start = calendar.local(found.meeting_at) if found.meeting_at else None
    return blocks.meeting_modal(card=case_card(found, policy, calendar), start=start,
                                minutes=found.meeting_minutes, place=found.meeting_place)


def check_meeting(values: dict[str, Any], *, calendar: WorkingCalendar, now: datetime) -> MeetingChoice:
    """The modal's answers as a meeting, or InvalidInput keyed by block: a working day, not past."""
    errors: dict[str, str] = {}
    today = calendar.today(now)
    day: date | None = None
    try:
        day = date.fromisoformat(str(values.get(MeetingField.DATE.value) or ""))
    except ValueError:
        errors[MeetingField.DATE.value] = "Please choose the meeting date."
    if day is not None:
        if day < today:
            errors[MeetingField.DATE.value] = f"{nice_date(day)} has passed: please choose a later day."
        elif not calendar.is_working_day(day):
            errors[MeetingField.DATE.value] = (
                f"{nice_date(day)} is not a working day (a weekend or bank holiday): please choose "
                f"another, such as {nice_date(calendar.next_working_day(day))}."
            )
    moment: time | None = None
    try:
        moment = time.fromisoformat(str(values.get(MeetingField.START.value) or ""))
    except ValueError:
        errors[MeetingField.START.value] = "Please choose a start time."
    try:
        minutes = int(values.get(MeetingField.LENGTH.value) or 0)
    except ValueError:
        minutes = 0
    if minutes not in blocks.MEETING_LENGTHS:
        errors[MeetingField.LENGTH.value] = "Please choose a length from the list."
    place = str(values.get(MeetingField.PLACE.value) or "").strip()
    problem = free_text_problem(place, "Where", today) if place else None
    if problem:
        errors[MeetingField.PLACE.value] = problem
    if day is not None and moment is not None and MeetingField.DATE.value not in errors:
        start = calendar.at(day, moment.hour, moment.minute)
        if start <= now:
            errors[MeetingField.START.value] = "That time has passed today: please choose a later time."
    if errors:
        raise InvalidInput(errors)
    assert day is not None and moment is not None
    return MeetingChoice(start=calendar.at(day, moment.hour, moment.minute), minutes=minutes, place=place)


def meeting_when(calendar: WorkingCalendar, start: datetime, minutes: int) -> str:
    """"Tue 5 May 2026, 10:00 to 11:00" in the council's time."""
    local = calendar.local(start)
    end = calendar.local(start + timedelta(minutes=minutes))
    return f"{nice_date(local.date())}, {local:%H:%M} to {end:%H:%M}"


def schedule_meeting(
    session: Session, *, audit_id: int, actor: str, channel: str, choice: MeetingChoice, policy: Policy,
    calendar: WorkingCalendar, now: datetime,
) -> str:
    """Store the meeting and tell the group DM once, with the invitation: "set", "moved" or "same".

    The first time, the group DM also gets the meeting's purpose and headings. The same time, length
    and place again changes nothing and posts nothing, so a double press tells nobody twice."""
    found = audit_for_auditor(session, audit_id, actor)
    refuse_if_recorded(found, calendar)
    if found.meeting_channel is None:
        found.meeting_channel = channel
        text, body = blocks.meeting_message(case_card(found, policy))
        outbox.enqueue(session, channel=channel, text=text, blocks=body, dedupe_key=f"learning-meeting:{audit_id}")
    same = (found.meeting_at is not None and found.meeting_at == choice.start
            and found.meeting_minutes == choice.minutes and (found.meeting_place or "") == choice.place)
    if same:
        return "same"
    moved = found.meeting_at is not None
    found.meeting_at, found.meeting_minutes = choice.start, choice.minutes
    found.meeting_place = choice.place or None
    found.meeting_sequence = (found.meeting_sequence or 0) + 1
    audit_log.record(session, actor, "edit", "learning_audit", audit_id, meeting_channel=found.meeting_channel,
                     meeting_at=choice.start.isoformat(), meeting_minutes=choice.minutes,
                     meeting_sequence=found.meeting_sequence)
    card = case_card(found, policy, calendar)
    when = meeting_when(calendar, choice.start, choice.minutes)
    late = card.due_on is not None and calendar.today(choice.start) > card.due_on
    text, body = blocks.meeting_time_message(card, when=when, place=escape(choice.place), moved=moved, late=late)
    key = f"learning-meeting-time:{audit_id}:{found.meeting_sequence}"
    outbox.enqueue(session, channel=found.meeting_channel, text=text, blocks=body, dedupe_key=key)
    outbox.enqueue_file(
        session, channel=found.meeting_channel, file_name="learning-audit-meeting.ics",
        content=meeting_ics(card, choice, calendar, sequence=found.meeting_sequence, stamp=now),
        title="Learning audit meeting (calendar invitation)", dedupe_key=f"{key}:ics",
    )
    return "moved" if moved else "set"


def _ics_text(value: str) -> str:
    """RFC 5545 3.3.11: backslash, semicolon, comma and newlines escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets continue on the next line after a space."""
    raw = line.encode()
    parts: list[bytes] = []
    while len(raw) > 75:
        cut = 75 if not parts else 74
        while cut and (raw[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        parts.append(raw[:cut])
        raw = raw[cut:]
    parts.append(raw)
    return "\r\n ".join(p.decode() for p in parts)


def _offset(moment: datetime) -> str:
    seconds = int((moment.utcoffset() or timedelta()).total_seconds())
    sign = "-" if seconds < 0 else "+"
    return f"{sign}{abs(seconds) // 3600:02d}{abs(seconds) % 3600 // 60:02d}"


def meeting_ics(card: CaseCard, choice: MeetingChoice, calendar: WorkingCalendar, *, sequence: int,
                stamp: datetime) -> bytes:
    """The invitation, by hand per RFC 5545, in the council's timezone.

    The UID is the audit's, so a changed time (a higher SEQUENCE) replaces the event in people's
    calendars. It names the case reference only: no people, no details of the case."""
    start = calendar.local(choice.start)
    end = calendar.local(choice.start + timedelta(minutes=choice.minutes))
    zone = str(calendar.tz)
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//QMF Bot//Learning audits//EN", "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VTIMEZONE", f"TZID:{zone}", "BEGIN:STANDARD", "DTSTART:19700101T000000",
        f"TZOFFSETFROM:{_offset(start)}", f"TZOFFSETTO:{_offset(start)}", f"TZNAME:{start.tzname()}",
        "END:STANDARD", "END:VTIMEZONE",
        "BEGIN:VEVENT",
        f"UID:learning-audit-{card.audit_id}-meeting@qmf-bot",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}",
        f"DTEND;TZID={zone}:{end:%Y%m%dT%H%M%S}",
        f"SUMMARY:{_ics_text(f'Learning audit meeting: {card.case_ref}')}",
        "DESCRIPTION:" + _ics_text("A strengths-based learning audit conversation, in person. "
                                   "Details are in the group DM from QMF Bot."),
    ]
    if choice.place:
        lines.append(f"LOCATION:{_ics_text(choice.place)}")
    lines += ["STATUS:CONFIRMED", "END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
