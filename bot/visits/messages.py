"""Block Kit for learning visits: the commission and record modals, and the visitors', Q&I's,
commissioner's and Service Manager's DMs. Builders take plain values (``bot.visits.types``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.cib.messages import (
    LONG_TEXT,
    MESSAGE_BLOCK_LIMIT,
    clip,
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
    header,
    modal,
    privacy_notice,
    section,
    split_text,
)
from bot.core.formatting import date_only, due, mention_for
from bot.visits.types import ACTIVITIES, PlanAction, VisitFeedback, VisitIds, VisitMeta, VisitPlan

# visible words people (and the flow tests) look for
RECORD_VISIT_LABEL = "Record visit feedback"
AMEND_LABEL = "Amend"
ADD_ACTION_LABEL = "Add an action"

VISIT_LABELS = {
    VisitIds.VISIT_SERVICE: "Service to visit",
    VisitIds.VISIT_NEED: "The need or risk behind the visit",
    VisitIds.VISIT_DATE: "Date of the visit",
    VisitIds.VISIT_VISITORS: "Visitors",
    VisitIds.VISIT_LEAD: "Lead reviewer",
    VisitIds.VISIT_ACTIVITIES: "Planned activities",
    VisitIds.VISIT_PREP: "Preparation notes",
    VisitIds.VISIT_PERFORMANCE: "Performance information",
    VisitIds.VISIT_FEEDBACK: "Direct feedback given to the service",
    VisitIds.VISIT_PLAN: "Improvement plan summary",
    VisitIds.VISIT_TEAMS: "Teams observed",
}
ACTION_PLACEHOLDER = "The improvement for the service, as a task"

WHY_VISIT = (
    "A learning visit is a live observation of practice by a small group of senior managers "
    "independent of the service, commissioned on need or risk and supported by Quality & Improvement. "
    "The lead reviewer gives direct feedback and an improvement plan, which goes to the next "
    "Continuous Improvement Board."
)


def visit_commission_modal(*, services: Sequence[tuple[str, str]], today: date) -> View:
    """``services`` is (key, name) of the services in the commissioner's divisions."""
    ids = VisitIds
    labels = VISIT_LABELS
    blocks: list[Block] = [
        section(WHY_VISIT),
        privacy_notice(),
        InputBlock(block_id=ids.VISIT_SERVICE, label=plain(labels[ids.VISIT_SERVICE]),
                   element=StaticSelectElement(action_id=ids.VISIT_SERVICE, placeholder=plain("Choose a service"),
                                               options=[option(name, key) for key, name in services[:100]])),
        text_input(ids.VISIT_NEED, labels[ids.VISIT_NEED], max_length=2000),
        InputBlock(block_id=ids.VISIT_DATE, label=plain(labels[ids.VISIT_DATE]),
                   element=DatePickerElement(action_id=ids.VISIT_DATE, placeholder=plain("Choose a date"))),
        InputBlock(block_id=ids.VISIT_VISITORS, label=plain(labels[ids.VISIT_VISITORS]),
                   element=UserMultiSelectElement(action_id=ids.VISIT_VISITORS, max_selected_items=8,
                                                  placeholder=plain("Senior managers independent of it")),
                   hint=plain("Each visitor must be independent of the service: not its Service Manager, "
                              "a Team Manager or a practitioner in it.")),
        InputBlock(block_id=ids.VISIT_LEAD, label=plain(labels[ids.VISIT_LEAD]),
                   element=UserSelectElement(action_id=ids.VISIT_LEAD, placeholder=plain("One of the visitors"))),
        InputBlock(block_id=ids.VISIT_ACTIVITIES, label=plain(labels[ids.VISIT_ACTIVITIES]),
                   element=CheckboxesElement(action_id=ids.VISIT_ACTIVITIES,
                                             options=[option(v, k) for k, v in ACTIVITIES.items()])),
        text_input(ids.VISIT_PREP, labels[ids.VISIT_PREP], max_length=LONG_TEXT),
        text_input(ids.VISIT_PERFORMANCE, labels[ids.VISIT_PERFORMANCE], max_length=LONG_TEXT, optional=True,
                   hint="The performance information the visitors should read first, in aggregate. "
                        + NO_NAMES_HINT),
    ]
    return modal(title="Commission a visit", callback_id=ids.VISIT_MODAL, blocks=blocks, submit="Commission",
                 private_metadata=VisitMeta().dump())


