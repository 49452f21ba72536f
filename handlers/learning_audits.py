"""Slack listeners for learning audits after allocation: the meeting, the reflection, the audit record.

Listeners only parse what Slack sent and call the feature (``bot.learning_audits.service``,
``reflection`` and ``record``), which checks who may act from the database. A button's value and a modal's private_metadata say which audit, never who may touch it.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import audit as audit_log
from bot.core.amendments import NOTHING_CHANGED, amendable_until
from bot.core.blocks import notice_view
from bot.core.errors import Conflict, NotFound
from bot.core.runtime import Runtime
from bot.learning_audits import record as records
from bot.learning_audits import reflection
from bot.learning_audits import service as learning
from bot.learning_audits.record_messages import (
    AddActionMeta,
    AuditMeta,
    ReflectionMeta,
    add_action_modal,
    reflection_modal,
    reflection_read_only,
)
from bot.learning_audits.types import AuditField, LearningIds, MeetingField, ReflectionField
from handlers.common import (
    button_id,
    run_button,
    runtime_from,
    submit_modal,
    today_of,
    user_of,
    view_values,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------------------------------------
# plumbing


def _meta(model: type[M], view: dict[str, Any]) -> M:
    try:
        return model.model_validate_json(view.get("private_metadata") or "")
    except ValidationError:
        raise NotFound("Sorry, this form is out of date. Please close it and start again.") from None


# ---------------------------------------------------------------------------------------------
# listeners


def set_up_meeting(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    run_button(rt, body, respond, lambda: _set_up_meeting(rt, body, client), title="Sorry")

def open_audit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            view = records.audit_modal_for(
                session,
                audit_id=button_id(body),
                actor=user_of(body),
                policy=rt.policy(session),
                calendar=rt.calendar(session),
            )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work, title="Sorry")

def open_reflection(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        actor = user_of(body)
        with rt.db.session() as session:
            policy = rt.policy(session)
            found = learning.audit_for_case_holder(session, button_id(body), actor)
            card = learning.case_card(found, policy)
            answers = reflection.reflection_answers(found.reflection)
            if answers is not None and found.reflection is not None:
                audit_log.record(
                    session, actor, "view", "reflection", found.reflection.id, audit_id=found.id
                )
            calendar = rt.calendar(session)
            if found.status == "recorded" and found.recorded_at is not None and answers is not None and \
                    reflection.may_amend_recorded(found, policy, calendar, rt.now()):
                until = amendable_until(calendar, found.recorded_at, policy.amend_window_working_days)
                view = reflection_modal(card=card, themes=policy.learning_themes, answers=answers, amend_until=until)
            elif found.status == "recorded":
                recorded_on = calendar.today(found.recorded_at) if found.recorded_at else None
                view = reflection_read_only(card=card, answers=answers or {}, recorded_on=recorded_on)
            else:
                view = reflection_modal(card=card, themes=policy.learning_themes, answers=answers)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work, title="Sorry")

def save_reflection(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> dict[str, Any] | None:
        meta = _meta(ReflectionMeta, view)
        answers = reflection.ReflectionAnswers.model_validate(view_values(view))
        with rt.db.session() as session:
            found = learning.audit_for_case_holder(session, meta.audit_id, user_of(body))
            if found.status == "recorded":
                changed = reflection.amend_recorded(
                    session, audit_id=meta.audit_id, actor=user_of(body), answers=answers,
                    policy=rt.policy(session), calendar=rt.calendar(session), now=rt.now())
                return None if changed else _nothing_changed()
            reflection.save_reflection(
                session,
                audit_id=meta.audit_id,
                actor=user_of(body),
                answers=answers,
                policy=rt.policy(session),
                today=today_of(rt, session),
            )
        return None

    submit_modal(ack, work, keep_open_block=ReflectionField.TRYING.value, body=body, rt=rt)


def _nothing_changed() -> dict[str, Any]:
    return {"response_action": "update", "view": notice_view("Nothing changed", NOTHING_CHANGED)}


def open_amend_audit(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient,
                     context: BoltContext) -> None:
    """*Amend*, on the auditor's receipt and App Home: the recorded audit with its answers."""
    rt = runtime_from(context)
    ack()

    def work() -> None:
        with rt.db.session() as session:
            view = records.amend_modal_for(session, audit_id=button_id(body), actor=user_of(body),
                                           policy=rt.policy(session), calendar=rt.calendar(session), now=rt.now())
        client.views_open(trigger_id=body["trigger_id"], view=view)

    run_button(rt, body, respond, work, title="Sorry")


def save_amend_audit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)

    def work() -> dict[str, Any] | None:
        meta = _meta(AuditMeta, view)
        answers = records.AuditAnswers.model_validate(view_values(view))
        with rt.db.session() as session:
            changed = records.amend_audit(session, audit_id=meta.audit_id, actor=user_of(body), answers=answers,
                                          policy=rt.policy(session), calendar=rt.calendar(session), now=rt.now())
        return None if changed else _nothing_changed()

    submit_modal(ack, work, keep_open_block=AuditField.OUTCOMES.value, body=body, rt=rt)

def record_audit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    def work() -> None:
        meta = _meta(AuditMeta, view)
        answers = records.AuditAnswers.model_validate(view_values(view))
        with rt.db.session() as session:
            records.record_audit(
                session,
                audit_id=meta.audit_id,
                actor=user_of(body),
                answers=answers,
                policy=rt.policy(session),
                calendar=rt.calendar(session),
                now=rt.now(),
            )

    submit_modal(ack, work, keep_open_block=AuditField.OUTCOMES.value, body=body, rt=rt)

