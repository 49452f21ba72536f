"""Block Kit for learning audits after allocation: the DMs to the auditor, case holder and team
manager, the meeting post, reminders and the allocation's shortfalls; and the small formatting
helpers the reflection and record messages (``record_messages``) share.

Builders take plain values (``CaseCard`` from ``bot.learning_audits.types``), never database rows,
so the job, the reminders and the handlers share them and they can be tested without a database.
The audit is ungraded on purpose: there is no grade anywhere in these messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
    TimePickerElement,
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
from bot.core.formatting import day as nice_date  # noqa: F401 - record_messages imports it from here
from bot.core.formatting import due as slack_date
from bot.core.formatting import mention
from bot.learning_audits.proposal_messages import CARRY_LABEL
from bot.learning_audits.types import (
    CaseCard,
    LearningIds,
    MeetingField,
    NotAllocated,
    ProposalIds,
    UnallocatedCard,
)

TEXT_MAX = 3000
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
MESSAGE_BLOCK_LIMIT = 50

SET_UP_MEETING_LABEL = "Set up meeting"
MEETING_LENGTHS = (30, 45, 60, 90, 120)
"""The lengths offered, in minutes: a learning audit meeting is a conversation, not a day."""
RECORD_AUDIT_LABEL = "Record learning audit"
START_REFLECTION_LABEL = "Start reflection"
AMEND_REFLECTION_LABEL = "View or amend reflection"
AMEND_LABEL = "Amend"
AMEND_REFLECTION_ONLY_LABEL = "Amend reflection"
ADD_ACTION_LABEL = "Add an action"
REMOVE_ACTION_LABEL = "Remove"
NAMES_SHOWN = 6
"""People named in one reason before the rest are counted, so a reason stays one readable line."""

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
# small helpers


def _quote(text: str) -> str:
    return "\n".join(f">{line}" if line else ">" for line in text.splitlines() or [""])


def cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def labelled_sections(label: str, text: str) -> list[Block]:
    """A bold label and the answer quoted, split so no section passes Slack's 3,000 characters."""
    body = f"*{label}*\n{_quote(text.strip() or '(no answer)')}"
    return [section(chunk) for chunk in split_text(body)]


def case_line(card: CaseCard) -> str:
    return (
        f"*Case:* {card.case_ref}\n*Service:* {card.service_name}  ·  *Team:* {card.team_name}\n"
        f"*Team manager:* <@{card.team_manager}>  ·  *Case holder:* <@{card.case_holder}>"
    )


def due_words(card: CaseCard) -> str:
    return slack_date(card.due_on) if card.due_on else "the end of the audit window"


def for_case(label: str, card: CaseCard) -> str:
    """A button's words with the case reference, so where one DM carries several cases (a Service
    Manager auditing two) nobody can press "Set up meeting" for the wrong one."""
    return cut(f"{label} for {card.case_ref}", OPTION_TEXT_MAX)


# ---------------------------------------------------------------------------------------------
# allocation messages


def auditor_message(card: CaseCard) -> tuple[str, list[Block]]:
    """The allocated Service Manager's DM: the case, who to meet, by when, and what this is."""
    text = (
        f"You have a learning audit for {card.quarter_label}: case {card.case_ref} ({card.service_name}), "
        f"to record by {due_words(card)}."
    )
    blocks: list[Block] = [
        header(f"Learning audit: {card.case_ref}"),
        section(
            f"You have been allocated this case for a learning audit in *{card.quarter_label}*. You are "
            f"independent of it: not your service, not your team, not proposed by you.\n{case_line(card)}\n"
            f"*Record the audit by:* {due_words(card)}"
        ),
        section(WHAT_A_LEARNING_AUDIT_IS),
        actions(
            button(for_case(SET_UP_MEETING_LABEL, card), LearningIds.SET_UP_MEETING, str(card.audit_id),
                   style="primary"),
            button(for_case(RECORD_AUDIT_LABEL, card), LearningIds.RECORD_AUDIT, str(card.audit_id)),
            block_id=f"learning-auditor-{card.audit_id}",
        ),
        context(
            "*Set up meeting* lets you choose a time; the group DM of the three of you gets it with a "
            "calendar invitation. The case holder writes a short reflection first; you will see its "
            "summary when you record the audit."
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
            f"(a few minutes) before the meeting, by {due_words(card)}."
        ),
        actions(
            button(for_case(START_REFLECTION_LABEL, card), LearningIds.REFLECTION, str(card.audit_id),
                   style="primary"),
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
            f"<@{card.case_holder}> has a short reflection to do before the meeting (by {due_words(card)}); "
            "they may welcome your support with it. The audit is positive and strengths-based, not "
            "performance management."
        ),
        privacy_notice(),
    ]
    return text, blocks


