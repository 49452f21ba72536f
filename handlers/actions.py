"""Slack listeners for action plans: the "Mark done" button (wherever it appears) and `/qmf actions`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.actions import messages as blocks
from bot.actions import service as actions
from bot.core import outbox
from bot.core.audit import record
from bot.core.blocks import blocks_json, context
from bot.core.directory import who
from bot.core.errors import NotFound
from bot.core.runtime import Runtime
from handlers.common import CommandCall, reply_for, runtime_from, subcommand


def share_clock(rt: Runtime) -> None:
    """Give every session the runtime's clock and timezone, so domain code that is handed only a
    session (e.g. add_action's "not in the past" check) agrees with the scheduler and the sandbox."""
    info = dict(rt.db.sessions.kw.get("info") or {})
    info[actions.CLOCK_KEY] = rt.now
    info[actions.TIMEZONE_KEY] = rt.settings.qmf_timezone
    rt.db.sessions.configure(info=info)


@subcommand("actions", "actions", "your open actions, with a Mark done button on each", order=40)
def list_actions(call: CommandCall) -> None:
    with call.rt.db.session() as session:
        if not who(session, call.user_id).known:
            call.reply("You are not in the QMF directory, so you have no actions here. "
                       "Ask a QMF admin to add you to the QMF directory.")
            return
        today = call.rt.calendar(session).today(call.rt.now())
        mine = actions.open_actions(session, call.user_id)
        if not mine:
            call.reply(":tada: You have no open actions. Nothing to do here.")
            return
        sources = {a.id: actions.source_text(session, a) for a in mine}
        record(session, call.user_id, "view", "action-list", call.user_id, count=len(mine))
        text = blocks.open_actions_text(mine, today)
        listing = blocks_json(blocks.open_actions_blocks(mine, sources, today))
    call.reply(text, listing)


def _action_id(body: dict[str, Any]) -> int:
    raw = ((body.get("actions") or [{}])[0]).get("value")
    try:
        return int(str(raw))
    except ValueError:
        raise NotFound("I can't find that action any more: it may have been removed.") from None


def mark_done_clicked(rt: Runtime, body: dict[str, Any], respond: Respond) -> None:
    """Mark done, then show it where the button was: the DM loses its button, a list is refreshed."""
    user = body["user"]["id"]
    container = body.get("container") or {}
    with rt.db.session() as session:
        action = actions.mark_done(session, _action_id(body), user)
        source = actions.source_text(session, action)
        by = actions.done_by(session, action) or user
        today = rt.calendar(session).today(rt.now())
        day = actions.done_on(session, action) or today
        if container.get("is_ephemeral"):
            mine = actions.open_actions(session, user)
            sources = {a.id: actions.source_text(session, a) for a in mine}
            note = context(blocks.done_line(day, by))
            if mine:
                text = blocks.open_actions_text(mine, today)
                listing = blocks.open_actions_blocks(mine, sources, today)
                new_blocks = blocks_json([listing[0], note, *listing[1:]][: blocks.MESSAGE_BLOCK_LIMIT])
            else:
                text = "All done: you have no open actions."
                new_blocks = blocks_json([note, context(":tada: You have no open actions.")])
        else:
            original = (body.get("message") or {}).get("blocks")
            new_blocks = blocks.done_message_blocks(original, action, source, day, by)
            text = f"Done on {blocks.day_label(day)} by <@{by}>: {action.description}"
    if body.get("response_url"):
        respond(text=text, blocks=new_blocks, replace_original=True)


def on_mark_done(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    try:
        mark_done_clicked(rt, body, respond)
    except Exception as exc:  # noqa: BLE001 - a refusal or failure is words for the person, never a traceback
        message = reply_for(exc)
        if body.get("response_url"):
            respond(text=message, response_type="ephemeral", replace_original=False)
        else:  # pressed in App Home or a modal: there is no message to answer, so DM them
            with rt.db.session() as session:
                outbox.enqueue(session, channel=body["user"]["id"], text=message)


def register(app: App, rt: Runtime) -> None:
    share_clock(rt)
    app.action(blocks.ActionIds.MARK_DONE.value)(on_mark_done)
