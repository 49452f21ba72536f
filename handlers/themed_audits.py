"""Slack listeners for themed audits, and ``/qmf commission`` (a themed audit or a learning visit).

Listeners only parse what Slack sent and call ``bot.themed_audits.service``, which checks from the
database who may act. A button's value and a modal's private_metadata say *which* record, never
who may touch it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.cib import service as board
from bot.core import directory as org
from bot.core.blocks import notice_view
from bot.core.errors import NotFound
from bot.core.runtime import Runtime
from bot.themed_audits import messages as views
from bot.themed_audits import service as themed
from bot.themed_audits.types import MeetingChoice, ThemedAuditIds, ThemedAuditInput, ThemedAuditMeta
from handlers.common import (
    CommandCall,
    button_id,
    run_button,
    runtime_from,
    submit_modal,
    tell,
    today_of,
    user_of,
    view_values,
)

log = logging.getLogger(__name__)

ids = ThemedAuditIds


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _meta(view: dict[str, Any]) -> ThemedAuditMeta:
    return ThemedAuditMeta.load(view.get("private_metadata"))


def open_themed_commission(call: CommandCall) -> None:
    rt = call.rt
    with rt.db.session() as session:
        me = org.who(session, call.user_id)
        if not themed.can_commission_themed(me):
            call.reply(themed.THEMED_REFUSAL)
            return
        today = today_of(rt, session)
        meetings = [MeetingChoice(m.id, m.meets_on)
                    for m in board.upcoming_meetings(session, today) if not board.digest_sent(session, m)]
        policy = rt.policy(session)
    if not meetings:
        call.reply("No Continuous Improvement Board meeting is scheduled, and a themed audit reports to one. Ask a "
                   "QMF admin or Quality & Improvement to add the date with `/qmf cib schedule`.")
        return
    view = views.themed_commission_modal(sources=policy.themed_audit_sources, meetings=meetings, today=today)
    call.client.views_open(trigger_id=call.trigger_id, view=view)


# ---------------------------------------------------------------------------------------------
# listeners


def commission_themed(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> dict[str, Any]:
        data = ThemedAuditInput.from_values(view_values(view))
        with rt.db.session() as session:
            audit = themed.commission_themed_audit(
                session, actor=user_of(body), data=data, today=today_of(rt, session), calendar=rt.calendar(session),
                policy=rt.policy(session))
            told = len(audit.auditors)
            theme = audit.theme
        text = (f"You commissioned the themed audit *{theme}*. The {told} auditor(s) have their brief by DM, "
                f"and your DM has the buttons for the workshop.")
        return {"response_action": "update", "view": notice_view("Audit commissioned", text)}

    submit_modal(ack, work, keep_open_block=ids.THEMED_THEME.value, body=body, rt=rt)

def open_findings(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        audit_part, _, case_part = _value(body).partition(":")
        try:
            audit_id = int(audit_part)
            case_id = None if case_part == "new" else int(case_part)
        except ValueError:
            raise NotFound("Sorry, that button is out of date. Nothing was changed.") from None
        with rt.db.session() as session:
            brief, case, prefill = themed.finding_form(session, actor=user_of(body), audit_id=audit_id,
                                                       case_id=case_id)
            themes = rt.policy(session).learning_themes
        client.views_open(trigger_id=body["trigger_id"],
                          view=views.findings_modal(brief=brief, case_id=case, prefill=prefill, themes=themes))

    run_button(rt, body, respond, work)

def save_findings(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> None:
        meta = _meta(view)
        values = view_values(view)
        if meta.audit_id is None:
            raise NotFound("Sorry, this form is out of date. Please close it and start again.")
        with rt.db.session() as session:
            themed.record_finding(
                session, actor=user_of(body), audit_id=meta.audit_id, case_id=meta.case_id,
                case_ref=values.get(ids.FINDINGS_CASE), against_theory=values.get(ids.FINDINGS_FOUND),
                evidence=values.get(ids.FINDINGS_EVIDENCE), service_user_views=values.get(ids.FINDINGS_VIEWS),
                themes=values.get(ids.FINDINGS_THEMES) or [], today=today_of(rt, session),
                policy=rt.policy(session))

    submit_modal(ack, work, keep_open_block=ids.FINDINGS_FOUND.value, body=body, rt=rt)

def open_material(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            audit = themed.material_form(session, actor=user_of(body), audit_id=button_id(body))
            view = views.material_modal(brief=themed.themed_brief(audit),
                                        performance_notes=audit.performance_notes,
                                        service_user_feedback=audit.service_user_feedback)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work)

def save_material(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> None:
        meta = _meta(view)
        values = view_values(view)
        with rt.db.session() as session:
            themed.attach_material(session, actor=user_of(body), audit_id=meta.audit_id or 0,
                                   performance_notes=values.get(ids.MATERIAL_PERFORMANCE),
                                   service_user_feedback=values.get(ids.MATERIAL_FEEDBACK),
                                   today=today_of(rt, session))

    submit_modal(ack, work, keep_open_block=ids.MATERIAL_PERFORMANCE.value, body=body, rt=rt)

def send_collated(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            audit = themed.get_themed_audit(session, button_id(body))
            sent = themed.send_collated_findings(session, audit=audit, actor=user_of(body), now=rt.now(),
                                                 policy=rt.policy(session))
            theme = audit.theme
        tell(rt, body, respond, f"The collated findings of *{theme}* went to {sent} person(s): the "
                                f"auditors and you.", title="Done")

    run_button(rt, body, respond, work)

def open_moderated(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            policy = rt.policy(session)
            audit, collation, chosen = themed.moderated_form(session, actor=user_of(body),
                                                             audit_id=button_id(body), policy=policy)
            view = views.moderated_modal(brief=themed.themed_brief(audit), collation=collation,
                                         themes=policy.learning_themes, findings=audit.moderated_findings,
                                         recommendations=audit.recommendations, chosen=chosen)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work)

def save_moderated(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> None:
        meta = _meta(view)
        values = view_values(view)
        with rt.db.session() as session:
            themed.record_moderated_findings(
                session, actor=user_of(body), audit_id=meta.audit_id or 0,
                findings=values.get(ids.MODERATED_FINDINGS),
                recommendations=values.get(ids.MODERATED_RECOMMENDATIONS),
                themes=values.get(ids.MODERATED_THEMES) or [], today=today_of(rt, session), now=rt.now(),
                policy=rt.policy(session))

    submit_modal(ack, work, keep_open_block=ids.MODERATED_FINDINGS.value, body=body, rt=rt)


def register(app: App, rt: Runtime) -> None:
    app.view(ids.THEMED_MODAL.value)(commission_themed)
    app.action(ids.RECORD_FINDINGS.value)(open_findings)
    app.view(ids.FINDINGS_MODAL.value)(save_findings)
    app.action(ids.ATTACH_MATERIAL.value)(open_material)
    app.view(ids.MATERIAL_MODAL.value)(save_material)
    app.action(ids.SEND_COLLATED.value)(send_collated)
    app.action(ids.RECORD_MODERATED.value)(open_moderated)
    app.view(ids.MODERATED_MODAL.value)(save_moderated)
