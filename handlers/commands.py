"""The /qmf router: help, whoami, `commission` (themed audits and visits), and dispatch to each
feature's subcommands."""

from __future__ import annotations

import shlex
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core import directory
from bot.core.blocks import context, escape, header, section
from bot.core.formatting import mention
from bot.core.roles import Role
from bot.core.runtime import Runtime
from handlers.common import SUBCOMMANDS, CommandCall, reply_for, runtime_from, subcommand
from handlers.themed_audits import open_themed_commission
from handlers.visits import open_visit_commission


def help_blocks(unknown: str | None = None) -> tuple[str, list[Any]]:
    lines = [f"`/qmf {s.usage}`: {s.summary}" for s in sorted(SUBCOMMANDS.values(), key=lambda s: (s.order, s.name))]
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
