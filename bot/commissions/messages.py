"""Block Kit for commissioned work: themed audits, learning visits and the Continuous Improvement Board.

Builders take plain values (the dataclasses below), never database rows, so the jobs, the handlers
and the tests share them. Channel posts (the CIB digest) are given counts already suppressed and
text already checked: this module never decides what is safe to show, it only lays it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
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

MESSAGE_BLOCK_LIMIT = 50
MAX_LISTED_CASES = 40  # one "Record findings" button each in the auditor's DM, under Slack's 50 blocks
LONG_TEXT = 3000
_OPTION_TEXT_LIMIT = 75


class CommissionIds(StrEnum):
    """Every block, action and callback id of the commissions flows (kebab-case ``flow-field``)."""

    # themed audit: the commission modal
    THEMED_MODAL = "themed-commission"
    THEMED_THEME = "themed-theme"
    THEMED_THEORY = "themed-theory"
    THEMED_SOURCE = "themed-source"
    THEMED_SOURCE_OTHER = "themed-source-other"
    THEMED_PRIORITY = "themed-priority"
    THEMED_FOCUS = "themed-focus"
    THEMED_SIZE = "themed-size"
    THEMED_CASES = "themed-cases"
    THEMED_AUDITORS = "themed-auditors"
    THEMED_VIEWS = "themed-service-user-views"
    THEMED_WORKSHOP = "themed-workshop"
    THEMED_CIB = "themed-cib"
    # themed audit: findings per case
    RECORD_FINDINGS = "themed-record-findings"
    FINDINGS_MODAL = "themed-findings"
    FINDINGS_CASE = "themed-findings-case"
    FINDINGS_FOUND = "themed-findings-found"
    FINDINGS_EVIDENCE = "themed-findings-evidence"
    FINDINGS_VIEWS = "themed-findings-views"
    FINDINGS_THEMES = "themed-findings-themes"
    # themed audit: the workshop
    ATTACH_MATERIAL = "themed-attach-material"
    MATERIAL_MODAL = "themed-material"
    MATERIAL_PERFORMANCE = "themed-material-performance"
    MATERIAL_FEEDBACK = "themed-material-feedback"
    SEND_COLLATED = "themed-send-collated"
    RECORD_MODERATED = "themed-record-moderated"
    MODERATED_MODAL = "themed-moderated"
    MODERATED_FINDINGS = "themed-moderated-findings"
    MODERATED_RECOMMENDATIONS = "themed-moderated-recommendations"
    MODERATED_THEMES = "themed-moderated-themes"
    # learning visit
    VISIT_MODAL = "visit-commission"
    VISIT_SERVICE = "visit-service"
    VISIT_NEED = "visit-need"
    VISIT_DATE = "visit-date"
    VISIT_VISITORS = "visit-visitors"
    VISIT_LEAD = "visit-lead"
    VISIT_ACTIVITIES = "visit-activities"
    VISIT_PREP = "visit-preparation"
    VISIT_PERFORMANCE = "visit-performance"
    RECORD_VISIT = "visit-record"
    VISIT_RECORD_MODAL = "visit-record-modal"
    VISIT_FEEDBACK = "visit-feedback"
    VISIT_PLAN = "visit-plan"
    VISIT_ACTIONS_LIST = "visit-actions-list"
    VISIT_ADD_ACTION = "visit-add-action"
    VISIT_ACTION_MODAL = "visit-action-modal"
    # Continuous Improvement Board
    CIB_SCHEDULE_MODAL = "cib-schedule"
    CIB_DATE = "cib-date"
    CIB_RECORD_DECISION = "cib-record-decision"
    CIB_DECISION_MODAL = "cib-decision"
    CIB_RECEIVED = "cib-received"
    CIB_DECISION_TEXT = "cib-decision-text"


# visible words people (and the flow tests) look for
RECORD_FINDINGS_LABEL = "Record findings"
ANOTHER_CASE_LABEL = "Record findings for another case"
ATTACH_MATERIAL_LABEL = "Attach performance data and feedback"
SEND_COLLATED_LABEL = "Send collated findings"
RECORD_MODERATED_LABEL = "Record moderated findings"
RECORD_VISIT_LABEL = "Record visit feedback"
ADD_ACTION_LABEL = "Add an action"
RECORD_DECISION_LABEL = "Record decision"

THEMED_LABELS = {
    CommissionIds.THEMED_THEME: "Theme",
    CommissionIds.THEMED_THEORY: "The theory to test",
    CommissionIds.THEMED_SOURCE: "Commissioned by",
    CommissionIds.THEMED_SOURCE_OTHER: "If other, who commissioned it",
    CommissionIds.THEMED_PRIORITY: "Improvement-plan priority it serves",
    CommissionIds.THEMED_FOCUS: "Sampling focus",
    CommissionIds.THEMED_SIZE: "Sample size (cases)",
    CommissionIds.THEMED_CASES: "Case references in the sample",
    CommissionIds.THEMED_AUDITORS: "Auditors",
    CommissionIds.THEMED_VIEWS: "Service-user views",
    CommissionIds.THEMED_WORKSHOP: "Workshop date",
    CommissionIds.THEMED_CIB: "CIB meeting it reports to",
}
SEEK_VIEWS_OPTION = "Seek service-user views for this theme"

FINDINGS_LABELS = {
    CommissionIds.FINDINGS_CASE: "Case reference",
    CommissionIds.FINDINGS_FOUND: "What you found, tested against the theory",
    CommissionIds.FINDINGS_EVIDENCE: "Evidence",
    CommissionIds.FINDINGS_VIEWS: "Service-user views",
    CommissionIds.FINDINGS_THEMES: "Themes",
}
MATERIAL_LABELS = {
    CommissionIds.MATERIAL_PERFORMANCE: "Performance data notes",
    CommissionIds.MATERIAL_FEEDBACK: "Service-user feedback for the workshop",
}
MODERATED_LABELS = {
    CommissionIds.MODERATED_FINDINGS: "Moderated findings",
    CommissionIds.MODERATED_RECOMMENDATIONS: "Recommendations",
    CommissionIds.MODERATED_THEMES: "Themes confirmed at the workshop",
}
VISIT_LABELS = {
    CommissionIds.VISIT_SERVICE: "Service to visit",
    CommissionIds.VISIT_NEED: "The need or risk behind the visit",
    CommissionIds.VISIT_DATE: "Date of the visit",
    CommissionIds.VISIT_VISITORS: "Visitors",
    CommissionIds.VISIT_LEAD: "Lead reviewer",
    CommissionIds.VISIT_ACTIVITIES: "Planned activities",
    CommissionIds.VISIT_PREP: "Preparation notes",
    CommissionIds.VISIT_PERFORMANCE: "Performance information",
    CommissionIds.VISIT_FEEDBACK: "Direct feedback given to the service",
    CommissionIds.VISIT_PLAN: "Improvement plan summary",
}
CIB_LABELS = {
    CommissionIds.CIB_DATE: "Meeting date",
    CommissionIds.CIB_RECEIVED: "Received",
    CommissionIds.CIB_DECISION_TEXT: "Decisions",
}
RECEIVED_OPTION = "Received by the Board"

# option value -> words; the values are what LearningVisit.activities stores
ACTIVITIES: dict[str, str] = {
    "observation": "Observation of practice",
    "focus_groups": "Focus groups",
    "interviews": "Interviews",
    "case_discussions": "Case discussions",
}

WHY_THEMED = (
    "A themed audit tests a theory about practice on a qualitative sample with a specific focus. "
    "Auditors record findings per case, share and moderate them at a workshop with the performance "
    "data and service-user feedback, and the moderated findings go to a pre-scheduled Continuous "
    "Improvement Board."
)
WHY_VISIT = (
    "A learning visit is a live observation of practice by a small group of senior managers "
    "independent of the service, commissioned on need or risk and supported by Quality & Improvement. "
    "The lead reviewer gives direct feedback and an improvement plan, which goes to the next "
    "Continuous Improvement Board."
)


class CommissionMeta(BaseModel):
    """A modal's private_metadata: says *which* record, never who may act (that is re-checked)."""

    audit_id: int | None = None
    case_id: int | None = None
    visit_id: int | None = None
    item_id: int | None = None
    parent_view: str | None = None
    channel: str | None = None
    ts: str | None = None

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: str | None) -> CommissionMeta:
        try:
            return cls.model_validate_json(raw or "{}")
        except ValidationError:
            return cls()


