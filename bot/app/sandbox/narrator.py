"""The demo's narrator: it plays scenes against the LocalBot and writes what each person saw.
Scenes are listed in order with ``@scene`` (the first here, the rest in ``demo_history``, ``demo_learning``, ``demo_sampling``, ``demo_board``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from bot.app.sandbox.harness import LocalBot
from bot.app.sandbox.render import render_blocks, render_view

LONDON = ZoneInfo("Europe/London")


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


@dataclass
class Narrator:
    bot: LocalBot
    out: Path
    lines: list[str] = field(default_factory=list)
    per_person: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Slack id -> what they are (e.g. "Service Manager, Children in Care"), for readable headings."""
    _seen_ts: set[str] = field(default_factory=set)
    _seen_edits: set[str] = field(default_factory=set)
    _calls_seen: int = 0
    _files_seen: int = 0

    @property
    def reports(self) -> Path:
        """Where the quarter's reports go (demo-out/reports/)."""
        folder = self.out / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def name(self, who: str) -> str:
        """A Slack id with what the person (or channel) is, when the scene said so."""
        return f"{who} ({self.names[who]})" if who in self.names else who

    def _where(self, channel: str, verb: str) -> str:
        if channel.startswith("D"):
            return f"DM to {self.name(channel[1:])}"
        if channel.startswith("G"):
            return f"{verb} group DM {channel}"
        return f"{verb} channel {self.name(channel)}"

    def chapter(self, title: str, about: str = "") -> None:
        self.lines += ["", f"## {title}", ""]
        if about:
            self.lines += [about, ""]
        print(f"demo: {title}", file=sys.stderr)

    def step(self, what: str) -> None:
        self.lines += [f"### {what}", ""]

    def note(self, text: str) -> None:
        self.lines += [text, ""]

    def _seen_by(self, who: str, heading: str, body: str, *, in_transcript: bool = True) -> None:
        quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
        if in_transcript:
            self.lines += [f"**{heading}**", "", quoted, ""]
        self.per_person.setdefault(who, []).extend([f"**{heading}**", "", quoted, ""])

    def collect(self, only: set[str] | None = None) -> None:
        """Everything Slack showed anyone since the last call, in the order it happened.

        ``only`` keeps the transcript readable when a job messages a dozen people alike: what
        those people saw (and every channel post) goes in the transcript, everyone else's only
        in their own people/<id>.md, with a line saying how much was left out.
        """
        fake = self.bot.fake
        shown: list[tuple[str, str, str, str]] = []  # (ts, who, heading, body)
        day = f"{self.bot.clock():%a %d %b %Y}"
        for m in fake.messages():
            channel = m["channel"]
            who = channel[1:] if channel.startswith("D") else channel
            edited = (m.get("edited") or {}).get("ts")
            if m["ts"] not in self._seen_ts:
                self._seen_ts.add(m["ts"])
                if edited:
                    self._seen_edits.add(str(edited))
                body = render_blocks(m.get("blocks"), m.get("text"))
                if not body.strip() and m.get("files"):
                    continue  # a file's own message: the file is shown below
                shown.append((m["ts"], who, f"{self._where(channel, 'Post in')} ({day})", body))
            elif edited and str(edited) not in self._seen_edits:
                self._seen_edits.add(str(edited))
                shown.append((str(edited), who, f"{self._where(channel, 'Message in')} now reads ({day})",
                              render_blocks(m.get("blocks"), m.get("text"))))
        for e in fake.ephemerals():
            if e["ts"] in self._seen_ts:
                continue
            self._seen_ts.add(e["ts"])
            shown.append((e["ts"], e["user"], f"Only visible to {self.name(e['user'])}",
                          render_blocks(e.get("blocks"), e.get("text"))))
        shown.sort(key=lambda item: float(item[0]))
        hidden: set[str] = set()

        def visible(who: str) -> bool:
            """Channels are always shown; people (and their group DMs) as ``only`` says."""
            keep = only is None or who in only or not who.startswith(("U", "G"))
            if not keep and who.startswith("U"):
                hidden.add(who)
            return keep

        for _, who, heading, body in shown:
            self._seen_by(who, heading, body, in_transcript=visible(who))
        calls = fake.calls()
        for call in calls[self._calls_seen:]:
            if call.method in ("views.open", "views.push", "views.update") and call.ok:
                view = call.args.get("view")
                if isinstance(view, str):
                    import json

                    view = json.loads(view)
                owner = fake.view_owner(str(call.response.get("view", {}).get("id", ""))) or "someone"
                self._seen_by(owner, f"Modal for {self.name(owner)}", render_view(cast("dict[str, Any]", view)),
                             in_transcript=visible(owner))
            if call.method == "views.publish" and call.ok:
                view = call.args.get("view")
                if isinstance(view, str):
                    import json

                    view = json.loads(view)
                user = str(call.args.get("user_id"))
                self._seen_by(user, f"App Home of {self.name(user)}", render_view(cast("dict[str, Any]", view)),
                             in_transcript=visible(user))
        self._calls_seen = len(calls)
        for f in fake.files[self._files_seen:]:
            name = f"{len(list(self.out.glob('*.png'))) + 1:02d}-{f['filename']}"
            (self.out / name).write_bytes(f["content"])
            if f["channel_id"] is None:  # uploaded privately, shown in App Home's image blocks
                continue
            channel = str(f["channel_id"])
            if channel[:1] == "D" and channel[1:2] in ("U", "W"):  # a person's DM with the bot
                self._seen_by(channel[1:], f"File in the DM of {self.name(channel[1:])}",
                              f"{f['title']} (saved as {name})")
            else:
                self._seen_by(channel, f"File in channel {self.name(channel)}", f"{f['title']} (saved as {name})")
        self._files_seen = len(fake.files)
        if hidden and only:  # only=set() is a quiet step: the scene says what happened
            people = ", ".join(sorted(hidden))
            self.note(f"_(What {people} saw is in their own files under people/.)_")

    def act(self, who: str, what: str, action: Callable[[], Any], only: set[str] | None = None) -> Any:
        self.step(f"{who} {what}")
        result = action()
        self.collect(only)
        return result

    def job(self, name: str, at: datetime, only: set[str] | None = None, **options: Any) -> Any:
        self.step(f"Scheduled job `{name}` runs at {at:%a %d %b %Y %H:%M}")
        outcome = self.bot.run_job(name, at=at, **options)
        self.note(f"`{outcome.line()}`")
        self.collect(only)
        return outcome

    def write(self, title: str) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        chapters = [line[3:] for line in self.lines if line.startswith("## ")]
        contents = ["", "Contents:", ""] + [f"{i}. {c}" for i, c in enumerate(chapters, 1)] + [""]
        (self.out / "transcript.md").write_text(
            f"# {title}\n" + "\n".join(contents + self.lines) + "\n", encoding="utf-8")
        people = self.out / "people"
        people.mkdir(exist_ok=True)
        for who, lines in sorted(self.per_person.items()):
            (people / f"{who}.md").write_text(f"# What {self.name(who)} saw\n\n" + "\n".join(lines) + "\n",
                                              encoding="utf-8")


