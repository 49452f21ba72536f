"""Block Kit as plain text, for the demo transcript: what each person would have seen, readable in a file.

The aim is a faithful reading of the message, not a pixel copy: every visible word, every button a
person could press and every field a modal asks for appears, so a reviewer can follow a quarter
without Slack. Slack's date tokens (``<!date^...|Fri 15 May 2026>``) read as their fallback words,
as a reader whose Slack could not format them would see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.core.formatting import plain_dates

_RULE = "-" * 40


def _text(obj: Any) -> str:
    """The words of a text object (plain_text or mrkdwn), or of a bare string."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj)


def _option_texts(element: dict[str, Any]) -> list[str]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [_text(o.get("text")) for o in options if isinstance(o, dict)]


def _initial(element: dict[str, Any]) -> str | None:
    """What a field already holds when the modal opens, as the person would read it."""
    for key in ("initial_value", "initial_date", "initial_time", "initial_user", "initial_conversation"):
        if element.get(key):
            return str(element[key])
    if element.get("initial_channel"):
        return str(element["initial_channel"])
    if isinstance(element.get("initial_option"), dict):
        return _text(element["initial_option"].get("text"))
    for key in ("initial_options", "initial_users", "initial_conversations", "initial_channels"):
        values = element.get(key)
        if values:
            return ", ".join(_text(v.get("text")) if isinstance(v, dict) else str(v) for v in values)
    return None


def render_element(element: dict[str, Any]) -> str:
    """One interactive or context element on a single line."""
    etype = element.get("type", "")
    if etype == "button":
        style = f" ({element['style']})" if element.get("style") else ""
        link = f" -> {element['url']}" if element.get("url") else ""
        return f"[Button: {_text(element.get('text'))}{style}{link}]"
    if etype == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if etype in ("plain_text", "mrkdwn"):
        return _text(element)
    if etype == "overflow":
        return f"[Menu: {' / '.join(_option_texts(element))}]"
    if etype in ("static_select", "multi_static_select", "radio_buttons", "checkboxes"):
        options = " | ".join(_option_texts(element))
        placeholder = _text(element.get("placeholder"))
        head = f"{etype}: {placeholder}" if placeholder else etype
        return f"<{head}: {options}>" if options else f"<{head}>"
    if etype == "workflow_button":
        return f"[Workflow: {_text(element.get('text'))}]"
    placeholder = _text(element.get("placeholder"))
    return f"<{etype}: {placeholder}>" if placeholder else f"<{etype}>"


def _rich_text(elements: Iterable[Any], indent: int = 0) -> list[str]:
    """Best effort: sections become paragraphs, lists bullets, quotes '>' and code fenced."""
    lines: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        etype = el.get("type")
        if etype == "rich_text_section":
            lines.append(" " * indent + _inline(el.get("elements") or []))
        elif etype == "rich_text_list":
            bullet_ordered = el.get("style") == "ordered"
            for n, item in enumerate(el.get("elements") or [], start=1):
                bullet = f"{n}." if bullet_ordered else "•"
                text = _inline(item.get("elements") or []) if isinstance(item, dict) else ""
                pad = " " * (indent + 2 * int(el.get("indent", 0)))
                lines.append(f"{pad}{bullet} {text}")
        elif etype == "rich_text_quote":
            lines.append(" " * indent + "> " + _inline(el.get("elements") or []))
        elif etype == "rich_text_preformatted":
            lines.extend(["```", _inline(el.get("elements") or []), "```"])
    return lines


def _inline(elements: Iterable[Any]) -> str:
    parts: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        etype = el.get("type")
        if etype == "text":
            text = str(el.get("text", ""))
            style = el.get("style") or {}
            if style.get("bold"):
                text = f"*{text}*"
            if style.get("italic"):
                text = f"_{text}_"
            if style.get("code"):
                text = f"`{text}`"
            parts.append(text)
        elif etype == "link":
            parts.append(f"{el.get('text') or el.get('url', '')} <{el.get('url', '')}>")
        elif etype == "user":
            parts.append(f"<@{el.get('user_id', '')}>")
        elif etype == "channel":
            parts.append(f"<#{el.get('channel_id', '')}>")
        elif etype == "emoji":
            parts.append(f":{el.get('name', '')}:")
        elif etype == "date":
            parts.append(str(el.get("fallback") or el.get("timestamp", "")))
        else:
            parts.append(str(el.get("text", "")))
    return "".join(parts)


