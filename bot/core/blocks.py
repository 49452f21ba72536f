"""Small Block Kit builders shared by every flow; they return slack_sdk models so the SDK
checks Slack's own length and count limits."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.privacy import escape as escape  # one escape for all Block Kit text

NOT_THE_RECORD = (
    ":lock: QMF Bot is not the case record. Use case references only: "
    "*no names or identifying details*."
)

NO_NAMES_HINT = "No names or identifying details."
SECTION_LIMIT = 3000


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=text[:150]))


def section(text: str, *, block_id: str | None = None, accessory: object | None = None,
            fields: Sequence[str] | None = None) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=text) if text else None,
        block_id=block_id,
        accessory=accessory,  # type: ignore[arg-type]
        fields=[MarkdownTextObject(text=f) for f in fields] if fields else None,
    )


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=t) for t in texts])


def divider() -> DividerBlock:
    return DividerBlock()


def button(text: str, action_id: str, value: str | None = None, *, style: str | None = None,
           url: str | None = None) -> ButtonElement:
    return ButtonElement(text=PlainTextObject(text=text), action_id=action_id, value=value, style=style, url=url)


def actions(*elements: ButtonElement, block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(elements=list(elements), block_id=block_id)


def privacy_notice() -> ContextBlock:
    return context(NOT_THE_RECORD)


def modal(*, title: str, callback_id: str, blocks: Sequence[Block], submit: str | None = None,
          close: str = "Cancel", private_metadata: str | None = None, external_id: str | None = None) -> View:
    return View(
        type="modal",
        title=PlainTextObject(text=title),
        callback_id=callback_id,
        blocks=list(blocks),
        submit=PlainTextObject(text=submit) if submit else None,
        close=PlainTextObject(text=close),
        private_metadata=private_metadata,
        external_id=external_id,
    )


def notice_view(title: str, text: str) -> View:
    """A closing modal that tells the person why their submission could not be taken."""
    return modal(title=title[:24], callback_id="qmf-notice", blocks=[section(text)], close="Close")


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split long text into chunks under Slack's section limit, at line or word boundaries."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def blocks_json(blocks: Sequence[Block]) -> list[dict[str, object]]:
    return [b.to_dict() for b in blocks]
