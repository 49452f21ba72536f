"""Block Kit for the case holder's reflection and the auditor's record: the two modals, the
"Add an action" modal pushed over the record, the DMs a saved reflection sends, and the feedback
once the audit is recorded.

Builders take plain values (``CaseCard``, ``DraftAction``, ``Learning``, answers as dicts), never
database rows. The audit is ungraded on purpose: there is no grade anywhere in these views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.core.blocks import (
    NO_NAMES_HINT,
    actions,
    button,
    context,
    divider,
    header,
    modal,
    privacy_notice,
    section,
    split_text,
)
from bot.core.formatting import date_only as short_date
from bot.learning_audits.messages import (
    ADD_ACTION_LABEL,
    AMEND_LABEL,
    AMEND_REFLECTION_LABEL,
    MESSAGE_BLOCK_LIMIT,
    OPTION_TEXT_MAX,
    OPTION_VALUE_MAX,
    OPTIONS_MAX,
    RECORD_AUDIT_LABEL,
    REMOVE_ACTION_LABEL,
    TEXT_MAX,
    case_line,
    cut,
    for_case,
    labelled_sections,
    nice_date,
)
from bot.learning_audits.types import (
    AuditField,
    CaseCard,
    DraftAction,
    Learning,
    LearningIds,
    ReflectionField,
)

ACTIONS_LISTED_MAX = 40
"""Draft actions listed in the audit modal; a view holds 100 blocks and the form needs about 20."""
REFLECTION_EXCERPT_MAX = 900
"""Each reflection answer shown to the auditor is cut to this, so the context block stays valid."""

REFLECTION_TITLE = "Reflection"
REFLECTION_SUBMIT = "Save reflection"
AUDIT_TITLE = "Learning audit"
AUDIT_SUBMIT = "Record audit"
AMEND_AUDIT_TITLE = "Amend learning audit"
AMEND_REFLECTION_TITLE = "Amend reflection"
AMEND_SUBMIT = "Save amendment"
ADD_ACTION_TITLE = "Add an action"

REFLECTION_LABELS: dict[ReflectionField, str] = {
    ReflectionField.TRYING: "What were you trying to achieve for the child and family?",
    ReflectionField.DIFFERENCE: "What difference did your work make, and how do you know?",
    ReflectionField.FAMILY_SAID: "What did the child or family say?",
    ReflectionField.DIFFERENTLY: "What would you do differently?",
    ReflectionField.SUPPORT: "What support do you need? (private to you and your team manager)",
    ReflectionField.THEMES_GOOD: "Themes that went well in this case",
    ReflectionField.THEMES: "Themes to develop",
}
REFLECTION_OPTIONAL = {ReflectionField.SUPPORT, ReflectionField.THEMES_GOOD, ReflectionField.THEMES}
REFLECTION_THEME_HINTS: dict[ReflectionField, str] = {
    ReflectionField.THEMES_GOOD: "Where your practice was strong, from the council's list. These count as good practice.",
    ReflectionField.THEMES: "Where practice could develop, from the council's list. These count as areas to improve.",
}
REFLECTION_THEME_KEYS: dict[ReflectionField, str] = {
    ReflectionField.THEMES_GOOD: "themes_good",
    ReflectionField.THEMES: "themes",
}
"""Each themes question and the answer it fills: the two are asked apart so a strength is never
counted as something to improve."""

AUDIT_LABELS: dict[AuditField, str] = {
    AuditField.OUTCOMES: "Outcomes and the difference made for the child and family",
    AuditField.FEEDBACK: "Direct service-user feedback: what was said",
    AuditField.FEEDBACK_SOURCE: "Who gave the feedback, or why there was none",
    AuditField.WORKER_IMPACT: "Impact on the worker",
    AuditField.NEEDED: "What would have been needed to improve the case?",
    AuditField.GOOD_PRACTICE: "Good practice to share",
    AuditField.WIDER: "Wider learning for the service",
    AuditField.IMPROVE_THEMES: "Themes: areas to improve",
    AuditField.GOOD_THEMES: "Themes: good practice",
}
AUDIT_OPTIONAL = {AuditField.FEEDBACK, AuditField.IMPROVE_THEMES, AuditField.GOOD_THEMES}
"""What was said may be nothing (the next field says why); themes are optional. The rest is the record."""


class ReflectionMeta(BaseModel):
    """private_metadata of the reflection modal: which audit. Never trusted for permission."""

    audit_id: int


class AuditMeta(BaseModel):
    audit_id: int


class AddActionMeta(BaseModel):
    """The pushed "Add an action" modal: the audit, and the parent view to update once it is saved.

    ``parent_values`` is what was typed in the parent when the button was pressed, so the updated
    parent can carry it as initial values as well as through Slack's own kept state.
    """

    audit_id: int
    parent_view_id: str
    parent_values: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------------
# small helpers


def theme_value(theme: str) -> str:
    return theme[:OPTION_VALUE_MAX]


def themes_from_values(values: Sequence[str] | None, themes: Sequence[str]) -> list[str]:
    """Map selected option values back to the council's themes; unknown values are dropped by the caller."""
    by_value = {theme_value(t): t for t in themes}
    return [by_value.get(v, v) for v in values or []]