def push_add_action(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        parent = body.get("view") or {}
        if parent.get("type") != "modal":
            raise NotFound(
                "Actions are added from the learning-audit form: press *Record learning audit*."
            )
        audit_id = button_id(body)
        with rt.db.session() as session:
            found = learning.audit_for_auditor(session, audit_id, user_of(body))
            if found.status == "recorded":
                raise Conflict("This learning audit is already recorded; nothing was changed.")
            case_ref, holder = found.case_ref, found.case_holder.slack_id
        meta = AddActionMeta(
            audit_id=audit_id, parent_view_id=str(parent.get("id")), parent_values=_audit_values(parent)
        )
        client.views_push(
            trigger_id=body["trigger_id"],
            view=add_action_modal(meta=meta, case_ref=case_ref, initial_owner=holder),
        )

    run_button(rt, body, respond, work, title="Sorry")

def save_action(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    from bot.actions.messages import ActionIds, parse_action_values

    def work() -> None:
        meta = _meta(AddActionMeta, view)
        owner, due_on, description = parse_action_values(view_values(view))
        actor = user_of(body)
        with rt.db.session() as session:
            records.add_draft_action(
                session,
                audit_id=meta.audit_id,
                actor=actor,
                owner=owner,
                due_on=due_on,
                description=description,
                today=today_of(rt, session),
            )
        # Slack names the view underneath; the metadata's id is only a fallback.
        parent_id = view.get("previous_view_id") or meta.parent_view_id
        _refresh_parent(
            rt, client, audit_id=meta.audit_id, actor=actor, view_id=parent_id, values=meta.parent_values
        )

    submit_modal(ack, work, keep_open_block=ActionIds.DESCRIPTION.value, body=body, rt=rt)

def remove_action(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()

    def work() -> None:
        parent = body.get("view") or {}
        if parent.get("type") != "modal":
            raise NotFound("Sorry, that button is out of date. Nothing was changed.")
        meta = _meta(AuditMeta, parent)
        actor = user_of(body)
        with rt.db.session() as session:
            records.remove_draft_action(
                session, audit_id=meta.audit_id, actor=actor, action_id=button_id(body)
            )
        _refresh_parent(
            rt,
            client,
            audit_id=meta.audit_id,
            actor=actor,
            view_id=str(parent.get("id")),
            values=_audit_values(parent),
        )

    run_button(rt, body, respond, work, title="Sorry")


def register(app: App, rt: Runtime) -> None:
    app.action(LearningIds.SET_UP_MEETING.value)(set_up_meeting)
    app.view(LearningIds.MEETING_MODAL.value)(save_meeting)
    app.action(LearningIds.RECORD_AUDIT.value)(open_audit)
    app.action(LearningIds.REFLECTION.value)(open_reflection)
    app.view(LearningIds.REFLECTION_MODAL.value)(save_reflection)
    app.view(LearningIds.AUDIT_MODAL.value)(record_audit)
    app.action(LearningIds.ADD_ACTION.value)(push_add_action)
    app.view(LearningIds.ADD_ACTION_MODAL.value)(save_action)
    app.action(LearningIds.REMOVE_ACTION.value)(remove_action)
    app.action(LearningIds.AMEND_AUDIT.value)(open_amend_audit)
    app.view(LearningIds.AMEND_AUDIT_MODAL.value)(save_amend_audit)


def _audit_values(view: dict[str, Any]) -> dict[str, Any]:
    """What has been typed into the audit form so far, by block id."""
    fields = {f.value for f in AuditField}
    return {k: v for k, v in view_values(view).items() if k in fields and v not in (None, "", [])}


def _refresh_parent(
    rt: Runtime, client: WebClient, *, audit_id: int, actor: str, view_id: str, values: dict[str, Any]
) -> None:
    """Show the audit form again with its actions list up to date and what was typed kept.

    Block and action ids never change between versions, so Slack keeps the typed state too.
    """
    with rt.db.session() as session:
        view = records.audit_modal_for(
            session,
            audit_id=audit_id,
            actor=actor,
            policy=rt.policy(session),
            calendar=rt.calendar(session),
            values=values,
            opening=False,
        )
    try:
        client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:  # the form was closed: the draft is kept and shows when it is reopened
        log.info("could not update learning-audit view %s: %s", view_id, exc.response.get("error"))


def _set_up_meeting(rt: Runtime, body: dict[str, Any], client: WebClient) -> None:
    """Open the meeting modal: a new time, or the one already set to change."""
    with rt.db.session() as session:
        view = learning.meeting_modal_for(session, audit_id=button_id(body), actor=user_of(body),
                                          policy=rt.policy(session), calendar=rt.calendar(session))
    client.views_open(trigger_id=body["trigger_id"], view=view)


def save_meeting(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient,
                 context: BoltContext) -> None:
    """Check the time, open the group DM of the three people if need be, store it and send the invitation."""
    rt = runtime_from(context)

    def work() -> None:
        try:
            audit_id = int(view.get("private_metadata") or "")
        except ValueError:
            raise NotFound("Sorry, this form is out of date. Please close it and start again.") from None
        actor = user_of(body)
        with rt.db.session() as session:
            calendar = rt.calendar(session)
            found = learning.audit_for_auditor(session, audit_id, actor)
            learning.refuse_if_recorded(found, calendar)
            choice = learning.check_meeting(view_values(view), calendar=calendar, now=rt.now())
            channel, people = found.meeting_channel, learning.meeting_people(found)
        if channel is None:
            channel = str(client.conversations_open(users=",".join(people))["channel"]["id"])
        with rt.db.session() as session:
            learning.schedule_meeting(session, audit_id=audit_id, actor=actor, channel=channel, choice=choice,
                                      policy=rt.policy(session), calendar=rt.calendar(session), now=rt.now())

    submit_modal(ack, work, keep_open_block=MeetingField.DATE.value, body=body, rt=rt)
