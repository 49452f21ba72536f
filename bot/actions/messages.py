"""Block Kit for action plans: the inputs other flows' modals reuse, and the DMs and lists of actions.

Every flow that records an action plan (learning audits, random sampling, learning visits,
themed audits) asks for an action the same way, so the three inputs and their parsing live here
and the block ids match the inline errors ``bot.actions.service.add_action`` raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    UserSelectElement,
)
from slack_sdk.models.views import View

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
from bot.core.errors import InvalidInput
from bot.core.formatting import date_only as day_label
from bot.core.formatting import day as long_day_label
from bot.core.formatting import due as slack_date
from storage.models import Action

DESCRIPTION_MAX = 3000
MESSAGE_BLOCK_LIMIT = 50
HINT_BLOCK = "action-hint"


class ActionIds(StrEnum):
    """Block and action ids of the action-plan flow (kebab-case ``flow-field``)."""

    OWNER = "action-owner"
    DUE = "action-due"
    DESCRIPTION = "action-description"
    MARK_DONE = "action-mark-done"


def quote(text: str) -> str:
    """Quote free text in mrkdwn so a line break in the description stays inside the quote."""
    return "\n".join(f">{line}" for line in text.splitlines() or [""])


# ---------------------------------------------------------------------------------------------
# inputs for other flows' modals

CASE_ACTION_PLACEHOLDER = "The compliance learning for this case, as a task"


def action_input_blocks(initial_owner: str | None = None, *, placeholder: str = CASE_ACTION_PLACEHOLDER
                        ) -> list[Block]:
    """Owner, due date and what needs to happen; the block ids are the ones add_action's errors use.

    ``placeholder`` speaks of what the action is for: a case's compliance learning by default, the
    service's improvement in a learning visit's plan."""
    owner = UserSelectElement(
        action_id=ActionIds.OWNER.value,
        placeholder=PlainTextObject(text="Who will do it"),
        initial_user=initial_owner,
    )
    due = DatePickerElement(action_id=ActionIds.DUE.value, placeholder=PlainTextObject(text="Choose a date"))
    description = PlainTextInputElement(
        action_id=ActionIds.DESCRIPTION.value,
        multiline=True,
        max_length=DESCRIPTION_MAX,
        placeholder=PlainTextObject(text=placeholder),
    )
    return [
        InputBlock(block_id=ActionIds.OWNER.value, label=PlainTextObject(text="Owner"), element=owner),
        InputBlock(block_id=ActionIds.DUE.value, label=PlainTextObject(text="Due date"), element=due),
        InputBlock(
            block_id=ActionIds.DESCRIPTION.value,
            label=PlainTextObject(text="What needs to happen"),
            element=description,
            hint=PlainTextObject(text=NO_NAMES_HINT),
        ),
    ]


def action_modal(*, callback_id: str, private_metadata: str | None = None, initial_owner: str | None = None,
                 title: str = "Add an action") -> View:
    """A ready pushed modal for one action (the privacy notice, then the three inputs)."""
    return modal(title=title[:24], callback_id=callback_id, submit="Add action", close="Back",
                 private_metadata=private_metadata,
                 blocks=[privacy_notice(), *action_input_blocks(initial_owner)])


def parse_action_values(values: dict[str, Any]) -> tuple[str, date, str]:
    """(owner, due_on, description) from ``handlers.common.view_values``; missing answers are inline errors.

    Only the shape is checked here; add_action checks the owner, the date and the words.
    """
    errors: dict[str, str] = {}
    owner = values.get(ActionIds.OWNER.value)
    if not owner:
        errors[ActionIds.OWNER.value] = "Choose who owns this action."
    raw_due = values.get(ActionIds.DUE.value)
    due_on: date | None = None
    if not raw_due:
        errors[ActionIds.DUE.value] = "Choose the date it is due."
    else:
        try:
            due_on = date.fromisoformat(str(raw_due))
        except ValueError:
            errors[ActionIds.DUE.value] = "Choose the date it is due from the calendar."
    description = (values.get(ActionIds.DESCRIPTION.value) or "").strip()
    if not description:
        errors[ActionIds.DESCRIPTION.value] = "Say what needs to happen."
    if errors:
        raise InvalidInput(errors)
    assert due_on is not None and owner
    return str(owner), due_on, description


def action_list_blocks(actions_: Sequence[Action]) -> list[Block]:
    """Compact lines for a modal or a record: "• <@U..> by 3 Apr 2026: description"."""
    lines = [
        f"• <@{a.owner.slack_id}> by {day_label(a.due_on)}: {' '.join(a.description.split())}" for a in actions_
    ]
    return [section(chunk) for chunk in split_text("\n".join(lines))] if lines else []


# ---------------------------------------------------------------------------------------------
# messages


def mark_done_button(action_id: int) -> Any:
    return button("Mark done", ActionIds.MARK_DONE.value, str(action_id), style="primary")


def _hint(text: str) -> Block:
    """A line about the button, dropped with the button once the action is done."""
    return ContextBlock(block_id=HINT_BLOCK, elements=[MarkdownTextObject(text=text)])


def mark_done_block(action_id: int) -> Block:
    """An action's "Mark done", as every message carrying an action shows it (``done_message_blocks``
    swaps it for who did it and when)."""
    return actions(mark_done_button(action_id), block_id=f"action-{action_id}")


def assigned_message(action: Action, source: str) -> tuple[str, list[Block]]:
    """The owner's DM when an action becomes theirs."""
    due = slack_date(action.due_on)
    text = f"New action for you, due {due} ({source}): {action.description}"
    blocks: list[Block] = [
        section(f":pushpin: *You have a new action*, {source}.\n*Due:* {due}"),
        *[section(chunk) for chunk in split_text(quote(action.description))],
        mark_done_block(action.id),
        _hint("Press *Mark done* when it is done. `/qmf actions` lists all your open actions."),
    ]
    return text, blocks