def _theme_select(
    action_id: str, themes: Sequence[str], chosen: Sequence[str] | None
) -> StaticMultiSelectElement:
    options = [Option(value=theme_value(t), text=cut(t, OPTION_TEXT_MAX)) for t in themes[:OPTIONS_MAX]]
    by_value = {o.value: o for o in options}
    initial = [by_value[theme_value(t)] for t in chosen or [] if theme_value(t) in by_value]
    return StaticMultiSelectElement(
        action_id=action_id,
        placeholder=PlainTextObject(text="Choose themes"),
        options=options,
        initial_options=initial or None,
    )


def _text_input(block_id: str, label: str, *, initial: str | None, optional: bool) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id=block_id, multiline=True, max_length=TEXT_MAX, initial_value=initial or None
        ),
        hint=PlainTextObject(text=NO_NAMES_HINT),
        optional=optional,
    )


# ---------------------------------------------------------------------------------------------
# the reflection's messages


def reflection_saved_message(card: CaseCard) -> tuple[str, list[Block]]:
    verb = "saved"
    text = f"Your reflection for case {card.case_ref} is {verb}."
    blocks: list[Block] = [
        section(
            f":white_check_mark: Your reflection for case *{card.case_ref}* is {verb}. Thank you. "
            f"<@{card.auditor}> will see its summary (not what you said about support, which only you and "
            "your team manager see). You can view or amend it until the audit is recorded."
        ),
        actions(
            button(AMEND_REFLECTION_LABEL, LearningIds.REFLECTION, str(card.audit_id)),
            block_id=f"learning-holder-saved-{card.audit_id}",
        ),
    ]
    return text, blocks


def reflection_ready_message(card: CaseCard) -> tuple[str, list[Block]]:
    """To the auditor: the case holder's reflection is in, so the meeting can use it."""
    text = f"<@{card.case_holder}> has written their reflection for case {card.case_ref}."
    blocks: list[Block] = [
        section(
            f":memo: <@{card.case_holder}> has written their reflection for case *{card.case_ref}*. You will "
            f"see its summary when you record the learning audit."
        ),
        actions(
            button(for_case(RECORD_AUDIT_LABEL, card), LearningIds.RECORD_AUDIT, str(card.audit_id)),
            block_id=f"learning-reflection-ready-{card.audit_id}",
        ),
    ]
    return text, blocks


def meeting_support_for_team_manager(card: CaseCard, support: str) -> tuple[str, list[Block]]:
    """The case holder's "support needed" answer, to their team manager only."""
    text = f"<@{card.case_holder}> said what support they need, in their reflection on case {card.case_ref}."
    blocks: list[Block] = [
        section(
            f"<@{card.case_holder}> wrote in their learning-audit reflection on case *{card.case_ref}* what "
            "support they need. This is private to them and you: the auditor does not see it."
        ),
        *labelled_sections("Support needed", support),
        privacy_notice(),
    ]
    return text, blocks


# ---------------------------------------------------------------------------------------------
# feedback once recorded


