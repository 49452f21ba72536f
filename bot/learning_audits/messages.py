"""Block Kit for learning audits after allocation: the DMs to the auditor, case holder and team
manager, the meeting post, the reflection and audit modals, reminders, feedback and shortfalls.

Builders take plain values (``CaseCard``, ``DraftAction``, answers as dicts), never database rows,
so the job, the reminders and the handlers share them and they can be tested without a database.
The audit is ungraded on purpose: there is no grade anywhere in these views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
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

TEXT_MAX = 3000
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
MESSAGE_BLOCK_LIMIT = 50
ACTIONS_LISTED_MAX = 40
"""Draft actions listed in the audit modal; a view holds 100 blocks and the form needs about 20."""
REFLECTION_EXCERPT_MAX = 900
"""Each reflection answer shown to the auditor is cut to this, so the context block stays valid."""


class LearningIds(StrEnum):
    """Action ids (buttons) and callback ids (modals) of the learning-audit flow."""

    SET_UP_MEETING = "learning-set-up-meeting"
    RECORD_AUDIT = "learning-record-audit"
    REFLECTION = "learning-reflection"  # "Start reflection" and "View or amend reflection"
    ADD_ACTION = "learning-add-action"
    REMOVE_ACTION = "learning-remove-action"
    REFLECTION_MODAL = "learning-reflection-modal"
    AUDIT_MODAL = "learning-audit-modal"
    ADD_ACTION_MODAL = "learning-add-action-modal"


class ReflectionField(StrEnum):
    """Block ids (and action ids) of the reflection modal's inputs."""

    TRYING = "reflection-trying"
    DIFFERENCE = "reflection-difference"
    FAMILY_SAID = "reflection-family-said"
    DIFFERENTLY = "reflection-differently"
    SUPPORT = "reflection-support"
    THEMES = "reflection-themes"


class AuditField(StrEnum):
    """Block ids (and action ids) of the learning-audit modal.

    Stable on purpose: views.update keeps what was typed only where the ids are unchanged.
    """

    OUTCOMES = "audit-outcomes"
    FEEDBACK = "audit-feedback"
    FEEDBACK_SOURCE = "audit-feedback-source"
    WORKER_IMPACT = "audit-worker-impact"
    NEEDED = "audit-needed-to-improve"
    GOOD_PRACTICE = "audit-good-practice"
    WIDER = "audit-wider-learning"
    IMPROVE_THEMES = "audit-improve-themes"
    GOOD_THEMES = "audit-good-themes"
    ACTIONS_HEADING = "audit-actions-heading"
    ACTIONS_BUTTONS = "audit-actions-buttons"


SET_UP_MEETING_LABEL = "Set up meeting"
RECORD_AUDIT_LABEL = "Record learning audit"
START_REFLECTION_LABEL = "Start reflection"
AMEND_REFLECTION_LABEL = "View or amend reflection"
ADD_ACTION_LABEL = "Add an action"
REMOVE_ACTION_LABEL = "Remove"

REFLECTION_TITLE = "Reflection"
REFLECTION_SUBMIT = "Save reflection"
AUDIT_TITLE = "Learning audit"
AUDIT_SUBMIT = "Record audit"
ADD_ACTION_TITLE = "Add an action"

REFLECTION_LABELS: dict[ReflectionField, str] = {
    ReflectionField.TRYING: "What were you trying to achieve for the child and family?",
    ReflectionField.DIFFERENCE: "What difference did your work make, and how do you know?",
    ReflectionField.FAMILY_SAID: "What did the child or family say?",
    ReflectionField.DIFFERENTLY: "What would you do differently?",
    ReflectionField.SUPPORT: "What support do you need? (private to you and your team manager)",
    ReflectionField.THEMES: "Themes",
}
REFLECTION_OPTIONAL = {ReflectionField.SUPPORT, ReflectionField.THEMES}

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

TEMPLATE_HEADINGS: tuple[str, ...] = (
    "Outcomes and the difference made for the child and family",
    "Direct service-user feedback (what was said, and who, or why there was none)",
    "Impact on the worker, including the case holder's reflection",
    "What would have been needed to improve the case",
    "Good practice to share",
    "Wider learning for the service",
    "Themes from the council's list",
    "Individual actions: the compliance learning specific to this case",
)

WHAT_A_LEARNING_AUDIT_IS = (
    "A learning audit is a *positive, strengths-based* conversation about the case: what went well, "
    "what made a difference for the child and family, and what could be learnt. It is *not* performance "
    "management and it is not graded. The auditing Service Manager meets the team manager and case holder "
    "*in person* to talk the case through."
)


# ---------------------------------------------------------------------------------------------
# values passed in


