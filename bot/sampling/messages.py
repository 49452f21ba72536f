"""Block Kit for random sampling audits: the pair's DMs, the blind audit and moderation modals,
alerts, reminders and the quarter's report.

Builders take plain values (never ORM rows) so jobs, domain services and handlers share them and
the blindness rule lives in one place, the domain: nothing here decides who may see a grade.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticMultiSelectElement,
    StaticSelectElement,
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
from bot.core.formatting import day as day_label
from bot.core.grades import Grade
from bot.core.privacy import escape
from bot.sampling.types import (
    CASE_STUDY_YES,
    DISCUSSION_OPTIONS,
    AssignedCase,
    AuditForm,
    BlindGrades,
    ReminderItem,
    ReportView,
    SampleIds,
)

TEXT_MAX = 3000
NOTE_MAX = 1500
MESSAGE_BLOCK_LIMIT = 50
ROLE_LABELS = {"qi": "Q&I auditor", "pc": "Practice Consultant"}


class CaseMetadata(BaseModel):
    """The modal's private_metadata: which sampled case. Never trusted for permissions."""

    case_id: int


def quote(text: str) -> str:
    return "\n".join(f">{line}" for line in text.splitlines() or [""])


def _grade_options() -> list[Option]:
    return [Option(value=str(int(g)), label=g.label) for g in Grade]


def _text_input(block_id: SampleIds, label: str, *, optional: bool = False, max_length: int = TEXT_MAX,
                placeholder: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id.value,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id=block_id.value, multiline=True, max_length=max_length,
            placeholder=PlainTextObject(text=placeholder) if placeholder else None,
        ),
        hint=PlainTextObject(text=NO_NAMES_HINT),
        optional=optional,
    )


# ---------------------------------------------------------------------------------------------
# the draw


def allocation_message(*, quarter_label: str, service: str, role: str, partner: str,
                       cases: Sequence[AssignedCase], due: date) -> tuple[str, list[Block]]:
    """The DM each member of a pair gets from the draw: their cases, their partner, one button a case."""
    role_label = ROLE_LABELS[role]
    part = ("You also seek service-user feedback (the Practice Consultant's part)."
            if role == "pc" else "The Practice Consultant seeks service-user feedback.")
    text = (f"Random sample {quarter_label}: you have {len(cases)} case(s) in {service} to audit with "
            f"<@{partner}>, due {day_label(due)}.")
    blocks: list[Block] = [
        header(f"Random sample {quarter_label}: {service}"),
        section(
            f"You are the *{role_label}* in a pair with <@{partner}>. Each of you audits these cases on "
            f"your own, then you moderate together. Please talk to the case holder and team manager (and "
            f"the IRO or CP co-ordinator where the case has one). {part}\n"
            f"Your grade is blind: neither of you sees the other's until both are in. *Due {day_label(due)}.*"
        ),
    ]
    for c in cases:
        iro = " · has an IRO / CP co-ordinator" if c.has_reviewing_officer else ""
        blocks.append(section(
            f"*{c.case_ref}* · {c.team}{iro}",
            accessory=button("Record sample audit", SampleIds.RECORD_AUDIT.value, str(c.case_id),
                             style="primary"),
        ))
    if not cases:
        blocks.append(section("There were not enough eligible cases to give you any this quarter; Q&I has "
                              "the draw's explanation."))
    blocks.append(privacy_notice())
    return text, blocks


def team_manager_message(*, case_ref: str, quarter_label: str, qi: str, pc: str) -> tuple[str, list[Block]]:
    text = (f"{case_ref} has been drawn for the {quarter_label} random sampling audit; <@{qi}> and "
            f"<@{pc}> will be in touch.")
    blocks: list[Block] = [
        section(
            f":mag: *{case_ref}* has been drawn at random for the {quarter_label} random sampling audit.\n"
            f"<@{qi}> (Quality & Improvement) and <@{pc}> (Practice Consultant) will be in touch to talk "
            f"with you and the case holder. Nothing is needed from you until then."
        ),
        context("Random sampling checks practice across the year; the case was chosen at random."),
    ]
    return text, blocks