def _people(people: Sequence[str], reader: str | None) -> str:
    """People as the reader sees them: "you" for the reader, mentions for the rest."""
    return ", ".join(mention_for(p, reader) for p in people) or "nobody yet"


def _plan_text(plan: VisitPlan, reader: str | None) -> str:
    """The plan's facts; the reader is "you" in it, never named to themself."""
    activities = ", ".join(plan.activities) or "to be agreed"
    return (
        f"*Service:* {plan.service_name}\n*Date:* {nice_date(plan.visit_on)}\n"
        f"*Need or risk:* {clip(plan.need_or_risk, 1000)}\n*Planned activities:* {activities}\n"
        f"*Lead reviewer:* {mention_for(plan.lead_reviewer, reader)} · *Visitors:* {_people(plan.visitors, reader)}\n"
        f"*Commissioned by:* {mention_for(plan.commissioner, reader)}"
    )


def _plan_details(plan: VisitPlan) -> list[Block]:
    blocks = sections("*Preparation notes*\n" + quote(clip(plan.preparation_notes, 2800)))
    if plan.performance_info:
        blocks += sections("*Performance information*\n" + quote(clip(plan.performance_info, 2800)))
    return blocks


def record_visit_button(visit_id: int) -> Any:
    return button(RECORD_VISIT_LABEL, VisitIds.RECORD_VISIT, str(visit_id), style="primary")


