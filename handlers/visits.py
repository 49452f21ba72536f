"""Slack listeners for learning visits: commission, record the feedback and the improvement plan.

Listeners only parse what Slack sent and call ``bot.visits.service``, which checks from the database
who may act. A button's value and a modal's private_metadata say *which* record, never who may
touch it. ``/qmf commission visit`` arrives through ``handlers.themed_audits``' ``commission``.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions.messages import ActionIds, action_input_blocks, parse_action_values
from bot.core import directory as org
from bot.core.amendments import NOTHING_CHANGED
from bot.core.blocks import notice_view
from bot.core.errors import NotFound, NotPermitted
from bot.core.runtime import Runtime
from bot.visits import messages as views
from bot.visits import service as visits
from bot.visits.types import VisitIds, VisitInput, VisitMeta
from handlers.common import (
    CommandCall,
    button_id,
    run_button,
    runtime_from,
    submit_modal,
    today_of,
    user_of,
    view_values,
)

log = logging.getLogger(__name__)

ids = VisitIds


def open_visit_commission(call: CommandCall) -> None:
    """``/qmf commission visit``: the commission modal, for DLT members."""
    rt = call.rt
    with rt.db.session() as session:
        me = org.who(session, call.user_id)
        if not visits.can_commission_visit(me):
            call.reply(visits.VISIT_REFUSAL)
            return
        services = [(s.key, s.name) for s in visits.commissionable_services(session, me)]
        today = today_of(rt, session)
    if not services:
        call.reply("Your division has no active services in the directory, so there is nothing to visit yet.")
        return
    call.client.views_open(trigger_id=call.trigger_id, view=views.visit_commission_modal(services=services,
                                                                                           today=today))


def commission_visit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> dict[str, Any]:
        data = VisitInput.from_values(view_values(view))
        with rt.db.session() as session:
            visit, warning = visits.commission_visit(
                session, actor=user_of(body), data=data, today=today_of(rt, session), calendar=rt.calendar(session),
                policy=rt.policy(session))
            plan = visits.visit_plan(visit)
        return {"response_action": "update", "view": views.visit_commissioned_view(plan, warning)}

    submit_modal(ack, work, keep_open_block=ids.VISIT_NEED.value, body=body, rt=rt)

def record_view(rt: Runtime, session: Any, visit_id: int, actor: str) -> Any:
    """The visit-record modal as it stands: the lead reviewer's feedback, plan and draft actions."""
    visit = visits.visit_record_form(session, actor=actor, visit_id=visit_id, today=today_of(rt, session))
    drafts = visits.plan_lines(visits.plan_actions(session, visit))
    teams = [(t.key, t.name) for t in visits.service_teams(session, visit)]
    return views.visit_record_modal(plan=visits.visit_plan(visit), feedback=visit.feedback,
                                    plan_summary=visit.plan_summary, drafts=drafts, teams=teams)


def open_record_visit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            view = record_view(rt, session, button_id(body), user_of(body))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work)

def push_add_action(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        parent = body.get("view") or {}
        if parent.get("type") != "modal":
            raise NotFound("Actions are added from the visit form: press *Record visit feedback*.")
        visit_id = button_id(body)
        with rt.db.session() as session:
            visit = visits.visit_record_form(session, actor=user_of(body), visit_id=visit_id,
                                             today=today_of(rt, session))
            service_name = visit.service.name
            manager = visit.service.service_manager.slack_id
        view = views.visit_action_modal(visit_id=visit_id, parent_view=str(parent.get("id")),
                                        service_name=service_name,
                                        input_blocks=action_input_blocks(initial_owner=manager,
                                                                         placeholder=views.ACTION_PLACEHOLDER))
        client.views_push(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work)

def save_visit_action(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    meta = VisitMeta.load(view.get("private_metadata"))

    def work() -> None:
        owner, due_on, description = parse_action_values(view_values(view))
        with rt.db.session() as session:
            visits.add_visit_action(session, actor=user_of(body), visit_id=meta.visit_id or 0, owner=owner,
                                    description=description, due_on=due_on, today=today_of(rt, session),
                                    policy=rt.policy(session))

    if submit_modal(ack, work, keep_open_block=ActionIds.DESCRIPTION.value, body=body, rt=rt):
        parent_id = view.get("previous_view_id") or meta.parent_view
        if parent_id and meta.visit_id:
            try:
                with rt.db.session() as session:
                    refreshed = record_view(rt, session, meta.visit_id, user_of(body))
                client.views_update(view_id=parent_id, view=refreshed)
            except (SlackApiError, NotPermitted, NotFound) as exc:  # the form was closed: the draft is kept
                log.info("could not refresh the visit form %s: %s", parent_id, exc)

def save_record_visit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> None:
        meta = VisitMeta.load(view.get("private_metadata"))
        values = view_values(view)
        with rt.db.session() as session:
            visits.record_visit(session, actor=user_of(body), visit_id=meta.visit_id or 0,
                                feedback=values.get(ids.VISIT_FEEDBACK),
                                plan_summary=values.get(ids.VISIT_PLAN), today=today_of(rt, session),
                                now=rt.now(), policy=rt.policy(session), teams=_team_keys(values.get(ids.VISIT_TEAMS)))

    submit_modal(ack, work, keep_open_block=ids.VISIT_FEEDBACK.value, body=body, rt=rt)


def open_amend_visit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient,
                     context: BoltContext) -> None:
    """*Amend*, on the recorder's receipt and App Home: the recorded feedback to amend."""
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            view = visits.amend_modal(session, actor=user_of(body), visit_id=button_id(body),
                                      calendar=rt.calendar(session), policy=rt.policy(session), now=rt.now())
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work, title="Sorry")


def save_amend_visit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)

    def work() -> dict[str, Any] | None:
        meta = VisitMeta.load(view.get("private_metadata"))
        values = view_values(view)
        with rt.db.session() as session:
            changed = visits.amend_visit(session, actor=user_of(body), visit_id=meta.visit_id or 0,
                                         feedback=values.get(ids.VISIT_FEEDBACK),
                                         plan_summary=values.get(ids.VISIT_PLAN), calendar=rt.calendar(session),
                                         policy=rt.policy(session), now=rt.now())
        if changed:
            return None
        return {"response_action": "update", "view": notice_view("Nothing changed", NOTHING_CHANGED)}

    submit_modal(ack, work, keep_open_block=ids.VISIT_FEEDBACK.value, body=body, rt=rt)


def _team_keys(raw: Any) -> list[str]:
    """The chosen teams as text whatever arrived, so a forged value meets the service's inline error
    ("Choose teams of ...") rather than a crash."""
    if raw is None:
        return []
    return [str(t) for t in raw] if isinstance(raw, list) else [str(raw)]


def register(app: App, rt: Runtime) -> None:
    app.view(ids.VISIT_MODAL.value)(commission_visit)
    app.action(ids.RECORD_VISIT.value)(open_record_visit)
    app.action(ids.VISIT_ADD_ACTION.value)(push_add_action)
    app.view(ids.VISIT_ACTION_MODAL.value)(save_visit_action)
    app.view(ids.VISIT_RECORD_MODAL.value)(save_record_visit)
    app.action(ids.AMEND_VISIT.value)(open_amend_visit)
    app.view(ids.AMEND_VISIT_MODAL.value)(save_amend_visit)