def draw_posted_message(*, quarter_label: str, service: str, reason: str, cases: int, pairs: int,
                        shortfalls: int) -> tuple[str, list[Block]]:
    """The Q&I channel's note of the draw: counts only, no case references."""
    text = f"Random sample {quarter_label}: {service} ({reason}); {cases} case(s) drawn for {pairs} pair(s)."
    lines = [f"*Service:* {service} ({reason})", f"*Cases drawn:* {cases} for {pairs} Q&I / PC pair(s)"]
    if shortfalls:
        lines.append(f":warning: {shortfalls} pair(s) got fewer cases than the setting; "
                     "`qmf-bot report sample --explain` shows why.")
    blocks: list[Block] = [header(f"Random sample drawn: {quarter_label}"), section("\n".join(lines)),
                           context("Each pair has been sent their cases; each case's team manager has been told.")]
    return text, blocks


# ---------------------------------------------------------------------------------------------
# the blind audit


def audit_modal(form: AuditForm) -> View:
    role_label = ROLE_LABELS[form.role]
    feedback_label = "Service-user feedback"
    discussions = CheckboxesElement(
        action_id=SampleIds.DISCUSSIONS.value,
        options=[Option(value=k, label=v) for k, v in DISCUSSION_OPTIONS.items()],
    )
    grade = StaticSelectElement(action_id=SampleIds.GRADE.value, placeholder=PlainTextObject(text="Choose a grade"),
                                options=_grade_options())
    themes = StaticMultiSelectElement(
        action_id=SampleIds.THEMES.value, placeholder=PlainTextObject(text="Choose themes"),
        options=[Option(value=t[:75], label=t[:75]) for t in form.themes[:100]],
    )
    case_study = CheckboxesElement(
        action_id=SampleIds.CASE_STUDY.value,
        options=[Option(value=CASE_STUDY_YES, label="Yes, this case would make a good case study")],
    )
    iro = " It has an IRO or CP co-ordinator." if form.has_reviewing_officer else ""
    blocks: list[Block] = [
        section(f"*{form.case_ref}* · {form.service} · {form.team}\nYou are the *{role_label}*, paired with "
                f"<@{form.partner}>.{iro} Due {day_label(form.due)}."),
        context(":lock: Your grade is blind and is *locked when you submit*. You will see "
                f"<@{form.partner}>'s grade once you have both submitted."),
        privacy_notice(),
        InputBlock(block_id=SampleIds.DISCUSSIONS.value, label=PlainTextObject(text="Discussions held"),
                   element=discussions),
        _text_input(SampleIds.FEEDBACK, feedback_label, optional=form.role != "pc",
                    placeholder="What the child, young person or family said about the help they get"),
        _text_input(SampleIds.STRENGTHS, "Strengths"),
        _text_input(SampleIds.IMPROVE, "Areas for improvement"),
        InputBlock(block_id=SampleIds.THEMES.value, label=PlainTextObject(text="Themes"), element=themes,
                   optional=True),
        InputBlock(block_id=SampleIds.GRADE.value, label=PlainTextObject(text="Overall grade"), element=grade),
        _text_input(SampleIds.RATIONALE, "Why this grade?"),
        InputBlock(block_id=SampleIds.CASE_STUDY.value, label=PlainTextObject(text="Use as a case study"),
                   element=case_study, optional=True),
        _text_input(SampleIds.CASE_STUDY_NOTE, "Case study note (anonymised)", optional=True,
                    max_length=NOTE_MAX, placeholder="What others can learn; no names, places or dates"),
    ]
    return modal(title="Sample audit", callback_id=SampleIds.AUDIT_MODAL.value, blocks=blocks,
                 submit="Submit and lock", private_metadata=CaseMetadata(case_id=form.case_id).model_dump_json())


def audit_saved_view(*, case_ref: str, grade: Grade, partner: str, partner_done: bool) -> View:
    then = ("You have both submitted: I have sent you both grades side by side to moderate."
            if partner_done else f"You will see <@{partner}>'s grade when they have submitted theirs.")
    return modal(title="Sample audit", callback_id="sample-audit-saved", close="Close", blocks=[
        section(f":white_check_mark: Your audit of *{case_ref}* is saved and your grade "
                f"(*{grade.label}*) is locked.\n{then}"),
    ])