def reminder_message(action: Action, source: str, working_days_left: int) -> tuple[str, list[Block]]:
    """A reminder to the owner: some working days before the due date, or on it."""
    due = slack_date(action.due_on)
    if working_days_left <= 0:
        lead = f":alarm_clock: *Your action is due today* ({due}), {source}."
        text = f"Your action is due today ({due}), {source}: {action.description}"
    else:
        days = "1 working day" if working_days_left == 1 else f"{working_days_left} working days"
        lead = f":hourglass_flowing_sand: *Reminder:* your action {source} is due on {due}, in {days}."
        text = f"Reminder: your action {source} is due on {due}: {action.description}"
    blocks: list[Block] = [
        section(lead),
        *[section(chunk) for chunk in split_text(quote(action.description))],
        mark_done_block(action.id),
    ]
    return text, blocks


def escalation_message(action: Action, source: str, owner: str, manager_role: str) -> tuple[str, list[Block]]:
    """The one DM to the owner's manager when an action is overdue."""
    due = slack_date(action.due_on)
    text = f"An action owned by <@{owner}> is overdue (due {due}, {source}): {action.description}"
    blocks: list[Block] = [
        section(
            f":warning: *An action owned by <@{owner}> is overdue.* It was due on {due}, {source}. "
            f"You are told as {manager_role}."
        ),
        *[section(chunk) for chunk in split_text(quote(action.description))],
        mark_done_block(action.id),
        _hint("Please follow it up with them; either of you can press *Mark done* once it is done."),
    ]
    return text, blocks


def done_for_creator_message(action: Action, source: str, done_by: str) -> tuple[str, list[Block]]:
    owner = action.owner.slack_id
    who = f"<@{owner}>" if done_by == owner else f"<@{done_by}> (for <@{owner}>)"
    text = f"{who} marked done the action you added {source}: {action.description}"
    blocks: list[Block] = [
        section(f":white_check_mark: {who} marked done the action you added {source}."),
        *[section(chunk) for chunk in split_text(quote(action.description))],
    ]
    return text, blocks


def done_line(done_on: date, done_by: str) -> str:
    return f":white_check_mark: Done on {day_label(done_on)} by <@{done_by}>"


def done_message_blocks(original: Sequence[dict[str, Any]] | None, action: Action, source: str,
                        done_on: date, done_by: str) -> list[dict[str, Any]]:
    """The DM again with its "Mark done" button swapped for who did it and when.

    Everything else the message said stays, so the person can still read what the action was.
    """
    note = context(done_line(done_on, done_by)).to_dict()
    if original:
        out: list[dict[str, Any]] = []
        replaced = False
        for block in original:
            elements = (block.get("elements") or []) if block.get("type") == "actions" else []
            if block.get("block_id") == HINT_BLOCK:
                continue
            if any(isinstance(e, dict) and e.get("action_id") == ActionIds.MARK_DONE.value for e in elements):
                if not replaced:
                    out.append(note)
                    replaced = True
                continue
            out.append(block)
        if replaced:
            return out
    blocks = [
        section(f"*Action* {source}, due {long_day_label(action.due_on)}"),
        *[section(chunk) for chunk in split_text(quote(action.description))],
    ]
    return [b.to_dict() for b in blocks] + [note]


def open_actions_blocks(actions_: Sequence[Action], sources: dict[int, str], today: date) -> list[Block]:
    """The ``/qmf actions`` list: due-date order, overdue marked, a "Mark done" on each."""
    overdue = sum(1 for a in actions_ if a.due_on < today)
    summary = f"{len(actions_)} open" + (f", {overdue} overdue" if overdue else "")
    blocks: list[Block] = [header("Your open actions"), context(summary)]
    room = MESSAGE_BLOCK_LIMIT - len(blocks) - 1
    for action in actions_[:room]:
        flag = " :warning: *overdue*" if action.due_on < today else (" *due today*" if action.due_on == today else "")
        description = " ".join(action.description.split())
        if len(description) > 2500:
            description = description[:2497] + "..."
        blocks.append(
            section(
                f"*Due {day_label(action.due_on)}*{flag} · {sources.get(action.id, '')}\n{description}",
                accessory=mark_done_button(action.id),
            )
        )
    if len(actions_) > room:
        blocks.append(context(f"…and {len(actions_) - room} more, due later."))
    return blocks


def open_actions_text(actions_: Sequence[Action], today: date) -> str:
    overdue = sum(1 for a in actions_ if a.due_on < today)
    return f"You have {len(actions_)} open action(s)" + (f", {overdue} overdue." if overdue else ".")
