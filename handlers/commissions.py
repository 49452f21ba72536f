"""Slack listeners for themed audits, learning visits and the Continuous Improvement Board.

Listeners only parse what Slack sent and call ``bot.commissions.service``, which checks from the database
who may act. A button's value and a modal's private_metadata say *which* record, never who may
touch it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commissions import messages as views
from bot.commissions import service as commissions
from bot.commissions.messages import CommissionIds, CommissionMeta
from bot.core import directory as org
from bot.core import outbox
from bot.core.blocks import blocks_json, notice_view
from bot.core.errors import NotFound, NotPermitted
from bot.core.runtime import Runtime
from handlers.common import CommandCall, reply_for, subcommand, submit_modal, view_values

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# plumbing


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _value_id(body: dict[str, Any]) -> int:
    try:
        return int(_value(body))
    except ValueError:
        raise NotFound("Sorry, that button is out of date. Nothing was changed.") from None


def _meta(view: dict[str, Any]) -> CommissionMeta:
    return CommissionMeta.load(view.get("private_metadata"))


def _today(rt: Runtime, session: Any) -> date:
    return rt.calendar(session).today(rt.now())


def _button(rt: Runtime, client: WebClient, body: dict[str, Any], respond: Respond, work: Callable[[], None]) -> None:
    """Run a button's work; a refusal is told where the person pressed, never a traceback."""
    try:
        work()
    except Exception as exc:  # noqa: BLE001
        message = reply_for(exc)
        try:
            if body.get("response_url"):
                respond(text=message, response_type="ephemeral", replace_original=False)
            elif (body.get("view") or {}).get("type") == "modal":
                client.views_push(trigger_id=body["trigger_id"], view=notice_view("Not now", message))
            else:  # App Home: no message to answer, so a DM
                with rt.db.session() as session:
                    outbox.enqueue(session, channel=_user(body), text=message)
        except Exception:  # noqa: BLE001 - telling them failed too; the log has it
            log.exception("could not tell %s why a button did nothing", _user(body))


def _tell(client: WebClient, body: dict[str, Any], respond: Respond, text: str) -> None:
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        client.views_open(trigger_id=body["trigger_id"], view=notice_view("Done", text))


# ---------------------------------------------------------------------------------------------
# /qmf commission and /qmf cib


COMMISSION_USAGE = ("`/qmf commission themed` commissions a themed audit (DLT members, Quality & Improvement and "
                    "board leads); `/qmf commission visit` commissions a learning visit (DLT members).")


@subcommand("commission", "commission themed|visit", "commission a themed audit or a learning visit", order=60)
def commission(call: CommandCall) -> None:
    what = call.args[0].lower() if call.args else ""
    if what in ("themed", "themed-audit", "audit"):
        open_themed_commission(call)
    elif what in ("visit", "learning-visit"):
        open_visit_commission(call)
    else:
        call.reply(COMMISSION_USAGE)


def open_themed_commission(call: CommandCall) -> None:
    rt = call.rt
    with rt.db.session() as session:
        me = org.who(session, call.user_id)
        if not commissions.can_commission_themed(me):
            call.reply(commissions.THEMED_REFUSAL)
            return
        today = _today(rt, session)
        meetings = [views.MeetingChoice(m.id, m.meets_on)
                    for m in commissions.upcoming_meetings(session, today) if not commissions.digest_sent(session, m)]
        policy = rt.policy(session)
    if not meetings:
        call.reply("No Continuous Improvement Board meeting is scheduled, and a themed audit reports to one. Ask an "
                   "admin or Quality & Improvement to add the date with `/qmf cib schedule` (or in the org file).")
        return
    view = views.themed_commission_modal(sources=policy.themed_audit_sources, meetings=meetings, today=today)
    call.client.views_open(trigger_id=call.trigger_id, view=view)


def open_visit_commission(call: CommandCall) -> None:
    rt = call.rt
    with rt.db.session() as session:
        me = org.who(session, call.user_id)
        if not commissions.can_commission_visit(me):
            call.reply(commissions.VISIT_REFUSAL)
            return
        services = [(s.key, s.name) for s in commissions.commissionable_services(session, me)]
        today = _today(rt, session)
    if not services:
        call.reply("Your division has no active services in the directory, so there is nothing to visit yet.")
        return
    call.client.views_open(trigger_id=call.trigger_id, view=views.visit_commission_modal(services=services,
                                                                                           today=today))


