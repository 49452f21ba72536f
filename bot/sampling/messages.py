"""Block Kit for random sampling audits: the pair's DMs, the blind audit and moderation modals,
alerts and reminders (the quarter's report in ``report_messages``).

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
from bot.core.formatting import due as slack_date
from bot.core.formatting import mention
from bot.core.grades import Grade
from bot.core.privacy import escape
from bot.sampling.types import (
    CASE_STUDY_YES,
    DISCUSSION_OPTIONS,
    AssignedCase,
    AuditForm,
    BlindGrades,
    CorrectionForm,
    DrawnCase,
    Findings,
    Plan,
    ReminderItem,
    SampleIds,
    SectionPair,
    section_block_id,
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


def _grade_option(grade: Grade) -> Option:
    return Option(value=str(int(grade)), label=grade.label)


def _section_select(section: str, *, agreed: bool, initial: Grade | None = None,
                    hint: str | None = None) -> InputBlock:
    """One section of practice's grade (the Ofsted scale), labelled with the council's own words."""
    block_id = section_block_id(section, agreed=agreed)
    return InputBlock(
        block_id=block_id, label=PlainTextObject(text=section),
        element=StaticSelectElement(action_id=block_id, placeholder=PlainTextObject(text="Choose a grade"),
                                    options=_grade_options(),
                                    initial_option=_grade_option(initial) if initial is not None else None),
        hint=PlainTextObject(text=hint) if hint else None,
    )


def _label_or_none(grade: Grade | None) -> str:
    return grade.label if grade is not None else "not graded by section"


def section_lines(sections: Sequence[SectionPair], *, qi: str, pc: str) -> str:
    """Both blind grades of each section, one line a section (only once both are in: ``BlindGrades``)."""
    return "\n".join(f"• {escape(p.section)}: {mention(qi)} {_label_or_none(p.qi)}, {mention(pc)} {_label_or_none(p.pc)}"
                     for p in sections)


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
            f"<@{partner}>, due {slack_date(due)}.")
    blocks: list[Block] = [
        header(f"Random sample {quarter_label}: {service}"),
        section(
            f"You are the *{role_label}* in a pair with <@{partner}>. Each of you audits these cases on "
            f"your own, then you moderate together. Please talk to the case holder and team manager (and "
            f"the IRO or CP co-ordinator where the case has one). {part}\n"
            f"Your grade is blind: neither of you sees the other's until both are in. *Due {slack_date(due)}.*"
        ),
    ]
    for c in cases:
        people = [f"case holder {mention(c.case_holder)}", f"team manager {mention(c.team_manager)}"]
        if c.reviewing_officer:
            people.append(f"IRO / CP co-ordinator {mention(c.reviewing_officer)}")
        blocks.append(section(
            f"*{c.case_ref}* · {c.team}\nTalk to: {', '.join(people)}",
            accessory=button("Record sample audit", SampleIds.RECORD_AUDIT.value, str(c.case_id),
                             style="primary"),
        ))
    if not cases:
        blocks.append(section("There were not enough eligible cases to give you any this quarter; Q&I has "
                              "the draw's explanation."))
    blocks.append(privacy_notice())
    return text, blocks


def drawn_cases_message(*, quarter_label: str, cases: Sequence[DrawnCase]) -> tuple[str, list[Block]]:
    """One DM for each case holder and team manager per draw, however many of their cases were drawn:
    which cases, who will be in touch, and that nothing is needed until then."""
    refs = ", ".join(c.case_ref for c in cases)
    many = len(cases) > 1
    text = (f"{refs} {'have' if many else 'has'} been drawn for the {quarter_label} random sampling audit; "
            "the auditors will be in touch.")
    lines = []
    for c in cases:
        whose = "which you hold" if c.holds else f"held by {mention(c.case_holder)}"
        line = (f"• *{c.case_ref}* ({c.team}), {whose}: {mention(c.qi)} (Quality & Improvement) and "
                f"{mention(c.pc)} (Practice Consultant)")
        if c.reviewing_officer:
            line += f"; they will also talk to the IRO / CP co-ordinator, {mention(c.reviewing_officer)}"
        lines.append(line)
    intro = (f"{'These cases have' if many else 'This case has'} been drawn at random for the {quarter_label} "
             "random sampling audit. The auditors named will be in touch to talk about it with you"
             + ("." if all(c.holds for c in cases) else " and the case holder."))
    blocks: list[Block] = [
        section(f":mag: {intro}"),
        section("\n".join(lines)[:TEXT_MAX]),
        context("Nothing is needed from you until they get in touch. Random sampling checks practice across "
                "the year; the cases were chosen at random. You will hear the agreed grade and what the "
                "auditors found once they have moderated it."),
    ]
    return text, blocks


def draw_posted_message(*, quarter_label: str, service: str, reason: str, cases: int, pairs: int,
                        shortfalls: int) -> tuple[str, list[Block]]:
    """The Q&I channel's note of the draw: counts only, no case references."""
    text = f"Random sample {quarter_label}: {service} ({reason}); {cases} case(s) drawn for {pairs} pair(s)."
    lines = [f"*Service:* {service} ({reason})", f"*Cases drawn:* {cases} for {pairs} Q&I / PC pair(s)"]
    if shortfalls:
        lines.append(f":warning: {shortfalls} pair(s) got fewer cases than the setting; "
                     "`/qmf report sample explain` sends you why.")
    blocks: list[Block] = [header(f"Random sample drawn: {quarter_label}"), section("\n".join(lines)),
                           context("Each pair has been sent their cases; each case holder and team manager has been told.")]
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
    iro = (f" Its IRO or CP co-ordinator is {mention(form.reviewing_officer)}."
           if form.reviewing_officer else "")
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
        *([section("*Sections of practice*: a grade for each, on the Ofsted scale, then the overall grade.")]
          if form.sections else []),
        *(_section_select(s, agreed=False) for s in form.sections),
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
    if g.sections:
        for chunk in split_text("*By section of practice*\n" + section_lines(g.sections, qi=g.qi, pc=g.pc)):
            blocks.append(section(chunk))
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
    blocks.append(privacy_notice())
    if g.sections:
        blocks.append(section("*Sections of practice*: the grade you agree for each. Where your blind grades "
                              "matched, it is filled in; change it if you agree otherwise."))
    for p in g.sections:
        hint = f"Q&I: {_label_or_none(p.qi)} · Practice Consultant: {_label_or_none(p.pc)}"
        blocks.append(_section_select(p.section, agreed=True, initial=p.agreed, hint=hint))
    blocks += [
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


def moderated_message(*, case_ref: str, grade: Grade, by: str, reason: str,
                      correct_case_id: int | None = None) -> tuple[str, list[Block]]:
    """The moderation's confirmation; for the case's Q&I auditor, with "Correct agreed grade"."""
    text = f"<@{by}> recorded the moderated grade for {case_ref}: {grade.label}."
    message: list[Block] = [section(f":white_check_mark: <@{by}> recorded the moderated grade for *{case_ref}*: "
                                    f"*{grade.label}*.\n{quote(reason)}"[:TEXT_MAX])]
    if correct_case_id is not None:
        message.append(actions(correct_grade_button(correct_case_id)))
    return text, message


# ---------------------------------------------------------------------------------------------
# Q&I correct an agreed grade


def correct_grade_button(case_id: int) -> Any:
    return button("Correct agreed grade", SampleIds.CORRECT_GRADE.value, str(case_id))


def correction_modal(form: CorrectionForm) -> View:
    grade = StaticSelectElement(action_id=SampleIds.CORRECTED_GRADE.value,
                                placeholder=PlainTextObject(text="Choose a grade"), options=_grade_options())
    history = (f" (the pair agreed {form.agreed.label}; it has been corrected before)" if form.agreed else "")
    message: list[Block] = [
        section(f"*{form.case_ref}*: the agreed grade is *{form.grade.label}*{history}. Correcting it keeps the "
                "two blind grades and the moderation as they were; the case holder and team manager who had "
                "the findings, and both auditors, are told the new grade and your reason."),
        privacy_notice(),
        InputBlock(block_id=SampleIds.CORRECTED_GRADE.value, label=PlainTextObject(text="Corrected grade"),
                   element=grade),
        _text_input(SampleIds.CORRECTION_REASON, "Reason for the correction"),
    ]
    return modal(title="Correct agreed grade", callback_id=SampleIds.CORRECT_MODAL.value, blocks=message,
                 submit="Correct grade", private_metadata=CaseMetadata(case_id=form.case_id).model_dump_json())


def correction_saved_view(*, case_ref: str, before: Grade, after: Grade) -> View:
    return modal(title="Correct agreed grade", callback_id="sample-correct-saved", close="Close", blocks=[
        section(f":white_check_mark: The agreed grade for *{case_ref}* is now *{after.label}* (corrected from "
                f"{before.label}). The blind grades are unchanged, and everyone concerned has been told."),
    ])


def grade_corrected_message(*, case_ref: str, before: Grade, after: Grade, by: str, reason: str,
                            plan: Plan | None = None, reader: str | None = None) -> tuple[str, list[Block]]:
    """To the case holder and team manager who had the findings, and the auditors. ``reason`` has
    already been through ``bot.core.privacy.outbound``. The plan's owner (``reader``) reads their
    action here, with its "Mark done" (``_your_plan``)."""
    text = f"The agreed grade for {case_ref} was corrected from {before.label} to {after.label} by {mention(by)}."
    body = (f":pencil2: {mention(by)} (Quality & Improvement) corrected the agreed grade for *{case_ref}* from "
            f"{before.label} to *{after.label}*.\n*Why:*\n{quote(reason)}")
    message: list[Block] = [section(body[:TEXT_MAX])]
    if plan is not None and plan.owner == reader:
        message += _your_plan(plan, case_ref)
    elif plan is not None:
        message.append(context(f"An action is open for {mention(plan.owner)} to agree an improvement plan by "
                               f"{slack_date(plan.due)}."))
    return text, message


def _your_plan(plan: Plan, what: str) -> list[Block]:
    """The plan's owner's own lines: the action, and its "Mark done", so the action's own "You have a
    new action" DM is not sent as well at that moment (bot.sampling.alerts.inadequate_agreed)."""
    from bot.actions.messages import mark_done_block  # the action-plan feature made this action

    return [section(f":rotating_light: You have an action to agree an improvement plan for {what} by "
                    f"{slack_date(plan.due)}."), mark_done_block(plan.action_id)]


def action_stays_open_text(*, case_ref: str, after: Grade) -> str:
    return (f"The agreed grade for {case_ref} was corrected from Inadequate to {after.label}. Its improvement-plan "
            "action stays open: close it from the action itself if the plan is no longer needed.")


def sample_moved_text(*, case_ref: str, new: str) -> str:
    return (f"Your random-sample audit of {case_ref} has moved to {mention(new)}, so it is no longer yours to do. "
            "Thank you; there is nothing more for you to do on it.")


def sample_partner_moved_text(*, case_ref: str, old: str, new: str) -> str:
    return (f"{mention(new)} now audits {case_ref} with you, in place of {mention(old)}. Your grade stays "
            "blind until you have both submitted.")


def qi_flag_message(g: BlindGrades) -> tuple[str, list[Block]]:
    text = f"Sample audit of {g.case_ref} flagged for Q&I: {g.flag}."
    return text, [section(
        f":triangular_flag_on_post: The blind grades for *{g.case_ref}* need a Q&I eye: {g.flag}.\n"
        f"<@{g.qi}> and <@{g.pc}> are moderating it now."
    )]


def inadequate_message(*, case_ref: str, quarter_label: str, agreed: bool,
                       plan: Plan | None) -> tuple[str, list[Block]]:
    if agreed:
        what = f"the moderated grade for *{case_ref}* in the {quarter_label} random sample is *Inadequate*."
        opened = (f" An action is open for <@{plan.owner}> to agree an improvement plan by {slack_date(plan.due)}."
                  if plan is not None else "")
    else:
        what = (f"a blind grade for *{case_ref}* in the {quarter_label} random sample is *Inadequate* "
                "(before moderation).")
        opened = " You will hear the moderated grade when the auditors have agreed it."
    text = f"Inadequate grade: {case_ref} ({quarter_label} random sample)."
    return text, [section(f":rotating_light: For your attention at once: {what}{opened}")]


# ---------------------------------------------------------------------------------------------
# the findings: back to the case holder and team manager once the case is moderated


def _notes(items: Sequence[str]) -> str:
    """The auditors' own words, escaped so they cannot become a mention or a link."""
    return "\n".join(quote(escape(item)) for item in items)


def _case_findings(f: Findings, *, reader: str) -> list[Block]:
    """One case's findings, written for the reader: their own case, or a case in their team (never
    naming them to themselves); its own "Talk ... through" button, so a message with several cases
    says which case each button is about."""
    whose = ("your case" if reader == f.case_holder
             else f"a case in your team, held by {mention(f.case_holder)}")
    blocks: list[Block] = []
    if f.grade is Grade.INADEQUATE and reader == f.team_manager:
        # this message is also the team manager's Inadequate alert: one message, not two at once
        blocks.append(section(f":rotating_light: For your attention at once: the moderated grade for "
                              f"*{f.case_ref}* in the {f.quarter_label} random sample is *Inadequate*."))
    blocks.append(section(f"{mention(f.qi)} and {mention(f.pc)} have finished the {f.quarter_label} random "
                          f"sampling audit of *{f.case_ref}*, {whose}. The grade they agreed is *{f.grade.label}*."))
    if f.sections:
        graded = "\n".join(f"• {escape(name)}: {grade.label}" for name, grade in f.sections)
        for chunk in split_text(f":clipboard: *The grades they agreed by section of practice*\n{graded}"):
            blocks.append(section(chunk))
    for title, items in ((":star: *What was strong*", f.strengths), (":seedling: *What to develop*", f.to_develop),
                         (":speech_balloon: *What the child or family said*", f.feedback)):
        body = _notes(items) if items else "_Nothing was recorded._"
        for chunk in split_text(f"{title}\n{body}"):
            blocks.append(section(chunk))
    if f.plan is not None and f.plan.owner == reader:
        blocks += _your_plan(f.plan, "this case")
    elif f.plan is not None:
        blocks.append(section(f":rotating_light: {mention(f.plan.owner)} will agree an improvement plan for this "
                              f"case by {slack_date(f.plan.due)}."))
    if f.reviewing_officer and f.reviewing_officer != reader:
        blocks.append(context(f"The case's IRO / CP co-ordinator is {mention(f.reviewing_officer)}."))
    blocks.append(section(f"Would it help to talk *{f.case_ref}* through? The auditors will gladly go over what "
                          "they found with you.",
                          accessory=button(talk_label(f.case_ref), SampleIds.TALK_IT_THROUGH.value,
                                           str(f.case_id))))
    return blocks


def talk_label(case_ref: str) -> str:
    """The button's words name the case: one message may carry several cases' findings."""
    return f"Talk {case_ref} through"


def findings_message(items: Sequence[Findings], *, reader: str) -> tuple[str, list[Block]]:
    """One DM with the findings of every case the reader is to hear about (one message per person per
    morning): for each, the agreed grade, strengths first, what to develop, what the family said, and an
    offer to talk it through. An agreed Inadequate comes on its own, at once, as the team manager's alert."""
    assert items, "a findings message is about at least one case"
    first = items[0]
    if len(items) == 1:
        title = f"Random sample findings: {first.case_ref}"
        text = (f"Random sample {first.quarter_label}: the agreed grade for {first.case_ref} is "
                f"{first.grade.label}. What was strong, what to develop and what the family said are below.")
        if first.grade is Grade.INADEQUATE and reader == first.team_manager:
            text = (f"Inadequate grade: {first.case_ref} ({first.quarter_label} random sample): the moderated "
                    f"grade for {first.case_ref} is Inadequate. " + text)
    else:
        refs = [f.case_ref for f in items]
        title = f"Random sample findings: {len(items)} cases"
        text = (f"Random sample findings for {', '.join(refs[:-1])} and {refs[-1]}: the agreed grades, what was "
                "strong, what to develop and what the family said are below.")
    blocks: list[Block] = [header(title)]
    for n, f in enumerate(items):
        if n:
            blocks.append(divider())
        blocks += _case_findings(f, reader=reader)
    blocks.append(context("Only the agreed grade is shared; random sampling is about learning, and each case was "
                          "chosen at random."))
    return text, blocks


def talk_request_message(*, case_ref: str, quarter_label: str, requester: str,
                         holds: bool) -> tuple[str, list[Block]]:
    who = "the case holder" if holds else "the team manager"
    text = f"{mention(requester)} would like to talk through your findings for {case_ref}."
    return text, [section(f":speech_balloon: {mention(requester)}, {who} of *{case_ref}*, would like to talk "
                          f"through what you found in the {quarter_label} random sample. Please get in touch "
                          "to arrange a time.")]


def talk_requested_text(*, case_ref: str, qi: str, pc: str, again: bool) -> str:
    if again:
        return (f"You have already asked {mention(qi)} and {mention(pc)} to talk through {case_ref}; "
                "they will be in touch. You can also message them directly.")
    return f"I have asked {mention(qi)} and {mention(pc)} to get in touch to talk through {case_ref} with you."


# ---------------------------------------------------------------------------------------------
# reminders


def reminder_message(*, items: Sequence[ReminderItem], due: date, days_left: int) -> tuple[str, list[Block]]:
    when = "tomorrow" if days_left == 1 else f"in {days_left} working days"
    text = f"Random sample: {len(items)} thing(s) to finish by {slack_date(due)}."
    blocks: list[Block] = [section(f":alarm_clock: The quarter's random sample closes {when} "
                                   f"({slack_date(due)}). Still to do:")]
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


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]