def feedback_message(
    card: CaseCard, learning: Learning, own_actions: Sequence[DraftAction], *, recipient: str
) -> tuple[str, list[Block]]:
    """The learning (not the whole record, not the feedback source) and the recipient's own actions."""
    role = "case holder" if recipient == card.case_holder else "team manager"
    text = f"The learning from the audit of case {card.case_ref} ({card.quarter_label}), for you as {role}."
    blocks: list[Block] = [
        header(f"Learning from the audit of {card.case_ref}"),
        section(
            f"<@{card.auditor}> has recorded the learning audit of case *{card.case_ref}*. "
            f"Here is the learning, for you as {role}. Thank you for your part in it."
        ),
    ]
    for label, answer in (
        ("Outcomes and the difference made", learning.outcomes),
        ("Good practice to share", learning.good_practice),
        ("What would have been needed to improve the case", learning.needed_to_improve),
        ("Wider learning for the service", learning.wider_learning),
    ):
        blocks.extend(labelled_sections(label, answer))
    if own_actions:
        lines = [f"• by {short_date(a.due_on)}: {' '.join(a.description.split())}" for a in own_actions]
        blocks.append(divider())
        blocks.extend(section(c) for c in split_text("*Your actions from this audit*\n" + "\n".join(lines)))
        blocks.append(context("Each action also has its own DM with a *Mark done* button."))
    else:
        blocks.append(context("No individual actions were set for you from this audit."))
    blocks.append(privacy_notice())
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


# ---------------------------------------------------------------------------------------------
# amendments


def audit_recorded_message(card: CaseCard, *, actions_count: int, amend_until: date) -> tuple[str, list[Block]]:
    """The auditor's receipt once the audit is recorded, with *Amend* while the window is open."""
    text = f"You recorded the learning audit of case {card.case_ref}."
    return text, [
        section(
            f":white_check_mark: You recorded the learning audit of case *{card.case_ref}* ({card.quarter_label}). "
            f"The learning went to the case holder and team manager"
            f"{f', and {actions_count} action(s) to their owners' if actions_count else ''}. "
            f"You can amend it until {nice_date(amend_until)}."
        ),
        actions(button(AMEND_LABEL, LearningIds.AMEND_AUDIT, str(card.audit_id)),
                block_id=f"learning-recorded-{card.audit_id}"),
    ]


def amended_message(*, author: str, what: str, case_ref: str, changed: Sequence[tuple[str, str]],
                    labels: Sequence[str]) -> tuple[str, list[Block]]:
    """To someone who received the findings: who amended what, which parts, and the new words of the
    parts they had (``changed``: (label, new text) pairs, the text already through the outbound gate)."""
    names = ", ".join(labels)
    text = f"<@{author}> amended the {what} of {case_ref}: changed {names}"
    blocks: list[Block] = [section(f":pencil2: <@{author}> amended the {what} of *{case_ref}*: changed {names}.")]
    for label, new in changed:
        blocks.extend(labelled_sections(f"{label} (now)", new or "(now left empty)"))
    blocks.append(privacy_notice())
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


# ---------------------------------------------------------------------------------------------
# the reflection modal


def reflection_summary_lines(answers: Mapping[str, Any]) -> list[str]:
    """What the auditor sees of a reflection: never the support answer."""
    parts = []
    for label, key in (
        ("Trying to achieve", "trying_to_achieve"),
        ("Difference made", "difference_made"),
        ("Would do differently", "do_differently"),
    ):
        value = (answers.get(key) or "").strip()
        if value:
            parts.append(f"*{label}:* {cut(' '.join(value.split()), REFLECTION_EXCERPT_MAX)}")
    for label, key in (("Went well", "themes_good"), ("To develop", "themes")):
        chosen = answers.get(key) or []
        if chosen:
            parts.append(f"*{label}:* {cut(', '.join(chosen), REFLECTION_EXCERPT_MAX)}")
    return parts


def reflection_themes_text(answers: Mapping[str, Any]) -> str:
    """Both themes answers, each under its own question."""
    lines = []
    for field_id, key in REFLECTION_THEME_KEYS.items():
        chosen = answers.get(key) or []
        lines.append(f"*{REFLECTION_LABELS[field_id]}:* {', '.join(chosen) if chosen else 'none chosen'}")
    return "\n".join(lines)