def render_block(block: dict[str, Any]) -> list[str]:
    """The lines one block reads as."""
    btype = block.get("type")
    if btype == "header":
        return [f"# {_text(block.get('text'))}"]
    if btype == "divider":
        return [_RULE]
    if btype == "section":
        lines: list[str] = []
        if block.get("text"):
            lines.extend(_text(block["text"]).splitlines() or [""])
        for f in block.get("fields") or []:
            lines.append(f"  • {_text(f)}")
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            rendered = render_element(accessory)
            if lines:
                lines[0] = f"{lines[0]}    {rendered}"
            else:
                lines.append(rendered)
        return lines
    if btype == "context":
        return [
            "  " + " · ".join(render_element(e) for e in block.get("elements") or [] if isinstance(e, dict))
        ]
    if btype == "image":
        title = f" ({_text(block.get('title'))})" if block.get("title") else ""
        return [f"[image: {block.get('alt_text', '')}]{title}"]
    if btype in ("actions", "context_actions"):
        return ["  ".join(render_element(e) for e in block.get("elements") or [] if isinstance(e, dict))]
    if btype == "input":
        element = block.get("element") or {}
        optional = " (optional)" if block.get("optional") else ""
        line = f"{_text(block.get('label'))}: {render_element(element)}{optional}"
        initial = _initial(element)
        if initial is not None:
            line += f" = {initial}"
        lines = [line]
        if block.get("hint"):
            lines.append(f"  ({_text(block['hint'])})")
        return lines
    if btype == "rich_text":
        return _rich_text(block.get("elements") or [])
    if btype == "markdown":
        return str(block.get("text", "")).splitlines()
    if btype == "file":
        return [f"[file: {block.get('external_id', '')}]"]
    if btype == "video":
        return [f"[video: {_text(block.get('title'))}]"]
    if btype == "table":
        rows = []
        for row in block.get("rows") or []:
            cells = []
            for cell in row:
                if isinstance(cell, dict) and cell.get("type") == "rich_text":
                    cells.append(" ".join(_rich_text(cell.get("elements") or [])))
                else:
                    cells.append(_text(cell))
            rows.append("| " + " | ".join(cells) + " |")
        return rows
    return [f"[{btype} block]"]


def render_blocks(blocks: list[dict[str, Any]] | None, text: str | None = None) -> str:
    """A message as text; the notification ``text`` stands in when there are no blocks."""
    if not blocks:
        return plain_dates(text or "")
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, dict):
            lines.extend(render_block(block))
    return plain_dates("\n".join(lines))


def render_view(view: dict[str, Any]) -> str:
    """A modal or the App Home: its title, its blocks and the buttons at the bottom."""
    if view.get("type") == "home":
        head = "=== App Home ==="
    else:
        head = f"=== {_text(view.get('title')) or 'Modal'} ==="
    lines = [head, render_blocks(view.get("blocks") or [])]
    footer = []
    if view.get("close"):
        footer.append(f"[{_text(view['close'])}]")
    elif view.get("type") == "modal":
        footer.append("[Cancel]")
    if view.get("submit"):
        footer.append(f"[{_text(view['submit'])}]")
    if footer and view.get("type") != "home":
        lines.append("  ".join(footer))
    return plain_dates("\n".join(line for line in lines if line is not None))


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(words, value) of every button in a message, in order: an actions block's and a section's."""
    found: list[tuple[str, str]] = []
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found += [(e["text"]["text"], str(e.get("value", ""))) for e in elements if e.get("type") == "button"]
    return found
