"""Every word the demo sends a person reads as if a person wrote it: people appear as Slack mentions
(``<@U…>``, which Slack shows as their name), never as raw ids, and none of the bot's internal words
("seed", "org file", "job run") reach a message, a modal or a Home tab.

The demo is played against a local Slack that keeps every version of everything it was sent (a
message later edited, a modal later updated, an ephemeral later replaced), so a word shown for a
moment and then overwritten is still found. What the demo's CLI and its transcript's narration say
is not read here: the CLI and the dry run keep their log lines on purpose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app.sandbox import demo
from bot.app.sandbox.fake_slack import FakeSlack

# A raw Slack user id. Real ids are U or W and 8-10 capitals and digits; the sample organisation's are
# shorter (U0SM1, U0P3), so the brief's \b[UW][A-Z0-9]{6,}\b would miss every one of them: any U/W
# word of four or more capitals and digits with a digit in it is taken as an id.
RAW_ID = re.compile(r"\b[UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{3,}\b")
MENTION = re.compile(r"<[@!#][^>]*>")
INTERNAL = re.compile(r"\b(seeds?|seeded|org[ -]?files?|jobs? runs?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Seen:
    where: str  # "DM to U0TM1", "channel C0QI", "modal for U0SM1", "App Home of U0QI1", ...
    text: str


class RecordingSlack(FakeSlack):
    """The local Slack, keeping a copy of every message, ephemeral and view as it was when shown."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Seen] = []

    def _keep(self, where: str, *parts: Any) -> None:
        for part in parts:
            self.seen.extend(Seen(where, text) for text in texts_in(part))

    def _store_message(self, channel: str, args: dict[str, Any]) -> dict[str, Any]:
        self._keep(_place(channel), args.get("text"), args.get("blocks"), args.get("attachments"))
        return super()._store_message(channel, args)

    def _deliver_response(self, payload: dict[str, Any], ctx: Any) -> None:
        self._keep(f"reply to {ctx.user_id} in {_place(str(ctx.channel))}", payload.get("text"),
                   payload.get("blocks"))
        super()._deliver_response(payload, ctx)

    def _store_ephemeral(self, channel: str, user_id: str, args: dict[str, Any], *, source: str) -> dict[str, Any]:
        self._keep(f"only visible to {user_id}", args.get("text"), args.get("blocks"))
        return super()._store_ephemeral(channel, user_id, args, source=source)

    def _open_view(self, user_id: str, view: dict[str, Any], *, push: bool) -> dict[str, Any]:
        self._keep(f"modal for {user_id}", view)
        return super()._open_view(user_id, view, push=push)

    def _replace_view(self, record: Any, view: dict[str, Any]) -> dict[str, Any]:
        self._keep(f"modal for {record.user_id}", view)
        return super()._replace_view(record, view)

    def everything(self) -> list[Seen]:
        """What was kept as it happened, with the API calls the fake answers from its method table
        (edits of posted messages, Home tabs and uploaded files' titles and comments)."""
        seen = list(self.seen)
        for call in self.calls():
            where = {"chat.update": f"edit of a message in {_place(str(call.args.get('channel')))}",
                     "views.publish": f"App Home of {call.args.get('user_id')}"}.get(call.method)
            if where and call.ok:
                view = call.args.get("view")
                view = json.loads(view) if isinstance(view, str) else view
                seen.extend(Seen(where, text) for part in (call.args.get("text"), call.args.get("blocks"),
                                                            call.args.get("attachments"), view)
                            for text in texts_in(part))
        for f in self.files:
            seen.extend(Seen(f"file in channel {f['channel_id']}", text)
                        for text in texts_in([f.get("title"), f.get("initial_comment")]))
        return seen


def _place(channel: str) -> str:
    return f"DM to {channel[1:]}" if channel.startswith("D") else f"channel {channel}"


def texts_in(part: Any) -> Iterator[str]:
    """Every string a person reads in a message, block, view or attachment, however deeply nested:
    ``text`` (plain or mrkdwn, in sections, fields, buttons, options, labels, placeholders, titles),
    ``fallback``/``pretext``/``title`` of attachments and ``alt_text`` of images. Ids, values and
    URLs are for Slack, not for people, and are not read."""
    if isinstance(part, str):
        yield part
    elif isinstance(part, list):
        for item in part:
            yield from texts_in(item)
    elif isinstance(part, dict):
        for key, value in part.items():
            if isinstance(value, str):
                if key in ("text", "fallback", "pretext", "title", "alt_text"):
                    yield value
            else:
                yield from texts_in(value)


def offences(seen: list[Seen]) -> list[str]:
    """Each text with a raw id or an internal word: what was found, where (everyone who got the same
    text, on one line) and the words around the first hit."""
    places: dict[tuple[str, ...], list[str]] = {}
    for item in seen:
        plain = MENTION.sub("<@…>", item.text)
        hits = sorted([*RAW_ID.finditer(plain), *INTERNAL.finditer(plain)], key=lambda m: m.start())
        if hits:
            first = hits[0]
            around = " ".join(plain[max(0, first.start() - 60):first.end() + 80].split())
            key = (", ".join(dict.fromkeys(repr(m.group(0)) for m in hits)), around)
            places.setdefault(key, [])
            if item.where not in places[key]:
                places[key].append(item.where)
    return [f"{found} in \"…{around}…\" ({'; '.join(where)})" for (found, around), where in sorted(places.items())]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[Seen]]:
    out = tmp_path_factory.mktemp("demo-words") / "demo-out"
    fake = RecordingSlack().start()
    try:
        code = demo.run_demo(out, fake=fake)
    finally:
        fake.stop()
    return code, fake.everything()


def test_the_recording_slack_reads_what_people_were_sent(played) -> None:  # noqa: ANN001
    """The scan below proves nothing if it reads nothing: it sees DMs, channel posts, modals and Homes."""
    code, seen = played
    assert code == 0
    places = {s.where.split(" ")[0] for s in seen}
    assert {"DM", "channel", "modal", "App", "only", "reply", "file"} <= places, places
    assert len(seen) > 500


def test_no_raw_ids_or_internal_words_reach_anyone_in_the_demo(played) -> None:  # noqa: ANN001
    _, seen = played
    found = offences(seen)
    assert not found, f"{len(found)} raw ids or internal words reached people:\n" + "\n".join(found)


def test_the_scan_finds_a_raw_id_and_each_internal_word() -> None:
    """The patterns themselves: they catch the sample's short ids and real long ones, but not
    mentions, case references or ordinary words that merely contain the letters."""
    seen = [Seen("DM to U0SM1", text) for text in (
        "already has 2 cases (U0SM1, U0SM3)", "ask UABCD12345 first", "Seed 2026",
        "add you to the org file", "the job run failed", "with <@U0SM1> and <@W0123ABCD>",
        "CIC-20411 proceeds; we succeeded in Week 2 at UNIT W1A", "U0P3")]
    hits = {f.split(" in ")[0] for f in offences(seen)}
    assert hits == {"'U0SM1', 'U0SM3'", "'UABCD12345'", "'Seed'", "'org file'", "'job run'", "'U0P3'"}