def visit_preparation_message(plan: VisitPlan, *, lead: bool, reader: str) -> tuple[str, list[Block]]:
    """The visitors' preparation DM: the plan, and for the lead reviewer how to record the outcome."""
    text = f"You are visiting {plan.service_name} on {nice_date(plan.visit_on)} for a learning visit."
    role = "the *lead reviewer* for" if lead else "a visitor on"
    blocks: list[Block] = [
        header(f"Learning visit: {plan.service_name}"[:150]),
        section(f"You are {role} this learning visit. Please prepare with the plan below.\n"
                + _plan_text(plan, reader)),
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


def visit_reminder_message(plan: VisitPlan, *, lead: bool, reader: str) -> tuple[str, list[Block]]:
    text = f"Reminder: the learning visit to {plan.service_name} is on {nice_date(plan.visit_on)}."
    blocks: list[Block] = [
        section(f":wave: A reminder: the learning visit to *{plan.service_name}* is on "
                f"*{nice_date(plan.visit_on)}*.\n" + _plan_text(plan, reader)),
    ]
    if lead:
        blocks.append(actions(record_visit_button(plan.id), block_id=f"visit-manage-{plan.id}"))
    return text, blocks


def visit_record_reminder_message(plan: VisitPlan) -> tuple[str, list[Block]]:
    text = f"Please record the feedback and action plan from the learning visit to {plan.service_name}."
    return text, [
        section(f":memo: Please record the direct feedback you gave *{plan.service_name}* on "
                f"{nice_date(plan.visit_on)} and the improvement/action plan, so it reaches the service, its managers "
                f"and the next Continuous Improvement Board."),
        actions(record_visit_button(plan.id), block_id=f"visit-manage-{plan.id}"),
    ]


def visit_support_message(plan: VisitPlan, reader: str) -> tuple[str, list[Block]]:
    """Q&I are asked to support every visit (preparation and analysis of performance information)."""
    text = f"Please support the learning visit to {plan.service_name} on {nice_date(plan.visit_on)}."
    return text, [
        section(f":handshake: {'You' if plan.commissioner == reader else mention_for(plan.commissioner, reader)} commissioned a "
                f"learning visit. Quality & Improvement are asked to support it: the preparation, the performance "
                f"information and the analysis.\n" + _plan_text(plan, reader)),
        *_plan_details(plan),
    ]


def visit_commissioned_message(plan: VisitPlan, warning: str | None) -> tuple[str, list[Block]]:
    text = f"You commissioned a learning visit to {plan.service_name} on {nice_date(plan.visit_on)}."
    blocks: list[Block] = [section(":white_check_mark: You commissioned a learning visit.\n"
                                   + _plan_text(plan, plan.commissioner))]
    if warning:
        blocks.append(section(f":warning: {warning}"))
    blocks.append(context("The visitors have their preparation DM and Quality & Improvement have been asked to "
                          "support the visit."))
    return text, blocks


def visit_commissioned_view(plan: VisitPlan, warning: str | None) -> View:
    _, blocks = visit_commissioned_message(plan, warning)
    return modal(title="Visit commissioned", callback_id="visit-commissioned", blocks=blocks, close="Close")


def visit_record_modal(*, plan: VisitPlan, feedback: str | None, plan_summary: str | None,
                       drafts: Sequence[PlanAction], teams: Sequence[tuple[str, str]] = ()) -> View:
    """The lead reviewer's form. ``teams`` is (key, name) of the service's teams, for "Teams observed":
    their team managers get the feedback, and left empty it is every team."""
    ids = VisitIds
    lines = [f"• <@{a.owner}> by {date_only(a.due_on)}: {clip(a.description, 300)}" for a in drafts]
    listed = ("*The action plan*\n" + "\n".join(lines)) if lines else (
        "*The action plan*\nNo actions yet: add each one with an owner and a due date.")
    blocks: list[Block] = [
        section(f"*Learning visit to {plan.service_name}* on {nice_date(plan.visit_on)}"),
        privacy_notice(),
        text_input(ids.VISIT_FEEDBACK, VISIT_LABELS[ids.VISIT_FEEDBACK], initial=feedback,
                   hint="What you told the service at the end of the visit. It goes to the service's channel, its "
                        "managers and the Continuous Improvement Board. " + NO_NAMES_HINT),
        text_input(ids.VISIT_PLAN, VISIT_LABELS[ids.VISIT_PLAN], initial=plan_summary, optional=True,
                   hint="The improvement the plan is for, in a sentence or two. " + NO_NAMES_HINT),
        *_teams_input(teams),
        *[section(chunk, block_id=f"{ids.VISIT_ACTIONS_LIST}-{i}") for i, chunk in enumerate(split_text(listed))][:30],
        actions(button(ADD_ACTION_LABEL, ids.VISIT_ADD_ACTION, str(plan.id)), block_id=ids.VISIT_ADD_ACTION),
    ]
    return modal(title="Record visit", callback_id=ids.VISIT_RECORD_MODAL, blocks=blocks,
                 submit="Send to the service", private_metadata=VisitMeta(visit_id=plan.id).dump())


def _teams_input(teams: Sequence[tuple[str, str]]) -> list[Block]:
    if not teams:
        return []
    return [InputBlock(
        block_id=VisitIds.VISIT_TEAMS, label=plain(VISIT_LABELS[VisitIds.VISIT_TEAMS]), optional=True,
        element=StaticMultiSelectElement(action_id=VisitIds.VISIT_TEAMS, placeholder=plain("Every team"),
                                         options=[option(name, key) for key, name in teams[:100]]),
        hint=plain("Leave empty if you saw every team. Their team managers get the feedback and the plan; the "
                   "service's channel gets a summary with no names."))]


def visit_action_modal(*, visit_id: int, parent_view: str | None, service_name: str,
                       input_blocks: Sequence[Block]) -> View:
    blocks: list[Block] = [
        section(f"An action in the improvement plan for *{service_name}*."),
        privacy_notice(),
        *input_blocks,
    ]
    meta = VisitMeta(visit_id=visit_id, parent_view=parent_view)
    return modal(title="Add an action", callback_id=VisitIds.VISIT_ACTION_MODAL, blocks=blocks,
                 submit="Add", close="Back", private_metadata=meta.dump())


def _action_lines(actions_: Sequence[PlanAction], reader: str | None) -> str:
    return "\n".join(f"• {'You' if a.owner == reader else mention_for(a.owner, reader)} by {due(a.due_on)}: "
                     f"{clip(a.description, 400)}" for a in actions_)


def _when(meeting_on: date | None) -> str:
    return (f"the Continuous Improvement Board on {nice_date(meeting_on)}" if meeting_on
            else "the next Continuous Improvement Board")


def visit_feedback_message(plan: VisitPlan, found: VisitFeedback, *, reader: str, service_manager: bool = False,
                           teams_managed: Sequence[str] = ()) -> tuple[str, list[Block]]:
    """One DM per person told: the Service Manager, the team managers of the teams observed and the
    commissioner get what the lead reviewer said and the plan, with what to do next for their part."""
    text = f"Feedback and the improvement plan from the learning visit to {plan.service_name}."
    lead = "You" if plan.lead_reviewer == reader else mention_for(plan.lead_reviewer, reader)
    observed = f" It observed {_and(found.teams)}." if found.teams else ""
    blocks: list[Block] = [
        header(f"Learning visit feedback: {plan.service_name}"[:150]),
        section(f"{lead} led the learning visit to *{plan.service_name}* on {nice_date(plan.visit_on)}.{observed} "
                f"Here is the feedback given and the improvement/action plan."),
        *sections("*Direct feedback*\n" + quote(clip(found.feedback, 2800))),
    ]
    if found.plan_summary:
        blocks += sections("*Improvement plan*\n" + quote(clip(found.plan_summary, 2800)))
    blocks += sections("*Actions*\n" + (_action_lines(found.actions, reader) or "None."))
    mine = [a for a in found.actions if a.owner == reader]
    advice: list[str] = []
    if teams_managed:
        advice.append(f"Please share the feedback with {_and(teams_managed)} at your next team meeting; the "
                      f"service's channel has a summary with no names.")
    if service_manager:
        advice.append("Please take the plan forward with your team managers.")
    if mine:
        advice.append("One action is yours: it is on your App Home." if len(mine) == 1 else
                      f"{len(mine)} actions are yours: they are on your App Home.")
    advice.append(f"Each owner has been told of their action. The plan goes to {_when(found.meeting_on)}.")
    blocks.append(context(" ".join(advice)))
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


def visit_service_post(plan: VisitPlan, found: VisitFeedback) -> tuple[str, list[Block]]:
    """The service channel's post: the feedback and the plan, for the whole service to learn from, with
    no names (no visitors, no action owners) and no case references. Every text in ``found`` has been
    through ``bot.core.privacy.outbound``."""
    text = f"Feedback from the learning visit to {plan.service_name} on {nice_date(plan.visit_on)}."
    observed = f" of {_and(found.teams)}" if found.teams else ""
    blocks: list[Block] = [
        header(f"Learning visit: what we learned in {plan.service_name}"[:150]),
        section(f"Senior managers from outside the service visited *{plan.service_name}* on "
                f"{nice_date(plan.visit_on)} to see the practice{observed} at first hand. Thank you to everyone who "
                f"took part. This is the feedback they gave and the plan that follows from it."),
        *sections("*What they saw*\n" + quote(clip(found.feedback, 2800))),
    ]
    if found.plan_summary:
        blocks += sections("*The improvement plan*\n" + quote(clip(found.plan_summary, 2800)))
    if found.actions:
        blocks += sections("*What will happen*\n" + "\n".join(
            f"• by {due(a.due_on)}: {clip(a.description, 400)}" for a in found.actions))
    blocks.append(context(f"Your team manager has the full plan; it goes to {_when(found.meeting_on)}. "
                          f"Talk it through at your next team meeting."))
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


def _and(names: Sequence[str]) -> str:
    """ "CiC North", "CiC North and CiC South", "A, B and C"."""
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def visit_recorded_message(plan: VisitPlan, count: int, meeting_on: date | None, *, reader: str,
                           told: Sequence[str] = (), posted: bool = True,
                           amend_until: date | None = None) -> tuple[str, list[Block]]:
    """The lead reviewer's receipt: who has the feedback, and what to do if the service has no channel."""
    when = f"the CIB meeting on {nice_date(meeting_on)}" if meeting_on else "the next CIB meeting to be scheduled"
    text = f"The feedback and plan from the visit to {plan.service_name} went to the service."
    who = f"went to {_and([mention_for(p, reader) for p in told])}" if told else "are saved"
    where = (", and a summary with no names to the service's channel" if posted else
             f". {plan.service_name} has no channel in the QMF directory, so nothing was posted there: ask a QMF "
             f"admin to add one")
    blocks: list[Block] = [section(f":white_check_mark: Thank you. The feedback and plan ({count} action(s)) from the "
                                   f"visit to *{plan.service_name}* {who}{where}; the plan is queued for {when}.")]
    if amend_until is not None:
        blocks.append(section(f"You can amend the feedback until {nice_date(amend_until)}."))
        blocks.append(actions(button(AMEND_LABEL, VisitIds.AMEND_VISIT, str(plan.id)),
                              block_id=f"visit-recorded-{plan.id}"))
    return text, blocks


def visit_amend_modal(*, plan: VisitPlan, feedback: str | None, plan_summary: str | None, amend_until: date,
                      amended_on: date | None = None) -> View:
    """The recorded feedback and plan summary, to amend while the council's window is open."""
    ids = VisitIds
    blocks: list[Block] = [
        section(f"*Learning visit to {plan.service_name}* on {nice_date(plan.visit_on)}"),
        privacy_notice(),
        text_input(ids.VISIT_FEEDBACK, VISIT_LABELS[ids.VISIT_FEEDBACK], initial=feedback,
                   hint="The people who received the feedback are told what changed. " + NO_NAMES_HINT),
        text_input(ids.VISIT_PLAN, VISIT_LABELS[ids.VISIT_PLAN], initial=plan_summary, optional=True,
                   hint=NO_NAMES_HINT),
        context((f"Last amended on {nice_date(amended_on)}. " if amended_on else "")
                + f"You can amend this until {nice_date(amend_until)}. The previous version is kept in the audit "
                "log; the service's channel is not posted to again, and the plan's actions are not changed here."),
    ]
    return modal(title="Amend visit feedback", callback_id=ids.AMEND_VISIT_MODAL, blocks=blocks,
                 submit="Save amendment", private_metadata=VisitMeta(visit_id=plan.id).dump())


def visit_amended_message(plan: VisitPlan, *, author: str, reader: str, changed: Sequence[tuple[str, str]]
                          ) -> tuple[str, list[Block]]:
    """To someone who received the visit's feedback: who amended it, what changed, and the new words
    (already through the outbound gate)."""
    names = ", ".join(label for label, _ in changed)
    who = mention_for(author, reader)
    text = f"{who} amended the feedback from the learning visit to {plan.service_name}: changed {names}"
    blocks: list[Block] = [section(f":pencil2: {who} amended the feedback from the learning visit to "
                                   f"*{plan.service_name}* ({nice_date(plan.visit_on)}): changed {names}.")]
    for label, new in changed:
        blocks.extend(sections(f"*{label} (now)*\n{quote(new) if new else '(now left empty)'}"))
    blocks.append(privacy_notice())
    return text, blocks
