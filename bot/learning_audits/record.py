"""Step 7: the auditor's record of the learning audit, its themes and the individual actions drafted
with it; recording it publishes the actions and sends the learning back (step 9).

The audit is not graded: it records the learning, in the headings the framework's template gives.
Actions go through the action-plan feature (``bot.actions``), as drafts until the audit is recorded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.actions import service as actions
from bot.core import audit as audit_log
from bot.core.calendar import WorkingCalendar
from bot.core.errors import InvalidInput, NotFound
from bot.core.policy import Policy
from bot.learning_audits import record_messages
from bot.learning_audits.notify import send_feedback
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
    today = calendar.today(now)
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
    for key in _AUDIT_TEXT.values():
        setattr(learning_audit, key, getattr(answers, key) or None)
    learning_audit.improve_themes = improve
    learning_audit.good_practice_themes = good
    learning_audit.status = "recorded"
    learning_audit.recorded_at = now
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
    return learning_audit