def reflection_modal(*, card: CaseCard, themes: Sequence[str], answers: Mapping[str, Any] | None,
                     amend_until: date | None = None) -> View:
    """The case holder's self-audit, new or with their saved answers to amend; ``amend_until`` when the
    audit is recorded and the council's amendment window is still open."""
    answers = answers or {}
    keys = {
        ReflectionField.TRYING: "trying_to_achieve",
        ReflectionField.DIFFERENCE: "difference_made",
        ReflectionField.FAMILY_SAID: "child_family_said",
        ReflectionField.DIFFERENTLY: "do_differently",
        ReflectionField.SUPPORT: "support_needed",
    }
    blocks: list[Block] = [
        privacy_notice(),
        section(
            f"*Case {card.case_ref}* ({card.team_name}): learning audit with <@{card.auditor}>. A few lines "
            "for each is plenty. This is for learning, not performance management."
        ),
    ]
    if amend_until is not None:
        blocks.append(context(
            f"The learning audit is recorded. You can amend your reflection until {nice_date(amend_until)}; "
            "the auditor is told which answers you changed."
        ))
    for field_id, key in keys.items():
        blocks.append(
            _text_input(
                field_id,
                REFLECTION_LABELS[field_id],
                initial=answers.get(key),
                optional=field_id in REFLECTION_OPTIONAL,
            )
        )
    for field_id, key in REFLECTION_THEME_KEYS.items():
        blocks.append(
            InputBlock(
                block_id=field_id,
                label=PlainTextObject(text=REFLECTION_LABELS[field_id]),
                element=_theme_select(field_id, themes, answers.get(key)),
                hint=PlainTextObject(text=REFLECTION_THEME_HINTS[field_id]),
                optional=True,
            )
        )
    blocks.append(
        context(
            "The auditor sees your answers except *What support do you need?*, which only you and "
            "your team manager see."
        )
    )
    return modal(
        title=REFLECTION_TITLE if amend_until is None else AMEND_REFLECTION_TITLE,
        callback_id=LearningIds.REFLECTION_MODAL,
        blocks=blocks,
        submit=REFLECTION_SUBMIT if amend_until is None else AMEND_SUBMIT,
        private_metadata=ReflectionMeta(audit_id=card.audit_id).model_dump_json(),
    )


def reflection_read_only(*, card: CaseCard, answers: Mapping[str, Any], recorded_on: date | None) -> View:
    """The reflection once the audit is recorded: for reading, no longer for changing."""
    when = f" on {nice_date(recorded_on)}" if recorded_on else ""
    blocks: list[Block] = [
        privacy_notice(),
        section(
            f"*Case {card.case_ref}*: the learning audit was recorded{when}, so your reflection can no "
            "longer be changed."
        ),
    ]
    for label, key in (
        (REFLECTION_LABELS[ReflectionField.TRYING], "trying_to_achieve"),
        (REFLECTION_LABELS[ReflectionField.DIFFERENCE], "difference_made"),
        (REFLECTION_LABELS[ReflectionField.FAMILY_SAID], "child_family_said"),
        (REFLECTION_LABELS[ReflectionField.DIFFERENTLY], "do_differently"),
        (REFLECTION_LABELS[ReflectionField.SUPPORT], "support_needed"),
    ):
        blocks.extend(labelled_sections(label, answers.get(key) or ""))
    blocks.append(section(reflection_themes_text(answers)))
    return modal(
        title=REFLECTION_TITLE,
        callback_id=LearningIds.REFLECTION_MODAL,
        blocks=blocks,
        close="Close",
        private_metadata=ReflectionMeta(audit_id=card.audit_id).model_dump_json(),
    )


# ---------------------------------------------------------------------------------------------
# the learning-audit modal


def meeting_held(card: CaseCard) -> str:
    """The record says when the meeting happened (the day the auditor set), or that none was set."""
    if card.meeting_on is None:
        return "*Meeting:* no time was set with *Set up meeting*."
    return f"*Meeting held on* {nice_date(card.meeting_on)}"


