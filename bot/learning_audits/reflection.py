"""Step 6: the case holder's reflection, written before the meeting and amendable until the audit
is recorded. The auditor sees its summary; what the case holder says about support goes to their
team manager only.

The reflection asks two themes questions: which went well and which to develop. Each is tagged
for the quarter's collation as what it is (good practice, or an area to improve), so a worker's
strength is never counted as a deficit. Reflections saved before the questions were split keep
their themes as areas to develop, as they were counted then.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.core import audit as audit_log
from bot.core.errors import InvalidInput, NotPermitted
from bot.core.policy import Policy
from bot.learning_audits.notify import notify_reflection
from bot.learning_audits.record_messages import REFLECTION_LABELS, REFLECTION_OPTIONAL, REFLECTION_THEME_KEYS
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


def save_reflection(
    session: Session, *, audit_id: int, actor: str, answers: ReflectionAnswers, policy: Policy, today: date
) -> tuple[Reflection, bool]:
    """Store (or amend) the case holder's reflection; (reflection, amended)."""
    learning_audit = audit_for_case_holder(session, audit_id, actor)
    if learning_audit.status == "recorded":
        raise NotPermitted(
            f"The learning audit of case {learning_audit.case_ref} has been recorded, "
            "so its reflection can no longer be changed. Nothing was saved."
        )
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
