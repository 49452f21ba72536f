"""Step 6: the case holder's reflection, written before the meeting and amendable until the audit
is recorded, and then for the council's amendment window (``Policy.amend_window_working_days``). The auditor sees its summary; what the case holder says about support goes to their
team manager only.

The reflection asks two themes questions: which went well and which to develop. Each is tagged
for the quarter's collation as what it is (good practice, or an area to improve), so a worker's
strength is never counted as a deficit. Reflections saved before the questions were split keep
their themes as areas to develop, as they were counted then.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.core import audit as audit_log
from bot.core import outbox
from bot.core.amendments import can_amend, changed_fields, refuse_after_window
from bot.core.calendar import WorkingCalendar
from bot.core.errors import InvalidInput, NotPermitted
from bot.core.policy import Policy
from bot.core.privacy import outbound
from bot.learning_audits.notify import notify_reflection
from bot.learning_audits.record_messages import (
    REFLECTION_LABELS,
    REFLECTION_OPTIONAL,
    REFLECTION_THEME_KEYS,
    amended_message,
)
from bot.learning_audits.service import (
    ModalAnswers,
    audit_for_case_holder,
    check_text,
    check_themes,
    themes_from_values_or_same,
)
from bot.learning_audits.types import ReflectionField
from storage.models import Reflection, ThemeTag, utcnow


class ReflectionAnswers(ModalAnswers):
    trying_to_achieve: str = Field("", validation_alias=ReflectionField.TRYING.value)
    difference_made: str = Field("", validation_alias=ReflectionField.DIFFERENCE.value)
    child_family_said: str = Field("", validation_alias=ReflectionField.FAMILY_SAID.value)
    do_differently: str = Field("", validation_alias=ReflectionField.DIFFERENTLY.value)
    support_needed: str = Field("", validation_alias=ReflectionField.SUPPORT.value)
    themes_good: list[str] = Field(default_factory=list, validation_alias=ReflectionField.THEMES_GOOD.value)
    themes: list[str] = Field(default_factory=list, validation_alias=ReflectionField.THEMES.value)


_REFLECTION_TEXT = {
    ReflectionField.TRYING: "trying_to_achieve",
    ReflectionField.DIFFERENCE: "difference_made",
    ReflectionField.FAMILY_SAID: "child_family_said",
    ReflectionField.DIFFERENTLY: "do_differently",
    ReflectionField.SUPPORT: "support_needed",
}


def reflection_answers(reflection: Reflection | None) -> dict[str, Any] | None:
    if reflection is None:
        return None
    out: dict[str, Any] = {key: getattr(reflection, key) for key in _REFLECTION_TEXT.values()}
    out["themes_good"] = list(reflection.themes_good or [])
    out["themes"] = list(reflection.themes or [])
    return out


_TAG_KIND = {"themes_good": "good", "themes": "improve"}
"""Which collation kind each themes answer counts as."""


def may_amend_recorded(learning_audit: Any, policy: Policy, calendar: WorkingCalendar, now: datetime) -> bool:
    """Whether the reflection of a recorded audit is still in the council's amendment window."""
    return can_amend(calendar, learning_audit.recorded_at, policy.amend_window_working_days, now)


def save_reflection(
    session: Session, *, audit_id: int, actor: str, answers: ReflectionAnswers, policy: Policy, today: date
) -> tuple[Reflection, bool]:
    """Store (or amend) the case holder's reflection before the audit is recorded; (reflection, amended).
    Once it is recorded, ``amend_recorded`` takes amendments within the window."""
    learning_audit = audit_for_case_holder(session, audit_id, actor)
    if learning_audit.status == "recorded":
        raise NotPermitted(
            f"The learning audit of case {learning_audit.case_ref} has been recorded, "
            "so its reflection can no longer be changed. Nothing was saved."
        )
    chosen = _checked(answers, policy, today)
    reflection = learning_audit.reflection
    amended = reflection is not None
    old_support = reflection.support_needed if reflection is not None else None
    if reflection is None:
        reflection = Reflection(
            audit_id=learning_audit.id,
            case_holder_id=learning_audit.case_holder_id,
            trying_to_achieve="",
            difference_made="",
            child_family_said="",
            do_differently="",
        )
        session.add(reflection)
        learning_audit.reflection = reflection
    for key in _REFLECTION_TEXT.values():
        setattr(reflection, key, getattr(answers, key))
    reflection.support_needed = answers.support_needed or None
    reflection.themes_good = chosen["themes_good"]
    reflection.themes = chosen["themes"]
    reflection.updated_at = utcnow()
    _set_tags(session, learning_audit, chosen)
    session.flush()
    audit_log.record(
        session,
        actor,
        "edit" if amended else "create",
        "reflection",
        reflection.id,
        audit_id=learning_audit.id,
    )
    notify_reflection(session, learning_audit, reflection, old_support=old_support, policy=policy)
    return reflection, amended


