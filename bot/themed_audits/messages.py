"""Block Kit for themed audits: the commission, findings, material and moderated-findings modals,
and the auditors' and commissioner's DMs. Builders take plain values (``bot.themed_audits.types``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    NumberInputElement,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.cib.messages import (
    MESSAGE_BLOCK_LIMIT,
    clip,
    fit,
    mentions,
    nice_date,
    option,
    plain,
    quote,
    sections,
    text_input,
)
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
)
from bot.core.formatting import mention_for
from bot.core.privacy import escape
from bot.themed_audits.types import (
    CaseFindings,
    Collation,
    FindingLine,
    FindingPrefill,
    FindingsBack,
    MeetingChoice,
    ThemedAuditIds,
    ThemedAuditMeta,
    ThemedBrief,
)

MAX_LISTED_CASES = 40  # one "Record findings" button each in the auditor's DM, under Slack's 50 blocks

# visible words people (and the flow tests) look for
RECORD_FINDINGS_LABEL = "Record findings"
ANOTHER_CASE_LABEL = "Record findings for another case"
ATTACH_MATERIAL_LABEL = "Attach performance data and feedback"
SEND_COLLATED_LABEL = "Send collated findings"
RECORD_MODERATED_LABEL = "Record moderated findings"

THEMED_LABELS = {
    ThemedAuditIds.THEMED_THEME: "Theme",
    ThemedAuditIds.THEMED_THEORY: "The theory to test",
    ThemedAuditIds.THEMED_SOURCE: "Commissioned by",
    ThemedAuditIds.THEMED_SOURCE_OTHER: "If other, who commissioned it",
    ThemedAuditIds.THEMED_PRIORITY: "Improvement-plan priority it serves",
    ThemedAuditIds.THEMED_FOCUS: "Sampling focus",
    ThemedAuditIds.THEMED_SIZE: "Sample size (cases)",
    ThemedAuditIds.THEMED_CASES: "Case references in the sample",
    ThemedAuditIds.THEMED_AUDITORS: "Auditors",
    ThemedAuditIds.THEMED_VIEWS: "Service-user views",
    ThemedAuditIds.THEMED_WORKSHOP: "Workshop date",
    ThemedAuditIds.THEMED_CIB: "CIB meeting it reports to",
}
SEEK_VIEWS_OPTION = "Seek service-user views for this theme"

FINDINGS_LABELS = {
    ThemedAuditIds.FINDINGS_CASE: "Case reference",
    ThemedAuditIds.FINDINGS_FOUND: "What you found, tested against the theory",
    ThemedAuditIds.FINDINGS_EVIDENCE: "Evidence",
    ThemedAuditIds.FINDINGS_VIEWS: "Service-user views",
    ThemedAuditIds.FINDINGS_THEMES: "Themes",
}
MATERIAL_LABELS = {
    ThemedAuditIds.MATERIAL_PERFORMANCE: "Performance data notes",
    ThemedAuditIds.MATERIAL_FEEDBACK: "Service-user feedback for the workshop",
}
MODERATED_LABELS = {
    ThemedAuditIds.MODERATED_FINDINGS: "Moderated findings",
    ThemedAuditIds.MODERATED_RECOMMENDATIONS: "Recommendations",
    ThemedAuditIds.MODERATED_THEMES: "Themes confirmed at the workshop",
}

WHY_THEMED = (
    "A themed audit tests a theory about practice on a qualitative sample with a specific focus. "
    "Auditors record findings per case, share and moderate them at a workshop with the performance "
    "data and service-user feedback, and the moderated findings go to a pre-scheduled Continuous "
    "Improvement Board."
)


# ---------------------------------------------------------------------------------------------
# modals


def themed_commission_modal(*, sources: Sequence[str], meetings: Sequence[MeetingChoice],
                            today: date) -> View:
    ids = ThemedAuditIds
    labels = THEMED_LABELS
    meeting_options = [option(nice_date(m.meets_on), str(m.id)) for m in meetings[:100]]
    blocks: list[Block] = [
        section(WHY_THEMED),
        privacy_notice(),
        text_input(ids.THEMED_THEME, labels[ids.THEMED_THEME], multiline=False, max_length=150,
                   placeholder="e.g. Management oversight of drift in child in need plans"),
        text_input(ids.THEMED_THEORY, labels[ids.THEMED_THEORY], max_length=2000),
        InputBlock(block_id=ids.THEMED_SOURCE, label=plain(labels[ids.THEMED_SOURCE]),
                   element=StaticSelectElement(action_id=ids.THEMED_SOURCE,
                                               placeholder=plain("Choose the board or programme"),
                                               options=[option(s, s) for s in sources])),
        text_input(ids.THEMED_SOURCE_OTHER, labels[ids.THEMED_SOURCE_OTHER], multiline=False,
                   max_length=100, optional=True, hint="Only if you chose Other."),
        text_input(ids.THEMED_PRIORITY, labels[ids.THEMED_PRIORITY], multiline=False, max_length=300),
        text_input(ids.THEMED_FOCUS, labels[ids.THEMED_FOCUS], max_length=1500),
        InputBlock(block_id=ids.THEMED_SIZE, label=plain(labels[ids.THEMED_SIZE]),
                   element=NumberInputElement(action_id=ids.THEMED_SIZE, is_decimal_allowed=False,
                                              min_value="1", max_value="100")),
        text_input(ids.THEMED_CASES, labels[ids.THEMED_CASES], max_length=1500, optional=True,
                   hint="Case references only, one per line or separated by commas. Auditors can add "
                        "cases when they record findings."),
        InputBlock(block_id=ids.THEMED_AUDITORS, label=plain(labels[ids.THEMED_AUDITORS]),
                   element=UserMultiSelectElement(action_id=ids.THEMED_AUDITORS,
                                                  placeholder=plain("Who will audit the cases"),
                                                  max_selected_items=20)),
        InputBlock(block_id=ids.THEMED_VIEWS, label=plain(labels[ids.THEMED_VIEWS]), optional=True,
                   element=CheckboxesElement(action_id=ids.THEMED_VIEWS,
                                             options=[option(SEEK_VIEWS_OPTION, "yes")])),
        InputBlock(block_id=ids.THEMED_WORKSHOP, label=plain(labels[ids.THEMED_WORKSHOP]),
                   element=DatePickerElement(action_id=ids.THEMED_WORKSHOP, initial_date=None,
                                             placeholder=plain("The moderation workshop"))),
        InputBlock(block_id=ids.THEMED_CIB, label=plain(labels[ids.THEMED_CIB]),
                   element=StaticSelectElement(action_id=ids.THEMED_CIB,
                                               placeholder=plain("Choose a meeting"),
                                               options=meeting_options)),
    ]
    return modal(title="Commission themed audit", callback_id=ids.THEMED_MODAL, blocks=blocks,
                 submit="Commission", private_metadata=ThemedAuditMeta().dump())


def findings_modal(*, brief: ThemedBrief, case_id: int | None, prefill: FindingPrefill,
                   themes: Sequence[str]) -> View:
    ids = ThemedAuditIds
    labels = FINDINGS_LABELS
    blocks: list[Block] = [
        section(f"*Themed audit:* {brief.theme}\n*Theory:* {clip(brief.theory, 1500)}"),
        privacy_notice(),
    ]
    if case_id is not None and prefill.case_ref:
        blocks.append(section(f"*Case:* {prefill.case_ref}"))
    else:
        blocks.append(text_input(ids.FINDINGS_CASE, labels[ids.FINDINGS_CASE], multiline=False, max_length=40,
                                 hint="The case-management reference only.", initial=prefill.case_ref))
    blocks += [
        text_input(ids.FINDINGS_FOUND, labels[ids.FINDINGS_FOUND], initial=prefill.against_theory),
        text_input(ids.FINDINGS_EVIDENCE, labels[ids.FINDINGS_EVIDENCE], initial=prefill.evidence),
    ]
    if brief.service_user_views:
        blocks.append(text_input(
            ids.FINDINGS_VIEWS, labels[ids.FINDINGS_VIEWS], optional=True, initial=prefill.service_user_views,
            hint="What the child or family said, or why their views could not be sought. " + NO_NAMES_HINT))
    options = [option(t, t) for t in themes[:100]]
    initial = [o for o in options if o.value in prefill.themes]
    blocks.append(InputBlock(
        block_id=ids.FINDINGS_THEMES, label=plain(labels[ids.FINDINGS_THEMES]),
        element=StaticMultiSelectElement(action_id=ids.FINDINGS_THEMES, placeholder=plain("Choose themes"),
                                         options=options, initial_options=initial or None),
        hint=plain("The learning themes these findings speak to."),
    ))
    meta = ThemedAuditMeta(audit_id=brief.id, case_id=case_id)
    return modal(title="Record findings", callback_id=ids.FINDINGS_MODAL, blocks=blocks, submit="Save findings",
                 private_metadata=meta.dump())


def material_modal(*, brief: ThemedBrief, performance_notes: str | None, service_user_feedback: str | None) -> View:
    ids = ThemedAuditIds
    blocks: list[Block] = [
        section(f"*Themed audit:* {brief.theme}\nWhat you add here goes to the auditors with the collated "
                f"findings before the workshop on {nice_date(brief.workshop_on)}."),
        privacy_notice(),
        text_input(ids.MATERIAL_PERFORMANCE, MATERIAL_LABELS[ids.MATERIAL_PERFORMANCE], optional=True,
                   initial=performance_notes,
                   hint="The analysis of relevant performance data, in aggregate. " + NO_NAMES_HINT),
        text_input(ids.MATERIAL_FEEDBACK, MATERIAL_LABELS[ids.MATERIAL_FEEDBACK], optional=True,
                   initial=service_user_feedback),
    ]
    return modal(title="Workshop material", callback_id=ids.MATERIAL_MODAL, blocks=blocks, submit="Save",
                 private_metadata=ThemedAuditMeta(audit_id=brief.id).dump())


def moderated_modal(*, brief: ThemedBrief, collation: Collation, themes: Sequence[str],
                    findings: str | None, recommendations: str | None, chosen: Sequence[str]) -> View:
    ids = ThemedAuditIds
    raised = ", ".join(f"{t} ({len(lines)})" for t, lines in collation.by_theme[:8]) or "none yet"
    options = [option(t, t) for t in themes[:100]]
    initial = [o for o in options if o.value in chosen]
    blocks: list[Block] = [
        section(f"*Themed audit:* {brief.theme}\n{collation.findings} finding(s) on {collation.cases} case(s). "
                f"Themes raised: {raised}."),
        privacy_notice(),
        text_input(ids.MODERATED_FINDINGS, MODERATED_LABELS[ids.MODERATED_FINDINGS], initial=findings,
                   hint="What the auditors agreed at the workshop. This goes to the Continuous Improvement "
                        "Board channel, so nothing that identifies a child, family or worker: no case "
                        "references, no names."),
        text_input(ids.MODERATED_RECOMMENDATIONS, MODERATED_LABELS[ids.MODERATED_RECOMMENDATIONS],
                   initial=recommendations),
        InputBlock(block_id=ids.MODERATED_THEMES, label=plain(MODERATED_LABELS[ids.MODERATED_THEMES]),
                   optional=True,
                   element=StaticMultiSelectElement(action_id=ids.MODERATED_THEMES, options=options,
                                                    placeholder=plain("Choose themes"),
                                                    initial_options=initial or None)),
    ]
    return modal(title="Moderated findings", callback_id=ids.MODERATED_MODAL, blocks=blocks,
                 submit="Queue for the CIB", private_metadata=ThemedAuditMeta(audit_id=brief.id).dump())


# ---------------------------------------------------------------------------------------------
# messages


def _people(people: Sequence[str], reader: str | None) -> str:
    """People as the reader sees them: "you" for the reader, mentions for the rest."""
    return ", ".join(mention_for(p, reader) for p in people) or "nobody yet"


def _brief_lines(brief: ThemedBrief, reader: str | None) -> str:
    views = "yes" if brief.service_user_views else "no"
    cib = nice_date(brief.cib_on) if brief.cib_on else "the next scheduled meeting"
    return (
        f"*Theory to test:* {clip(brief.theory, 1200)}\n"
        f"*Commissioned by:* {brief.source} ({mention_for(brief.commissioner, reader)})\n"
        f"*Improvement-plan priority:* {clip(brief.priority, 300)}\n"
        f"*Sampling focus:* {clip(brief.focus, 600)} ({brief.sample_size} case(s))\n"
        f"*Service-user views sought:* {views}\n"
        f"*Workshop:* {nice_date(brief.workshop_on)} · *Reports to the CIB on* {cib}"
    )


def auditor_brief_message(brief: ThemedBrief, reader: str) -> tuple[str, list[Block]]:
    """The auditor's DM: the theory, the sample, and a "Record findings" button per case. It names
    the other auditors, never the reader to themself."""
    ids = ThemedAuditIds
    text = (f"You are an auditor for the themed audit \"{brief.theme}\"; the workshop is on "
            f"{nice_date(brief.workshop_on)}.")
    others = [a for a in brief.auditors if a != reader]
    with_whom = f", with {mentions(others)}" if others else ""
    blocks: list[Block] = [
        header(f"Themed audit: {brief.theme}"[:150]),
        section(f"You are an auditor for this themed audit{with_whom}.\n" + _brief_lines(brief, reader)),
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
    return text, fit(blocks, tail, "More cases are in the sample than fit here: use the button below for them.")


def findings_reminder_message(brief: ThemedBrief, collate_on: date, reader: str) -> tuple[str, list[Block]]:
    """The brief again, the working day before collation, for an auditor with no findings in yet."""
    text, body = auditor_brief_message(brief, reader)
    body.insert(0, section(f":wave: A reminder: the findings for *{brief.theme}* are collated for the "
                           f"workshop on {nice_date(collate_on)}, and none of yours are in yet."))
    return f"Reminder: {text}", body[:MESSAGE_BLOCK_LIMIT]


def commissioner_actions(audit_id: int) -> Block:
    ids = ThemedAuditIds
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
                f"The auditors ({_people(brief.auditors, brief.commissioner)}) have been sent the brief.\n"
                + _brief_lines(brief, brief.commissioner)),
        context(f"Attach the performance data notes and service-user feedback for the workshop. The collated "
                f"findings go to the auditors on {nice_date(collate_on)}, or when you press "
                f"*{SEND_COLLATED_LABEL}*. Record the moderated findings at the workshop."),
        commissioner_actions(brief.id),
    ]
    return text, blocks


def _finding_line(line: FindingLine, reader: str | None, limit: int = 400) -> str:
    return f"• *{line.case_ref}* ({mention_for(line.auditor, reader)}): {clip(line.against_theory, limit)}"


def collated_message(brief: ThemedBrief, collation: Collation, reader: str) -> tuple[str, list[Block]]:
    """Before the workshop: every finding grouped by theme, with the commissioner's material."""
    text = (f"Collated findings for the themed audit \"{brief.theme}\" ahead of the workshop on "
            f"{nice_date(brief.workshop_on)}.")
    blocks: list[Block] = [
        header(f"Collated findings: {brief.theme}"[:150]),
        section(f"For the workshop on *{nice_date(brief.workshop_on)}*: {collation.findings} finding(s) on "
                f"{collation.cases} case(s), grouped by theme.\n*Theory:* {clip(brief.theory, 800)}"),
    ]
    for theme, lines in collation.by_theme:
        body = f"*{theme}* ({len(lines)})\n" + "\n".join(_finding_line(line, reader) for line in lines)
        blocks += sections(body)
    if collation.unthemed:
        blocks += sections("*No theme given*\n" + "\n".join(_finding_line(line, reader) for line in collation.unthemed))
    if not collation.findings:
        blocks.append(section("No findings have been recorded yet."))
    views = [f"• *{line.case_ref}*: {clip(line.service_user_views or '', 400)}"
             for _, lines in collation.by_theme for line in lines if line.service_user_views]
    views += [f"• *{line.case_ref}*: {clip(line.service_user_views or '', 400)}"
              for line in collation.unthemed if line.service_user_views]
    tail: list[Block] = []
    if views:
        tail += sections("*Service-user views from the cases*\n" + "\n".join(dict.fromkeys(views)))[:3]
    tail += [divider(),
             section("*Performance data notes*\n" + (quote(clip(collation.performance_notes, 2800))
                                                     if collation.performance_notes else "_None attached._")),
             section("*Service-user feedback*\n" + (quote(clip(collation.service_user_feedback, 2800))
                                                    if collation.service_user_feedback else "_None attached._")),
             context("Bring these to the workshop to share and moderate. Case references only: no names or "
                     "identifying details.")]
    return text, fit(blocks, tail, "More findings than fit in one message: the full set is in each "
                                   "auditor's records.")