# ---------------------------------------------------------------------------------------------
# plain values the builders take


@dataclass(frozen=True)
class MeetingChoice:
    id: int
    meets_on: date


@dataclass(frozen=True)
class ThemedBrief:
    """A themed audit as its auditors and commissioner see it (DMs may carry case references)."""

    id: int
    theme: str
    theory: str
    source: str
    priority: str
    focus: str
    sample_size: int
    service_user_views: bool
    workshop_on: date
    cib_on: date | None
    commissioner: str
    auditors: tuple[str, ...] = ()
    cases: tuple[tuple[int, str], ...] = ()  # (case id, case reference)


@dataclass(frozen=True)
class FindingPrefill:
    case_ref: str | None = None
    against_theory: str | None = None
    evidence: str | None = None
    service_user_views: str | None = None
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingLine:
    case_ref: str
    auditor: str
    against_theory: str
    evidence: str
    service_user_views: str | None
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Collation:
    """The findings grouped by theme, most-raised first, with what the commissioner attached."""

    by_theme: tuple[tuple[str, tuple[FindingLine, ...]], ...]
    unthemed: tuple[FindingLine, ...]
    cases: int
    findings: int
    performance_notes: str | None = None
    service_user_feedback: str | None = None


@dataclass(frozen=True)
class VisitPlan:
    id: int
    service_name: str
    visit_on: date
    need_or_risk: str
    activities: tuple[str, ...]
    preparation_notes: str
    performance_info: str | None
    lead_reviewer: str
    visitors: tuple[str, ...]
    commissioner: str


@dataclass(frozen=True)
class PlanAction:
    owner: str
    due_on: date
    description: str


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


# ---------------------------------------------------------------------------------------------
# small helpers


def nice_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def quote(text: str) -> str:
    return "\n".join(f">{line}" for line in (text or "").splitlines() or [""])


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text)


def _option(label: str, value: str) -> Option:
    shown = label if len(label) <= _OPTION_TEXT_LIMIT else label[: _OPTION_TEXT_LIMIT - 1] + "…"
    return Option(text=_plain(shown), value=value[:150])


def _text_input(block_id: str, label: str, *, multiline: bool = True, max_length: int = LONG_TEXT,
                optional: bool = False, initial: str | None = None, hint: str | None = NO_NAMES_HINT,
                placeholder: str | None = None) -> InputBlock:
    element = PlainTextInputElement(
        action_id=block_id,
        multiline=multiline,
        max_length=max_length,
        initial_value=(initial or None) and initial[:max_length],
        placeholder=_plain(placeholder) if placeholder else None,
    )
    return InputBlock(block_id=block_id, label=_plain(label), element=element, optional=optional,
                      hint=_plain(hint) if hint else None)


def _sections(text: str) -> list[Block]:
    return [section(chunk) for chunk in split_text(text)] if text.strip() else []


