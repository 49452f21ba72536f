"""Slack listeners for learning themes: the draft's buttons and forum select, the Edit modal,
``/qmf themes`` and ``/qmf share themes``. Permissions are checked here on every request, never
taken from the payload."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.blocks import blocks_json
from bot.core.calendar import Quarter
from bot.core.council import policy_of
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.formatting import date_only
from bot.core.roles import Role
from bot.core.runtime import Runtime
from bot.themes import service as themes
from bot.themes.collation import collate, parse_quarter
from bot.themes.content import build_content
from bot.themes.messages import collation_messages, draft_dm, edit_modal, modal_line_ids
from bot.themes.types import BOT_ACTOR, ThemesAction
from handlers.common import (
    CommandCall,
    reply_for,
    runtime_from,
    subcommand,
    submit_modal,
    tell,
    today_of,
    view_values,
)
from storage.models import LearningAudit, Service
from storage.models.themes import ThemeDraft

SHARE_USAGE = "share themes <service|all> <quarter> <forum>"
RESPONSE_URL_USES = 5
"""Slack accepts at most 5 messages through one command's response_url."""
VIEWERS = "the service's Service Manager and Team Managers, Quality & Improvement, the leadership team and admins"


def _refuse_edit(service: Service) -> NotPermitted:
    return NotPermitted(f"Only {service.name}'s Service Manager, Quality & Improvement and admins can review and "
                        f"post {service.name}'s learning themes.")


def _already_posted(draft: ThemeDraft) -> str:
    when = f" on {date_only(draft.posted_at)}" if draft.posted_at else ""
    who = "" if not draft.posted_by or draft.posted_by == BOT_ACTOR else f" by <@{draft.posted_by}>"
    return f"These learning themes were already posted to <#{draft.channel}>{when}{who}."


def _run(rt: Runtime, body: dict[str, Any], respond: Respond, work: Callable[[], str | None]) -> None:
    """Do the work and tell the person who pressed where they pressed (App Home: a small modal)."""
    try:
        message = work()
    except Exception as exc:  # noqa: BLE001 - every refusal or failure gets words, never a traceback
        message = reply_for(exc)
    if message:
        tell(rt, body, respond, message, title="Learning themes")


# ---------------------------------------------------------------------------------------------
# /qmf themes and /qmf share themes


def _scope(session: Session, words: list[str], who: directory.Who) -> tuple[Service | None, Quarter | None, bool]:
    """(service, quarter, all services?) from words in any order: a quarter, a service key or name, "all"."""
    policy = policy_of(session)
    quarter: Quarter | None = None
    rest: list[str] = []
    for word in words:
        try:
            quarter = Quarter.parse(word, policy.year_start_month)
        except ValueError:
            rest.append(word)
    name = " ".join(rest).strip()
    if name.casefold() == "all":
        return None, quarter, True
    if name:
        service = directory.service_by_key(session, name.lower()) or session.scalar(
            select(Service).where(func.lower(Service.name) == name.casefold(), Service.active))
        if service is None:
            keys = ", ".join(f"`{s.key}`" for s in directory.active_services(session))
            raise NotFound(f"I don't know the service “{name}”. Services: {keys}, or `all`.")
        return service, quarter, False
    if who.services_managed:
        return who.services_managed[0], quarter, False
    if who.teams_managed:
        return who.teams_managed[0].service, quarter, False
    return None, quarter, who.has(Role.QUALITY_IMPROVEMENT, Role.DLT, Role.ADMIN)


def _latest_quarter(session: Session, rt: Runtime, service: Service | None) -> Quarter:
    """This quarter if it has recorded audits, else the latest quarter that does."""
    calendar = rt.calendar(session)
    current = calendar.quarter(rt.now())
    query = select(func.max(LearningAudit.quarter)).where(
        LearningAudit.status == "recorded", LearningAudit.quarter <= current.key)
    if service is not None:
        query = query.where(LearningAudit.service_id == service.id)
    latest = session.scalar(query)
    return parse_quarter(session, latest) if latest else current


@subcommand("themes", "themes [service|all] [quarter]",
            "the learning themes of a service (or all services) for a quarter, just for you", order=60)
