"""`/qmf report sample|themes|year` and App Home's report buttons: the quarter's reports as a file
in the asker's DM with QMF Bot.

One builder, two doors: the same report modules as `qmf-bot report` (bot.sampling.report,
bot.themes.report, bot.core.year), with the same small-count rule and xlsx cell guard. The router
has acked before this runs, so the report is built off the ack path; the file goes through the
outbox (files_upload_v2 into the DM channel that conversations.open gives for the asker)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.blocks import escape
from bot.core.calendar import Quarter
from bot.core.council import policy_of
from bot.core.errors import NotFound, NotPermitted, QmfError
from bot.core.privacy import SmallCounts
from bot.core.roles import Role
from bot.core.runtime import Runtime
from bot.core.year import build_year
from bot.core.year import render_csv as year_csv
from bot.core.year import render_markdown as year_markdown
from bot.core.year import xlsx_bytes as year_xlsx
from bot.home.messages import HomeIds
from bot.sampling.draw_run import explain
from bot.sampling.report import pick_draw, render_csv, render_markdown
from bot.sampling.report import write_xlsx as write_sample_xlsx
from bot.sampling.results import build_report
from bot.themes.report import collations_for, report_csv, report_markdown
from bot.themes.report import write_xlsx as write_themes_xlsx
from handlers.common import CommandCall, reply_for, runtime_from, subcommand, tell, today_of

FORMATS = ("xlsx", "csv", "md")
KINDS = ("sample", "themes", "year")
USAGES = (
    "report sample [QUARTER] [xlsx|csv|md]",
    "report themes [SERVICE|all] [QUARTER] [xlsx|csv|md]",
    "report year [xlsx|csv|md]",
)
USAGE = " ".join(f"`/qmf {u}`" for u in USAGES)
LEADERS = (Role.QUALITY_IMPROVEMENT, Role.ADMIN, Role.DLT)
LEADERS_WORDS = "Quality & Improvement, QMF admins and the Divisional Leadership Team"
KIND_WORDS = {"xlsx": "Excel", "csv": "CSV", "md": "Markdown", "txt": "text"}
# words that are surely a format or a quarter, only not one we take: said so, not read as a service
_OTHER_FORMAT = re.compile(r"^\.?(pdf|xls|xlsm|ods|docx?|odt|json|txt|html?|tsv|markdown|excel)$", re.IGNORECASE)
_QUARTERISH = re.compile(r"(^|[^a-z])q\d", re.IGNORECASE)


@dataclass(frozen=True)
class Ask:
    """What was asked, read from the words in any order."""

    kind: str
    fmt: str = "xlsx"
    quarter: str | None = None
    scope: list[str] | None = None  # the service words (themes only)
    explain: bool = False  # sample only: the draw's seed, pool and exclusions (`qmf-bot report sample --explain`)


def parse(words: list[str], year_start_month: int) -> Ask:
    """The report, format, quarter and (themes) service from what was typed; QmfError says what is accepted."""
    if not words or words[0].lower() not in KINDS:
        raise QmfError(f"Which report? {USAGE}")
    kind = words[0].lower()
    fmt: str | None = None
    quarter: str | None = None
    rest: list[str] = []
    for word in _join_quarters(words[1:], year_start_month):
        low = word.lower().lstrip(".")
        if low in FORMATS:
            if fmt is not None and fmt != low:
                raise QmfError(f"One format at a time: xlsx, csv or md. {USAGE}")
            fmt = low
            continue
        if _OTHER_FORMAT.match(word):
            raise QmfError(f"I can't make `{escape(word[:20])}`: the formats are xlsx (the default), csv and md. "
                           f"{USAGE}")
        try:
            Quarter.parse(word, year_start_month)
        except ValueError as exc:
            if _QUARTERISH.search(word):
                raise QmfError(f"{escape(str(exc))}. {USAGE}") from None
            rest.append(word)
            continue
        if quarter is not None:
            raise QmfError(f"One quarter at a time. {USAGE}")
        quarter = word
    if kind == "year" and (quarter or rest):
        raise QmfError(f"`/qmf report year` takes only a format (xlsx, csv or md): it is always the last "
                       f"four quarters. Not understood: `{escape(' '.join([quarter or '', *rest]).strip()[:60])}`.")
    explain = kind == "sample" and any(w.lower() == "explain" for w in rest)
    if explain:
        rest = [w for w in rest if w.lower() != "explain"]
    if kind == "sample" and rest:
        example = Quarter(2026, 1, year_start_month).label
        raise QmfError(f"I can't read `{escape(' '.join(rest)[:60])}`: `/qmf report sample` takes a quarter "
                       f"(like {example}) and a format (xlsx, csv or md).")
    return Ask(kind=kind, fmt=fmt or ("md" if explain else "xlsx"), quarter=quarter,
               scope=rest if kind == "themes" else None, explain=explain)


def _join_quarters(words: list[str], year_start_month: int) -> list[str]:
    """"2026-27 Q1" typed as two words is one quarter (the way quarters are written in messages)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words):
            pair = f"{words[i]} {words[i + 1]}"
            try:
                Quarter.parse(pair, year_start_month)
            except ValueError:
                pass
            else:
                out.append(pair)
                i += 2
                continue
        out.append(words[i])
        i += 1
    return out


