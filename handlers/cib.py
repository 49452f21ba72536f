"""Slack listeners for the Continuous Improvement Board: ``/qmf cib``, scheduling a meeting and
recording the Board's decisions.

Listeners only parse what Slack sent and call ``bot.cib.service``, which checks from the database
who may act. A button's value and a modal's private_metadata say *which* record, never who may
touch it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.cib import messages as views
from bot.cib import service as board
from bot.cib.types import CibIds, CibMeta, parse_day
from bot.core import directory as org
from bot.core.blocks import blocks_json, notice_view
from bot.core.runtime import Runtime
from handlers.common import (
    CommandCall,
    button_id,
    run_button,
    runtime_from,
    subcommand,
    submit_modal,
    today_of,
    user_of,
    view_values,
)

log = logging.getLogger(__name__)

ids = CibIds


@subcommand("cib", "cib [schedule]", "Continuous Improvement Board meetings and what is queued for them", order=61)
def cib(call: CommandCall) -> None:
    rt = call.rt
    what = call.args[0].lower() if call.args else ""
    with rt.db.session() as session:
        me = org.who(session, call.user_id)
        today = today_of(rt, session)
        if what == "schedule":
            if not board.can_schedule_cib(me):
                call.reply(board.SCHEDULE_REFUSAL)
                return
            upcoming = [m.meets_on for m in board.upcoming_meetings(session, today)]
        elif what:
            call.reply("`/qmf cib` lists the Board's meetings and what is queued; `/qmf cib schedule` adds a date.")
            return
        else:
            if not me.known:
                call.reply("You are not in the QMF directory yet: ask a QMF admin to add you.")
                return
            listing = board.cib_listing(session, slack_id=call.user_id, today=today)
    if what == "schedule":
        call.client.views_open(trigger_id=call.trigger_id, view=views.cib_schedule_modal(upcoming))
        return
    text, body = views.cib_listing_blocks(listing)
    call.reply(text, blocks_json(body))


def schedule(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> dict[str, Any]:
        raw = view_values(view).get(ids.CIB_DATE)
        with rt.db.session() as session:
            meeting = board.schedule_meeting(session, actor=user_of(body), meets_on=parse_day(raw),
                                             today=today_of(rt, session), calendar=rt.calendar(session))
            when = views.nice_date(meeting.meets_on)
        return {"response_action": "update",
                "view": notice_view("Meeting scheduled", f"The Continuous Improvement Board meets on *{when}*. "
                                                         f"Its digest goes to the Board's channel beforehand.")}

    submit_modal(ack, work, keep_open_block=ids.CIB_DATE.value, body=body, rt=rt)

def open_decision(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        container = body.get("container") or {}
        channel = ts = None
        if container.get("type") == "message" and not container.get("is_ephemeral"):
            channel, ts = container.get("channel_id"), container.get("message_ts")
        with rt.db.session() as session:
            item = board.decision_form(session, actor=user_of(body), item_id=button_id(body))
            view = views.cib_decision_modal(item_id=item.id, title=item.title,
                                            received=True, decision=item.decision, channel=channel, ts=ts)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work)

def save_decision(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> None:
        meta = CibMeta.load(view.get("private_metadata"))
        values = view_values(view)
        with rt.db.session() as session:
            board.record_decision(session, actor=user_of(body), item_id=meta.item_id or 0,
                                  received=bool(values.get(ids.CIB_RECEIVED)),
                                  decision=values.get(ids.CIB_DECISION_TEXT), today=today_of(rt, session),
                                  now=rt.now(), channel=meta.channel, ts=meta.ts)

    submit_modal(ack, work, keep_open_block=ids.CIB_DECISION_TEXT.value, body=body, rt=rt)


def register(app: App, rt: Runtime) -> None:
    app.view(ids.CIB_SCHEDULE_MODAL.value)(schedule)
    app.action(ids.CIB_RECORD_DECISION.value)(open_decision)
    app.view(ids.CIB_DECISION_MODAL.value)(save_decision)
