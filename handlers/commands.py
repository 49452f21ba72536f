"""The /qmf router: help, whoami, `commission` (themed audits and visits), and dispatch to each
feature's subcommands."""

from __future__ import annotations

import re
import shlex
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.core import directory
from bot.core.blocks import context, escape, header, section
from bot.core.errors import QmfError
from bot.core.formatting import day, mention
from bot.core.roles import Role
from bot.core.runtime import Runtime
from bot.cover import service as cover
from handlers.common import SUBCOMMANDS, CommandCall, reply_for, runtime_from, subcommand, today_of
from handlers.themed_audits import open_themed_commission
from handlers.visits import open_visit_commission
from storage.models import Person


def help_blocks(unknown: str | None = None) -> tuple[str, list[Any]]:
    lines = [" or ".join(f"`/qmf {form}`" for form in s.usage.split(" | ")) + f": {s.summary}"
             for s in sorted(SUBCOMMANDS.values(), key=lambda s: (s.order, s.name))]
    lines.append("`/propose-case`: propose a case for this quarter's learning audits")
    unknown = escape(unknown[:40]) if unknown else None
    intro = f"I don't know `{unknown}`. " if unknown else ""
    text = intro + "QMF Bot runs the Quality Management Framework. Commands:\n" + "\n".join(lines)
    blocks = [
        header("QMF Bot: commands"),
        *( [section(f":grey_question: I don't know `/qmf {unknown}`. Here is what I can do.")] if unknown else [] ),
        section("\n".join(lines)),
        context("Case references only in Slack: no names or identifying details."),
    ]
    return text, [b.to_dict() for b in blocks]


@subcommand("help", "help", "list these commands", order=0)
def show_help(call: CommandCall) -> None:
    """Listed like any subcommand; the router answers `help` in the ack itself, without this call."""
    text, blocks = help_blocks()
    call.reply(text, blocks)


@subcommand("whoami", "whoami", "your roles, services and teams in the directory", order=1)
def whoami(call: CommandCall) -> None:
    with call.rt.db.session() as session:
        me = directory.who(session, call.user_id)
        if not me.known:
            admins = directory.people_with_role(session, Role.ADMIN)
            ask = " or ".join(mention(a) for a in admins) or "a QMF admin"
            call.reply(
                f"You are not in the QMF directory yet, so I can't show you anything that is yours. "
                f"Ask {ask} to add you to the QMF directory."
            )
            return
        titles = me.titles() or ["In the directory, with no role yet"]
        org = directory.organisation_name(session)
    lines = "\n".join(f"• {t}" for t in titles)
    call.reply(f"You are {mention(call.user_id)} in {org}:\n{lines}")


# ---------------------------------------------------------------------------------------------
# /qmf commission: one command for both kinds of commission


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


# ---------------------------------------------------------------------------------------------
# /qmf away: time away, typed by the person (or by Q&I and admins for someone)

# /qmf has should_escape false in the manifest, so a mention may come as <@U..|name>, <@U..>, or as
# the plain "@name" the person typed; a bare user id is accepted too.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
AWAY_USAGE = ("`/qmf away FROM TO` marks you away (dates as YYYY-MM-DD); `/qmf away off` when you are back; "
              "Quality & Improvement and admins can use `/qmf away @person FROM TO` and `/qmf away @person off`.")


def _person_named(call: CommandCall, text: str) -> str:
    """The Slack id behind what was typed for a person, or words saying how to name them."""
    found = _MENTION.match(text)
    if found:
        return found.group(1)
    if _USER_ID.match(text):
        return text
    name = text.removeprefix("@").strip().lower()
    if text.startswith("@") and name:
        with call.rt.db.session() as session:
            ids = session.scalars(select(Person.slack_id).where(
                func.lower(Person.display_name) == name, Person.active).limit(2)).all()
        if len(ids) == 1:
            return ids[0]
    raise QmfError(f"I can't tell who `{escape(text[:40])}` is: pick them from Slack's @ list, or give their "
                   f"Slack user id (like U0SM2). {AWAY_USAGE}")


def _away_state(call: CommandCall, slack_id: str) -> str:
    with call.rt.db.session() as session:
        person = session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))
        text = directory.away_text(person, today_of(call.rt, session), call.user_id) if person else None
    if text:
        return f"{text} While away, no prompts or reminders are sent. {AWAY_USAGE}"
    return f"Nobody has marked {'you' if slack_id == call.user_id else mention(slack_id)} away. {AWAY_USAGE}"


@subcommand("away", "away YYYY-MM-DD YYYY-MM-DD | away off | away @person FROM TO",
            "mark yourself (or, for Q&I and admins, someone) away from the first date to the last: no prompts or "
            "reminders; their work falling due meanwhile is listed to Q&I to reassign", order=55)
def away(call: CommandCall) -> None:
    """The person's own time away, or (for Q&I and admins) someone else's; the rules are the directory's."""
    args = list(call.args)
    target = call.user_id
    if args and (args[0].startswith(("<@", "@")) or _USER_ID.match(args[0])):
        target = _person_named(call, args.pop(0))
    if not args:
        call.reply(_away_state(call, target))
        return
    you = target == call.user_id
    who, verb = ("you", "are") if you else (mention(target), "is")
    if len(args) == 1 and args[0].lower() in ("off", "back"):
        with call.rt.db.session() as session:
            was = directory.clear_away(session, directory.who(session, call.user_id), target)
        call.reply(f"Done: {who} {verb} no longer marked away, and prompts and reminders reach {who} again."
                   if was else f"Nothing to change: {who} {'were' if you else 'was'} not marked away.")
        return
    if len(args) != 2:
        call.reply(f"I need two dates, the first and the last day away. {directory.AWAY_EXAMPLE}")
        return
    with call.rt.db.session() as session:
        start, end = directory.away_dates(args[0], args[1], today_of(call.rt, session))
        directory.set_away(session, directory.who(session, call.user_id), target, start, end)
        cover.tell_qi(session, today_of(call.rt, session), call.rt.features.work_kinds())  # work due meanwhile
    off = "/qmf away off" if you else f"/qmf away {target} off"
    call.reply(f"Done: {who} {verb} marked away from {day(start)} to {day(end)}. No prompts or reminders go "
               f"to {who} on those days; `{off}` ends it early.")


def qmf(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    text = (body.get("text") or "").strip()
    try:
        args = shlex.split(text)
    except ValueError:
        args = text.split()
    name = args[0].lower() if args else "help"
    sub = SUBCOMMANDS.get(name)
    if sub is None or name == "help":
        # Help needs nothing from the database: answer in the ack itself (shown only to them).
        help_text, blocks = help_blocks(unknown=name if sub is None and args else None)
        ack(text=help_text, blocks=blocks, response_type="ephemeral")
        return
    ack()
    call = CommandCall(rt=rt, user_id=body["user_id"], args=args[1:], text=text,
                       trigger_id=body.get("trigger_id", ""), channel_id=body.get("channel_id", ""),
                       respond=respond, client=client, body=body)
    try:
        sub.run(call)
    except Exception as exc:  # noqa: BLE001 - every failure gets words, never a traceback
        call.reply(reply_for(exc))


def register(app: App, rt: Runtime) -> None:
    app.command("/qmf")(qmf)
