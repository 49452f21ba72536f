"""Block Kit for the Continuous Improvement Board, and the layout helpers the themed-audit and
learning-visit messages share.

Builders take plain values (``bot.cib.types``), never database rows. The digest is given counts
already suppressed and text already checked: this module never decides what is safe to show,
it only lays it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.cib.types import CibIds, CibListing, CibMeta, DigestContent
from bot.core.blocks import (
    NO_NAMES_HINT,
    button,
    context,
    divider,
    header,
    modal,
    privacy_notice,
    section,
    split_text,
)
from bot.core.formatting import date_only
from bot.core.formatting import day as nice_date

MESSAGE_BLOCK_LIMIT = 50
LONG_TEXT = 3000
_OPTION_TEXT_LIMIT = 75

RECORD_DECISION_LABEL = "Record decision"
CIB_LABELS = {
    CibIds.CIB_DATE: "Meeting date",
    CibIds.CIB_RECEIVED: "Received",
    CibIds.CIB_DECISION_TEXT: "Decisions",
}
RECEIVED_OPTION = "Received by the Board"


# ---------------------------------------------------------------------------------------------
# layout helpers (shared with bot.themed_audits.messages and bot.visits.messages)


def quote(text: str) -> str:
    return "\n".join(f">{line}" for line in (text or "").splitlines() or [""])


def plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text)


def option(label: str, value: str) -> Option:
    shown = label if len(label) <= _OPTION_TEXT_LIMIT else label[: _OPTION_TEXT_LIMIT - 1] + "…"
    return Option(text=plain(shown), value=value[:150])


def text_input(block_id: str, label: str, *, multiline: bool = True, max_length: int = LONG_TEXT,
               optional: bool = False, initial: str | None = None, hint: str | None = NO_NAMES_HINT,
               placeholder: str | None = None) -> InputBlock:
    element = PlainTextInputElement(
        action_id=block_id,
        multiline=multiline,
        max_length=max_length,
        initial_value=(initial or None) and initial[:max_length],
        placeholder=plain(placeholder) if placeholder else None,
    )
    return InputBlock(block_id=block_id, label=plain(label), element=element, optional=optional,
                      hint=plain(hint) if hint else None)


def sections(text: str) -> list[Block]:
    return [section(chunk) for chunk in split_text(text)] if text.strip() else []


def clip(text: str, limit: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fit(blocks: list[Block], tail: list[Block], note: str) -> list[Block]:
    """Keep a message under Slack's 50 blocks, saying so when something had to be left out."""
    room = MESSAGE_BLOCK_LIMIT - len(tail)
    if len(blocks) <= room:
        return blocks + tail
    return blocks[: room - 1] + [context(note)] + tail


def mentions(people: Sequence[str]) -> str:
    return ", ".join(f"<@{p}>" for p in people) or "nobody yet"


# ---------------------------------------------------------------------------------------------
# meetings and decisions


def cib_schedule_modal(upcoming: Sequence[date]) -> View:
    listed = "\n".join(f"• {nice_date(d)}" for d in upcoming[:20]) or "None scheduled."
    blocks: list[Block] = [
        section("*Meetings already scheduled*\n" + listed),
        InputBlock(block_id=CibIds.CIB_DATE, label=plain(CIB_LABELS[CibIds.CIB_DATE]),
                   element=DatePickerElement(action_id=CibIds.CIB_DATE, placeholder=plain("Choose a date"))),
    ]
    return modal(title="Schedule a CIB meeting", callback_id=CibIds.CIB_SCHEDULE_MODAL, blocks=blocks,
                 submit="Add meeting")


def cib_decision_modal(*, item_id: int, title: str, received: bool, decision: str | None,
                       channel: str | None, ts: str | None) -> View:
    ids = CibIds
    received_option = option(RECEIVED_OPTION, "yes")
    blocks: list[Block] = [
        section(f"*{title}*"),
        privacy_notice(),
        InputBlock(block_id=ids.CIB_RECEIVED, label=plain(CIB_LABELS[ids.CIB_RECEIVED]), optional=True,
                   element=CheckboxesElement(action_id=ids.CIB_RECEIVED, options=[received_option],
                                             initial_options=[received_option] if received else None)),
        text_input(ids.CIB_DECISION_TEXT, CIB_LABELS[ids.CIB_DECISION_TEXT], optional=True, initial=decision,
                   hint="What the Board decided. It goes back to the commissioner. " + NO_NAMES_HINT),
    ]
    meta = CibMeta(item_id=item_id, channel=channel, ts=ts)
    return modal(title="CIB decision", callback_id=ids.CIB_DECISION_MODAL, blocks=blocks, submit="Save",
                 private_metadata=meta.dump())


def decision_message(title: str, received: bool, decision: str | None, meeting_on: date | None,
                     chair: str) -> tuple[str, list[Block]]:
    at = f" at its meeting on {nice_date(meeting_on)}" if meeting_on else ""
    state = "received" if received else "considered"
    text = f"The Continuous Improvement Board {state} \"{title}\"{at}."
    blocks: list[Block] = [section(f":classical_building: The Continuous Improvement Board {state} *{title}*{at}.")]
    if decision:
        blocks += sections("*Decisions*\n" + quote(clip(decision, 2800)))
    blocks.append(context(f"Recorded by <@{chair}>."))
    return text, blocks