def _clip(text: str, limit: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _fit(blocks: list[Block], tail: list[Block], note: str) -> list[Block]:
    """Keep a message under Slack's 50 blocks, saying so when something had to be left out."""
    room = MESSAGE_BLOCK_LIMIT - len(tail)
    if len(blocks) <= room:
        return blocks + tail
    return blocks[: room - 1] + [context(note)] + tail


def _mentions(people: Sequence[str]) -> str:
    return ", ".join(f"<@{p}>" for p in people) or "nobody yet"


# ---------------------------------------------------------------------------------------------
# themed audits: modals


def themed_commission_modal(*, sources: Sequence[str], meetings: Sequence[MeetingChoice],
                            today: date) -> View:
    ids = CommissionIds
    labels = THEMED_LABELS
    meeting_options = [_option(nice_date(m.meets_on), str(m.id)) for m in meetings[:100]]
    blocks: list[Block] = [
        section(WHY_THEMED),
        privacy_notice(),
        _text_input(ids.THEMED_THEME, labels[ids.THEMED_THEME], multiline=False, max_length=150,
                    placeholder="e.g. Management oversight of drift in child in need plans"),
        _text_input(ids.THEMED_THEORY, labels[ids.THEMED_THEORY], max_length=2000),
        InputBlock(block_id=ids.THEMED_SOURCE, label=_plain(labels[ids.THEMED_SOURCE]),
                   element=StaticSelectElement(action_id=ids.THEMED_SOURCE,
                                               placeholder=_plain("Choose the board or programme"),
                                               options=[_option(s, s) for s in sources])),
        _text_input(ids.THEMED_SOURCE_OTHER, labels[ids.THEMED_SOURCE_OTHER], multiline=False,
                    max_length=100, optional=True, hint="Only if you chose Other."),
        _text_input(ids.THEMED_PRIORITY, labels[ids.THEMED_PRIORITY], multiline=False, max_length=300),
        _text_input(ids.THEMED_FOCUS, labels[ids.THEMED_FOCUS], max_length=1500),
        InputBlock(block_id=ids.THEMED_SIZE, label=_plain(labels[ids.THEMED_SIZE]),
                   element=NumberInputElement(action_id=ids.THEMED_SIZE, is_decimal_allowed=False,
                                              min_value="1", max_value="100")),
        _text_input(ids.THEMED_CASES, labels[ids.THEMED_CASES], max_length=1500, optional=True,
                    hint="Case references only, one per line or separated by commas. Auditors can add "
                         "cases when they record findings."),
        InputBlock(block_id=ids.THEMED_AUDITORS, label=_plain(labels[ids.THEMED_AUDITORS]),
                   element=UserMultiSelectElement(action_id=ids.THEMED_AUDITORS,
                                                  placeholder=_plain("Who will audit the cases"),
                                                  max_selected_items=20)),
        InputBlock(block_id=ids.THEMED_VIEWS, label=_plain(labels[ids.THEMED_VIEWS]), optional=True,
                   element=CheckboxesElement(action_id=ids.THEMED_VIEWS,
                                             options=[_option(SEEK_VIEWS_OPTION, "yes")])),
        InputBlock(block_id=ids.THEMED_WORKSHOP, label=_plain(labels[ids.THEMED_WORKSHOP]),
                   element=DatePickerElement(action_id=ids.THEMED_WORKSHOP, initial_date=None,
                                             placeholder=_plain("The moderation workshop"))),
        InputBlock(block_id=ids.THEMED_CIB, label=_plain(labels[ids.THEMED_CIB]),
                   element=StaticSelectElement(action_id=ids.THEMED_CIB,
                                               placeholder=_plain("Choose a meeting"),
                                               options=meeting_options)),
    ]
    return modal(title="Commission themed audit", callback_id=ids.THEMED_MODAL, blocks=blocks,
                 submit="Commission", private_metadata=CommissionMeta().dump())


def findings_modal(*, brief: ThemedBrief, case_id: int | None, prefill: FindingPrefill,
                   themes: Sequence[str]) -> View:
    ids = CommissionIds
    labels = FINDINGS_LABELS
    blocks: list[Block] = [
        section(f"*Themed audit:* {brief.theme}\n*Theory:* {_clip(brief.theory, 1500)}"),
        privacy_notice(),
    ]
    if case_id is not None and prefill.case_ref:
        blocks.append(section(f"*Case:* {prefill.case_ref}"))
    else:
        blocks.append(_text_input(ids.FINDINGS_CASE, labels[ids.FINDINGS_CASE], multiline=False, max_length=40,
                                  hint="The case-management reference only.", initial=prefill.case_ref))
    blocks += [
        _text_input(ids.FINDINGS_FOUND, labels[ids.FINDINGS_FOUND], initial=prefill.against_theory),
        _text_input(ids.FINDINGS_EVIDENCE, labels[ids.FINDINGS_EVIDENCE], initial=prefill.evidence),
    ]
    if brief.service_user_views:
        blocks.append(_text_input(
            ids.FINDINGS_VIEWS, labels[ids.FINDINGS_VIEWS], optional=True, initial=prefill.service_user_views,
            hint="What the child or family said, or why their views could not be sought. " + NO_NAMES_HINT))
    options = [_option(t, t) for t in themes[:100]]
    initial = [o for o in options if o.value in prefill.themes]
    blocks.append(InputBlock(
        block_id=ids.FINDINGS_THEMES, label=_plain(labels[ids.FINDINGS_THEMES]),
        element=StaticMultiSelectElement(action_id=ids.FINDINGS_THEMES, placeholder=_plain("Choose themes"),
                                         options=options, initial_options=initial or None),
        hint=_plain("The learning themes these findings speak to."),
    ))
    meta = CommissionMeta(audit_id=brief.id, case_id=case_id)
    return modal(title="Record findings", callback_id=ids.FINDINGS_MODAL, blocks=blocks, submit="Save findings",
                 private_metadata=meta.dump())


def material_modal(*, brief: ThemedBrief, performance_notes: str | None, service_user_feedback: str | None) -> View:
    ids = CommissionIds
    blocks: list[Block] = [
        section(f"*Themed audit:* {brief.theme}\nWhat you add here goes to the auditors with the collated "
                f"findings before the workshop on {nice_date(brief.workshop_on)}."),
        privacy_notice(),
        _text_input(ids.MATERIAL_PERFORMANCE, MATERIAL_LABELS[ids.MATERIAL_PERFORMANCE], optional=True,
                    initial=performance_notes,
                    hint="The analysis of relevant performance data, in aggregate. " + NO_NAMES_HINT),
        _text_input(ids.MATERIAL_FEEDBACK, MATERIAL_LABELS[ids.MATERIAL_FEEDBACK], optional=True,
                    initial=service_user_feedback),
    ]
    return modal(title="Workshop material", callback_id=ids.MATERIAL_MODAL, blocks=blocks, submit="Save",
                 private_metadata=CommissionMeta(audit_id=brief.id).dump())


def moderated_modal(*, brief: ThemedBrief, collation: Collation, themes: Sequence[str],
                    findings: str | None, recommendations: str | None, chosen: Sequence[str]) -> View:
    ids = CommissionIds
    raised = ", ".join(f"{t} ({len(lines)})" for t, lines in collation.by_theme[:8]) or "none yet"
    options = [_option(t, t) for t in themes[:100]]
    initial = [o for o in options if o.value in chosen]
    blocks: list[Block] = [
        section(f"*Themed audit:* {brief.theme}\n{collation.findings} finding(s) on {collation.cases} case(s). "
                f"Themes raised: {raised}."),
        privacy_notice(),
        _text_input(ids.MODERATED_FINDINGS, MODERATED_LABELS[ids.MODERATED_FINDINGS], initial=findings,
                    hint="What the auditors agreed at the workshop. This goes to the Continuous Improvement "
                         "Board channel, so nothing that identifies a child, family or worker: no case "
                         "references, no names."),
        _text_input(ids.MODERATED_RECOMMENDATIONS, MODERATED_LABELS[ids.MODERATED_RECOMMENDATIONS],
                    initial=recommendations),
        InputBlock(block_id=ids.MODERATED_THEMES, label=_plain(MODERATED_LABELS[ids.MODERATED_THEMES]),
                   optional=True,
                   element=StaticMultiSelectElement(action_id=ids.MODERATED_THEMES, options=options,
                                                    placeholder=_plain("Choose themes"),
                                                    initial_options=initial or None)),
    ]
    return modal(title="Moderated findings", callback_id=ids.MODERATED_MODAL, blocks=blocks,
                 submit="Queue for the CIB", private_metadata=CommissionMeta(audit_id=brief.id).dump())


# ---------------------------------------------------------------------------------------------
# themed audits: messages


def _brief_lines(brief: ThemedBrief) -> str:
    views = "yes" if brief.service_user_views else "no"
    cib = nice_date(brief.cib_on) if brief.cib_on else "the next scheduled meeting"
    return (
        f"*Theory to test:* {_clip(brief.theory, 1200)}\n"
        f"*Commissioned by:* {brief.source} (<@{brief.commissioner}>)\n"
        f"*Improvement-plan priority:* {_clip(brief.priority, 300)}\n"
        f"*Sampling focus:* {_clip(brief.focus, 600)} ({brief.sample_size} case(s))\n"
        f"*Service-user views sought:* {views}\n"
        f"*Workshop:* {nice_date(brief.workshop_on)} · *Reports to the CIB on* {cib}"
    )


def auditor_brief_message(brief: ThemedBrief) -> tuple[str, list[Block]]:
    """The auditor's DM: the theory, the sample, and a "Record findings" button per case."""
    ids = CommissionIds
    text = (f"You are an auditor for the themed audit \"{brief.theme}\"; the workshop is on "
            f"{nice_date(brief.workshop_on)}.")
    blocks: list[Block] = [
        header(f"Themed audit: {brief.theme}"[:150]),
        section(f"You are an auditor for this themed audit, with {_mentions(brief.auditors)}.\n"
                + _brief_lines(brief)),
    ]
    if brief.cases:
        blocks.append(section("*The sample.* Record what you find on each case, tested against the theory:"))
        for case_id, case_ref in brief.cases[:MAX_LISTED_CASES]:
            blocks.append(section(f"*{case_ref}*", block_id=f"themed-case-{case_id}",
                                  accessory=button(RECORD_FINDINGS_LABEL, ids.RECORD_FINDINGS,
                                                   f"{brief.id}:{case_id}")))
    else:
        blocks.append(section("No case references were listed: add each case you audit with the button below."))
    tail: list[Block] = [
        actions(button(ANOTHER_CASE_LABEL, ids.RECORD_FINDINGS, f"{brief.id}:new"),
                block_id=f"themed-another-{brief.id}"),
        context("Findings are qualitative: what you found against the theory, the evidence, service-user "
                "views where sought, and the themes. Case references only: no names or identifying details."),
    ]
    return text, _fit(blocks, tail, "More cases are in the sample than fit here: use the button below for them.")


def commissioner_actions(audit_id: int) -> Block:
    ids = CommissionIds
    value = str(audit_id)
    return actions(
        button(ATTACH_MATERIAL_LABEL, ids.ATTACH_MATERIAL, value),
        button(SEND_COLLATED_LABEL, ids.SEND_COLLATED, value),
        button(RECORD_MODERATED_LABEL, ids.RECORD_MODERATED, value, style="primary"),
        block_id=f"themed-manage-{audit_id}",
    )


def themed_commissioned_message(brief: ThemedBrief, collate_on: date) -> tuple[str, list[Block]]:
    """The commissioner's record of what they commissioned, with the workshop buttons."""
    text = f"You commissioned the themed audit \"{brief.theme}\"; the auditors have been told."
    blocks: list[Block] = [
        section(f":white_check_mark: You commissioned the themed audit *{brief.theme}*. "
                f"The auditors ({_mentions(brief.auditors)}) have been sent the brief.\n" + _brief_lines(brief)),
        context(f"Attach the performance data notes and service-user feedback for the workshop. The collated "
                f"findings go to the auditors on {nice_date(collate_on)}, or when you press "
                f"*{SEND_COLLATED_LABEL}*. Record the moderated findings at the workshop."),
        commissioner_actions(brief.id),
    ]
    return text, blocks


def _finding_line(line: FindingLine, limit: int = 400) -> str:
    return f"• *{line.case_ref}* (<@{line.auditor}>): {_clip(line.against_theory, limit)}"


def collated_message(brief: ThemedBrief, collation: Collation) -> tuple[str, list[Block]]:
    """Before the workshop: every finding grouped by theme, with the commissioner's material."""
    text = (f"Collated findings for the themed audit \"{brief.theme}\" ahead of the workshop on "
            f"{nice_date(brief.workshop_on)}.")
    blocks: list[Block] = [
        header(f"Collated findings: {brief.theme}"[:150]),
        section(f"For the workshop on *{nice_date(brief.workshop_on)}*: {collation.findings} finding(s) on "
                f"{collation.cases} case(s), grouped by theme.\n*Theory:* {_clip(brief.theory, 800)}"),
    ]
    for theme, lines in collation.by_theme:
        body = f"*{theme}* ({len(lines)})\n" + "\n".join(_finding_line(line) for line in lines)
        blocks += _sections(body)
    if collation.unthemed:
        blocks += _sections("*No theme given*\n" + "\n".join(_finding_line(line) for line in collation.unthemed))
    if not collation.findings:
        blocks.append(section("No findings have been recorded yet."))
    views = [f"• *{line.case_ref}*: {_clip(line.service_user_views or '', 400)}"
             for _, lines in collation.by_theme for line in lines if line.service_user_views]
    views += [f"• *{line.case_ref}*: {_clip(line.service_user_views or '', 400)}"
              for line in collation.unthemed if line.service_user_views]
    tail: list[Block] = []
    if views:
        tail += _sections("*Service-user views from the cases*\n" + "\n".join(dict.fromkeys(views)))[:3]
    tail += [divider(),
             section("*Performance data notes*\n" + (quote(_clip(collation.performance_notes, 2800))
                                                     if collation.performance_notes else "_None attached._")),
             section("*Service-user feedback*\n" + (quote(_clip(collation.service_user_feedback, 2800))
                                                    if collation.service_user_feedback else "_None attached._")),
             context("Bring these to the workshop to share and moderate. Case references only: no names or "
                     "identifying details.")]
    return text, _fit(blocks, tail, "More findings than fit in one message: the full set is in each "
                                    "auditor's records.")


def moderated_saved_message(brief: ThemedBrief, meeting_on: date | None, moved: bool) -> tuple[str, list[Block]]:
    when = f"the CIB meeting on {nice_date(meeting_on)}" if meeting_on else "the next CIB meeting to be scheduled"
    note = " (the meeting you named had already had its digest, so they go to the next one)" if moved else ""
    text = f"The moderated findings of \"{brief.theme}\" are queued for {when}."
    return text, [section(f":white_check_mark: The moderated findings and recommendations of *{brief.theme}* "
                          f"are queued for {when}{note}.")]


# ---------------------------------------------------------------------------------------------
# learning visits


def visit_commission_modal(*, services: Sequence[tuple[str, str]], today: date) -> View:
    """``services`` is (key, name) of the services in the commissioner's divisions."""
    ids = CommissionIds
    labels = VISIT_LABELS
    blocks: list[Block] = [
        section(WHY_VISIT),
        privacy_notice(),
        InputBlock(block_id=ids.VISIT_SERVICE, label=_plain(labels[ids.VISIT_SERVICE]),
                   element=StaticSelectElement(action_id=ids.VISIT_SERVICE, placeholder=_plain("Choose a service"),
                                               options=[_option(name, key) for key, name in services[:100]])),
        _text_input(ids.VISIT_NEED, labels[ids.VISIT_NEED], max_length=2000),
        InputBlock(block_id=ids.VISIT_DATE, label=_plain(labels[ids.VISIT_DATE]),
                   element=DatePickerElement(action_id=ids.VISIT_DATE, placeholder=_plain("Choose a date"))),
        InputBlock(block_id=ids.VISIT_VISITORS, label=_plain(labels[ids.VISIT_VISITORS]),
                   element=UserMultiSelectElement(action_id=ids.VISIT_VISITORS, max_selected_items=8,
                                                  placeholder=_plain("Senior managers independent of it")),
                   hint=_plain("Each visitor must be independent of the service: not its Service Manager, "
                               "a Team Manager or a practitioner in it.")),
        InputBlock(block_id=ids.VISIT_LEAD, label=_plain(labels[ids.VISIT_LEAD]),
                   element=UserSelectElement(action_id=ids.VISIT_LEAD, placeholder=_plain("One of the visitors"))),
        InputBlock(block_id=ids.VISIT_ACTIVITIES, label=_plain(labels[ids.VISIT_ACTIVITIES]),
                   element=CheckboxesElement(action_id=ids.VISIT_ACTIVITIES,
                                             options=[_option(v, k) for k, v in ACTIVITIES.items()])),
        _text_input(ids.VISIT_PREP, labels[ids.VISIT_PREP], max_length=LONG_TEXT),
        _text_input(ids.VISIT_PERFORMANCE, labels[ids.VISIT_PERFORMANCE], max_length=LONG_TEXT, optional=True,
                    hint="The performance information the visitors should read first, in aggregate. "
                         + NO_NAMES_HINT),
    ]
    return modal(title="Commission a visit", callback_id=ids.VISIT_MODAL, blocks=blocks, submit="Commission",
                 private_metadata=CommissionMeta().dump())


def _plan_text(plan: VisitPlan) -> str:
    activities = ", ".join(plan.activities) or "to be agreed"
    return (
        f"*Service:* {plan.service_name}\n*Date:* {nice_date(plan.visit_on)}\n"
        f"*Need or risk:* {_clip(plan.need_or_risk, 1000)}\n*Planned activities:* {activities}\n"
        f"*Lead reviewer:* <@{plan.lead_reviewer}> · *Visitors:* {_mentions(plan.visitors)}\n"
        f"*Commissioned by:* <@{plan.commissioner}>"
    )


def _plan_details(plan: VisitPlan) -> list[Block]:
    blocks = _sections("*Preparation notes*\n" + quote(_clip(plan.preparation_notes, 2800)))
    if plan.performance_info:
        blocks += _sections("*Performance information*\n" + quote(_clip(plan.performance_info, 2800)))
    return blocks


def record_visit_button(visit_id: int) -> Any:
    return button(RECORD_VISIT_LABEL, CommissionIds.RECORD_VISIT, str(visit_id), style="primary")


def visit_preparation_message(plan: VisitPlan, *, lead: bool) -> tuple[str, list[Block]]:
    """The visitors' preparation DM: the plan, and for the lead reviewer how to record the outcome."""
    text = f"You are visiting {plan.service_name} on {nice_date(plan.visit_on)} for a learning visit."
    role = "the *lead reviewer* for" if lead else "a visitor on"
    blocks: list[Block] = [
        header(f"Learning visit: {plan.service_name}"[:150]),
        section(f"You are {role} this learning visit. Please prepare with the plan below.\n" + _plan_text(plan)),
        *_plan_details(plan),
    ]
    if lead:
        blocks += [
            context("After the visit, give the service direct feedback, then record it here with the "
                    "improvement/action plan (actions with owners and due dates)."),
            actions(record_visit_button(plan.id), block_id=f"visit-manage-{plan.id}"),
        ]
    blocks.append(context("Quality & Improvement support the visit. No names or identifying details in Slack."))
    return text, blocks


def visit_reminder_message(plan: VisitPlan, *, lead: bool) -> tuple[str, list[Block]]:
    text = f"Reminder: the learning visit to {plan.service_name} is on {nice_date(plan.visit_on)}."
    blocks: list[Block] = [
        section(f":wave: A reminder: the learning visit to *{plan.service_name}* is on "
                f"*{nice_date(plan.visit_on)}*.\n" + _plan_text(plan)),
    ]
    if lead:
        blocks.append(actions(record_visit_button(plan.id), block_id=f"visit-manage-{plan.id}"))
    return text, blocks


def visit_record_reminder_message(plan: VisitPlan) -> tuple[str, list[Block]]:
    text = f"Please record the feedback and action plan from the learning visit to {plan.service_name}."
    return text, [
        section(f":memo: Please record the direct feedback you gave *{plan.service_name}* on "
                f"{nice_date(plan.visit_on)} and the improvement/action plan, so it reaches the service manager "
                f"and the next Continuous Improvement Board."),
        actions(record_visit_button(plan.id), block_id=f"visit-manage-{plan.id}"),
    ]


def visit_support_message(plan: VisitPlan) -> tuple[str, list[Block]]:
    """Q&I are asked to support every visit (preparation and analysis of performance information)."""
    text = f"Please support the learning visit to {plan.service_name} on {nice_date(plan.visit_on)}."
    return text, [
        section(f":handshake: <@{plan.commissioner}> has commissioned a learning visit. Quality & Improvement "
                f"are asked to support it: the preparation, the performance information and the analysis.\n"
                + _plan_text(plan)),
        *_plan_details(plan),
    ]


def visit_commissioned_message(plan: VisitPlan, warning: str | None) -> tuple[str, list[Block]]:
    text = f"You commissioned a learning visit to {plan.service_name} on {nice_date(plan.visit_on)}."
    blocks: list[Block] = [section(":white_check_mark: You commissioned a learning visit.\n" + _plan_text(plan))]
    if warning:
        blocks.append(section(f":warning: {warning}"))
    blocks.append(context("The visitors have their preparation DM and Quality & Improvement have been asked to "
                          "support the visit."))
    return text, blocks


def visit_commissioned_view(plan: VisitPlan, warning: str | None) -> View:
    _, blocks = visit_commissioned_message(plan, warning)
    return modal(title="Visit commissioned", callback_id="visit-commissioned", blocks=blocks, close="Close")


def visit_record_modal(*, plan: VisitPlan, feedback: str | None, plan_summary: str | None,
                       drafts: Sequence[PlanAction]) -> View:
    ids = CommissionIds
    lines = [f"• <@{a.owner}> by {short_date(a.due_on)}: {_clip(a.description, 300)}" for a in drafts]
    listed = ("*The action plan*\n" + "\n".join(lines)) if lines else (
        "*The action plan*\nNo actions yet: add each one with an owner and a due date.")
    blocks: list[Block] = [
        section(f"*Learning visit to {plan.service_name}* on {nice_date(plan.visit_on)}"),
        privacy_notice(),
        _text_input(ids.VISIT_FEEDBACK, VISIT_LABELS[ids.VISIT_FEEDBACK], initial=feedback,
                    hint="What you told the service at the end of the visit. It goes to the Service Manager and "
                         "the Continuous Improvement Board. " + NO_NAMES_HINT),
        _text_input(ids.VISIT_PLAN, VISIT_LABELS[ids.VISIT_PLAN], initial=plan_summary, optional=True,
                    hint="The improvement the plan is for, in a sentence or two. " + NO_NAMES_HINT),
        *[section(chunk, block_id=f"{ids.VISIT_ACTIONS_LIST}-{i}") for i, chunk in enumerate(split_text(listed))][:30],
        actions(button(ADD_ACTION_LABEL, ids.VISIT_ADD_ACTION, str(plan.id)), block_id=ids.VISIT_ADD_ACTION),
    ]
    return modal(title="Record visit", callback_id=ids.VISIT_RECORD_MODAL, blocks=blocks,
                 submit="Send to the service", private_metadata=CommissionMeta(visit_id=plan.id).dump())


def visit_action_modal(*, visit_id: int, parent_view: str | None, service_name: str,
                       input_blocks: Sequence[Block]) -> View:
    blocks: list[Block] = [
        section(f"An action in the improvement plan for *{service_name}*."),
        privacy_notice(),
        *input_blocks,
    ]
    meta = CommissionMeta(visit_id=visit_id, parent_view=parent_view)
    return modal(title="Add an action", callback_id=CommissionIds.VISIT_ACTION_MODAL, blocks=blocks,
                 submit="Add", close="Back", private_metadata=meta.dump())


def _action_lines(actions_: Sequence[PlanAction]) -> str:
    return "\n".join(f"• <@{a.owner}> by {short_date(a.due_on)}: {_clip(a.description, 400)}" for a in actions_)


def visit_feedback_message(plan: VisitPlan, feedback: str, plan_summary: str | None,
                           actions_: Sequence[PlanAction], meeting_on: date | None) -> tuple[str, list[Block]]:
    """The Service Manager's DM: what the lead reviewer said, and the plan for the service."""
    when = f"the Continuous Improvement Board on {nice_date(meeting_on)}" if meeting_on else \
        "the next Continuous Improvement Board"
    text = f"Feedback and the improvement plan from the learning visit to {plan.service_name}."
    blocks: list[Block] = [
        header(f"Learning visit feedback: {plan.service_name}"[:150]),
        section(f"<@{plan.lead_reviewer}> led the learning visit to *{plan.service_name}* on "
                f"{nice_date(plan.visit_on)}. Here is the feedback given and the improvement/action plan."),
        *_sections("*Direct feedback*\n" + quote(_clip(feedback, 2800))),
    ]
    if plan_summary:
        blocks += _sections("*Improvement plan*\n" + quote(_clip(plan_summary, 2800)))
    blocks += _sections("*Actions*\n" + (_action_lines(actions_) or "None."))
    blocks.append(context(f"Each owner has been told of their action. The plan goes to {when}."))
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


def visit_recorded_message(plan: VisitPlan, count: int, meeting_on: date | None) -> tuple[str, list[Block]]:
    when = f"the CIB meeting on {nice_date(meeting_on)}" if meeting_on else "the next CIB meeting to be scheduled"
    text = f"The feedback and plan from the visit to {plan.service_name} went to the Service Manager."
    return text, [section(f":white_check_mark: Thank you. The feedback and plan ({count} action(s)) from the visit "
                          f"to *{plan.service_name}* went to the Service Manager, and the plan is queued for {when}.")]


# ---------------------------------------------------------------------------------------------
# the Continuous Improvement Board


def cib_schedule_modal(upcoming: Sequence[date]) -> View:
    listed = "\n".join(f"• {nice_date(d)}" for d in upcoming[:20]) or "None scheduled."
    blocks: list[Block] = [
        section("*Meetings already scheduled*\n" + listed),
        InputBlock(block_id=CommissionIds.CIB_DATE, label=_plain(CIB_LABELS[CommissionIds.CIB_DATE]),
                   element=DatePickerElement(action_id=CommissionIds.CIB_DATE, placeholder=_plain("Choose a date"))),
    ]
    return modal(title="Schedule a CIB meeting", callback_id=CommissionIds.CIB_SCHEDULE_MODAL, blocks=blocks,
                 submit="Add meeting")


def cib_decision_modal(*, item_id: int, title: str, received: bool, decision: str | None,
                       channel: str | None, ts: str | None) -> View:
    ids = CommissionIds
    option = _option(RECEIVED_OPTION, "yes")
    blocks: list[Block] = [
        section(f"*{title}*"),
        privacy_notice(),
        InputBlock(block_id=ids.CIB_RECEIVED, label=_plain(CIB_LABELS[ids.CIB_RECEIVED]), optional=True,
                   element=CheckboxesElement(action_id=ids.CIB_RECEIVED, options=[option],
                                             initial_options=[option] if received else None)),
        _text_input(ids.CIB_DECISION_TEXT, CIB_LABELS[ids.CIB_DECISION_TEXT], optional=True, initial=decision,
                    hint="What the Board decided. It goes back to the commissioner. " + NO_NAMES_HINT),
    ]
    meta = CommissionMeta(item_id=item_id, channel=channel, ts=ts)
    return modal(title="CIB decision", callback_id=ids.CIB_DECISION_MODAL, blocks=blocks, submit="Save",
                 private_metadata=meta.dump())


def decision_message(title: str, received: bool, decision: str | None, meeting_on: date | None,
                     chair: str) -> tuple[str, list[Block]]:
    at = f" at its meeting on {nice_date(meeting_on)}" if meeting_on else ""
    state = "received" if received else "considered"
    text = f"The Continuous Improvement Board {state} \"{title}\"{at}."
    blocks: list[Block] = [section(f":classical_building: The Continuous Improvement Board {state} *{title}*{at}.")]
    if decision:
        blocks += _sections("*Decisions*\n" + quote(_clip(decision, 2800)))
    blocks.append(context(f"Recorded by <@{chair}>."))
    return text, blocks


def decision_thread_message(title: str, received: bool, decision: str | None) -> tuple[str, list[Block]]:
    state = "Received" if received else "Considered"
    text = f"{state}: {title}"
    blocks: list[Block] = [section(f":white_check_mark: *{state}:* {title}")]
    if decision:
        blocks += _sections("*Decisions*\n" + quote(_clip(decision, 2800)))
    return text, blocks


def _item_button(item_id: int) -> Any:
    return button(RECORD_DECISION_LABEL, CommissionIds.CIB_RECORD_DECISION, str(item_id))


def digest_message(digest: DigestContent) -> tuple[str, list[Block]]:
    """The one post to the CIB channel before a meeting: aggregated and anonymised throughout."""
    since = f" since the last meeting on {nice_date(digest.since)}" if digest.since else ""
    text = (f"Continuous Improvement Board digest for {nice_date(digest.meeting_on)}: "
            f"{len(digest.themed)} themed audit(s), {len(digest.visits)} learning visit plan(s).")
    blocks: list[Block] = [
        header(f"CIB digest: meeting on {short_date(digest.meeting_on)}"),
        context(f"For the Continuous Improvement Board on *{nice_date(digest.meeting_on)}*: what has come "
                f"in{since}. Aggregated and anonymised: no case references or names."),
        section("*Themed audit findings*" + ("" if digest.themed else "\nNone this time.")),
    ]
    for item in digest.themed:
        themes = f"\n*Themes:* {', '.join(item.themes)}" if item.themes else ""
        blocks.append(section(
            f"*{_clip(item.theme, 200)}* · commissioned by {item.source}\n"
            f"*Priority:* {_clip(item.priority, 300)} · *Cases audited:* {item.cases_audited}{themes}\n"
            f"*Moderated findings:* {_clip(item.findings, 1000)}\n"
            f"*Recommendations:* {_clip(item.recommendations, 900)}",
            block_id=f"cib-item-{item.item_id}", accessory=_item_button(item.item_id)))
    blocks.append(section("*Learning visit plans*" + ("" if digest.visits else "\nNone this time.")))
    for visit in digest.visits:
        acts = "\n".join(f"• {_clip(d, 200)} (by {short_date(due)})" for d, due in visit.actions[:8])
        more = f"\n…and {len(visit.actions) - 8} more." if len(visit.actions) > 8 else ""
        summary = f"\n*Plan:* {_clip(visit.plan_summary, 400)}" if visit.plan_summary else ""
        blocks.append(section(
            f"*{visit.service_name}* · visited {short_date(visit.visit_on)}\n"
            f"*Need or risk:* {_clip(visit.need_or_risk, 400)}\n*Feedback:* {_clip(visit.feedback, 800)}{summary}\n"
            f"*Actions:* {visit.action_count}\n{acts}{more}",
            block_id=f"cib-item-{visit.item_id}", accessory=_item_button(visit.item_id)))
    tail: list[Block] = [
        divider(),
        *_sections("*Learning themes by service*" + since + "\n"
                   + ("\n".join(digest.theme_lines) or "No learning themes were shared.")),
        *_sections("*Random sampling headlines*\n" + ("\n".join(digest.sample_lines) or "No random sample "
                                                                                        "reported.")),
        section("*Action plans*\n" + "\n".join(digest.action_lines)),
        context(f"Counts under the suppression threshold are shown as \"fewer than\". After the meeting, press "
                f"*{RECORD_DECISION_LABEL}* on an item to mark it received and send the Board's decisions to "
                f"its commissioner."),
    ]
    if digest.carried:
        tail.insert(0, context(f"{digest.carried} item(s) arrived after an earlier digest and are carried into "
                               f"this one."))
    return text, _fit(blocks, tail, "More items than fit in one post: `/qmf cib` lists them all.")


def cib_listing_blocks(listing: CibListing) -> tuple[str, list[Block]]:
    lines = []
    for meets_on, titles in listing.meetings:
        queued = "\n".join(f"    ◦ {_clip(t, 150)}" for t in titles) or "    ◦ nothing queued yet"
        lines.append(f"• *{nice_date(meets_on)}*\n{queued}")
    text = "Upcoming Continuous Improvement Board meetings."
    blocks: list[Block] = [
        header("Continuous Improvement Board"),
        *_sections("*Upcoming meetings and what is queued*\n" + ("\n".join(lines) or "No meetings are scheduled.")),
    ]
    if listing.unscheduled:
        blocks += _sections("*Waiting for a meeting to be scheduled*\n"
                            + "\n".join(f"• {_clip(t, 150)}" for t in listing.unscheduled))
    if listing.can_chair and listing.awaiting:
        blocks.append(section("*Awaiting the Board's decision*"))
        for item_id, title, met_on in listing.awaiting[:20]:
            when = f" ({short_date(met_on)})" if met_on else ""
            blocks.append(section(f"{_clip(title, 200)}{when}", block_id=f"cib-awaiting-{item_id}",
                                  accessory=_item_button(item_id)))
    hint = "`/qmf cib schedule` adds a meeting date." if listing.can_schedule else \
        "Meeting dates are set by admins and Quality & Improvement."
    blocks.append(context(hint))
    return text, blocks[:MESSAGE_BLOCK_LIMIT]