def show_themes(call: CommandCall) -> None:
    rt = call.rt
    with rt.db.session() as session:
        who = directory.who(session, call.user_id)
        if not who.known:
            call.reply("You are not in the QMF directory yet, so I can't show you learning themes. "
                       "Ask a QMF admin to add you.")
            return
        service, quarter, everything = _scope(session, call.args, who)
        if service is None and not everything:
            call.reply(f"The learning themes on demand are for {VIEWERS}. The themes are shared in your "
                       "service's channel once the Service Manager posts them.")
            return
        if not themes.can_view(who, service):
            scope = service.name if service is not None else "all services"
            call.reply(f"Sorry, the learning themes of {scope} can be seen on demand only by {VIEWERS}. "
                       "They are shared in the service's channel once they are posted.")
            return
        quarter = quarter or _latest_quarter(session, rt, service)
        today = today_of(rt, session)
        col = collate(session, quarter=quarter.key, service_id=service.id if service else None, today=today)
        content = build_content(col, policy_of(session), suppress=False)
        if service is not None:
            draft = themes.draft_for(session, quarter.key, service.id)
            if draft is not None:
                content.notes.append(_already_posted(draft) if draft.status == "posted"
                                     else "A draft of these themes is waiting for the Service Manager to post it.")
        content.notes.append("Exact counts, for you only: the channel post shows counts under "
                             f"{policy_of(session).suppression_threshold} as \"fewer than\".")
        audit.record(session, call.user_id, "view", "learning_themes", quarter.key,
                     service=service.key if service else "all")
    messages = collation_messages(col, content)
    if len(messages) > RESPONSE_URL_USES:  # Slack takes 5 replies on one command: say what is left out
        left = len(messages) - (RESPONSE_URL_USES - 1)
        scope = f" {service.key}" if service is not None else " all"
        messages = messages[:RESPONSE_URL_USES - 1] + [(
            f"{left} more part(s) of these themes do not fit in Slack's replies to one command. "
            f"`/qmf report themes{scope} {quarter.key}` sends you the whole collation as a file.", [])]
    for text, blocks in messages:
        call.reply(text, blocks_json(blocks) or None)


@subcommand("share", SHARE_USAGE, "send a quarter's learning themes to a forum's channel", order=61)
def share_themes(call: CommandCall) -> None:
    rt = call.rt
    with rt.db.session() as session:
        names = ", ".join(f"“{f.name}”" for f in themes.forums(session)) or "none are set up yet: ask a QMF admin"
        if len(call.args) < 4 or call.args[0].lower() != "themes":
            call.reply(f"Use `/qmf {SHARE_USAGE}`, e.g. `/qmf share themes cic 2026-27Q1 \"Leadership Meeting\"`. "
                       f"Forums: {names}.")
            return
        try:
            quarter = parse_quarter(session, call.args[2])
        except ValueError as exc:
            call.reply(f"{exc}. Use `/qmf {SHARE_USAGE}`.")
            return
        key = call.args[1]
        service = None
        if key.casefold() != "all":
            service = directory.service_by_key(session, key.lower())
            if service is None:
                keys = ", ".join(f"`{s.key}`" for s in directory.active_services(session))
                call.reply(f"I don't know the service `{key}`. Services: {keys}, or `all`.")
                return
        try:
            forum = themes.find_forum(session, " ".join(call.args[3:]))
            shared = themes.share_with_forum(session, actor=call.user_id, service=service, quarter=quarter,
                                             forum=forum, today=today_of(rt, session))
        except (NotFound, NotPermitted) as exc:
            call.reply(exc.message)
            return
    scope = service.name if service is not None else "all services"
    if shared:
        call.reply(f"Shared the learning themes of {scope}, {quarter.label}, with the {forum.name} (<#{forum.channel}>).")
    else:
        call.reply(f"The learning themes of {scope}, {quarter.label}, were already shared with the {forum.name}.")


# ---------------------------------------------------------------------------------------------
# listeners


