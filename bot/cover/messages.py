"""Block Kit for cover: the Q&I DM listing work needing cover, and the Reassign modal."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ConfirmObject, InputBlock, PlainTextObject, UserSelectElement
from slack_sdk.models.views import View

from bot.core.blocks import actions, button, context, header, modal, section
from bot.core.formatting import due as slack_date
from bot.core.formatting import mention
from bot.cover.types import CLOSE_REASON, CoverIds, Need

REASSIGN_LABEL = "Reassign"
CLOSE_LABEL = "Close"
BUTTON_CHARS = 75
"""Slack's longest button text."""
PER_MESSAGE = 20
"""Items in one DM: two blocks each, under Slack's 50 blocks a message."""


def need_line(need: Need) -> str:
    due = f" · due {slack_date(need.work.due)}" if need.work.due else ""
    return f"*{need.work.label}*{due}\nHeld by {mention(need.work.holder)}: {need.words}."


def button_label(verb: str, need: Need) -> str:
    """The verb and what it acts on, so each of several buttons says which work it moves:
    "Reassign learning audit of CIN-3002"."""
    label = need.work.label
    words = f"{verb} {label[:1].lower()}{label[1:]}"
    return words if len(words) <= BUTTON_CHARS else words[:BUTTON_CHARS - 1] + "…"


def need_buttons(need: Need) -> list[object]:
    found: list[object] = []
    if need.can_reassign:
        found.append(button(button_label(REASSIGN_LABEL, need), CoverIds.REASSIGN, need.work.key, style="primary"))
    if need.can_close:
        close = button(button_label(CLOSE_LABEL, need), CoverIds.CLOSE, need.work.key, style="danger")
        close.confirm = ConfirmObject(title="Close this work?", text=(
            f"{need.work.label} will be closed because {CLOSE_REASON}; the people involved are told."),
            confirm="Close it", deny="Keep it")
        found.append(close)
    return found


def cover_message(needs: Sequence[Need]) -> list[tuple[str, list[Block]]]:
    """The Q&I DM(s): each item with who holds it, why it needs cover, and its buttons."""
    messages: list[tuple[str, list[Block]]] = []
    for start in range(0, len(needs), PER_MESSAGE):
        part = needs[start:start + PER_MESSAGE]
        text = f"{len(needs)} piece{'s' if len(needs) != 1 else ''} of work need cover."
        body: list[Block] = [header("Work needing cover")] if start == 0 else []
        for need in part:
            body.append(section(need_line(need)))
            buttons = need_buttons(need)
            if buttons:
                body.append(actions(*buttons))  # type: ignore[arg-type]
        if start == 0:
            body.append(context("*Reassign* moves it to someone else (independence is checked again); "
                                "*Close* ends work whose case has closed. Only Quality & Improvement see this."))
        messages.append((text, body))
    return messages


def reassign_modal(need_label: str, holder: str, key: str) -> View:
    return modal(
        title="Reassign", callback_id=CoverIds.MODAL, submit="Reassign", private_metadata=key,
        blocks=[
            section(f"*{need_label}*\nHeld now by {mention(holder)}."),
            InputBlock(block_id=CoverIds.NEW_PERSON, label=PlainTextObject(text="New person"),
                       element=UserSelectElement(action_id=CoverIds.NEW_PERSON,
                                                 placeholder=PlainTextObject(text="Choose who takes it over"))),
            context("The new person is told, with the same buttons; the previous holder is told it has moved."),
        ],
    )


def close_modal(need_label: str, key: str) -> View:
    """App Home's Close asks first, as the DM's button does with its confirm dialog."""
    return modal(title="Close this work?", callback_id=CoverIds.CLOSE_MODAL, submit="Close it", close="Keep it",
                 private_metadata=key,
                 blocks=[section(f"*{need_label}* will be closed because {CLOSE_REASON}; the people involved "
                                 "are told.")])
