"""Step 7: the auditor's record of the learning audit, its themes and the individual actions drafted
with it; recording it publishes the actions and sends the learning back (step 9).

The audit is not graded: it records the learning, in the headings the framework's template gives.
Actions go through the action-plan feature (``bot.actions``), as drafts until the audit is recorded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.actions import service as actions
from bot.core import audit as audit_log
from bot.core import outbox
from bot.core.amendments import amendable_until, changed_fields, refuse_after_window
from bot.core.calendar import WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotFound
from bot.core.policy import Policy
from bot.core.privacy import outbound
from bot.learning_audits import record_messages
from bot.learning_audits.notify import feedback_recipients, send_feedback
from bot.learning_audits.reflection import reflection_answers
from bot.learning_audits.service import (
    SOURCE_KIND,
    ModalAnswers,
    audit_for_auditor,
    case_card,
    check_text,
    check_themes,
    refuse_if_recorded,
    themes_from_values_or_same,
)
from bot.learning_audits.types import AuditField, DraftAction
from storage.models import LearningAudit, ThemeTag
from storage.models.themes import ThemeDraft

if TYPE_CHECKING:
    from slack_sdk.models.views import View


class AuditAnswers(ModalAnswers):
    outcomes: str = Field("", validation_alias=AuditField.OUTCOMES.value)
    service_user_feedback: str = Field("", validation_alias=AuditField.FEEDBACK.value)
    feedback_source: str = Field("", validation_alias=AuditField.FEEDBACK_SOURCE.value)
    worker_impact: str = Field("", validation_alias=AuditField.WORKER_IMPACT.value)
    needed_to_improve: str = Field("", validation_alias=AuditField.NEEDED.value)
    good_practice: str = Field("", validation_alias=AuditField.GOOD_PRACTICE.value)
    wider_learning: str = Field("", validation_alias=AuditField.WIDER.value)
    improve_themes: list[str] = Field(default_factory=list, validation_alias=AuditField.IMPROVE_THEMES.value)
    good_practice_themes: list[str] = Field(default_factory=list, validation_alias=AuditField.GOOD_THEMES.value)


_AUDIT_TEXT = {
    AuditField.OUTCOMES: "outcomes",
    AuditField.FEEDBACK: "service_user_feedback",
    AuditField.FEEDBACK_SOURCE: "feedback_source",
    AuditField.WORKER_IMPACT: "worker_impact",
    AuditField.NEEDED: "needed_to_improve",
    AuditField.GOOD_PRACTICE: "good_practice",
    AuditField.WIDER: "wider_learning",
}


def drafts_for(session: Session, audit_id: int) -> list[DraftAction]:
    """The audit's actions so far (drafts while it is open), as the modal lists them."""
    rows = actions.actions_for(session, source_kind=SOURCE_KIND, source_id=audit_id, include_drafts=True)
    return [
        DraftAction(id=a.id, owner=a.owner.slack_id, due_on=a.due_on, description=a.description) for a in rows
    ]


def audit_modal_for(
    session: Session,
    *,
    audit_id: int,
    actor: str,
    policy: Policy,
    calendar: WorkingCalendar | None = None,
    values: dict[str, Any] | None = None,
    opening: bool = True,
) -> View:
    """The audit modal for the allocated auditor, with the reflection summary and drafted actions.

    Opening it shows the auditor part of the reflection, so that is logged; a refresh is not.
    """
    learning_audit = audit_for_auditor(session, audit_id, actor)
    refuse_if_recorded(learning_audit, calendar)
    reflection = reflection_answers(learning_audit.reflection)
    if reflection is not None and opening and learning_audit.reflection is not None:
        audit_log.record(
            session,
            actor,
            "view",
            "reflection",
            learning_audit.reflection.id,
            audit_id=audit_id,
            summary_only=True,
        )
    return record_messages.audit_modal(
        card=case_card(learning_audit, policy, calendar),
        themes=policy.learning_themes,
        reflection=reflection,
        drafts=drafts_for(session, audit_id),
        values=values,
        actions_available=True,
    )


def add_draft_action(
    session: Session, *, audit_id: int, actor: str, owner: str, due_on: date, description: str, today: date
) -> Any:
    """A draft individual action, sent to its owner only when the audit is recorded."""
    learning_audit = audit_for_auditor(session, audit_id, actor)
    refuse_if_recorded(learning_audit)
    # add_action checks the owner, the date and the words, with the pushed modal's block ids.
    return actions.add_action(
        session,
        source_kind=SOURCE_KIND,
        source_id=learning_audit.id,
        owner=owner,
        description=description,
        due_on=due_on,
        created_by=actor,
        service_id=learning_audit.service_id,
        quarter=learning_audit.quarter,
        status="draft",
        today=today,
    )


