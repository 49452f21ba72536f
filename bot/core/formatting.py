"""How the bot writes dates and people for a person to read: one form each, everywhere.

Dates: "Fri 17 Apr 2026" (``day``), "17 Apr 2026" in lists and tables where the weekday is
noise (``date_only``), "17 Apr" where the quarter gives the year (``day_month``). People: a Slack mention, which each reader's Slack shows as the person's
name (never a raw id)."""

from __future__ import annotations

from datetime import date


def day(d: date) -> str:
    """ "Fri 17 Apr 2026": the weekday helps people place a deadline; no leading zero."""
    return f"{d:%a} {d.day} {d:%b %Y}"


def date_only(d: date) -> str:
    """ "17 Apr 2026": for list lines, tables and reports."""
    return f"{d.day} {d:%b %Y}"


def day_month(d: date) -> str:
    """ "17 Apr": where the year is plain from the quarter around it."""
    return f"{d.day} {d:%b}"


def mention(slack_id: str) -> str:
    """A person as Slack shows them to each reader: their name, from the id."""
    return f"<@{slack_id}>"


def mention_for(slack_id: str, reader: str | None) -> str:
    """A person as ``reader`` should see them: "you" for the reader themself (a message never names
    its reader to them, which reads like a system talking about them), a mention for anyone else."""
    return "you" if slack_id == reader else mention(slack_id)