@dataclass(frozen=True)
class Export:
    file_name: str
    title: str
    content: bytes
    what: str  # words for the person: "the random-sample report for Q1 2026-27"


def _xlsx_via_file(write: Callable[[Path], None]) -> bytes:
    """The report modules write xlsx to a path (the CLI's door); read the same bytes back."""
    with tempfile.TemporaryDirectory(prefix="qmf-report-") as folder:
        path = Path(folder) / "report.xlsx"
        write(path)
        return path.read_bytes()


def _sample(rt: Runtime, session: Session, user: str, ask: Ask) -> Export:
    me = directory.who(session, user)
    if not me.has(*LEADERS):
        raise NotPermitted(f"Sorry, the random-sample report is for {LEADERS_WORDS}.")
    policy = policy_of(session)
    current = rt.calendar(session).quarter(rt.now()).key
    try:
        row = pick_draw(session, ask.quarter, policy, current)
    except LookupError as exc:
        raise NotFound(f"No report: {exc}.") from None
    if ask.explain:
        audit.record(session, user, "view", "sample_draw", row.quarter, what="explanation", door="slack")
        return Export(f"random-sample-{row.quarter}-explanation.txt", f"Random-sample draw, {row.quarter}",
                      (explain(row) + "\n").encode("utf-8"), f"why the {row.quarter} random sample drew what it did")
    report = build_report(session, row, policy=policy)
    if ask.fmt == "xlsx":
        content = _xlsx_via_file(lambda path: write_sample_xlsx(report, path))
    elif ask.fmt == "csv":
        content = render_csv(report).encode("utf-8")
    else:
        content = render_markdown(report).encode("utf-8")
    audit.record(session, user, "export", "sample_report", row.quarter, format=ask.fmt, door="slack")
    label = report.quarter.label
    return Export(f"random-sample-{row.quarter}.{ask.fmt}", f"Random-sample report, {label}", content,
                  f"the random-sample report for {label}")


def _themes(rt: Runtime, session: Session, user: str, ask: Ask) -> Export:
    me = directory.who(session, user)
    policy = policy_of(session)
    words = " ".join(ask.scope or []).strip()
    leader = me.has(*LEADERS)
    own = [s.key for s in me.services_managed]
    if not leader and not own:
        raise NotPermitted(f"Sorry, the learning themes report is for {LEADERS_WORDS}, and for each Service "
                           "Manager for their own service.")
    if not words:
        key: str | None = None if leader else own[0]
    elif words.casefold() == "all":
        key = None
    else:
        found = directory.service_by_key(session, words.lower())
        if found is None:
            found = next((s for s in directory.active_services(session)
                          if s.name.casefold() == words.casefold()), None)
        if found is None:
            keys = ", ".join(f"`{s.key}`" for s in directory.active_services(session))
            raise NotFound(f"I don't know the service “{escape(words[:60])}”. Services: {keys}, or `all`.")
        key = found.key
    if not leader and key not in own:
        yours = " or ".join(f"`/qmf report themes {k}`" for k in own)
        asked = "all services" if key is None else f"`{key}`"
        raise NotPermitted(f"Sorry, as a Service Manager you can have the learning themes report of your own "
                           f"service only, not of {asked}: ask {yours}.")
    if ask.quarter:
        quarter = Quarter.parse(ask.quarter, policy.year_start_month)
    else:
        quarter = rt.calendar(session).quarter(rt.now())
    collations = collations_for(session, quarter, key, today_of(rt, session))
    shown = SmallCounts(policy.suppression_threshold, suppress=True)
    if ask.fmt == "xlsx":
        content = _xlsx_via_file(lambda path: write_themes_xlsx(path, collations, shown))
    elif ask.fmt == "csv":
        content = report_csv(collations, shown).encode("utf-8")
    else:
        content = report_markdown(collations, shown).encode("utf-8")
    audit.record(session, user, "export", "learning_themes", quarter.key, service=key or "all", format=ask.fmt,
                 door="slack")
    scope = key or "all"
    return Export(f"learning-themes-{quarter.key}-{scope}.{ask.fmt}",
                  f"Learning themes, {quarter.label} ({'all services' if key is None else key})", content,
                  f"the learning themes report for {quarter.label} ({'all services' if key is None else key})")