def audit_modal(
    *,
    card: CaseCard,
    themes: Sequence[str],
    reflection: Mapping[str, Any] | None,
    drafts: Sequence[DraftAction],
    values: Mapping[str, Any] | None = None,
    actions_available: bool = True,
    amend_until: date | None = None,
    amended_on: date | None = None,
) -> View:
    """The auditor's record. ``values`` (block id -> typed value) carries what was typed across an update.

    With ``amend_until`` it is the recorded audit to amend: its stored answers, "Save amendment", and
    no actions (they are live, each with its own owner and messages)."""
    values = values or {}
    blocks: list[Block] = [
        privacy_notice(),
        section(f"{case_line(card)}\n{meeting_held(card)}\nLearning audits are not graded: record the learning."),
    ]
    for field_id in (AuditField.OUTCOMES, AuditField.FEEDBACK, AuditField.FEEDBACK_SOURCE):
        blocks.append(
            _text_input(
                field_id,
                AUDIT_LABELS[field_id],
                initial=values.get(field_id),
                optional=field_id in AUDIT_OPTIONAL,
            )
        )
    summary = reflection_summary_lines(reflection or {})
    if reflection is None:
        blocks.append(context("*The case holder's reflection:* No reflection yet."))
    else:
        blocks.append(context("*The case holder's reflection (summary):*", *summary[:9]))
    for field_id in (AuditField.WORKER_IMPACT, AuditField.NEEDED, AuditField.GOOD_PRACTICE, AuditField.WIDER):
        blocks.append(
            _text_input(
                field_id,
                AUDIT_LABELS[field_id],
                initial=values.get(field_id),
                optional=field_id in AUDIT_OPTIONAL,
            )
        )
    for field_id in (AuditField.IMPROVE_THEMES, AuditField.GOOD_THEMES):
        chosen = themes_from_values(values.get(field_id), themes)
        blocks.append(
            InputBlock(
                block_id=field_id,
                label=PlainTextObject(text=AUDIT_LABELS[field_id]),
                element=_theme_select(field_id, themes, chosen),
                optional=True,
            )
        )
    blocks.append(divider())
    if amend_until is not None:
        blocks.append(context(
            (f"Last amended on {nice_date(amended_on)}. " if amended_on else "")
            + f"You can amend this record until {nice_date(amend_until)}. The case holder and team manager are "
            "told which parts of the learning changed; the previous version is kept in the audit log. "
            "The actions already sent are not changed here."
        ))
        return modal(
            title=AMEND_AUDIT_TITLE,
            callback_id=LearningIds.AMEND_AUDIT_MODAL,
            blocks=blocks,
            submit=AMEND_SUBMIT,
            private_metadata=AuditMeta(audit_id=card.audit_id).model_dump_json(),
        )
    blocks.append(
        section(
            "*Individual actions*\nThe compliance learning specific to this case, each with an owner "
            "and a due date. Owners are told when you record the audit.",
            block_id=AuditField.ACTIONS_HEADING,
        )
    )
    if not actions_available:
        blocks.append(context("Actions cannot be added yet."))
    else:
        if not drafts:
            blocks.append(context("No actions yet."))
        for draft in drafts[:ACTIONS_LISTED_MAX]:
            words = cut(" ".join(draft.description.split()), 2800)
            line = f"<@{draft.owner}> by {short_date(draft.due_on)}: {words}"
            blocks.append(
                section(
                    f"• {line}",
                    block_id=f"audit-action-{draft.id}",
                    accessory=button(REMOVE_ACTION_LABEL, LearningIds.REMOVE_ACTION, str(draft.id)),
                )
            )
        if len(drafts) > ACTIONS_LISTED_MAX:
            blocks.append(context(f"…and {len(drafts) - ACTIONS_LISTED_MAX} more."))
        if len(drafts) <= ACTIONS_LISTED_MAX:
            blocks.append(
                actions(
                    button(ADD_ACTION_LABEL, LearningIds.ADD_ACTION, str(card.audit_id)),
                    block_id=AuditField.ACTIONS_BUTTONS,
                )
            )
    return modal(
        title=AUDIT_TITLE,
        callback_id=LearningIds.AUDIT_MODAL,
        blocks=blocks,
        submit=AUDIT_SUBMIT,
        private_metadata=AuditMeta(audit_id=card.audit_id).model_dump_json(),
    )


def add_action_modal(*, meta: AddActionMeta, case_ref: str, initial_owner: str | None) -> View:
    """Pushed over the audit modal; the inputs are the action-plan flow's own, so errors line up."""
    from bot.actions.messages import action_input_blocks

    blocks: list[Block] = [
        privacy_notice(),
        section(
            f"An individual action from the learning audit of case *{case_ref}*. It is saved as a draft "
            "and sent to its owner when you record the audit."
        ),
        *action_input_blocks(initial_owner=initial_owner),
    ]
    metadata = meta.model_dump_json()
    if len(metadata) > 2900:  # the parent's words ride along only while they fit Slack's limit
        metadata = meta.model_copy(update={"parent_values": {}}).model_dump_json()
    return modal(
        title=ADD_ACTION_TITLE,
        callback_id=LearningIds.ADD_ACTION_MODAL,
        blocks=blocks,
        submit="Add action",
        close="Back",
        private_metadata=metadata,
    )