def decision_thread_message(title: str, received: bool, decision: str | None) -> tuple[str, list[Block]]:
    state = "Received" if received else "Considered"
    text = f"{state}: {title}"
    blocks: list[Block] = [section(f":white_check_mark: *{state}:* {title}")]
    if decision:
        blocks += sections("*Decisions*\n" + quote(clip(decision, 2800)))
    return text, blocks


def _item_button(item_id: int) -> Any:
    return button(RECORD_DECISION_LABEL, CibIds.CIB_RECORD_DECISION, str(item_id))


# ---------------------------------------------------------------------------------------------
# the digest and the listing


def digest_message(digest: DigestContent) -> tuple[str, list[Block]]:
    """The one post to the CIB channel before a meeting: aggregated and anonymised throughout."""
    since = f" since the last meeting on {nice_date(digest.since)}" if digest.since else ""
    text = (f"Continuous Improvement Board digest for {nice_date(digest.meeting_on)}: "
            f"{len(digest.themed)} themed audit(s), {len(digest.visits)} learning visit plan(s).")
    blocks: list[Block] = [
        header(f"CIB digest: meeting on {date_only(digest.meeting_on)}"),
        context(f"For the Continuous Improvement Board on *{nice_date(digest.meeting_on)}*: what has come "
                f"in{since}. Aggregated and anonymised: no case references or names."),
        section("*Themed audit findings*" + ("" if digest.themed else "\nNone this time.")),
    ]
    for item in digest.themed:
        themes = f"\n*Themes:* {', '.join(item.themes)}" if item.themes else ""
        blocks.append(section(
            f"*{clip(item.theme, 200)}* · commissioned by {item.source}\n"
            f"*Priority:* {clip(item.priority, 300)} · *Cases audited:* {item.cases_audited}{themes}\n"
            f"*Moderated findings:* {clip(item.findings, 1000)}\n"
            f"*Recommendations:* {clip(item.recommendations, 900)}",
            block_id=f"cib-item-{item.item_id}", accessory=_item_button(item.item_id)))
    blocks.append(section("*Learning visit plans*" + ("" if digest.visits else "\nNone this time.")))
    for visit in digest.visits:
        # the plan's actions are listed, never counted beside the list: a withheld count next to the
        # list it counts would give the number away (bot.core.privacy.SmallCounts)
        acts = "\n".join(f"• {clip(d, 200)} (by {date_only(due)})" for d, due in visit.actions[:8]) or "None yet."
        more = f"\n…and more: {visit.action_count} in all." if len(visit.actions) > 8 else ""
        summary = f"\n*Plan:* {clip(visit.plan_summary, 400)}" if visit.plan_summary else ""
        blocks.append(section(
            f"*{visit.service_name}* · visited {date_only(visit.visit_on)}\n"
            f"*Need or risk:* {clip(visit.need_or_risk, 400)}\n*Feedback:* {clip(visit.feedback, 800)}{summary}\n"
            f"*Actions in the plan:*\n{acts}{more}",
            block_id=f"cib-item-{visit.item_id}", accessory=_item_button(visit.item_id)))
    tail: list[Block] = [
        divider(),
        *sections("*Learning themes by service*" + since + "\n"
                  + ("\n".join(digest.theme_lines) or "No learning themes were shared.")),
        *sections("*Random sampling headlines*\n" + ("\n".join(digest.sample_lines) or "No random sample "
                                                                                       "reported.")),
        section("*Action plans*\n" + "\n".join(digest.action_lines)),
        context(f"Counts under the suppression threshold are shown as \"fewer than\". After the meeting, press "
                f"*{RECORD_DECISION_LABEL}* on an item to mark it received and send the Board's decisions to "
                f"its commissioner."),
    ]
    if digest.carried:
        tail.insert(0, context(f"{digest.carried} item(s) arrived after an earlier digest and are carried into "
                               f"this one."))
    return text, fit(blocks, tail, "More items than fit in one post: `/qmf cib` lists them all.")


def cib_listing_blocks(listing: CibListing) -> tuple[str, list[Block]]:
    lines = []
    for meets_on, titles in listing.meetings:
        queued = "\n".join(f"    ◦ {clip(t, 150)}" for t in titles) or "    ◦ nothing queued yet"
        lines.append(f"• *{nice_date(meets_on)}*\n{queued}")
    text = "Upcoming Continuous Improvement Board meetings."
    blocks: list[Block] = [
        header("Continuous Improvement Board"),
        *sections("*Upcoming meetings and what is queued*\n" + ("\n".join(lines) or "No meetings are scheduled.")),
    ]
    if listing.unscheduled:
        blocks += sections("*Waiting for a meeting to be scheduled*\n"
                           + "\n".join(f"• {clip(t, 150)}" for t in listing.unscheduled))
    if listing.can_chair and listing.awaiting:
        blocks.append(section("*Awaiting the Board's decision*"))
        for item_id, title, met_on in listing.awaiting[:20]:
            when = f" ({date_only(met_on)})" if met_on else ""
            blocks.append(section(f"{clip(title, 200)}{when}", block_id=f"cib-awaiting-{item_id}",
                                  accessory=_item_button(item_id)))
    hint = "`/qmf cib schedule` adds a meeting date." if listing.can_schedule else \
        "Meeting dates are set by admins and Quality & Improvement."
    blocks.append(context(hint))
    return text, blocks[:MESSAGE_BLOCK_LIMIT]