def _checked(answers: ReflectionAnswers, policy: Policy, today: date) -> dict[str, list[str]]:
    """The checks saving and amending share; the chosen themes by answer, or InvalidInput by block."""
    answers.themes_good = themes_from_values_or_same(answers.themes_good, policy)
    answers.themes = themes_from_values_or_same(answers.themes, policy)
    errors: dict[str, str] = {}
    for field_id, key in _REFLECTION_TEXT.items():
        check_text(
            errors,
            field_id,
            REFLECTION_LABELS[field_id],
            getattr(answers, key),
            today,
            required=field_id not in REFLECTION_OPTIONAL,
        )
    chosen = {key: check_themes(errors, field_id, getattr(answers, key), policy)
              for field_id, key in REFLECTION_THEME_KEYS.items()}
    if errors:
        raise InvalidInput(errors)
    return chosen


def _set_tags(session: Session, learning_audit: Any, chosen: dict[str, list[str]]) -> None:
    session.execute(
        delete(ThemeTag).where(ThemeTag.audit_id == learning_audit.id, ThemeTag.source == "reflection")
    )
    for key, themes in chosen.items():
        for theme in themes:
            session.add(
                ThemeTag(
                    quarter=learning_audit.quarter,
                    service_id=learning_audit.service_id,
                    audit_id=learning_audit.id,
                    source="reflection",
                    kind=_TAG_KIND[key],
                    theme=theme,
                )
            )


def amend_recorded(
    session: Session, *, audit_id: int, actor: str, answers: ReflectionAnswers, policy: Policy,
    calendar: WorkingCalendar, now: datetime,
) -> list[str]:
    """The case holder amends the reflection of a recorded audit within the council's window: the
    answers changed ([] when nothing was). After the window, or by anyone else, a polite refusal."""
    learning_audit = audit_for_case_holder(session, audit_id, actor)
    if learning_audit.status != "recorded" or learning_audit.reflection is None:
        raise NotPermitted("Sorry, there is no recorded reflection to amend here. Nothing was changed.")
    refuse_after_window(calendar, learning_audit.recorded_at, policy.amend_window_working_days, now,
                        f"the reflection for case {learning_audit.case_ref}")
    return amend_reflection(session, learning_audit, actor=actor, answers=answers, policy=policy,
                            today=calendar.today(now), now=now)


_KEY_LABELS = {key: REFLECTION_LABELS[f] for f, key in {**_REFLECTION_TEXT, **REFLECTION_THEME_KEYS}.items()}
_AUDITOR_SEES = ("trying_to_achieve", "difference_made", "do_differently", "themes_good", "themes")
"""The reflection's parts in the auditor's summary (``reflection_summary_lines``): never the support answer."""


def amend_reflection(
    session: Session, learning_audit: Any, *, actor: str, answers: ReflectionAnswers, policy: Policy, today: date,
    now: datetime,
) -> list[str]:
    """The reflection of a recorded audit, amended in the window: the changed answers ([] for none).

    The previous values go to the audit log (action "amend"); the theme tags follow. The auditor, who
    saw the summary, is told which parts changed (with the new words of those in the summary); a
    changed support answer goes to the team manager only, as it always does."""
    reflection = learning_audit.reflection
    chosen = _checked(answers, policy, today)
    before: dict[str, Any] = {key: getattr(reflection, key) for key in _REFLECTION_TEXT.values()}
    before.update({key: list(getattr(reflection, key) or []) for key in REFLECTION_THEME_KEYS.values()})
    after: dict[str, Any] = {key: getattr(answers, key) for key in _REFLECTION_TEXT.values()}
    after["support_needed"] = answers.support_needed or None
    after.update(chosen)
    changed = changed_fields(before, after)
    if not changed:
        return []
    old_support = reflection.support_needed
    for key in _REFLECTION_TEXT.values():
        setattr(reflection, key, after[key])
    reflection.themes_good, reflection.themes = chosen["themes_good"], chosen["themes"]
    reflection.updated_at = now
    reflection.amended_at = now
    _set_tags(session, learning_audit, chosen)
    session.flush()
    audit_log.record(session, actor, "amend", "reflection", reflection.id, audit_id=learning_audit.id,
                     fields=changed, previous={key: before[key] for key in changed})
    shown = [key for key in changed if key in _AUDITOR_SEES]
    auditor = learning_audit.auditor.slack_id
    if shown and auditor != actor:
        texts = [(_KEY_LABELS[key], outbound(", ".join(after[key]) if isinstance(after[key], list) else after[key],
                                             policy)) for key in shown]
        text, body = amended_message(author=actor, what="reflection for the learning audit",
                                     case_ref=learning_audit.case_ref, changed=texts,
                                     labels=[_KEY_LABELS[key] for key in shown])
        outbox.enqueue(session, channel=auditor, text=text, blocks=body,
                       dedupe_key=f"learning-reflection-amended:{learning_audit.id}:{now.isoformat()}")
    if "support_needed" in changed:
        notify_reflection(session, learning_audit, reflection, old_support=old_support, policy=policy)
    return changed
