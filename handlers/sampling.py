"""Slack listeners for random sampling: the audit and moderation buttons and modals, and `/qmf sample`.

Listeners only parse what Slack sent and call the sampling domain (``bot.sampling.grading``,
``bot.sampling.draw_run``, ``bot.sampling.results``); every permission and blindness check is made
there, so a replayed or forged payload meets the same rules as a real click.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core.errors import NotFound
from bot.core.grades import Grade
from bot.core.runtime import Runtime
from bot.sampling import messages as blocks
from bot.sampling import report_messages
from bot.sampling.corrections import correct_grade, correction_form
from bot.sampling.draw_run import set_next_service
from bot.sampling.findings import request_talk
from bot.sampling.grading import audit_form, moderation_form, record_moderation, submit_audit
from bot.sampling.messages import CaseMetadata
from bot.sampling.results import report_for
from bot.sampling.types import SampleIds
from handlers.common import CommandCall, reply_for, runtime_from, subcommand, submit_modal, tell, view_values

USAGE = ("`/qmf sample service <key>`: choose the service for the next random sample (Q&I, before the draw)\n"
         "`/qmf sample report [quarter]`: the random sample report, moderated cases only (Q&I and DLT)")


def _case_id_from_button(body: dict[str, Any]) -> int:
    raw = ((body.get("actions") or [{}])[0]).get("value")
    try:
        return int(str(raw))
    except ValueError:
        raise NotFound("I can't find that sampled case.") from None


def _case_id_from_view(view: dict[str, Any]) -> int:
    try:
        return CaseMetadata.model_validate_json(view.get("private_metadata") or "").case_id
    except ValidationError:
        raise NotFound("I can't tell which sampled case this form was for; please open it again.") from None


def open_audit(rt: Runtime, body: dict[str, Any], client: WebClient) -> None:
    user = body["user"]["id"]
    case_id = _case_id_from_button(body)
    with rt.db.session() as session:
        form = audit_form(session, case_id=case_id, slack_id=user, policy=rt.policy(session))
    client.views_open(trigger_id=body["trigger_id"], view=blocks.audit_modal(form))


def open_moderation(rt: Runtime, body: dict[str, Any], client: WebClient) -> None:
    user = body["user"]["id"]
    case_id = _case_id_from_button(body)
    with rt.db.session() as session:
        grades, qi_reason, pc_reason = moderation_form(session, case_id=case_id, slack_id=user)
    client.views_open(trigger_id=body["trigger_id"],
                      view=blocks.moderation_modal(grades, qi_rationale=qi_reason, pc_rationale=pc_reason))


def on_record_audit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    try:
        open_audit(rt, body, client)
    except Exception as exc:  # noqa: BLE001 - a refusal or failure is words for the person
        tell(rt, body, respond, reply_for(exc), title="Random sample")

def on_record_moderation(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    try:
        open_moderation(rt, body, client)
    except Exception as exc:  # noqa: BLE001
        tell(rt, body, respond, reply_for(exc), title="Random sample")

def on_talk_it_through(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """The findings DM's "Talk it through": ask both auditors to get in touch; the answer says who."""
    rt = runtime_from(context)
    ack()
    try:
        case_id = _case_id_from_button(body)
        with rt.db.session() as session:
            reply = request_talk(session, case_id=case_id, slack_id=body["user"]["id"], policy=rt.policy(session))
    except Exception as exc:  # noqa: BLE001 - a refusal or failure is words for the person
        reply = reply_for(exc)
    tell(rt, body, respond, reply, title="Random sample")


