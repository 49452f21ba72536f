"""Slack listeners for cover: the Reassign button (Q&I DM and App Home), its modal, and Close.

Permission is checked by ``bot.cover.service`` on the server; a button's value (``kind:id:slot``)
only says which work, and a forged one is refused."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.core.blocks import notice_view
from bot.core.errors import QmfError
from bot.core.runtime import Runtime
from bot.cover import service as cover
from bot.cover.types import CoverIds
from handlers.common import run_button, runtime_from, submit_modal, tell, today_of, user_of, view_values


def _value(body: dict[str, Any]) -> str:
    return str(((body.get("actions") or [{}])[0]).get("value") or "")


def open_reassign(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            view = cover.reassign_modal(session, actor=user_of(body), key=_value(body),
                                        kinds=rt.features.work_kinds())
        rt.client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work, title="Not reassigned")


def save_reassign(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)

    def work() -> dict[str, Any]:
        new = str(view_values(view).get(CoverIds.NEW_PERSON.value) or "")
        with rt.db.session() as session:
            done = cover.reassign(session, actor=user_of(body), key=str(view.get("private_metadata") or ""),
                                  new=new, kinds=rt.features.work_kinds(), today=today_of(rt, session),
                                  calendar=rt.calendar(session), policy=rt.policy(session))
        return {"response_action": "update", "view": notice_view("Reassigned", done)}

    submit_modal(ack, work, keep_open_block=CoverIds.NEW_PERSON.value, body=body, rt=rt)


def close_clicked(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        if (body.get("view") or {}).get("type") == "home":  # a to-do button has no confirm: ask in a modal
            with rt.db.session() as session:
                view = cover.close_modal(session, actor=user_of(body), key=_value(body),
                                         kinds=rt.features.work_kinds())
            rt.client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        with rt.db.session() as session:
            done = cover.close(session, actor=user_of(body), key=_value(body), kinds=rt.features.work_kinds(),
                               today=today_of(rt, session), calendar=rt.calendar(session),
                               policy=rt.policy(session))
        tell(rt, body, respond, done, title="Closed")

    run_button(rt, body, respond, work, title="Not closed")


def save_close(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)

    def work() -> dict[str, Any]:
        try:
            with rt.db.session() as session:
                done = cover.close(session, actor=user_of(body), key=str(view.get("private_metadata") or ""),
                                   kinds=rt.features.work_kinds(), today=today_of(rt, session),
                                   calendar=rt.calendar(session), policy=rt.policy(session))
        except QmfError as exc:  # the modal has no input to show an error on: say it in its place
            return {"response_action": "update", "view": notice_view("Not closed", exc.message)}
        return {"response_action": "update", "view": notice_view("Closed", done)}

    submit_modal(ack, work, keep_open_block="", body=body, rt=rt)


def register(app: App, rt: Runtime) -> None:
    app.action(CoverIds.REASSIGN.value)(open_reassign)
    app.action(CoverIds.CLOSE.value)(close_clicked)
    app.view(CoverIds.MODAL.value)(save_reassign)
    app.view(CoverIds.CLOSE_MODAL.value)(save_close)