@dataclass(frozen=True)
class CaseCard:
    """What the learning-audit messages say about one allocated case (references only, never names)."""

    audit_id: int
    case_ref: str
    quarter_label: str
    service_name: str
    team_name: str
    auditor: str  # Slack ids
    case_holder: str
    team_manager: str
    due_on: date | None


@dataclass(frozen=True)
class DraftAction:
    id: int
    owner: str  # Slack id
    due_on: date
    description: str


@dataclass(frozen=True)
class Learning:
    """The part of a recorded audit that goes back to the case holder and team manager."""

    outcomes: str
    good_practice: str
    needed_to_improve: str
    wider_learning: str


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


def nice_date(day: date) -> str:
    """ "Friday 22 May 2026": the form people read in a DM."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _quote(text: str) -> str:
    return "\n".join(f">{line}" if line else ">" for line in text.splitlines() or [""])


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _labelled_sections(label: str, text: str) -> list[Block]:
    """A bold label and the answer quoted, split so no section passes Slack's 3,000 characters."""
    body = f"*{label}*\n{_quote(text.strip() or '(no answer)')}"
    return [section(chunk) for chunk in split_text(body)]


def theme_value(theme: str) -> str:
    return theme[:OPTION_VALUE_MAX]


def themes_from_values(values: Sequence[str] | None, themes: Sequence[str]) -> list[str]:
    """Map selected option values back to the council's themes; unknown values are dropped by the caller."""
    by_value = {theme_value(t): t for t in themes}
    return [by_value.get(v, v) for v in values or []]


def _theme_select(
    action_id: str, themes: Sequence[str], chosen: Sequence[str] | None
) -> StaticMultiSelectElement:
    options = [Option(value=theme_value(t), text=_cut(t, OPTION_TEXT_MAX)) for t in themes[:OPTIONS_MAX]]
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


def _case_line(card: CaseCard) -> str:
    return (
        f"*Case:* {card.case_ref}\n*Service:* {card.service_name}  ·  *Team:* {card.team_name}\n"
        f"*Team manager:* <@{card.team_manager}>  ·  *Case holder:* <@{card.case_holder}>"
    )


def _due(card: CaseCard) -> str:
    return nice_date(card.due_on) if card.due_on else "the end of the audit window"


# ---------------------------------------------------------------------------------------------
# allocation messages


def auditor_message(card: CaseCard) -> tuple[str, list[Block]]:
    """The allocated Service Manager's DM: the case, who to meet, by when, and what this is."""
    text = (
        f"You have a learning audit for {card.quarter_label}: case {card.case_ref} ({card.service_name}), "
        f"to record by {_due(card)}."
    )
    blocks: list[Block] = [
        header(f"Learning audit: {card.case_ref}"),
        section(
            f"You have been allocated this case for a learning audit in *{card.quarter_label}*. You are "
            f"independent of it: not your service, not your team, not proposed by you.\n{_case_line(card)}\n"
            f"*Record the audit by:* {_due(card)}"
        ),
        section(WHAT_A_LEARNING_AUDIT_IS),
        actions(
            button(SET_UP_MEETING_LABEL, LearningIds.SET_UP_MEETING, str(card.audit_id), style="primary"),
            button(RECORD_AUDIT_LABEL, LearningIds.RECORD_AUDIT, str(card.audit_id)),
            block_id=f"learning-auditor-{card.audit_id}",
        ),
        context(
            "*Set up meeting* opens a group DM with the three of you. The case holder writes a short "
            "reflection first; you will see its summary when you record the audit."
        ),
        privacy_notice(),
    ]
    return text, blocks


def case_holder_message(card: CaseCard) -> tuple[str, list[Block]]:
    text = (
        f"Your case {card.case_ref} has been chosen for a learning audit in {card.quarter_label}. "
        f"Please write a short reflection before the meeting."
    )
    blocks: list[Block] = [
        header(f"Learning audit: your case {card.case_ref}"),
        section(
            f"Your case *{card.case_ref}* has been chosen for a learning audit in *{card.quarter_label}*. "
            f"<@{card.auditor}>, a Service Manager independent of your service, will meet you and your team "
            f"manager <@{card.team_manager}> to talk it through."
        ),
        section(
            "This is about *learning*, not performance management: a positive, strengths-based look at what "
            "your work achieved and what we can all learn. Please start with a short reflection "
            f"(a few minutes) before the meeting, by {_due(card)}."
        ),
        actions(
            button(START_REFLECTION_LABEL, LearningIds.REFLECTION, str(card.audit_id), style="primary"),
            block_id=f"learning-holder-{card.audit_id}",
        ),
        privacy_notice(),
    ]
    return text, blocks


