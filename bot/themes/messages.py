"""Block Kit for learning themes: the channel post (split to fit Slack), the draft DM, the Edit modal.

Slack allows 50 blocks a message and 3,000 characters a section. The learning of a large service
can be longer than that, so the post is built as paragraphs, split at line or word boundaries
(``split_text``), packed into sections, and the sections into as many messages as it takes, each
continuation saying "part 2 of 3". Nothing is cut mid-word and nothing is dropped for length.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.core.blocks import (
    NO_NAMES_HINT,
    SECTION_LIMIT,
    button,
    context,
    divider,
    header,
    modal,
    privacy_notice,
    section,
    split_text,
)
from bot.core.calendar import Quarter
from bot.core.privacy import escape
from bot.themes.types import (
    SECTION_ORDER,
    Collation,
    ForumTarget,
    Line,
    ThemeContent,
    ThemesAction,
)

MESSAGE_BLOCKS = 50
MESSAGE_CHARS = 12_000  # keep each message readable, well under Slack's 40,000
MODAL_BLOCKS = 100
CHECKBOX_OPTIONS = 10
PREVIEW_BLOCKS = 30
KEY_MESSAGES_MAX = 3000


SECTION_SHORT = {
    "improve_themes": "areas to improve",
    "good_themes": "good practice themes",
    "rolling": "the last four quarters",
    "good_points": "good practice",
    "improve_points": "what would have improved cases",
    "wider": "wider learning",
}


# ---------------------------------------------------------------------------------------------
# the learning as sections of text


def _pack(pieces: Sequence[str], limit: int = SECTION_LIMIT) -> list[str]:
    """Join consecutive pieces into as few sections as fit, each under Slack's limit."""
    chunks: list[str] = []
    for piece in pieces:
        for part in split_text(piece, limit):
            if chunks and len(chunks[-1]) + 2 + len(part) <= limit:
                chunks[-1] = f"{chunks[-1]}\n\n{part}"
            else:
                chunks.append(part)
    return chunks


def body_sections(content: ThemeContent, *, include_points: bool = True) -> list[list[str]]:
    """The learning as a list of parts (key messages, each section, actions), each a list of sections."""
    parts: list[list[str]] = []
    if content.key_messages.strip():
        parts.append(_pack([f"*Key messages*\n{escape(content.key_messages.strip())}"]))
    lines = content.shown()
    for name in SECTION_ORDER:
        mine = [line for line in lines if line.section == name]
        if not mine:
            continue
        if name in ("good_points", "improve_points", "wider") and not include_points:
            continue
        title = f"*{content.title_of(name)}*"
        if name in ("good_points", "improve_points"):
            groups: dict[str, list[Line]] = {}
            for line in mine:
                groups.setdefault(line.group or "", []).append(line)
            pieces = [f"_{escape(group)}_\n" + "\n".join(line.text for line in items)
                      for group, items in groups.items()]
            pieces[0] = f"{title}\n{pieces[0]}"
        else:
            pieces = [title + "\n" + "\n".join(line.text for line in mine)]
        parts.append(_pack(pieces))
    if not any(line.section.endswith("_themes") for line in lines):
        parts.append([f"*Themes*\nNo themes were recorded for {escape(content.scope_name)} in "
                      f"{content.quarter.label}."])
    parts.append([f"*Actions from these learning audits*\n{content.actions_line}"])
    return parts


def post_messages(content: ThemeContent, *, with_chart: bool = True) -> list[tuple[str, list[Block]]]:
    """The whole learning as one or more messages, each within Slack's block and character limits."""
    parts = body_sections(content)
    footer_texts = list(content.notes)
    if content.chart is not None and with_chart:
        footer_texts.append("A chart of the theme counts over the last four quarters follows." if content.chart.rolling
                            else "A chart of the theme counts, this quarter against last, follows.")
    bodies: list[list[Block]] = [[]]
    used = [0]
    capacity = MESSAGE_BLOCKS - 4  # header, intro, footer, and a divider's slack
    for part_index, sections in enumerate(parts):
        for text in sections:
            if len(bodies[-1]) + 1 > capacity or used[-1] + len(text) > MESSAGE_CHARS:
                bodies.append([])
                used.append(0)
            bodies[-1].append(section(text))
            used[-1] += len(text)
        if part_index < len(parts) - 1 and len(bodies[-1]) + 1 <= capacity:
            bodies[-1].append(divider())
    while bodies[-1] and bodies[-1][-1].type == "divider":
        bodies[-1].pop()
    total = len(bodies)
    messages: list[tuple[str, list[Block]]] = []
    for index, body in enumerate(bodies, start=1):
        blocks: list[Block] = []
        if index == 1:
            blocks.append(header(content.title))
            blocks.append(context(content.intro))
            text = content.title
        else:
            text = f"{content.title} (continued, part {index} of {total})"
            blocks.append(context(f"*{content.title}*, continued: part {index} of {total}"))
        blocks.extend(body)
        if index == total and footer_texts:
            blocks.append(context(*footer_texts))
        elif index < total:
            blocks.append(context(f"Part {index} of {total}: continued in the next message."))
        messages.append((text, blocks))
    return messages