def names_from_org(path: Path) -> dict[str, str]:
    """What each person and channel in the org file is, so a transcript reads "U0SM1 (Service Manager,
    Children in Care)" rather than a bare Slack id."""
    import yaml

    org = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names: dict[str, str] = {}
    for role, channel in (org.get("channels") or {}).items():
        names[str(channel)] = "#" + str(role).replace("_", "-")
    for division in org.get("divisions") or []:
        for person in division.get("leadership_team") or []:
            names[str(person)] = "Divisional Leadership Team"
    for service in org.get("services") or []:
        sname = str(service.get("name"))
        names[str(service.get("service_manager"))] = f"Service Manager, {sname}"
        if service.get("channel"):
            names[str(service["channel"])] = f"#{sname.lower().replace(' ', '-').replace('/', '-')}"
        for team in service.get("teams") or []:
            names[str(team.get("team_manager"))] = f"Team Manager, {team.get('name')}"
            for worker in team.get("practitioners") or []:
                names[str(worker)] = f"social worker, {team.get('name')}"
    roles = {"quality_improvement": "Quality & Improvement", "practice_consultants": "Practice Consultant",
             "senior_managers": "senior manager", "reviewing_officers": "Independent Reviewing Officer",
             "admins": "QMF admin", "board_leads": "board lead"}
    for role, people in (org.get("people") or {}).items():
        for person in people or []:
            names.setdefault(str(person), roles.get(role, role.replace("_", " ")))
    for forum in org.get("forums") or []:
        names[str(forum.get("channel"))] = f"#{str(forum.get('name')).lower().replace(' ', '-')}"
    return names


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