def remove_draft_action(session: Session, *, audit_id: int, actor: str, action_id: int) -> None:
    learning_audit = audit_for_auditor(session, audit_id, actor)
    refuse_if_recorded(learning_audit)
    mine = {a.id for a in actions.actions_for(session, source_kind=SOURCE_KIND, source_id=audit_id)}
    if action_id not in mine:
        raise NotFound("That action is not part of this learning audit.")
    actions.delete_draft(session, action_id, actor)


def record_audit(
    session: Session,
    *,
    audit_id: int,
    actor: str,
    answers: AuditAnswers,
    policy: Policy,
    calendar: WorkingCalendar,
    now: datetime,
) -> LearningAudit:
    """Validate and store the record, its themes and actions, and send the individual feedback."""
    learning_audit = audit_for_auditor(session, audit_id, actor)
    refuse_if_recorded(learning_audit, calendar)
    improve, good = _checked(answers, policy, calendar.today(now))
    for key in _AUDIT_TEXT.values():
        setattr(learning_audit, key, getattr(answers, key) or None)
    learning_audit.status = "recorded"
    learning_audit.recorded_at = now
    _set_themes(session, learning_audit, improve, good)
    actions.publish_drafts(session, source_kind=SOURCE_KIND, source_id=learning_audit.id)
    published = actions.actions_for(
        session, source_kind=SOURCE_KIND, source_id=learning_audit.id, include_drafts=False
    )
    session.flush()
    audit_log.record(
        session,
        actor,
        "create",
        "learning_audit_record",
        learning_audit.id,
        case_ref=learning_audit.case_ref,
        actions=len(published),
    )
    send_feedback(session, learning_audit, published, policy)
    text, body = record_messages.audit_recorded_message(
        case_card(learning_audit, policy), actions_count=len(published),
        amend_until=amendable_until(calendar, now, policy.amend_window_working_days),
    )
    outbox.enqueue(session, channel=actor, text=text, blocks=body, dedupe_key=f"learning-recorded:{learning_audit.id}")
    return learning_audit


def _checked(answers: AuditAnswers, policy: Policy, today: date) -> tuple[list[str], list[str]]:
    """The checks recording and amending share: required answers, identifying details, the council's
    themes. Returns the themes (areas to improve, good practice) or raises InvalidInput by block."""
    answers.improve_themes = themes_from_values_or_same(answers.improve_themes, policy)
    answers.good_practice_themes = themes_from_values_or_same(answers.good_practice_themes, policy)
    errors: dict[str, str] = {}
    for field_id, key in _AUDIT_TEXT.items():
        check_text(
            errors,
            field_id,
            record_messages.AUDIT_LABELS[field_id],
            getattr(answers, key),
            today,
            required=field_id not in record_messages.AUDIT_OPTIONAL,
        )
    improve = check_themes(errors, AuditField.IMPROVE_THEMES, answers.improve_themes, policy)
    good = check_themes(errors, AuditField.GOOD_THEMES, answers.good_practice_themes, policy)
    if errors:
        raise InvalidInput(errors)
    return improve, good


def _set_themes(session: Session, learning_audit: LearningAudit, improve: list[str], good: list[str]) -> None:
    """The audit's themes, and its ThemeTag rows to match."""
    learning_audit.improve_themes = improve
    learning_audit.good_practice_themes = good
    session.execute(
        delete(ThemeTag).where(ThemeTag.audit_id == learning_audit.id, ThemeTag.source == "audit")
    )
    for kind, chosen in (("improve", improve), ("good", good)):
        for theme in chosen:
            session.add(
                ThemeTag(
                    quarter=learning_audit.quarter,
                    service_id=learning_audit.service_id,
                    audit_id=learning_audit.id,
                    source="audit",
                    kind=kind,
                    theme=theme,
                )
            )


# ---------------------------------------------------------------------------------------------
# amending a recorded audit (issue 16 item 4)

_AUDIT_THEMES = {AuditField.IMPROVE_THEMES: "improve_themes", AuditField.GOOD_THEMES: "good_practice_themes"}
_LEARNING_SENT = ("outcomes", "good_practice", "needed_to_improve", "wider_learning")
"""The parts of the record the case holder and team manager received (``send_feedback``)."""
AUDIT_WHAT = "this learning audit"