def team_manager_message(card: CaseCard) -> tuple[str, list[Block]]:
    text = (
        f"<@{card.auditor}> will do the learning audit of case {card.case_ref} ({card.team_name}); "
        f"<@{card.case_holder}> has a reflection to do."
    )
    blocks: list[Block] = [
        header(f"Learning audit in your team: {card.case_ref}"),
        section(
            f"Case *{card.case_ref}* ({card.team_name}) has been allocated for a learning audit in "
            f"*{card.quarter_label}*. <@{card.auditor}> will audit it and will set up a meeting in person "
            f"with you and the case holder, <@{card.case_holder}>."
        ),
        section(
            f"<@{card.case_holder}> has a short reflection to do before the meeting (by {_due(card)}); "
            "they may welcome your support with it. The audit is positive and strengths-based, not "
            "performance management."
        ),
        privacy_notice(),
    ]
    return text, blocks


def meeting_message(card: CaseCard) -> tuple[str, list[Block]]:
    """Posted in the group DM of auditor, team manager and case holder."""
    text = f"Learning audit meeting for case {card.case_ref}: please agree a time to meet in person."
    headings = "\n".join(f"• {h}" for h in TEMPLATE_HEADINGS)
    blocks: list[Block] = [
        header(f"Learning audit meeting: {card.case_ref}"),
        section(
            f"Hello <@{card.team_manager}> and <@{card.case_holder}>: <@{card.auditor}> is doing the "
            f"learning audit of case *{card.case_ref}* ({card.service_name}, {card.team_name}) for "
            f"{card.quarter_label}. Please agree a time to *meet in person*, before {_due(card)}."
        ),
        section(
            "*Purpose:* to reflect together on the case, recognise good practice and find the learning for "
            "the child and family, the worker and the service. It is positive and strengths-based, not "
            "performance management, and it is not graded."
        ),
        section(f"*What the audit covers:*\n{headings}"),
        context(
            f"<@{card.case_holder}>: please complete your reflection beforehand "
            f"(the *{START_REFLECTION_LABEL}* button in your DM from QMF Bot)."
        ),
        privacy_notice(),
    ]
    return text, blocks


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
            button(RECORD_AUDIT_LABEL, LearningIds.RECORD_AUDIT, str(card.audit_id)),
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
        *_labelled_sections("Support needed", support),
        privacy_notice(),
    ]
    return text, blocks


# ---------------------------------------------------------------------------------------------
# reminders


def reflection_reminder(card: CaseCard, *, due_today: bool) -> tuple[str, list[Block]]:
    when = "today" if due_today else f"by {_due(card)}"
    text = f"Reminder: your reflection for the learning audit of case {card.case_ref} is due {when}."
    blocks: list[Block] = [
        section(
            f":hourglass_flowing_sand: *Reminder:* please write your reflection for the learning audit of "
            f"case *{card.case_ref}*: it is due {when}. It takes a few minutes and helps the meeting with "
            f"<@{card.auditor}>."
        ),
        actions(
            button(START_REFLECTION_LABEL, LearningIds.REFLECTION, str(card.audit_id), style="primary"),
            block_id=f"learning-holder-reminder-{card.audit_id}",
        ),
    ]
    return text, blocks


