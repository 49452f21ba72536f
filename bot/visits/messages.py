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
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.cib.messages import (
    LONG_TEXT,
    MESSAGE_BLOCK_LIMIT,
    clip,
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
    header,
    modal,
    privacy_notice,
    section,
    split_text,
)
from bot.core.formatting import date_only
from bot.visits.types import ACTIVITIES, PlanAction, VisitIds, VisitMeta, VisitPlan

# visible words people (and the flow tests) look for
RECORD_VISIT_LABEL = "Record visit feedback"
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
}

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


def _plan_text(plan: VisitPlan) -> str:
    activities = ", ".join(plan.activities) or "to be agreed"
    return (
        f"*Service:* {plan.service_name}\n*Date:* {nice_date(plan.visit_on)}\n"
        f"*Need or risk:* {clip(plan.need_or_risk, 1000)}\n*Planned activities:* {activities}\n"
        f"*Lead reviewer:* <@{plan.lead_reviewer}> · *Visitors:* {mentions(plan.visitors)}\n"
        f"*Commissioned by:* <@{plan.commissioner}>"
    )


def _plan_details(plan: VisitPlan) -> list[Block]:
    blocks = sections("*Preparation notes*\n" + quote(clip(plan.preparation_notes, 2800)))
    if plan.performance_info:
        blocks += sections("*Performance information*\n" + quote(clip(plan.performance_info, 2800)))
    return blocks


def record_visit_button(visit_id: int) -> Any:
    return button(RECORD_VISIT_LABEL, VisitIds.RECORD_VISIT, str(visit_id), style="primary")


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
    ids = VisitIds
    lines = [f"• <@{a.owner}> by {date_only(a.due_on)}: {clip(a.description, 300)}" for a in drafts]
    listed = ("*The action plan*\n" + "\n".join(lines)) if lines else (
        "*The action plan*\nNo actions yet: add each one with an owner and a due date.")
    blocks: list[Block] = [
        section(f"*Learning visit to {plan.service_name}* on {nice_date(plan.visit_on)}"),
        privacy_notice(),
        text_input(ids.VISIT_FEEDBACK, VISIT_LABELS[ids.VISIT_FEEDBACK], initial=feedback,
                   hint="What you told the service at the end of the visit. It goes to the Service Manager and "
                        "the Continuous Improvement Board. " + NO_NAMES_HINT),
        text_input(ids.VISIT_PLAN, VISIT_LABELS[ids.VISIT_PLAN], initial=plan_summary, optional=True,
                   hint="The improvement the plan is for, in a sentence or two. " + NO_NAMES_HINT),
        *[section(chunk, block_id=f"{ids.VISIT_ACTIONS_LIST}-{i}") for i, chunk in enumerate(split_text(listed))][:30],
        actions(button(ADD_ACTION_LABEL, ids.VISIT_ADD_ACTION, str(plan.id)), block_id=ids.VISIT_ADD_ACTION),
    ]
    return modal(title="Record visit", callback_id=ids.VISIT_RECORD_MODAL, blocks=blocks,
                 submit="Send to the service", private_metadata=VisitMeta(visit_id=plan.id).dump())


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


def _action_lines(actions_: Sequence[PlanAction]) -> str:
    return "\n".join(f"• <@{a.owner}> by {date_only(a.due_on)}: {clip(a.description, 400)}" for a in actions_)


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
        *sections("*Direct feedback*\n" + quote(clip(feedback, 2800))),
    ]
    if plan_summary:
        blocks += sections("*Improvement plan*\n" + quote(clip(plan_summary, 2800)))
    blocks += sections("*Actions*\n" + (_action_lines(actions_) or "None."))
    blocks.append(context(f"Each owner has been told of their action. The plan goes to {when}."))
    return text, blocks[:MESSAGE_BLOCK_LIMIT]


def visit_recorded_message(plan: VisitPlan, count: int, meeting_on: date | None) -> tuple[str, list[Block]]:
    when = f"the CIB meeting on {nice_date(meeting_on)}" if meeting_on else "the next CIB meeting to be scheduled"
    text = f"The feedback and plan from the visit to {plan.service_name} went to the Service Manager."
    return text, [section(f":white_check_mark: Thank you. The feedback and plan ({count} action(s)) from the visit "
                          f"to *{plan.service_name}* went to the Service Manager, and the plan is queued for {when}.")]