def _year(rt: Runtime, session: Session, user: str, ask: Ask) -> Export:
    me = directory.who(session, user)
    if not me.has(*LEADERS):
        raise NotPermitted(f"Sorry, the year report is for {LEADERS_WORDS}.")
    policy = policy_of(session)
    current = rt.calendar(session).quarter(rt.now())
    report = build_year(session, rt.features.year_sources(), current, today_of(rt, session),
                        policy.suppression_threshold)
    if ask.fmt == "xlsx":
        content = year_xlsx(report)
    elif ask.fmt == "csv":
        content = year_csv(report).encode("utf-8")
    else:
        content = year_markdown(report).encode("utf-8")
    audit.record(session, user, "export", "year_report", current.key, format=ask.fmt, door="slack")
    return Export(f"qmf-year-{current.key}.{ask.fmt}", f"The year, {report.label}", content,
                  f"the year report ({report.label})")


BUILDERS: dict[str, Callable[[Runtime, Session, str, Ask], Export]] = {
    "sample": _sample, "themes": _themes, "year": _year}


def send_report(rt: Runtime, client: WebClient, user: str, words: list[str]) -> str:
    """Build the report asked for and queue it for the asker's DM; the words to answer with.
    Refusals raise QmfError (the caller turns them into words)."""
    with rt.db.session() as session:
        ask = parse(words, policy_of(session).year_start_month)
        export = BUILDERS[ask.kind](rt, session, user, ask)
        # files_upload_v2 shares into a conversation id, not a user id: the asker's DM with the bot
        dm = str(client.conversations_open(users=user)["channel"]["id"])
        outbox.enqueue_file(session, channel=dm, file_name=export.file_name, content=export.content,
                            title=export.title, text=f"Here is {export.what}, as you asked.")
    kind = KIND_WORDS[export.file_name.rsplit(".", 1)[-1]]
    return (f"On its way: {export.what} ({kind}) will arrive in your DM with QMF Bot "
            "in a moment.")


@subcommand("report", " | ".join(USAGES), "a report as a file in your DM (xlsx by default)", order=52)
def report_command(call: CommandCall) -> None:
    call.reply(send_report(call.rt, call.client, call.user_id, list(call.args)))


REPORT_BUTTON = re.compile(f"^{HomeIds.REPORT}-({'|'.join(KINDS)})$")


def report_button(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient,
                  context: BoltContext) -> None:
    """App Home's "... report (xlsx)" buttons: the same as `/qmf report KIND`, in xlsx."""
    rt = runtime_from(context)
    ack()
    found = REPORT_BUTTON.match(str(body["actions"][0].get("action_id") or ""))
    kind = found.group(1) if found else ""
    try:
        message = send_report(rt, client, body["user"]["id"], [kind, "xlsx"])
    except Exception as exc:  # noqa: BLE001 - every refusal or failure gets words, never a traceback
        message = reply_for(exc)
    tell(rt, body, respond, message, title="Reports")


def register(app: App, rt: Runtime) -> None:
    app.action(REPORT_BUTTON)(report_button)