# ---------------------------------------------------------------------------------------------
# DMs


def _preview(content: ThemeContent) -> list[Block]:
    """What the post will say, briefly: key messages and theme counts; points are counted, not shown."""
    blocks: list[Block] = []
    for sections in body_sections(content, include_points=False):
        for text in sections:
            if len(blocks) < PREVIEW_BLOCKS:
                blocks.append(section(text))
    shown = content.shown()
    counts = {name: sum(1 for line in shown if line.section == name)
              for name in ("good_points", "improve_points", "wider")}
    if any(counts.values()):
        blocks.append(context(
            f"Also in the post: {counts['good_points']} point(s) of good practice to share, "
            f"{counts['improve_points']} on what would have improved cases and {counts['wider']} of wider "
            "learning. Open *Edit* to read them and leave any out."))
    return blocks


def _forum_select(draft_id: int, forums: Sequence[ForumTarget]) -> StaticSelectElement | None:
    if not forums:
        return None
    return StaticSelectElement(
        action_id=ThemesAction.SHARE.value,
        placeholder=PlainTextObject(text="Share with a forum"),
        options=[Option(value=f"{draft_id}:{f.key}", text=f.name[:75]) for f in forums[:100]],
    )


def draft_actions(draft_id: int, forums: Sequence[ForumTarget] = ()) -> ActionsBlock:
    elements: list[object] = [
        button("Edit", ThemesAction.EDIT.value, str(draft_id)),
        button("Post to channel", ThemesAction.POST.value, str(draft_id), style="primary"),
    ]
    select = _forum_select(draft_id, forums)
    if select is not None:
        elements.append(select)
    return ActionsBlock(block_id=f"themes-draft-{draft_id}", elements=elements)  # type: ignore[arg-type]


def draft_dm(draft_id: int, content: ThemeContent, *, channel: str | None, forums: Sequence[ForumTarget],
             withheld: int = 0, revised: bool = False) -> tuple[str, list[Block]]:
    where = f"<#{channel}>" if channel else "the service's channel (none is set in the QMF directory yet: ask a QMF admin)"
    if revised:
        intro = (f"Your changes to the learning themes for *{content.scope_name}*, {content.quarter.label}, are "
                 f"saved. This is what will be posted to {where}.")
    else:
        intro = (f"Here is the draft of the learning themes for *{content.scope_name}*, {content.quarter.label}, "
                 "collated from the learning audits recorded. Check it, use *Edit* to rewrite the key messages "
                 f"or leave any line out, then *Post to channel* to share it in {where}. You can also share it "
                 "with a forum.")
    blocks: list[Block] = [header(f"Learning themes to review: {content.scope_name}"), section(intro), divider()]
    blocks.extend(_preview(content))
    if withheld:
        blocks.append(context(f":shield: {withheld} learning point(s) were left out because they looked like a "
                              "case reference, a person or identifying details."))
    blocks.append(draft_actions(draft_id, forums))
    blocks.append(context(*content.notes) if content.notes else privacy_notice())
    return f"Learning themes to review: {content.scope_name}, {content.quarter.label}", blocks


def escalation_dm(draft_id: int, content: ThemeContent, *, manager: str, reason: str,
                  channel: str | None) -> tuple[str, list[Block]]:
    where = f"<#{channel}>" if channel else "the service's channel"
    intro = (f"The learning themes draft for *{content.scope_name}*, {content.quarter.label}, is waiting: "
             f"<@{manager}> {reason}. Quality & Improvement can edit it and post it to {where}.")
    blocks: list[Block] = [header(f"Learning themes waiting: {content.scope_name}"), section(intro), divider()]
    blocks.extend(_preview(content))
    blocks.append(draft_actions(draft_id))
    return f"Learning themes waiting to be posted: {content.scope_name}, {content.quarter.label}", blocks