def on_correct_grade(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    """"Correct agreed grade": Q&I (or an admin) only, checked in ``bot.sampling.corrections``."""
    rt = runtime_from(context)
    ack()
    try:
        case_id = _case_id_from_button(body)
        with rt.db.session() as session:
            form = correction_form(session, case_id=case_id, slack_id=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=blocks.correction_modal(form))
    except Exception as exc:  # noqa: BLE001 - a refusal or failure is words for the person
        tell(rt, body, respond, reply_for(exc), title="Correct agreed grade")


def on_correction_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    user = body["user"]["id"]

    def work() -> dict[str, Any]:
        case_id = _case_id_from_view(view)
        with rt.db.session() as session:
            row = correct_grade(session, case_id=case_id, slack_id=user, values=view_values(view), now=rt.now(),
                                calendar=rt.calendar(session), policy=rt.policy(session))
            saved = blocks.correction_saved_view(case_ref=row.case.case_ref,
                                                 before=Grade(row.from_grade), after=Grade(row.to_grade))
        return {"response_action": "update", "view": saved}

    submit_modal(ack, work, keep_open_block=SampleIds.CORRECTION_REASON.value, body=body, rt=rt)


def on_audit_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    user = body["user"]["id"]

    def work() -> dict[str, Any]:
        case_id = _case_id_from_view(view)
        with rt.db.session() as session:
            row, form, both = submit_audit(
                session, case_id=case_id, slack_id=user, values=view_values(view), now=rt.now(),
                calendar=rt.calendar(session), policy=rt.policy(session))
            grade = Grade(row.grade)
        saved = blocks.audit_saved_view(case_ref=form.case_ref, grade=grade, partner=form.partner,
                                        partner_done=both)
        return {"response_action": "update", "view": saved}

    submit_modal(ack, work, keep_open_block=SampleIds.RATIONALE.value, body=body, rt=rt)

def on_moderation_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    user = body["user"]["id"]

    def work() -> dict[str, Any]:
        case_id = _case_id_from_view(view)
        with rt.db.session() as session:
            row = record_moderation(
                session, case_id=case_id, slack_id=user, values=view_values(view), now=rt.now(),
                calendar=rt.calendar(session), policy=rt.policy(session))
            case_ref, grade = row.case.case_ref, Grade(row.agreed_grade)
        return {"response_action": "update", "view": blocks.moderation_saved_view(case_ref=case_ref, grade=grade)}

    submit_modal(ack, work, keep_open_block=SampleIds.AGREED_REASON.value, body=body, rt=rt)


def register(app: App, rt: Runtime) -> None:
    app.action(SampleIds.RECORD_AUDIT.value)(on_record_audit)
    app.action(SampleIds.RECORD_MODERATION.value)(on_record_moderation)
    app.action(SampleIds.TALK_IT_THROUGH.value)(on_talk_it_through)
    app.view(SampleIds.AUDIT_MODAL.value)(on_audit_submitted)
    app.view(SampleIds.MODERATION_MODAL.value)(on_moderation_submitted)
    app.action(SampleIds.CORRECT_GRADE.value)(on_correct_grade)
    app.view(SampleIds.CORRECT_MODAL.value)(on_correction_submitted)


@subcommand("sample", "sample service <key> | sample report [quarter]",
            "random sampling: choose the next service (Q&I); the quarter's report (Q&I, DLT)", order=50)
def sample_command(call: CommandCall) -> None:
    action = call.args[0].lower() if call.args else ""
    if action == "service":
        if len(call.args) != 2:
            call.reply("Which service? " + USAGE)
            return
        with call.rt.db.session() as session:
            quarter, service = set_next_service(
                session, actor=call.user_id, service_key=call.args[1], calendar=call.rt.calendar(session),
                now=call.rt.now())
            name, label = service.name, quarter.label
        call.reply(f"The random sample for {label} will be drawn from {name}.")
        return
    if action == "report":
        asked = " ".join(call.args[1:]) or None  # "2026-27 Q1" may arrive as two words
        with call.rt.db.session() as session:
            report = report_for(session, actor=call.user_id, quarter_key=asked,
                                         policy=call.rt.policy(session))
            text, message = report_messages.report_blocks(report.view, final=report.complete)
        call.reply(text, blocks.as_dicts(message))
        return
    call.reply(USAGE)
