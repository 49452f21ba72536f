"""`qmf-bot demo`: a quarter played offline through the real app, jobs and database.

It runs the same LocalBot the tests use (the ASGI app on loopback, the local Slack stand-in,
SQLite) with the sample organisation, drives it with Slack-signed requests, and writes what
each person saw to ./demo-out/: transcript.md (in order), people/<id>.md (per person) and
the quarter's reports.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.harness import SAMPLE_ORG, LocalBot
from bot.sandbox.render import render_blocks, render_view

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


@dataclass
class Narrator:
    bot: LocalBot
    out: Path
    lines: list[str] = field(default_factory=list)
    per_person: dict[str, list[str]] = field(default_factory=dict)
    _seen_ts: set[str] = field(default_factory=set)
    _calls_seen: int = 0
    _files_seen: int = 0

    def chapter(self, title: str, about: str = "") -> None:
        self.lines += ["", f"## {title}", ""]
        if about:
            self.lines += [about, ""]
        print(f"demo: {title}", file=sys.stderr)

    def step(self, what: str) -> None:
        self.lines += [f"### {what}", ""]

    def note(self, text: str) -> None:
        self.lines += [text, ""]

    def _seen_by(self, who: str, heading: str, body: str) -> None:
        quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
        self.lines += [f"**{heading}**", "", quoted, ""]
        self.per_person.setdefault(who, []).extend([f"**{heading}**", "", quoted, ""])

    def collect(self) -> None:
        """Everything Slack showed anyone since the last call, in the order it happened."""
        fake = self.bot.fake
        shown: list[tuple[str, str, str, str]] = []  # (ts, who, heading, body)
        for m in fake.messages():
            if m["ts"] in self._seen_ts:
                continue
            self._seen_ts.add(m["ts"])
            channel = m["channel"]
            who = channel[1:] if channel.startswith("D") else channel
            where = f"DM to {who}" if channel.startswith("D") else f"Post in channel {channel}"
            shown.append((m["ts"], who, f"{where} ({self.bot.clock():%a %d %b %Y})",
                          render_blocks(m.get("blocks"), m.get("text"))))
        for e in fake.ephemerals():
            if e["ts"] in self._seen_ts:
                continue
            self._seen_ts.add(e["ts"])
            shown.append((e["ts"], e["user"], f"Only visible to {e['user']}",
                          render_blocks(e.get("blocks"), e.get("text"))))
        shown.sort(key=lambda item: float(item[0]))
        for _, who, heading, body in shown:
            self._seen_by(who, heading, body)
        calls = fake.calls()
        for call in calls[self._calls_seen:]:
            if call.method in ("views.open", "views.push", "views.update") and call.ok:
                view = call.args.get("view")
                if isinstance(view, str):
                    import json

                    view = json.loads(view)
                owner = fake.view_owner(str(call.response.get("view", {}).get("id", ""))) or "someone"
                self._seen_by(owner, f"Modal for {owner}", render_view(view))
            if call.method == "views.publish" and call.ok:
                view = call.args.get("view")
                if isinstance(view, str):
                    import json

                    view = json.loads(view)
                user = str(call.args.get("user_id"))
                self._seen_by(user, f"App Home of {user}", render_view(view))
        self._calls_seen = len(calls)
        for f in fake.files[self._files_seen:]:
            name = f"{len(list(self.out.glob('*.png'))) + 1:02d}-{f['filename']}"
            (self.out / name).write_bytes(f["content"])
            self._seen_by(f["channel_id"], f"File in channel {f['channel_id']}",
                          f"{f['title']} (saved as {name})")
        self._files_seen = len(fake.files)

    def act(self, who: str, what: str, action: Callable[[], Any]) -> Any:
        self.step(f"{who} {what}")
        result = action()
        self.collect()
        return result

    def job(self, name: str, at: datetime) -> Any:
        self.step(f"Scheduled job `{name}` runs at {at:%a %d %b %Y %H:%M}")
        outcome = self.bot.run_job(name, at=at)
        self.note(f"`{outcome.line()}`")
        self.collect()
        return outcome

    def write(self, title: str) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "transcript.md").write_text(f"# {title}\n" + "\n".join(self.lines) + "\n", encoding="utf-8")
        people = self.out / "people"
        people.mkdir(exist_ok=True)
        for who, lines in sorted(self.per_person.items()):
            (people / f"{who}.md").write_text(f"# What {who} saw\n\n" + "\n".join(lines) + "\n", encoding="utf-8")


SCENES: list[Callable[[Narrator], None]] = []


def scene(fn: Callable[[Narrator], None]) -> Callable[[Narrator], None]:
    SCENES.append(fn)
    return fn


@scene
def getting_started(n: Narrator) -> None:
    n.chapter("Getting started", "The admin has imported the sample organisation: 4 services, 8 teams, "
              "4 Service Managers, 5 Q&I staff and 5 Practice Consultants.")
    slack = n.bot.slack
    n.act("U0ADM1", "types `/qmf help`", lambda: slack.command("U0ADM1", "/qmf", "help"))
    n.act("U0SM1", "types `/qmf whoami`", lambda: slack.command("U0SM1", "/qmf", "whoami"))
    n.act("U0NEWSTARTER (not in the directory)", "types `/qmf whoami`",
          lambda: slack.command("U0NEWSTARTER", "/qmf", "whoami"))


def load_scenes() -> list[Callable[[Narrator], None]]:
    import importlib
    import importlib.util

    for module in ("bot.sandbox.demo_scenes",):
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return SCENES


def run_demo(out: Path) -> int:
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    url = f"sqlite:///{(out / 'qmf-demo.db').resolve()}"
    with LocalBot(url, start=london(2026, 3, 30, 9, 0)) as bot:
        changes = bot.import_org(SAMPLE_ORG)
        narrator = Narrator(bot, out)
        narrator.note(f"Org file imported: {len(changes)} changes.")
        for play in load_scenes():
            play(narrator)
        narrator.write("QMF Bot demo: a quarter at Example Council Children & Families")
        problems = list(bot.fake.problems)
    seconds = time.monotonic() - started
    print(f"Demo finished in {seconds:.1f}s: transcript in {out / 'transcript.md'}, "
          f"what each person saw in {out / 'people'}/.")
    if problems:
        print("Slack would have refused some calls:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    return 0
