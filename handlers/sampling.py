"""Slack listeners for random sampling: the audit and moderation buttons and modals, and `/qmf sample`.

Listeners only parse what Slack sent and call ``bot.sampling.service``; every permission and blindness
check is made there, so a replayed or forged payload meets the same rules as a real click.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core import outbox
from bot.core.errors import NotFound
from bot.core.grades import Grade
from bot.core.runtime import Runtime
from bot.sampling import messages as blocks
from bot.sampling import service as sampling
from bot.sampling.messages import CaseMetadata, SampleIds
from handlers.common import CommandCall, reply_for, subcommand, submit_modal, view_values

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


def _tell(rt: Runtime, body: dict[str, Any], respond: Respond, message: str) -> None:
    """Answer where the button was: ephemerally under a message, else (App Home) by DM."""
    if body.get("response_url"):
        respond(text=message, response_type="ephemeral", replace_original=False)
        return
    with rt.db.session() as session:
        outbox.enqueue(session, channel=body["user"]["id"], text=message)


def open_audit(rt: Runtime, body: dict[str, Any], client: WebClient) -> None:
    user = body["user"]["id"]
    case_id = _case_id_from_button(body)
    with rt.db.session() as session:
        form = sampling.audit_form(session, case_id=case_id, slack_id=user, policy=rt.policy(session))
    client.views_open(trigger_id=body["trigger_id"], view=blocks.audit_modal(form))


def open_moderation(rt: Runtime, body: dict[str, Any], client: WebClient) -> None:
    user = body["user"]["id"]
    case_id = _case_id_from_button(body)
    with rt.db.session() as session:
        grades, qi_reason, pc_reason = sampling.moderation_form(session, case_id=case_id, slack_id=user)
    client.views_open(trigger_id=body["trigger_id"],
                      view=blocks.moderation_modal(grades, qi_rationale=qi_reason, pc_rationale=pc_reason))


def register(app: App, rt: Runtime) -> None:
    @app.action(SampleIds.RECORD_AUDIT.value)
    def on_record_audit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        try:
            open_audit(rt, body, client)
        except Exception as exc:  # noqa: BLE001 - a refusal or failure is words for the person
            _tell(rt, body, respond, reply_for(exc))

    @app.action(SampleIds.RECORD_MODERATION.value)
    def on_record_moderation(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        try:
            open_moderation(rt, body, client)
        except Exception as exc:  # noqa: BLE001
            _tell(rt, body, respond, reply_for(exc))

    @app.view(SampleIds.AUDIT_MODAL.value)
    def on_audit_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]

        def work() -> dict[str, Any]:
            case_id = _case_id_from_view(view)
            with rt.db.session() as session:
                row, form, both = sampling.submit_audit(
                    session, case_id=case_id, slack_id=user, values=view_values(view), now=rt.now(),
                    calendar=rt.calendar(session), policy=rt.policy(session))
                grade = Grade(row.grade)
            saved = blocks.audit_saved_view(case_ref=form.case_ref, grade=grade, partner=form.partner,
                                            partner_done=both)
            return {"response_action": "update", "view": saved}

        submit_modal(ack, work, keep_open_block=SampleIds.RATIONALE.value)

    @app.view(SampleIds.MODERATION_MODAL.value)
    def on_moderation_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]

        def work() -> dict[str, Any]:
            case_id = _case_id_from_view(view)
            with rt.db.session() as session:
                row = sampling.record_moderation(
                    session, case_id=case_id, slack_id=user, values=view_values(view), now=rt.now(),
                    calendar=rt.calendar(session), policy=rt.policy(session))
                case_ref, grade = row.case.case_ref, Grade(row.agreed_grade)
            return {"response_action": "update", "view": blocks.moderation_saved_view(case_ref=case_ref, grade=grade)}

        submit_modal(ack, work, keep_open_block=SampleIds.AGREED_REASON.value)


@subcommand("sample", "sample service <key> | sample report [quarter]",
            "random sampling: choose the next service (Q&I); the quarter's report (Q&I, DLT)", order=50)
def sample_command(call: CommandCall) -> None:
    action = call.args[0].lower() if call.args else ""
    if action == "service":
        if len(call.args) != 2:
            call.reply("Which service? " + USAGE)
            return
        with call.rt.db.session() as session:
            quarter, service = sampling.set_next_service(
                session, actor=call.user_id, service_key=call.args[1], calendar=call.rt.calendar(session),
                now=call.rt.now())
            name, label = service.name, quarter.label
        call.reply(f"The random sample for {label} will be drawn from {name}.")
        return
    if action == "report":
        asked = " ".join(call.args[1:]) or None  # "2026-27 Q1" may arrive as two words
        with call.rt.db.session() as session:
            report = sampling.report_for(session, actor=call.user_id, quarter_key=asked,
                                         policy=call.rt.policy(session))
            text, message = blocks.report_blocks(report.view, final=report.complete)
        call.reply(text, blocks.as_dicts(message))
        return
    call.reply(USAGE)