def posted_note(service_name: str, quarter: Quarter, channel: str, by: str | None) -> tuple[str, list[Block]]:
    who = f"by <@{by}>" if by else "automatically (your council posts learning themes without review)"
    text = f"The learning themes for {service_name}, {quarter.label}, were posted to <#{channel}> {who}."
    return text, [section(text)]


# ---------------------------------------------------------------------------------------------
# the Edit modal


def edit_modal(draft_id: int, content: ThemeContent) -> View:
    blocks: list[Block] = [
        privacy_notice(),
        section(f"Learning themes for *{content.scope_name}*, {content.quarter.label}. Rewrite the key messages "
                "and tick any line to leave it out of the post. The post goes to the service's channel."),
        InputBlock(
            block_id=ThemesAction.KEY_MESSAGES.value,
            label=PlainTextObject(text="Key messages"),
            hint=PlainTextObject(text=f"{NO_NAMES_HINT} No case references. These open the post."),
            element=PlainTextInputElement(
                action_id=ThemesAction.KEY_MESSAGES.value, multiline=True, max_length=KEY_MESSAGES_MAX,
                initial_value=content.key_messages[:KEY_MESSAGES_MAX],
            ),
        ),
    ]
    groups: list[tuple[str, list[Line]]] = []
    for name in SECTION_ORDER:
        by_group: dict[str, list[Line]] = {}
        for line in content.lines:
            if line.section == name:
                by_group.setdefault(line.group or "", []).append(line)
        for group, lines in by_group.items():
            chunks = [lines[i:i + CHECKBOX_OPTIONS] for i in range(0, len(lines), CHECKBOX_OPTIONS)]
            for n, chunk in enumerate(chunks, start=1):
                label = f"Leave out: {SECTION_SHORT[name]}"
                if group:
                    label += f", {group}"
                if len(chunks) > 1:
                    label += f" ({n} of {len(chunks)})"
                groups.append((label, chunk))
    room = MODAL_BLOCKS - len(blocks) - 1
    for index, (label, lines) in enumerate(groups[:room]):
        options = [Option(value=line.id, text=line.label, description=line.detail or None) for line in lines]
        initial = [o for o, line in zip(options, lines, strict=True) if line.id in content.dropped]
        blocks.append(InputBlock(
            block_id=f"{ThemesAction.DROP.value}-{index}", optional=True,
            label=PlainTextObject(text=label[:2000]),
            element=CheckboxesElement(action_id=ThemesAction.DROP.value, options=options,
                                      initial_options=initial or None),
        ))
    if len(groups) > room:
        blocks.append(context("Some lines could not be listed here; they stay in the post."))
    return modal(title="Learning themes draft", callback_id=ThemesAction.EDIT_VIEW.value, blocks=blocks,
                 submit="Save draft", private_metadata=json.dumps({"draft": draft_id}))


def modal_line_ids(view: dict[str, object]) -> list[str]:
    """The line ids the person was offered in the submitted modal (so unseen lines keep their state)."""
    out: list[str] = []
    for block in cast("list[Any]", view.get("blocks") or []):  # a view's blocks are a JSON array
        if not isinstance(block, dict) or not str(block.get("block_id", "")).startswith(ThemesAction.DROP.value):
            continue
        for option in (block.get("element") or {}).get("options") or []:
            out.append(str(option.get("value")))
    return out


# ---------------------------------------------------------------------------------------------
# /qmf themes


def collation_messages(col: Collation, content: ThemeContent) -> list[tuple[str, list[Block]]]:
    """The on-demand view for the people allowed to see exact counts (no case references)."""
    messages = post_messages(content, with_chart=False)
    if col.by_service:
        lines = "\n".join(f"• {name}: {n}" for name, n in col.by_service)
        text, blocks = messages[0]
        extra: list[Block] = [section(chunk) for chunk in split_text(f"*Learning audits recorded by service*\n{lines}")]
        if len(blocks) + len(extra) <= MESSAGE_BLOCKS:
            blocks[2:2] = extra
        else:
            for start in range(0, len(extra), MESSAGE_BLOCKS):
                messages.append((text, extra[start:start + MESSAGE_BLOCKS]))
    if col.withheld:
        text, blocks = messages[-1]
        note = context(f":shield: {col.withheld} learning point(s) are not shown because they looked like a case "
                       "reference, a person or identifying details.")
        if len(blocks) < MESSAGE_BLOCKS:
            blocks.append(note)
        else:
            messages.append((text, [note]))
    return messages