def already_recorded_text(*, case_ref: str, grade: Grade, partner: str, partner_done: bool) -> str:
    """The answer to a second press of "Record sample audit": your own grade only, never the partner's."""
    then = ("You have both submitted: use *Record moderated grade* in the message with both grades."
            if partner_done else f"You will see <@{partner}>'s grade when they have submitted theirs.")
    return f"You have already recorded your audit of {case_ref}; your grade ({grade.label}) is locked. {then}"


# ---------------------------------------------------------------------------------------------
# both in: side by side, moderation


def both_grades_message(g: BlindGrades) -> tuple[str, list[Block]]:
    text = (f"Both blind audits of {g.case_ref} are in: <@{g.qi}> {g.qi_grade.label}, "
            f"<@{g.pc}> {g.pc_grade.label}. Please moderate.")
    blocks: list[Block] = [
        section(f"Both blind audits of *{g.case_ref}* are in. Please talk it through and record the grade "
                "you agree."),
        section("", fields=[f"*<@{g.qi}>* (Q&I)\n{g.qi_grade.label}", f"*<@{g.pc}>* (Practice Consultant)\n"
                                                                       f"{g.pc_grade.label}"]),
    ]
    if g.flag:
        blocks.append(context(f":triangular_flag_on_post: Flagged for Q&I: {g.flag}."))
    blocks.append(actions(button("Record moderated grade", SampleIds.RECORD_MODERATION.value, str(g.case_id),
                                 style="primary")))
    return text, blocks


def moderation_modal(g: BlindGrades, *, qi_rationale: str, pc_rationale: str) -> View:
    grade = StaticSelectElement(action_id=SampleIds.AGREED_GRADE.value,
                                placeholder=PlainTextObject(text="Choose a grade"), options=_grade_options())
    blocks: list[Block] = [
        section(f"*{g.case_ref}*: the two blind grades. Neither is changed by moderation; the agreed grade is "
                "recorded beside them."),
        section("", fields=[f"*<@{g.qi}>* (Q&I)\n{g.qi_grade.label}", f"*<@{g.pc}>* (Practice Consultant)\n"
                                                                       f"{g.pc_grade.label}"]),
        section(f"*Q&I's reasons*\n{quote(qi_rationale)}"[:TEXT_MAX]),
        section(f"*Practice Consultant's reasons*\n{quote(pc_rationale)}"[:TEXT_MAX]),
    ]
    if g.flag:
        blocks.append(context(f":triangular_flag_on_post: Flagged for Q&I: {g.flag}."))
    blocks += [
        privacy_notice(),
        InputBlock(block_id=SampleIds.AGREED_GRADE.value, label=PlainTextObject(text="Agreed grade"),
                   element=grade),
        _text_input(SampleIds.AGREED_REASON, "Reason for the agreed grade"),
    ]
    return modal(title="Moderated grade", callback_id=SampleIds.MODERATION_MODAL.value, blocks=blocks,
                 submit="Record", private_metadata=CaseMetadata(case_id=g.case_id).model_dump_json())


def moderation_saved_view(*, case_ref: str, grade: Grade) -> View:
    return modal(title="Moderated grade", callback_id="sample-moderation-saved", close="Close", blocks=[
        section(f":white_check_mark: The agreed grade for *{case_ref}* is *{grade.label}*. Both original "
                "grades are kept beside it."),
    ])


def moderated_message(*, case_ref: str, grade: Grade, by: str, reason: str) -> tuple[str, list[Block]]:
    text = f"<@{by}> recorded the moderated grade for {case_ref}: {grade.label}."
    return text, [section(f":white_check_mark: <@{by}> recorded the moderated grade for *{case_ref}*: "
                          f"*{grade.label}*.\n{quote(reason)}"[:TEXT_MAX])]


def qi_flag_message(g: BlindGrades) -> tuple[str, list[Block]]:
    text = f"Sample audit of {g.case_ref} flagged for Q&I: {g.flag}."
    return text, [section(
        f":triangular_flag_on_post: The blind grades for *{g.case_ref}* need a Q&I eye: {g.flag}.\n"
        f"<@{g.qi}> and <@{g.pc}> are moderating it now."
    )]