def moderated_saved_message(brief: ThemedBrief, meeting_on: date | None, moved: bool, *, told: int = 0,
                            not_registered: Sequence[str] = ()) -> tuple[str, list[Block]]:
    """The commissioner's receipt: where the findings are queued, who has had them back, and which
    cases nobody could be told about (not in the case register), so they can share those themselves."""
    when = f"the CIB meeting on {nice_date(meeting_on)}" if meeting_on else "the next CIB meeting to be scheduled"
    note = " (the meeting you named had already had its digest, so they go to the next one)" if moved else ""
    text = f"The moderated findings of \"{brief.theme}\" are queued for {when}."
    lines = [f":white_check_mark: The moderated findings and recommendations of *{brief.theme}* are queued for "
             f"{when}{note}."]
    if told:
        lines.append(f"The case holders and team managers of the audited cases have their findings by direct "
                     f"message ({told} {'person' if told == 1 else 'people'}).")
    if not_registered:
        shown = ", ".join(not_registered[:10]) + ("…" if len(not_registered) > 10 else "")
        lines.append(f"The case register does not list {shown}, so I could not tell who holds "
                     f"{'it' if len(not_registered) == 1 else 'them'}: please share those findings with the case "
                     f"holder and team manager yourself.")
    return text, [section("\n".join(lines))]