def meeting_message(card: CaseCard) -> tuple[str, list[Block]]:
    """Posted in the group DM of auditor, team manager and case holder."""
    text = f"Learning audit meeting for case {card.case_ref}: the three of you meet in person."
    headings = "\n".join(f"• {h}" for h in TEMPLATE_HEADINGS)
    blocks: list[Block] = [
        header(f"Learning audit meeting: {card.case_ref}"),
        section(
            f"Hello <@{card.team_manager}> and <@{card.case_holder}>: <@{card.auditor}> is doing the "
            f"learning audit of case *{card.case_ref}* ({card.service_name}, {card.team_name}) for "
            f"{card.quarter_label}. You will *meet in person*, before {due_words(card)}; the time and a "
            "calendar invitation follow."
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


def length_words(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} minutes"
    words = "1 hour" if hours == 1 else f"{hours} hours"
    return f"{words} {rest} minutes" if rest else words


def meeting_modal(
    *, card: CaseCard, start: datetime | None, minutes: int | None, place: str | None
) -> View:
    """The auditor chooses the day, start, length and (optionally) where; a set meeting shows as typed."""
    date_input = DatePickerElement(action_id=MeetingField.DATE.value, placeholder=PlainTextObject(text="Choose a day"),
                                   initial_date=start.date().isoformat() if start else None)
    time_input = TimePickerElement(action_id=MeetingField.START.value, placeholder=PlainTextObject(text="Choose a time"),
                                   initial_time=start.strftime("%H:%M") if start else None)
    options = [Option(text=length_words(m), value=str(m)) for m in MEETING_LENGTHS]
    chosen = next((o for o in options if o.value == str(minutes or 60)), options[2])
    length_input = StaticSelectElement(action_id=MeetingField.LENGTH.value, options=options, initial_option=chosen)
    place_input = PlainTextInputElement(action_id=MeetingField.PLACE.value, initial_value=place or None,
                                        max_length=200)
    blocks: list[Block] = [
        section(f"{case_line(card)}\n*Record the audit by:* {due_words(card)}"),
        InputBlock(block_id=MeetingField.DATE.value, label=PlainTextObject(text="Meeting date"), element=date_input),
        InputBlock(block_id=MeetingField.START.value, label=PlainTextObject(text="Start time"), element=time_input),
        InputBlock(block_id=MeetingField.LENGTH.value, label=PlainTextObject(text="Length"), element=length_input),
        InputBlock(block_id=MeetingField.PLACE.value, label=PlainTextObject(text="Where"), element=place_input,
                   optional=True, hint=PlainTextObject(text=f"A room or office. {NO_NAMES_HINT}")),
        context("The group DM of the three of you gets the time and a calendar invitation (.ics), and a "
                "reminder the working day before. Changing the time later updates the invitation."),
    ]
    return modal(title="Meeting", callback_id=LearningIds.MEETING_MODAL.value, blocks=blocks,
                 submit="Send invitation", private_metadata=str(card.audit_id))


def meeting_time_message(
    card: CaseCard, *, when: str, place: str, moved: bool, late: bool
) -> tuple[str, list[Block]]:
    """In the group DM: when and where they meet (the .ics follows); ``place`` is already escaped."""
    verb = "has moved to" if moved else "is on"
    text = f"The learning audit meeting for case {card.case_ref} {verb} {when}."
    lines = [f"*When:* {when}"] + ([f"*Where:* {place}"] if place else [])
    blocks: list[Block] = [
        section(f"{'*Meeting moved.* ' if moved else ''}<@{card.auditor}> has set the learning audit meeting "
                f"for case *{card.case_ref}*.\n" + "\n".join(lines)),
        context("The calendar invitation (.ics) below adds it to your calendar"
                + (" and replaces the earlier time." if moved else ".")
                + " I'll remind you here the working day before."),
    ]
    if late:
        blocks.append(context(f":warning: This is after the audit's due date, {due_words(card)}."))
    return text, blocks


def meeting_reminder(card: CaseCard, *, when: str, place: str) -> tuple[str, list[Block]]:
    text = f"Reminder: the learning audit meeting for case {card.case_ref} is {when}."
    where = f"\n*Where:* {place}" if place else ""
    blocks: list[Block] = [
        section(f"*Reminder:* the learning audit meeting for case *{card.case_ref}* is {when}.{where}"),
        context(f"<@{card.case_holder}>: your reflection helps the meeting, if it isn't done yet."),
    ]
    return text, blocks


def allocation_morning(
    quarter_label: str, parts: Sequence[tuple[str, list[Block]]]
) -> list[tuple[str, list[Block]]]:
    """One DM for everything a person has from the allocation (cases to audit, their own case, a
    case in their team, proposals not allocated), so nobody gets several the same morning.

    A single part goes as it is. Several go under one heading, each part keeping its own heading and
    buttons, with a paragraph or note said once rather than per case and the privacy note last. A
    second message starts only where Slack's 50 blocks would not hold them all."""
    if len(parts) <= 1:
        return list(parts)
    notice = privacy_notice().to_dict()
    top = [
        header(f"Your learning audits: {quarter_label}"[:150]),
        section(
            f"Everything for you from the *{quarter_label}* learning-audit allocation, case by case. "
            "Each case has its own buttons."
        ),
    ]
    room = MESSAGE_BLOCK_LIMIT - len(top) - 1
    out: list[tuple[list[str], list[Block]]] = []
    said: list[dict[str, object]] = []
    for text, body in parts:
        kept = []
        for block in body:
            shape = block.to_dict()
            if shape == notice or (block.type in ("section", "context") and "block_id" not in shape
                                   and shape in said and "accessory" not in shape):
                continue
            said.append(shape)
            kept.append(block)
        if out and len(out[-1][1]) + 1 + len(kept) <= room:
            out[-1][0].append(text)
            out[-1][1].extend([divider(), *kept])
        else:
            out.append(([text], kept[:room]))
    return [(" ".join(texts), [*top, *body, privacy_notice()]) for texts, body in out]


# ---------------------------------------------------------------------------------------------
# reminders


def reflection_reminder(card: CaseCard, *, due_today: bool) -> tuple[str, list[Block]]:
    when = "today" if due_today else f"by {due_words(card)}"
    text = f"Reminder: your reflection for the learning audit of case {card.case_ref} is due {when}."
    blocks: list[Block] = [
        section(
            f":hourglass_flowing_sand: *Reminder:* please write your reflection for the learning audit of "
            f"case *{card.case_ref}*: it is due {when}. It takes a few minutes and helps the meeting with "
            f"<@{card.auditor}>."
        ),
        actions(
            button(for_case(START_REFLECTION_LABEL, card), LearningIds.REFLECTION, str(card.audit_id),
                   style="primary"),
            block_id=f"learning-holder-reminder-{card.audit_id}",
        ),
    ]
    return text, blocks


def audit_reminder(card: CaseCard, *, due_today: bool, meeting_set_up: bool) -> tuple[str, list[Block]]:
    when = "today" if due_today else f"by {due_words(card)}"
    text = f"Reminder: the learning audit of case {card.case_ref} is due to be recorded {when}."
    buttons = (
        []
        if meeting_set_up
        else [button(for_case(SET_UP_MEETING_LABEL, card), LearningIds.SET_UP_MEETING, str(card.audit_id))]
    )
    buttons.append(
        button(for_case(RECORD_AUDIT_LABEL, card), LearningIds.RECORD_AUDIT, str(card.audit_id), style="primary")
    )
    blocks: list[Block] = [
        section(
            f":hourglass_flowing_sand: *Reminder:* the learning audit of case *{card.case_ref}* "
            f"({card.service_name}) is due to be recorded {when}."
        ),
        actions(*buttons, block_id=f"learning-auditor-reminder-{card.audit_id}"),
    ]
    return text, blocks


# ---------------------------------------------------------------------------------------------
# why a case was not allocated, in each reader's words


def _cases(n: int) -> str:
    return f"{n} case{'' if n == 1 else 's'}"


def _people(ids: Sequence[str], total: int) -> str:
    """People as mentions, "A, B and C", the rest counted past the first few."""
    shown = [mention(i) for i in ids[:NAMES_SHOWN]]
    rest = total - len(shown)
    if rest > 0:
        return f"{', '.join(shown)} and {rest} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def why_for_proposer(why: NotAllocated) -> str:
    """A sentence for the person who proposed the case: plain, naming nobody."""
    if why.kind == "nobody":
        return "There were no Service Managers to audit cases this quarter."
    if why.kind == "not_independent":
        return (
            "No Service Manager was entirely independent of it: each manages its service or team, or "
            "proposed it or holds it, and a learning audit needs an independent auditor."
        )
    if why.kind == "all_full":
        return (
            f"Every Service Manager who is independent of it had already been given their "
            f"{_cases(why.per_auditor)} for the quarter."
        )
    return "Every Service Manager who is independent of it already had as many cases as they can take this quarter."


def why_for_qi(why: NotAllocated) -> str:
    """For the Quality & Improvement team by DM: the Service Managers concerned, as mentions."""
    if why.kind == "nobody":
        return "there were no Service Managers to allocate to."
    if why.kind == "not_independent":
        detail = "; ".join(f"{kind}: {_people(ids, len(ids))}" for kind, ids in why.by_conflict)
        return f"no Service Manager is independent of it ({detail})."
    if why.kind == "all_full":
        return (
            f"every Service Manager independent of it already had {_cases(why.per_auditor)}: "
            f"{_people(why.people, why.total)}."
        )
    return f"every Service Manager independent of it was already at capacity: {_people(why.people, why.total)}."


def why_in_channel(why: NotAllocated) -> str:
    """For a channel: the reason without anyone's name."""
    if why.kind == "nobody":
        return "there were no Service Managers to allocate to"
    if why.kind == "not_independent":
        return "no Service Manager is independent of it"
    if why.kind == "all_full":
        return f"every independent Service Manager already had {_cases(why.per_auditor)}"
    return "every independent Service Manager was already at capacity"


def not_allocated_message(
    *, quarter_label: str, next_label: str, next_opens: str, cards: Sequence[UnallocatedCard]
) -> tuple[str, list[Block]]:
    """To a proposer, once for all their cases left unallocated: why, and one button each to
    carry the case into next quarter."""
    refs = [c.case_ref for c in cards]
    named = refs[0] if len(refs) == 1 else f"{', '.join(refs[:-1])} and {refs[-1]}"
    it = "it" if len(cards) == 1 else "each"
    text = (
        f"Your proposal of {named} for {quarter_label} learning audits was not allocated this quarter. "
        f"You can propose {it} again for {next_label}."
    )
    blocks: list[Block] = [
        header(f"Not allocated this quarter: {named}"[:150]),
        section(
            f"Thank you for proposing {'this case' if len(cards) == 1 else 'these cases'} for *{quarter_label}* "
            f"learning audits. Each Service Manager audits a set number of cases a quarter, and only a Service "
            f"Manager entirely independent of a case may audit it, so not every case proposed can be audited."
        ),
    ]
    for card in cards[: MESSAGE_BLOCK_LIMIT - 5]:
        blocks.append(
            section(
                f"*{card.case_ref}* was not allocated. {card.why}",
                block_id=f"proposal-not-allocated-{card.proposal_id}",
                accessory=button(CARRY_LABEL, ProposalIds.CARRY, str(card.proposal_id)),
            )
        )
    blocks += [
        context(
            f"*{CARRY_LABEL}* proposes the case for *{next_label}* with the same team, case holder and "
            f"reason. You can edit or withdraw it once proposals for {next_label} open on {next_opens}."
        ),
        privacy_notice(),
    ]
    return text, blocks


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
    managers = f"{auditors} Service Manager{'' if auditors == 1 else 's'}"
    short = len(short_by_service)
    text = (
        f"Learning-audit allocation for {quarter_label}: {_cases(allocated)} allocated to {managers}; "
        f"{_cases(unallocated)} proposed but not allocated; "
        f"{short} Service Manager{'' if short == 1 else 's'} short of cases."
    )
    blocks: list[Block] = [header(f"Learning-audit allocation: {quarter_label}"), section(text)]
    if unallocated_by_service:
        lines = []
        for service, reasons in unallocated_by_service.items():
            total = sum(reasons.values())
            if len(reasons) == 1:
                detail = f", because {next(iter(reasons))}"
            else:
                detail = ": " + "; ".join(f"{n} because {reason}" for reason, n in reasons.items())
            lines.append(f"• *{service}*: {_cases(total)}{detail}.")
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
    told = (" Each proposer has been told why their case was not allocated, and can propose it again next "
            "quarter.") if unallocated else ""
    blocks.append(
        context(f"Case references are sent to the Quality & Improvement team by DM, not posted here.{told}")
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
        blocks.append(context("The rest is kept with the quarter's plan: ask a QMF admin for the full list."))
    blocks.append(privacy_notice())
    return text, blocks