def open_edit(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    user = body["user"]["id"]
    value = body["actions"][0].get("value")

    def work() -> str | None:
        with rt.db.session() as session:
            draft = themes.get_draft(session, value)
            if not themes.can_post(directory.who(session, user), draft.service):
                raise _refuse_edit(draft.service)
            if draft.status == "posted":
                return _already_posted(draft)
            _, content = themes.draft_content(session, draft, today=today_of(rt, session))
            view = edit_modal(draft.id, content)
            audit.record(session, user, "view", "theme_draft", draft.id)
        client.views_open(trigger_id=body["trigger_id"], view=view)
        return None

    _run(rt, body, respond, work)

def post(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    user = body["user"]["id"]
    value = body["actions"][0].get("value")

    def work() -> str:
        with rt.db.session() as session:
            draft = themes.get_draft(session, value)
            if not themes.can_post(directory.who(session, user), draft.service):
                raise _refuse_edit(draft.service)
            if draft.status == "posted":
                return _already_posted(draft)
            result = themes.post_draft(session, draft, actor=user, today=today_of(rt, session), now=rt.now())
            if not result.posted:
                return _already_posted(draft)
            return (f"Posted the learning themes for {draft.service.name} to <#{result.channel}>"
                    f"{' with a chart' if result.chart else ''}. Thank you for sharing the learning.")

    _run(rt, body, respond, work)

def share(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    user = body["user"]["id"]
    chosen = (body["actions"][0].get("selected_option") or {}).get("value") or ""

    def work() -> str:
        draft_id, _, forum_key = chosen.partition(":")
        with rt.db.session() as session:
            draft = themes.get_draft(session, draft_id)
            forum = next((f for f in themes.forums(session) if f.key == forum_key), None)
            if forum is None:
                raise NotFound("That forum is no longer in the QMF directory.")
            quarter = parse_quarter(session, draft.quarter)
            shared = themes.share_with_forum(session, actor=user, service=draft.service, quarter=quarter,
                                             forum=forum, today=today_of(rt, session))
            name = draft.service.name
        if not shared:
            return f"The learning themes for {name} were already shared with the {forum.name}."
        return f"Shared the learning themes for {name} with the {forum.name} (<#{forum.channel}>)."

    _run(rt, body, respond, work)

def save(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    rt = runtime_from(context)
    user = body["user"]["id"]
    view = body["view"]

    def work() -> dict[str, Any] | None:
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            meta = {}
        values = view_values(view)
        key_block = ThemesAction.KEY_MESSAGES.value
        key_messages = (values.get(key_block) or "").strip()
        offered = modal_line_ids(view)
        dropped = [v for block_id, chosen in values.items()
                   if block_id.startswith(ThemesAction.DROP.value) for v in (chosen or []) if v in offered]
        with rt.db.session() as session:
            draft = themes.get_draft(session, meta.get("draft"))
            if not themes.can_post(directory.who(session, user), draft.service):
                raise _refuse_edit(draft.service)
            if draft.status == "posted":
                raise Conflict(_already_posted(draft) + " Your changes were not saved.")
            today = today_of(rt, session)
            if not key_messages:
                raise InvalidInput({key_block: "Write the key messages that open the post."})
            problem = themes.key_messages_problem(session, key_messages, today)
            if problem:
                raise InvalidInput({key_block: problem})
            themes.save_edit(session, draft, actor=user, key_messages=key_messages, dropped=dropped,
                             shown_ids=offered, now=rt.now())
            session.flush()
            col, content = themes.draft_content(session, draft, today=today)
            text, blocks = draft_dm(draft.id, content, channel=draft.service.channel,
                                    forums=themes.forums(session), withheld=col.withheld, revised=True)
            stamp = int(draft.updated_at.timestamp() * 1000)
            outbox.enqueue(session, channel=user, text=text, blocks=blocks,
                           dedupe_key=f"themes-draft:{draft.id}:saved:{stamp}")
        return None

    submit_modal(ack, work, keep_open_block=ThemesAction.KEY_MESSAGES.value, body=body, rt=rt)


def register(app: App, rt: Runtime) -> None:
    app.action(ThemesAction.EDIT.value)(open_edit)
    app.action(ThemesAction.POST.value)(post)
    app.action(ThemesAction.SHARE.value)(share)
    app.view(ThemesAction.EDIT_VIEW.value)(save)