def inadequate_message(*, case_ref: str, quarter_label: str, agreed: bool,
                       action_due: date | None, owner: str | None) -> tuple[str, list[Block]]:
    if agreed:
        what = f"the moderated grade for *{case_ref}* in the {quarter_label} random sample is *Inadequate*."
        plan = (f" An action is open for <@{owner}> to agree an improvement plan by {day_label(action_due)}."
                if action_due and owner else "")
    else:
        what = (f"a blind grade for *{case_ref}* in the {quarter_label} random sample is *Inadequate* "
                "(before moderation).")
        plan = " You will hear the moderated grade when the auditors have agreed it."
    text = f"Inadequate grade: {case_ref} ({quarter_label} random sample)."
    return text, [section(f":rotating_light: For your attention at once: {what}{plan}")]


# ---------------------------------------------------------------------------------------------
# reminders


def reminder_message(*, items: Sequence[ReminderItem], due: date, days_left: int) -> tuple[str, list[Block]]:
    when = "tomorrow" if days_left == 1 else f"in {days_left} working days"
    text = f"Random sample: {len(items)} thing(s) to finish by {day_label(due)}."
    blocks: list[Block] = [section(f":alarm_clock: The quarter's random sample closes {when} "
                                   f"({day_label(due)}). Still to do:")]
    for item in items[: MESSAGE_BLOCK_LIMIT - 2]:
        if item.moderation:
            blocks.append(section(f"Moderate *{item.case_ref}* with your partner",
                                  accessory=button("Record moderated grade", SampleIds.RECORD_MODERATION.value,
                                                   str(item.case_id))))
        else:
            blocks.append(section(f"Your blind audit of *{item.case_ref}*",
                                  accessory=button("Record sample audit", SampleIds.RECORD_AUDIT.value,
                                                   str(item.case_id))))
    blocks.append(privacy_notice())
    return text, blocks


# ---------------------------------------------------------------------------------------------
# the report


def pct_text(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") + "%"


def report_lines(r: ReportView) -> dict[str, list[str]]:
    """The report as sections of plain lines, shared by Slack, Markdown and the exports."""
    headlines = [f"{r.moderated} of {r.total_cases} sampled case(s) moderated."]
    if r.moderated:
        headlines += [f"{pct_text(r.pct_good_or_better)} good or better; {pct_text(r.pct_inadequate)} inadequate."]
    grades = [f"{g.label}: {r.by_grade.get(g, 0)}" for g in Grade]
    agreement = ([f"Exact agreement before moderation: {pct_text(r.exact_agreement_pct)} of {r.pairs} case(s).",
                  f"Within one grade: {pct_text(r.within_one_pct)}."] if r.pairs else
                 ["No case has both blind grades yet."])
    movement = [f"Moderation moved {r.moved_up} case(s) to a better grade, {r.moved_down} to a worse grade "
                f"and left {r.moved_same} in line with the auditors' grades."]
    if r.flags:
        movement.append(f"{r.flags} case(s) flagged for Q&I (grades two apart or across Good / Requires "
                        "improvement).")
    themes = [f"{name}: {count}" for name, count in r.themes] or ["No themes recorded."]
    studies = [escape(note) for note in r.case_studies] or ["No case studies offered."]  # people's words
    return {"Headlines": headlines, "Grades (agreed)": grades, "Agreement before moderation": agreement,
            "Moderation": movement, "Themes for further exploration": themes, "Case studies": studies}


def report_blocks(r: ReportView, *, final: bool) -> tuple[str, list[Block]]:
    title = f"Random sample {r.quarter_label}: {r.service}"
    lines = report_lines(r)
    text = f"{title}. " + " ".join(lines["Headlines"])
    blocks: list[Block] = [header(title)]
    if not final:
        blocks.append(context("Only cases with a moderated grade are counted."))
    for name in ("Headlines", "Grades (agreed)", "Agreement before moderation", "Moderation",
                 "Themes for further exploration"):
        bullet = "\n".join(f"• {line}" for line in lines[name])
        for chunk in split_text(f"*{name}*\n{bullet}"):
            blocks.append(section(chunk))
    blocks.append(divider())
    blocks.append(section("*Case studies* (anonymised notes)"))
    room = MESSAGE_BLOCK_LIMIT - len(blocks) - 2
    studies = lines["Case studies"]
    for note in studies[:room]:
        blocks.append(section(quote(note)[:TEXT_MAX]))
    if len(studies) > room:
        blocks.append(context(f"{len(studies) - room} more in `qmf-bot report sample`."))
    blocks.append(context("Counts and anonymised learning only: no case references."))
    return text, blocks


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]