def audit_reminder(card: CaseCard, *, due_today: bool, meeting_set_up: bool) -> tuple[str, list[Block]]:
    when = "today" if due_today else f"by {_due(card)}"
    text = f"Reminder: the learning audit of case {card.case_ref} is due to be recorded {when}."
    buttons = (
        []
        if meeting_set_up
        else [button(SET_UP_MEETING_LABEL, LearningIds.SET_UP_MEETING, str(card.audit_id))]
    )
    buttons.append(button(RECORD_AUDIT_LABEL, LearningIds.RECORD_AUDIT, str(card.audit_id), style="primary"))
    blocks: list[Block] = [
        section(
            f":hourglass_flowing_sand: *Reminder:* the learning audit of case *{card.case_ref}* "
            f"({card.service_name}) is due to be recorded {when}."
        ),
        actions(*buttons, block_id=f"learning-auditor-reminder-{card.audit_id}"),
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
        blocks.extend(_labelled_sections(label, answer))
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
# shortfalls


def shortfall_channel_message(
    *,
    quarter_label: str,
    allocated: int,
    auditors: int,
    unallocated_by_service: Mapping[str, Mapping[str, int]],
    short_by_service: Sequence[tuple[str, int, str]],
    per_auditor: int,
) -> tuple[str, list[Block]]:
    """For the Q&I channel: counts and reasons by service, never case references."""
    unallocated = sum(sum(r.values()) for r in unallocated_by_service.values())
    text = (
        f"Learning-audit allocation for {quarter_label}: {allocated} cases allocated to {auditors} Service "
        f"Managers; {unallocated} proposed cases not allocated; "
        f"{len(short_by_service)} Service Managers short."
    )
    blocks: list[Block] = [header(f"Learning-audit allocation: {quarter_label}"), section(text)]
    if unallocated_by_service:
        lines = []
        for service, reasons in unallocated_by_service.items():
            detail = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
            lines.append(f"• *{service}*: {sum(reasons.values())} ({detail})")
        blocks.extend(
            section(c) for c in split_text("*Cases not allocated, by service*\n" + "\n".join(lines))
        )
    if short_by_service:
        lines = [
            f"• *{service}* Service Manager: {got} of {per_auditor} ({reason})"
            for service, got, reason in short_by_service
        ]
        blocks.extend(
            section(c)
            for c in split_text(
                f"*Service Managers with fewer than {per_auditor} cases*\n" + "\n".join(lines)
            )
        )
    blocks.append(
        context("Case references are sent to the Quality & Improvement team by DM, not posted here.")
    )
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


def shortfall_detail_message(*, quarter_label: str, detail: str) -> tuple[str, list[Block]]:
    """For each Q&I person by DM: which cases and which Service Managers, with the solver's reasons."""
    text = (
        f"Learning-audit allocation for {quarter_label}: the cases not allocated and Service Managers short."
    )
    chunks = split_text(detail, 2900)
    room = MESSAGE_BLOCK_LIMIT - 3
    blocks: list[Block] = [header(f"Allocation shortfalls: {quarter_label}")]
    blocks.extend(section(c) for c in chunks[:room])
    if len(chunks) > room:
        blocks.append(
            context(
                "The full plan is stored with the round: `qmf-bot jobs run allocate-learning-audits "
                "--dry-run` shows how it is worked out."
            )
        )
    blocks.append(privacy_notice())
    return text, blocks


# ---------------------------------------------------------------------------------------------
# the reflection modal


def reflection_summary_lines(answers: Mapping[str, str | None]) -> list[str]:
    """What the auditor sees of a reflection: never the support answer."""
    parts = []
    for label, key in (
        ("Trying to achieve", "trying_to_achieve"),
        ("Difference made", "difference_made"),
        ("Would do differently", "do_differently"),
    ):
        value = (answers.get(key) or "").strip()
        if value:
            parts.append(f"*{label}:* {_cut(' '.join(value.split()), REFLECTION_EXCERPT_MAX)}")
    return parts


def reflection_modal(*, card: CaseCard, themes: Sequence[str], answers: Mapping[str, Any] | None) -> View:
    """The case holder's self-audit, new or with their saved answers to amend."""
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
    for field_id, key in keys.items():
        blocks.append(
            _text_input(
                field_id,
                REFLECTION_LABELS[field_id],
                initial=answers.get(key),
                optional=field_id in REFLECTION_OPTIONAL,
            )
        )
    blocks.append(
        InputBlock(
            block_id=ReflectionField.THEMES,
            label=PlainTextObject(text=REFLECTION_LABELS[ReflectionField.THEMES]),
            element=_theme_select(ReflectionField.THEMES, themes, answers.get("themes")),
            hint=PlainTextObject(text="The themes your case speaks to, from the council's list."),
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
        title=REFLECTION_TITLE,
        callback_id=LearningIds.REFLECTION_MODAL,
        blocks=blocks,
        submit=REFLECTION_SUBMIT,
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
        blocks.extend(_labelled_sections(label, answers.get(key) or ""))
    chosen = answers.get("themes") or []
    blocks.append(section(f"*Themes:* {', '.join(chosen) if chosen else 'none chosen'}"))
    return modal(
        title=REFLECTION_TITLE,
        callback_id=LearningIds.REFLECTION_MODAL,
        blocks=blocks,
        close="Close",
        private_metadata=ReflectionMeta(audit_id=card.audit_id).model_dump_json(),
    )


# ---------------------------------------------------------------------------------------------
# the learning-audit modal


def audit_modal(
    *,
    card: CaseCard,
    themes: Sequence[str],
    reflection: Mapping[str, str | None] | None,
    drafts: Sequence[DraftAction],
    values: Mapping[str, Any] | None = None,
    actions_available: bool = True,
) -> View:
    """The auditor's record. ``values`` (block id -> typed value) carries what was typed across an update."""
    values = values or {}
    blocks: list[Block] = [
        privacy_notice(),
        section(f"{_case_line(card)}\nLearning audits are not graded: record the learning."),
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
            words = _cut(" ".join(draft.description.split()), 2800)
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