def _listed(people: Sequence[str], last: str) -> str:
    """ "<@A>", "<@A> and <@B>", "<@A>, <@B> or <@C>": people as a sentence names them."""
    shown = [f"<@{p}>" for p in people]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" {last} " + shown[-1]


def _case_block(case: CaseFindings, reader: str, *, held: bool) -> str:
    """One case's findings for its case holder or team manager: the case reference, each auditor's
    findings and evidence, the service-user views and the themes, in the auditor's own words."""
    whose = "your case" if held else f"held by {mention_for(case.case_holder, reader)} in your team"
    out = [f"*{case.case_ref}* ({whose})"]
    themes = list(dict.fromkeys(t for line in case.lines for t in line.themes))
    if themes:
        out.append(f"_Themes:_ {', '.join(themes)}")
    for line in case.lines:
        out.append(f"• {mention_for(line.auditor, reader)} found: {escape(clip(line.against_theory, 700))}")
        out.append(f"   _Evidence:_ {escape(clip(line.evidence, 500))}")
        if line.service_user_views:
            out.append(f"   _Service-user views:_ {escape(clip(line.service_user_views, 400))}")
    return "\n".join(out)


def findings_back_message(brief: ThemedBrief, back: FindingsBack) -> tuple[str, list[Block]]:
    """The findings going back to a case holder and a team manager once the workshop has moderated:
    one message per person, their own cases and those they manage, then what the workshop agreed
    across the sample, then what to do next. It carries case references, so it is only ever a DM to
    the people who hold or manage those cases."""
    reader = back.reader
    cases = [c.case_ref for c in (*back.held, *back.managed)]
    named = ", ".join(cases[:5]) + ("…" if len(cases) > 5 else "")
    updated = "Updated: " if back.updated else ""
    text = f"{updated}Findings from the themed audit \"{brief.theme}\" on {named}."
    intro = (f"The themed audit *{brief.theme}* looked at "
             + ("your case" if back.held and not back.managed and len(back.held) == 1 else
                "a case in your team" if back.managed and not back.held and len(back.managed) == 1 else
                "cases you hold or manage")
             + f", testing this theory: _{escape(clip(brief.theory, 600))}_\nHere is what the auditors found, and what the "
             f"workshop on {nice_date(brief.workshop_on)} agreed across the whole sample.")
    if back.updated:
        intro = ":arrows_counterclockwise: The workshop's agreed findings were corrected; this replaces the " \
                "earlier message.\n" + intro
    blocks: list[Block] = [header(f"Themed audit findings: {brief.theme}"[:150]), section(intro)]
    for case in back.held:
        blocks += sections(_case_block(case, reader, held=True))
    for case in back.managed:
        blocks += sections(_case_block(case, reader, held=False))
    tail: list[Block] = [divider()]
    if back.moderated_findings:
        tail += sections("*What the workshop agreed*\n" + quote(clip(back.moderated_findings, 2500)))[:2]
    if back.recommendations:
        tail += sections("*Recommendations*\n" + quote(clip(back.recommendations, 2500)))[:2]
    advice: list[str] = []
    auditors = [a for a in back.auditors if a != reader]
    if back.held:
        talk = f"message {_listed(auditors, 'or')}" if auditors else "ask the auditors"
        managers = [m for m in dict.fromkeys(c.team_manager for c in back.held) if m != reader]
        also = f" Your team manager, {_listed(managers, 'and')}, has these findings too." if managers else ""
        advice.append(f"To talk the findings through, {talk}.{also}")
    if back.managed:
        holders = [h for h in dict.fromkeys(c.case_holder for c in back.managed) if h != reader]
        advice.append(f"Please go through them with {_listed(holders, 'and') if holders else 'the case holder'} in "
                      f"supervision, and take the learning to your next team meeting.")
    tail.append(context(" ".join(advice) + " Please keep case references and names out of channels."))
    return text, fit(blocks, tail, "More findings than fit here: ask the auditors for the rest.")
