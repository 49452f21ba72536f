"""How the bot writes dates and people for a person to read: one form each, everywhere.

Dates: "Fri 17 Apr 2026" (``day``), "17 Apr 2026" in lists and tables where the weekday is
noise (``date_only``), "17 Apr" where the quarter gives the year (``day_month``). A due date in a
message is a Slack date token (``due``): each reader's Slack writes it their own way ("Tomorrow",
"May 15, 2026", "15 May 2026"), with ``day``'s words as the fallback. People: a Slack mention,
which each reader's Slack shows as the person's name (never a raw id)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

# <!date^EPOCH^TOKEN_STRING|FALLBACK> or <!date^EPOCH^TOKEN_STRING^LINK|FALLBACK>
DATE_TOKEN = re.compile(r"<!date\^(?P<epoch>-?\d+)\^(?P<format>[^^|>]*)(?:\^(?P<link>[^|>]+))?\|(?P<fallback>[^>]*)>")


def day(d: date) -> str:
    """ "Fri 17 Apr 2026": the weekday helps people place a deadline; no leading zero."""
    return f"{d:%a} {d.day} {d:%b %Y}"


def date_only(d: date) -> str:
    """ "17 Apr 2026": for list lines, tables and reports."""
    return f"{d.day} {d:%b %Y}"


def day_month(d: date) -> str:
    """ "17 Apr": where the year is plain from the quarter around it."""
    return f"{d.day} {d:%b}"


def due(d: date) -> str:
    """A date in a message as each reader's Slack writes it (``date_short_pretty``: "Today",
    "Tomorrow", "May 15, 2026" in their own locale), falling back to ``day``'s "Fri 15 May 2026".
    The moment is the date's midday UTC, so no reader's timezone (UTC-11 to UTC+11) moves the day.
    For mrkdwn only (section and context text, a message's ``text``): never plain_text, modal
    initial values or files, which would show the token itself."""
    return f"<!date^{epoch_of(d)}^{{date_short_pretty}}|{day(d)}>"


def epoch_of(d: date) -> int:
    """The date's midday UTC, in seconds: the instant ``due`` hands Slack."""
    return int(datetime(d.year, d.month, d.day, 12, tzinfo=UTC).timestamp())


def plain_dates(text: str) -> str:
    """Text with every Slack date token replaced by its fallback words (for transcripts and places
    that cannot show mrkdwn)."""
    return DATE_TOKEN.sub(lambda m: m["fallback"], text)


def mention(slack_id: str) -> str:
    """A person as Slack shows them to each reader: their name, from the id."""
    return f"<@{slack_id}>"


def mention_for(slack_id: str, reader: str | None) -> str:
    """A person as ``reader`` should see them: "you" for the reader themself (a message never names
    its reader to them, which reads like a system talking about them), a mention for anyone else."""
    return "you" if slack_id == reader else mention(slack_id)
