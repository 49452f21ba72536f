"""Slack listeners for case proposals: /propose-case, /qmf propose, /qmf proposals, the "Propose a case",
"Edit", "Withdraw" and "Propose again next quarter" buttons, and the proposal modal. The rules live in
bot.learning_audits.proposals (and carry, for a case carried into next quarter)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError

from bot.core.blocks import notice_view
from bot.core.errors import NotPermitted, QmfError
from bot.core.runtime import Runtime
from bot.learning_audits import carry, proposals
from bot.learning_audits.proposal_messages import ProposalMeta
from bot.learning_audits.rounds import ProposalsClosed
from bot.learning_audits.types import ProposalIds
from handlers.common import CommandCall, reply_for, runtime_from, subcommand, submit_modal, tell, view_values

log = logging.getLogger(__name__)


def _open_modal(rt: Runtime, client: WebClient, *, trigger_id: str, user: str,
                proposal_id: int | None = None) -> None:
    with rt.db.session() as session:
        view = proposals.proposal_view(session, actor=user, now=rt.now(), calendar=rt.calendar(session),
                                       policy=rt.policy(session), proposal_id=proposal_id)
    client.views_open(trigger_id=trigger_id, view=view)


def _open_or_explain(rt: Runtime, body: dict[str, Any], client: WebClient, respond: Respond, *, user: str,
                     proposal_id: int | None = None) -> None:
    try:
        _open_modal(rt, client, trigger_id=body.get("trigger_id", ""), user=user, proposal_id=proposal_id)
    except Exception as exc:  # noqa: BLE001 - a refusal or failure gets words, never a traceback
        tell(rt, body, respond, reply_for(exc))


def _proposal_id(body: dict[str, Any]) -> int | None:
    try:
        return int((body.get("actions") or [{}])[0].get("value") or "")
    except ValueError:
        return None


@subcommand("propose", "propose", "propose a case for this quarter's learning audits", order=10)
def qmf_propose(call: CommandCall) -> None:
    try:
        _open_modal(call.rt, call.client, trigger_id=call.trigger_id, user=call.user_id)
    except QmfError as exc:
        call.reply(exc.message)


@subcommand("proposals", "proposals", "your case proposals this quarter, to edit or withdraw", order=11)
def qmf_proposals(call: CommandCall) -> None:
    with call.rt.db.session() as session:
        text, blocks = proposals.your_proposals(session, actor=call.user_id, now=call.rt.now(),
                                                calendar=call.rt.calendar(session))
    call.reply(text, blocks)


def propose_case(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    _open_or_explain(rt, body, client, respond, user=body["user_id"])

def propose_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    _open_or_explain(rt, body, client, respond, user=body["user"]["id"])

def edit_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    _open_or_explain(rt, body, client, respond, user=body["user"]["id"], proposal_id=_proposal_id(body))

def withdraw_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    user = body["user"]["id"]
    try:
        with rt.db.session() as session:
            words = proposals.withdraw_proposal(session, actor=user, proposal_id=_proposal_id(body),
                                                now=rt.now(), calendar=rt.calendar(session))
    except Exception as exc:  # noqa: BLE001
        tell(rt, body, respond, reply_for(exc))
        return
    tell(rt, body, respond, words, title="Withdrawn")

def carry_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    """ "Propose again next quarter" on a case that was not allocated: once, however often it is pressed."""
    rt = runtime_from(context)
    ack()
    user = body["user"]["id"]
    words = ""
    try:
        for attempt in (1, 2):
            try:
                with rt.db.session() as session:
                    words = carry.carry_forward(session, actor=user, proposal_id=_proposal_id(body),
                                                now=rt.now(), calendar=rt.calendar(session))
                break
            except IntegrityError:  # a second press raced this one: the retry finds its proposal
                if attempt == 2:
                    raise
    except Exception as exc:  # noqa: BLE001
        tell(rt, body, respond, reply_for(exc))
        return
    tell(rt, body, respond, words, title="Proposed again")

def team_chosen(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The team manager follows the chosen team; everything typed so far stays."""
    rt = runtime_from(context)
    ack()
    view = body.get("view") or {}
    meta = ProposalMeta.load(view.get("private_metadata"))
    if meta is None:
        return
    form = proposals.ProposalForm.model_validate(view_values(view))
    with rt.db.session() as session:
        updated = proposals.refreshed_view(session, meta=meta, form=form, calendar=rt.calendar(session),
                                           policy=rt.policy(session))
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:  # the person moved on (submitted, or changed it again): nothing lost
        log.info("proposal modal not refreshed: %s", exc.response.get("error"))

def submitted(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    user = body["user"]["id"]
    view = body["view"]
    form = proposals.ProposalForm.model_validate(view_values(view))
    meta = ProposalMeta.load(view.get("private_metadata"))

    def save() -> dict[str, Any] | None:
        if meta is None:
            raise NotPermitted("This form is out of date. Please open it again with `/propose-case`.")
        for attempt in (1, 2):
            try:
                with rt.db.session() as session:
                    proposals.save_proposal(session, actor=user, form=form, proposal_id=meta.proposal_id,
                                            now=rt.now(), calendar=rt.calendar(session),
                                            policy=rt.policy(session), insert_judges_clash=attempt == 1)
                return None
            except IntegrityError:
                if attempt == 2:  # a second clash is not a duplicate the check can name
                    raise
            except ProposalsClosed as exc:
                return {"response_action": "update", "view": notice_view("Proposals closed", exc.message)}
        return None

    submit_modal(ack, save, keep_open_block=ProposalIds.REASON, body=body, rt=rt)


def register(app: App, rt: Runtime) -> None:
    app.command("/propose-case")(propose_case)
    app.action(ProposalIds.PROPOSE.value)(propose_clicked)
    app.action(ProposalIds.EDIT.value)(edit_clicked)
    app.action(ProposalIds.WITHDRAW.value)(withdraw_clicked)
    app.action(ProposalIds.CARRY.value)(carry_clicked)
    app.action(ProposalIds.TEAM.value)(team_chosen)
    app.view(ProposalIds.MODAL.value)(submitted)