def stored_answers(learning_audit: LearningAudit) -> dict[str, Any]:
    """The record as the modal's values, by block id."""
    out: dict[str, Any] = {f.value: getattr(learning_audit, key) or "" for f, key in _AUDIT_TEXT.items()}
    for field_id, key in _AUDIT_THEMES.items():
        out[field_id.value] = list(getattr(learning_audit, key) or [])
    return out


def _recorded_for_amending(session: Session, audit_id: int, actor: str, calendar: WorkingCalendar,
                           policy: Policy, now: datetime) -> LearningAudit:
    learning_audit = audit_for_auditor(session, audit_id, actor)
    if learning_audit.status != "recorded":
        raise Conflict("This learning audit is not recorded yet: press *Record learning audit* to record it.")
    refuse_after_window(calendar, learning_audit.recorded_at, policy.amend_window_working_days, now, AUDIT_WHAT)
    return learning_audit


def amend_modal_for(session: Session, *, audit_id: int, actor: str, policy: Policy, calendar: WorkingCalendar,
                    now: datetime) -> View:
    """The recorded audit with its stored answers, for its auditor while the window is open."""
    learning_audit = _recorded_for_amending(session, audit_id, actor, calendar, policy, now)
    assert learning_audit.recorded_at is not None
    audit_log.record(session, actor, "view", "learning_audit_record", audit_id, purpose="amend")
    return record_messages.audit_modal(
        card=case_card(learning_audit, policy, calendar),
        themes=policy.learning_themes,
        reflection=reflection_answers(learning_audit.reflection),
        drafts=[],
        values=stored_answers(learning_audit),
        amend_until=amendable_until(calendar, learning_audit.recorded_at, policy.amend_window_working_days),
        amended_on=calendar.today(learning_audit.amended_at) if learning_audit.amended_at else None,
    )


def _label(key: str) -> str:
    by_key = {**{v: k for k, v in _AUDIT_TEXT.items()}, **{v: k for k, v in _AUDIT_THEMES.items()}}
    return record_messages.AUDIT_LABELS[by_key[key]]


def amend_audit(
    session: Session, *, audit_id: int, actor: str, answers: AuditAnswers, policy: Policy,
    calendar: WorkingCalendar, now: datetime,
) -> list[str]:
    """Store an amendment of a recorded audit: the changed answers (the keys), [] when nothing changed.

    The previous values go to the audit log (action "amend"); the theme tags follow the themes; the
    case holder and team manager, who received the learning, are told which parts changed and the new
    words of the parts they had. No channel is told anything."""
    learning_audit = _recorded_for_amending(session, audit_id, actor, calendar, policy, now)
    improve, good = _checked(answers, policy, calendar.today(now))
    before = {key: getattr(learning_audit, key) for key in _AUDIT_TEXT.values()}
    before.update({key: list(getattr(learning_audit, key) or []) for key in _AUDIT_THEMES.values()})
    after: dict[str, Any] = {key: getattr(answers, key) or None for key in _AUDIT_TEXT.values()}
    after.update(improve_themes=improve, good_practice_themes=good)
    changed = changed_fields(before, after)
    if not changed:
        return []
    for key in _AUDIT_TEXT.values():
        setattr(learning_audit, key, after[key])
    if "improve_themes" in changed or "good_practice_themes" in changed:
        _set_themes(session, learning_audit, improve, good)
    learning_audit.amended_at = now
    session.flush()
    posted = session.scalar(select(ThemeDraft.id).where(
        ThemeDraft.quarter == learning_audit.quarter, ThemeDraft.service_id == learning_audit.service_id,
        ThemeDraft.status == "posted"))
    audit_log.record(
        session, actor, "amend", "learning_audit_record", learning_audit.id, case_ref=learning_audit.case_ref,
        fields=changed, previous={key: before[key] for key in changed},
        **({"themes_already_posted": True} if posted is not None and any("themes" in k for k in changed) else {}),
    )
    sent = [key for key in changed if key in _LEARNING_SENT]
    if sent:
        texts = [(_label(key), outbound(after[key], policy)) for key in sent]
        text, body = record_messages.amended_message(
            author=actor, what="learning audit", case_ref=learning_audit.case_ref, changed=texts,
            labels=[_label(key) for key in sent])
        for person in feedback_recipients(session, learning_audit):
            if person == actor:
                continue
            outbox.enqueue(session, channel=person, text=text, blocks=body,
                           dedupe_key=f"learning-amended:{learning_audit.id}:{now.isoformat()}:{person}")
    return changed