@subcommand("cib", "cib [schedule]", "Continuous Improvement Board meetings and what is queued for them", order=61)
def cib(call: CommandCall) -> None:
    rt = call.rt
    what = call.args[0].lower() if call.args else ""
    with rt.db.session() as session:
        me = org.who(session, call.user_id)
        today = _today(rt, session)
        if what == "schedule":
            if not commissions.can_schedule_cib(me):
                call.reply(commissions.SCHEDULE_REFUSAL)
                return
            upcoming = [m.meets_on for m in commissions.upcoming_meetings(session, today)]
        elif what:
            call.reply("`/qmf cib` lists the Board's meetings and what is queued; `/qmf cib schedule` adds a date.")
            return
        else:
            if not me.known:
                call.reply("You are not in the QMF directory yet: ask your QMF admin to add you to the org file.")
                return
            listing = commissions.cib_listing(session, slack_id=call.user_id, today=today)
    if what == "schedule":
        call.client.views_open(trigger_id=call.trigger_id, view=views.cib_schedule_modal(upcoming))
        return
    text, body = views.cib_listing_blocks(listing)
    call.reply(text, blocks_json(body))


# ---------------------------------------------------------------------------------------------
# listeners


def register(app: App, rt: Runtime) -> None:
    ids = CommissionIds

    # --- themed audits ------------------------------------------------------------------------

    @app.view(ids.THEMED_MODAL.value)
    def commission_themed(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> dict[str, Any]:
            data = commissions.ThemedAuditInput.from_values(view_values(view))
            with rt.db.session() as session:
                audit = commissions.commission_themed_audit(
                    session, actor=_user(body), data=data, today=_today(rt, session), calendar=rt.calendar(session),
                    policy=rt.policy(session))
                told = len(audit.auditors)
                theme = audit.theme
            text = (f"You commissioned the themed audit *{theme}*. The {told} auditor(s) have their brief by DM, "
                    f"and your DM has the buttons for the workshop.")
            return {"response_action": "update", "view": notice_view("Audit commissioned", text)}

        submit_modal(ack, work, keep_open_block=ids.THEMED_THEME.value)

    @app.action(ids.RECORD_FINDINGS.value)
    def open_findings(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            audit_part, _, case_part = _value(body).partition(":")
            try:
                audit_id = int(audit_part)
                case_id = None if case_part == "new" else int(case_part)
            except ValueError:
                raise NotFound("Sorry, that button is out of date. Nothing was changed.") from None
            with rt.db.session() as session:
                brief, case, prefill = commissions.finding_form(session, actor=_user(body), audit_id=audit_id,
                                                                case_id=case_id)
                themes = rt.policy(session).learning_themes
            client.views_open(trigger_id=body["trigger_id"],
                              view=views.findings_modal(brief=brief, case_id=case, prefill=prefill, themes=themes))

        _button(rt, client, body, respond, work)

    @app.view(ids.FINDINGS_MODAL.value)
    def save_findings(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            meta = _meta(view)
            values = view_values(view)
            if meta.audit_id is None:
                raise NotFound("Sorry, this form is out of date. Please close it and start again.")
            with rt.db.session() as session:
                commissions.record_finding(
                    session, actor=_user(body), audit_id=meta.audit_id, case_id=meta.case_id,
                    case_ref=values.get(ids.FINDINGS_CASE), against_theory=values.get(ids.FINDINGS_FOUND),
                    evidence=values.get(ids.FINDINGS_EVIDENCE), service_user_views=values.get(ids.FINDINGS_VIEWS),
                    themes=values.get(ids.FINDINGS_THEMES) or [], today=_today(rt, session),
                    policy=rt.policy(session))

        submit_modal(ack, work, keep_open_block=ids.FINDINGS_FOUND.value)

    @app.action(ids.ATTACH_MATERIAL.value)
    def open_material(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            with rt.db.session() as session:
                audit = commissions.material_form(session, actor=_user(body), audit_id=_value_id(body))
                view = views.material_modal(brief=commissions.themed_brief(audit),
                                            performance_notes=audit.performance_notes,
                                            service_user_feedback=audit.service_user_feedback)
            client.views_open(trigger_id=body["trigger_id"], view=view)

        _button(rt, client, body, respond, work)

    @app.view(ids.MATERIAL_MODAL.value)
    def save_material(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            meta = _meta(view)
            values = view_values(view)
            with rt.db.session() as session:
                commissions.attach_material(session, actor=_user(body), audit_id=meta.audit_id or 0,
                                            performance_notes=values.get(ids.MATERIAL_PERFORMANCE),
                                            service_user_feedback=values.get(ids.MATERIAL_FEEDBACK),
                                            today=_today(rt, session))

        submit_modal(ack, work, keep_open_block=ids.MATERIAL_PERFORMANCE.value)

    @app.action(ids.SEND_COLLATED.value)
    def send_collated(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            with rt.db.session() as session:
                audit = commissions.get_themed_audit(session, _value_id(body))
                sent = commissions.send_collated_findings(session, audit=audit, actor=_user(body), now=rt.now(),
                                                          policy=rt.policy(session))
                theme = audit.theme
            _tell(client, body, respond, f"The collated findings of *{theme}* went to {sent} person(s): the "
                                         f"auditors and you.")

        _button(rt, client, body, respond, work)

    @app.action(ids.RECORD_MODERATED.value)
    def open_moderated(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            with rt.db.session() as session:
                policy = rt.policy(session)
                audit, collation, chosen = commissions.moderated_form(session, actor=_user(body),
                                                                      audit_id=_value_id(body), policy=policy)
                view = views.moderated_modal(brief=commissions.themed_brief(audit), collation=collation,
                                             themes=policy.learning_themes, findings=audit.moderated_findings,
                                             recommendations=audit.recommendations, chosen=chosen)
            client.views_open(trigger_id=body["trigger_id"], view=view)

        _button(rt, client, body, respond, work)

    @app.view(ids.MODERATED_MODAL.value)
    def save_moderated(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            meta = _meta(view)
            values = view_values(view)
            with rt.db.session() as session:
                commissions.record_moderated_findings(
                    session, actor=_user(body), audit_id=meta.audit_id or 0,
                    findings=values.get(ids.MODERATED_FINDINGS),
                    recommendations=values.get(ids.MODERATED_RECOMMENDATIONS),
                    themes=values.get(ids.MODERATED_THEMES) or [], today=_today(rt, session), now=rt.now(),
                    policy=rt.policy(session))

        submit_modal(ack, work, keep_open_block=ids.MODERATED_FINDINGS.value)

    # --- learning visits ----------------------------------------------------------------------

    @app.view(ids.VISIT_MODAL.value)
    def commission_visit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> dict[str, Any]:
            data = commissions.VisitInput.from_values(view_values(view))
            with rt.db.session() as session:
                visit, warning = commissions.commission_visit(
                    session, actor=_user(body), data=data, today=_today(rt, session), calendar=rt.calendar(session),
                    policy=rt.policy(session))
                plan = commissions.visit_plan(visit)
            return {"response_action": "update", "view": views.visit_commissioned_view(plan, warning)}

        submit_modal(ack, work, keep_open_block=ids.VISIT_NEED.value)

    def record_view(session: Any, visit_id: int, actor: str) -> Any:
        visit = commissions.visit_record_form(session, actor=actor, visit_id=visit_id, today=_today(rt, session))
        drafts = commissions.plan_lines(commissions.plan_actions(session, visit))
        return views.visit_record_modal(plan=commissions.visit_plan(visit), feedback=visit.feedback,
                                        plan_summary=visit.plan_summary, drafts=drafts)

    @app.action(ids.RECORD_VISIT.value)
    def open_record_visit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            with rt.db.session() as session:
                view = record_view(session, _value_id(body), _user(body))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        _button(rt, client, body, respond, work)

    @app.action(ids.VISIT_ADD_ACTION.value)
    def push_add_action(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        from bot.actions.messages import action_input_blocks

        ack()

        def work() -> None:
            parent = body.get("view") or {}
            if parent.get("type") != "modal":
                raise NotFound("Actions are added from the visit form: press *Record visit feedback*.")
            visit_id = _value_id(body)
            with rt.db.session() as session:
                visit = commissions.visit_record_form(session, actor=_user(body), visit_id=visit_id,
                                                      today=_today(rt, session))
                service_name = visit.service.name
                manager = visit.service.service_manager.slack_id
            view = views.visit_action_modal(visit_id=visit_id, parent_view=str(parent.get("id")),
                                            service_name=service_name,
                                            input_blocks=action_input_blocks(initial_owner=manager))
            client.views_push(trigger_id=body["trigger_id"], view=view)

        _button(rt, client, body, respond, work)

    @app.view(ids.VISIT_ACTION_MODAL.value)
    def save_visit_action(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        from bot.actions.messages import ActionIds, parse_action_values

        meta = _meta(view)

        def work() -> None:
            owner, due_on, description = parse_action_values(view_values(view))
            with rt.db.session() as session:
                commissions.add_visit_action(session, actor=_user(body), visit_id=meta.visit_id or 0, owner=owner,
                                             description=description, due_on=due_on, today=_today(rt, session),
                                             policy=rt.policy(session))

        if submit_modal(ack, work, keep_open_block=ActionIds.DESCRIPTION.value):
            parent_id = view.get("previous_view_id") or meta.parent_view
            if parent_id and meta.visit_id:
                try:
                    with rt.db.session() as session:
                        refreshed = record_view(session, meta.visit_id, _user(body))
                    client.views_update(view_id=parent_id, view=refreshed)
                except (SlackApiError, NotPermitted, NotFound) as exc:  # the form was closed: the draft is kept
                    log.info("could not refresh the visit form %s: %s", parent_id, exc)

    @app.view(ids.VISIT_RECORD_MODAL.value)
    def save_record_visit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            meta = _meta(view)
            values = view_values(view)
            with rt.db.session() as session:
                commissions.record_visit(session, actor=_user(body), visit_id=meta.visit_id or 0,
                                         feedback=values.get(ids.VISIT_FEEDBACK),
                                         plan_summary=values.get(ids.VISIT_PLAN), today=_today(rt, session),
                                         now=rt.now(), policy=rt.policy(session))

        submit_modal(ack, work, keep_open_block=ids.VISIT_FEEDBACK.value)

    # --- the Continuous Improvement Board ------------------------------------------------------

    @app.view(ids.CIB_SCHEDULE_MODAL.value)
    def schedule(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> dict[str, Any]:
            raw = view_values(view).get(ids.CIB_DATE)
            with rt.db.session() as session:
                meeting = commissions.schedule_meeting(session, actor=_user(body), meets_on=commissions.parse_day(raw),
                                                       today=_today(rt, session), calendar=rt.calendar(session))
                when = views.nice_date(meeting.meets_on)
            return {"response_action": "update",
                    "view": notice_view("Meeting scheduled", f"The Continuous Improvement Board meets on *{when}*. "
                                                             f"Its digest goes to the Board's channel beforehand.")}

        submit_modal(ack, work, keep_open_block=ids.CIB_DATE.value)

    @app.action(ids.CIB_RECORD_DECISION.value)
    def open_decision(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()

        def work() -> None:
            container = body.get("container") or {}
            channel = ts = None
            if container.get("type") == "message" and not container.get("is_ephemeral"):
                channel, ts = container.get("channel_id"), container.get("message_ts")
            with rt.db.session() as session:
                item = commissions.decision_form(session, actor=_user(body), item_id=_value_id(body))
                view = views.cib_decision_modal(item_id=item.id, title=item.title,
                                                received=True, decision=item.decision, channel=channel, ts=ts)
            client.views_open(trigger_id=body["trigger_id"], view=view)

        _button(rt, client, body, respond, work)

    @app.view(ids.CIB_DECISION_MODAL.value)
    def save_decision(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def work() -> None:
            meta = _meta(view)
            values = view_values(view)
            with rt.db.session() as session:
                commissions.record_decision(session, actor=_user(body), item_id=meta.item_id or 0,
                                            received=bool(values.get(ids.CIB_RECEIVED)),
                                            decision=values.get(ids.CIB_DECISION_TEXT), today=_today(rt, session),
                                            now=rt.now(), channel=meta.channel, ts=meta.ts)

        submit_modal(ack, work, keep_open_block=ids.CIB_DECISION_TEXT.value)
