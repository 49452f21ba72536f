"""The scenes of `qmf-bot demo`: a whole 2026-27 Q1 of the Quality Management Framework, played by the
sample organisation through the real app (Slack-signed requests) and the real scheduler jobs.

bot.app.sandbox.demo imports this module; each ``@scene`` runs in the order written
here: learning audits (proposals, allocation, reflections, audit records, actions), the quarter's
learning themes, a random sample, a themed audit and a learning visit reaching the Continuous
Improvement Board, and the quarter's reports in demo-out/reports/.

A few people are narrated in full; the rest of the quarter's work is done quietly, still through
Slack, so each person's own file under people/ has everything they saw while transcript.md stays
readable for a council manager rather than a hundred DMs that look alike.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app.cli_reports import report_sample, report_themes
from bot.app.sandbox import demo_history  # noqa: F401  (its scene, the year before, plays first)
from bot.app.sandbox.driver import Reply
from bot.app.sandbox.narrator import Narrator, london, scene
from bot.app.sandbox.render import render_blocks

QUARTER = "2026-27Q1"
QUARTER_LABEL = "2026-27 Q1"
ALLOCATION_SEED = 2026
SAMPLE_SEED = 4242
REPO_CASES_CSV = Path(__file__).with_name("cases.csv")

REASON = "Why would this case give most learning?"
FLAGS = "Does any of these apply?"
INADEQUATE = "Previously graded Inadequate"
LOTS = "Previously created a lot of learning"
REVISIT = "A re-visit of an earlier audit"
TEAM_MANAGERS = tuple(f"U0TM{i}" for i in range(1, 9))
TEAM_LABEL = {
    "cic-north": "Children in Care — CiC North", "cic-south": "Children in Care — CiC South",
    "cp-east": "Child Protection — CP East", "cp-west": "Child Protection — CP West",
    "cin-central": "Child in Need — CiN Central", "cin-outreach": "Child in Need — CiN Outreach",
    "fd-mash": "Front Door/MASH — MASH", "fd-assessment": "Front Door/MASH — Assessment",
}


@dataclass(frozen=True)
class Proposed:
    """One case a manager proposes (a case reference only: never a child's name)."""

    proposer: str
    case_ref: str
    team: str
    holder: str
    reason: str
    flags: tuple[str, ...] = ()


# Proposed without narration; the narrated ones are in the scene. Every manager but U0TM6 proposes.
QUIET_PROPOSALS = [
    Proposed("U0TM1", "CIC-20415", "cic-north", "U0P3", "Family time was re-planned around the child."),
    Proposed("U0TM2", "CIC-20502", "cic-south", "U0P4", "A placement held after a crisis plan.", (LOTS,)),
    Proposed("U0TM3", "CP-31007", "cp-east", "U0P6", "Neglect improved through a clear, shared plan."),
    Proposed("U0TM4", "CP-31120", "cp-west", "U0P9", "A conference plan stalled, then turned round.",
             (INADEQUATE,)),
    Proposed("U0TM5", "CIN-40021", "cin-central", "U0P11", "Early help and school worked as one.", (LOTS,)),
    Proposed("U0TM5", "CIN-40022", "cin-central", "U0P12", "Direct work changed how the family engaged."),
    Proposed("U0SM3", "CIN-40310", "cin-outreach", "U0P14", "Drift before a change of worker, then pace."),
    Proposed("U0TM7", "FD-50017", "fd-mash", "U0P16", "A threshold decision revisited on new information.",
             (REVISIT,)),
    Proposed("U0TM8", "FD-50120", "fd-assessment", "U0P19", "An assessment that captured the baby's day."),
    Proposed("U0SM4", "FD-50144", "fd-mash", "U0P17", "Partner checks were quick and well recorded."),
]

REFLECTION_LABELS = (
    "What were you trying to achieve for the child and family?",
    "What difference did your work make, and how do you know?",
    "What did the child or family say?",
    "What would you do differently?",
    "What support do you need? (private to you and your team manager)",
)
AUDIT_LABELS = (
    "Outcomes and the difference made for the child and family",
    "Direct service-user feedback: what was said",
    "Who gave the feedback, or why there was none",
    "Impact on the worker",
    "What would have been needed to improve the case?",
    "Good practice to share",
    "Wider learning for the service",
)
VOICE = "Voice and lived experience of the child"
DRIFT = "Timeliness, drift and delay"

# One story per allocated case, in allocation order. Two themes recur in every service on purpose:
# with two audits a service, each service's own counts stay under the suppression threshold (and
# show as "fewer than 5"), while across all services they reach it and can be shared safely.
_STORY_A = {
    "reflection": ("Keep the children safe at home with their mum.",
                   "School attendance is up and the family keeps to the plan; the school says so.",
                   "The eldest said she felt listened to for the first time.",
                   "Ask health to join the core group sooner.",
                   "Time for reflective supervision after difficult visits."),
    "reflection_good": [VOICE],
    "reflection_develop": ["Multi-agency working"],
    "audit": ("The children stayed safely at home and the plan is working.",
              "Mum said the worker was honest, kind and always came back when she said she would.",
              "Mum, by phone, before the meeting.",
              "Confident and proud of the direct work; tired after a long winter.",
              "An earlier health referral, and a plan naming who does what by when.",
              "Direct work tools used with the eldest child, recorded in her own words.",
              "Share the direct work tools across teams."),
    "improve": [DRIFT, "Multi-agency working"],
    "good": [VOICE],
}
_STORY_B = {
    "reflection": ("Help dad keep the baby safe while he learnt new routines.",
                   "The health visitor reports steady weight gain and routines in place.",
                   "Dad said he knew what was expected of him.",
                   "Write the plan with dad in plainer words.",
                   "Nothing beyond the usual supervision."),
    "reflection_good": ["Assessment and analysis"],
    "reflection_develop": ["SMART planning and review"],
    "audit": ("The baby is thriving and the case is stepping down.",
              "Dad said the plan was fair and he understood why the worker was worried.",
              "Dad, at the end of the meeting.",
              "Grew in confidence presenting to conference.",
              "SMART actions from the first plan: the early plan was vague.",
              "A clear, evidenced analysis of what had changed and why.",
              "Use the plain-words plan template in every team."),
    "improve": ["SMART planning and review", DRIFT],
    "good": [VOICE, "Assessment and analysis"],
}
STORIES = [_STORY_A, _STORY_B] * 4


def typed(values: dict[str, Any]) -> str:
    """What a person entered in a modal, as a readable list."""
    lines = []
    for label, value in values.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value) or "(none)"
        elif isinstance(value, date):
            value = f"{value:%a} {value.day} {value:%b %Y}"
        lines.append(f"- *{label}*: " + " / ".join(str(value).splitlines()))
    return "\n".join(lines)


@dataclass(frozen=True)
class Audit:
    """An allocated learning audit, as the scenes need it."""

    id: int
    case_ref: str
    service: str
    auditor: str
    holder: str
    manager: str


class Play:
    """Short-hands for a scene: people act through the real app; the narrator says what happened."""

    def __init__(self, n: Narrator) -> None:
        self.n = n
        self.bot = n.bot
        self.slack = n.bot.slack
        self.fake = n.bot.fake

    # -- people acting ---------------------------------------------------------------------------
    def act(self, user: str, what: str, fn: Callable[[], Any], only: set[str] | None = None) -> Any:
        return self.n.act(self.n.name(user), what, fn, only=only)

    def submit(self, user: str, what: str, values: dict[str, Any], *, only: set[str] | None = None) -> Reply:
        """The person fills in their open modal and presses its button; inline errors are narrated."""
        form = self.fake.latest_view(user) or {}
        labels = {str(b.get("block_id")): (b.get("label") or {}).get("text", "")
                  for b in form.get("blocks") or [] if b.get("type") == "input"}
        self.n.step(f"{self.n.name(user)} {what}")
        self.n.note(typed(values))
        reply = self.slack.submit(user, values)
        if reply.errors:
            found = "\n".join(f"- under *{labels.get(k, k)}*: {v}" for k, v in reply.errors.items())
            self.n.note(f"Slack keeps the form open, with what was typed, and shows:\n\n{found}\n\n"
                        "Nothing is stored.")
        self.n.collect(only)
        return reply

    def quietly(self, fn: Callable[[], Any]) -> Any:
        """Done through the app but not narrated: it reaches people/<id>.md, not the transcript."""
        result = fn()
        self.n.collect(set())
        return result

    def show(self, user: str, message: dict[str, Any], heading: str = "") -> None:
        """Quote, in the transcript, a message someone already received (shown once a job has run)."""
        body = render_blocks(message.get("blocks") or [], message.get("text"))
        quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
        self.n.lines += [f"**{heading or 'DM to ' + self.n.name(user)}**", "", quoted, ""]

    # -- finding things --------------------------------------------------------------------------
    def dm_with(self, user: str, button: str, containing: str = "") -> dict[str, Any]:
        """The newest DM to ``user`` mentioning ``containing`` that carries ``button``."""
        for message in reversed(self.fake.dms(user)):
            seen = render_blocks(message.get("blocks") or [], message.get("text"))
            if containing in seen and f"[Button: {button}" in seen:
                return message
        raise LookupError(f"{user} has no DM with {button!r} about {containing!r}")

    def dm_saying(self, user: str, words: str) -> dict[str, Any]:
        for message in reversed(self.fake.dms(user)):
            if words in render_blocks(message.get("blocks") or [], message.get("text")):
                return message
        raise LookupError(f"{user} has no DM saying {words!r}")

    def proposal_id(self, case_ref: str) -> int:
        from storage.models import Proposal

        with self.bot.rt.db.session() as session:
            found = session.scalar(select(Proposal.id).where(Proposal.quarter == QUARTER,
                                                             Proposal.case_ref == case_ref)
                                   .order_by(Proposal.id.desc()))
        if found is None:
            raise LookupError(f"no proposal of {case_ref}")
        return int(found)

    def audits(self) -> list[Audit]:
        from storage.models import LearningAudit

        with self.bot.rt.db.session() as session:
            rows = session.scalars(select(LearningAudit).where(LearningAudit.quarter == QUARTER)
                                   .order_by(LearningAudit.auditor_id, LearningAudit.id)).all()
            return [Audit(r.id, r.case_ref, r.service.name, r.auditor.slack_id, r.case_holder.slack_id,
                          r.team_manager.slack_id) for r in rows]


# =============================================================================================
# a. learning audits


def _propose_quietly(p: Play, item: Proposed) -> None:
    """A manager presses the button in their DM, picks the team if it is not their own, and proposes."""
    p.slack.click(item.proposer, "Propose a case", message=p.dm_with(item.proposer, "Propose a case"))
    if not item.proposer.startswith("U0TM"):
        p.slack.select(item.proposer, "Service and team", TEAM_LABEL[item.team])
    values: dict[str, Any] = {"Case reference": item.case_ref, "Case holder": item.holder,
                              REASON: item.reason}
    if item.flags:
        values[FLAGS] = list(item.flags)
    reply = p.slack.submit(item.proposer, values)
    if reply.errors:
        raise RuntimeError(f"the demo's proposal of {item.case_ref} was refused: {reply.errors}")


@scene
def learning_audit_proposals(n: Narrator) -> None:
    p = Play(n)
    n.chapter(
        f"Learning audits, {QUARTER_LABEL}: managers propose cases",
        "Learning audits are the heart of the Quality Management Framework. Each quarter every Service "
        "Manager audits two cases from outside their own service, meeting the case holder and team manager "
        "for a strengths-based conversation about the difference made for the child and family. It is "
        "*not* performance management: the point is to learn what helps children, and to share it. It "
        "starts with Service and Team Managers proposing the cases that would give most learning.\n\n"
        "Who is who: four services (Children in Care, Child Protection, Child in Need, Front Door/MASH), "
        "each with a Service Manager (U0SM1-4) and two Team Managers (U0TM1-8); social workers U0P1-20; "
        "Quality & Improvement (Q&I) U0QI1-5; Practice Consultants U0PC1-5; the Divisional Leadership "
        "Team U0DLT1-2. People appear by their Slack ids; cases only ever by their case reference.")
    n.job("open-proposals", london(2026, 4, 1, 9, 0), only={"U0TM1"})
    n.note("All 12 Service and Team Managers got this invitation; U0TM1's is shown.")

    n.bot.set_time(london(2026, 4, 1, 10, 15))
    p.act("U0TM1", "presses *Propose a case* in the DM",
          lambda: p.slack.click("U0TM1", "Propose a case", message=p.dm_with("U0TM1", "Propose a case")))
    p.submit("U0TM1", "fills in the form, mentioning where the family lives, and presses *Propose*", {
        "Case reference": "CIC-20411", "Case holder": "U0P1",
        REASON: "The family moved to SW1A 1AA and the plan was rebuilt with the new school.",
        FLAGS: [INADEQUATE]})
    p.submit("U0TM1", "takes the postcode out and presses *Propose* again", {
        REASON: "A move of school meant rebuilding the plan; the child's voice led it."})

    n.bot.set_time(london(2026, 4, 1, 14, 0))
    p.act("U0SM2", "types `/propose-case`", lambda: p.slack.command("U0SM2", "/propose-case"))
    p.submit("U0SM2", "types a family name where the case reference goes", {
        "Case reference": "Smith family", "Case holder": "U0P7",
        REASON: "Strong partnership with the school nurse; good learning on neglect."})
    p.submit("U0SM2", "puts in the case reference from the case-management system",
             {"Case reference": "cp-31188"})

    n.bot.set_time(london(2026, 4, 2, 11, 0))
    p.act("U0SM1", "types `/qmf propose`", lambda: p.slack.command("U0SM1", "/qmf", "propose"))
    p.act("U0SM1", "chooses the team that holds the case (the team manager follows the team)",
          lambda: p.slack.select("U0SM1", "Service and team", TEAM_LABEL["cic-south"]))
    p.submit("U0SM1", "proposes a case that U0TM1 has already proposed", {
        "Case reference": "CIC-20411", "Case holder": "U0P5",
        REASON: "We audited this case last year; a re-visit would show what changed.", FLAGS: [REVISIT]})
    p.submit("U0SM1", "corrects it to the case they meant", {"Case reference": "CIC-20533"})

    n.step("Over the next week, ten more proposals come in the same way")
    n.bot.set_time(london(2026, 4, 7, 10, 0))  # after the Easter bank holidays
    for item in QUIET_PROPOSALS:
        _propose_quietly(p, item)
    n.collect(set())
    rows = ["| Case | Team | Proposed by | Flags |", "|---|---|---|---|"]
    rows += [f"| {i.case_ref} | {TEAM_LABEL[i.team]} | {i.proposer} | {'; '.join(i.flags) or '-'} |"
             for i in QUIET_PROPOSALS]
    n.note("\n".join(rows))

    n.bot.set_time(london(2026, 4, 8, 9, 40))
    p.quietly(lambda: _propose_quietly(p, Proposed("U0TM2", "CIC-20509", "cic-south", "U0P5",
                                                   "Long-standing case with new progress.")))
    n.note("U0TM2 also proposed CIC-20509, then heard the case is closing this month.")
    p.act("U0TM2", "types `/qmf proposals`", lambda: p.slack.command("U0TM2", "/qmf", "proposals"))
    listing = p.fake.ephemerals("U0TM2")[-1]
    p.act("U0TM2", "presses *Withdraw* beside CIC-20509",
          lambda: p.slack.click("U0TM2", "Withdraw", message=listing, value=str(p.proposal_id("CIC-20509"))))

    n.bot.set_time(london(2026, 4, 9, 15, 0))
    p.act("U0TM3", "types `/qmf proposals`", lambda: p.slack.command("U0TM3", "/qmf", "proposals"))
    listing = p.fake.ephemerals("U0TM3")[-1]
    p.act("U0TM3", "presses *Edit* beside CP-31007",
          lambda: p.slack.click("U0TM3", "Edit", message=listing, value=str(p.proposal_id("CP-31007"))))
    p.submit("U0TM3", "ticks a flag and presses *Save*", {FLAGS: [LOTS]})


@scene
def learning_audit_allocation(n: Narrator) -> None:
    p = Play(n)
    n.chapter(
        "Learning audits: a reminder, then independent allocation",
        "Two working days before the deadline, anyone who has not proposed gets one reminder (never on a "
        "day off, never twice). After the deadline the bot gives each Service Manager two cases they are "
        "entirely independent of: not their service, not a team they manage, not a case they proposed or "
        "hold. It solves this as an assignment problem, preferring flagged cases and spreading each "
        "service's cases across auditors, and records its seed so the plan can be replayed and explained.")
    n.job("send-reminders", london(2026, 4, 15, 9, 30))
    n.bot.set_time(london(2026, 4, 15, 11, 0))
    p.act("U0TM6", "presses *Propose a case* in the reminder",
          lambda: p.slack.click("U0TM6", "Propose a case", message=p.dm_with("U0TM6", "Propose a case")))
    p.submit("U0TM6", "proposes a case", {
        "Case reference": "CIN-40355", "Case holder": "U0P15",
        REASON: "Persistent outreach got a teenager back into school."})
    n.job("send-reminders", london(2026, 4, 16, 9, 30))
    n.note("Nobody else is reminded: everyone has proposed, and each reminder is sent once per person.")

    n.job("allocate-learning-audits", london(2026, 4, 20, 9, 0), only=set(), seed=ALLOCATION_SEED)
    audits = p.audits()
    rows = ["The plan as stored: every Service Manager has exactly two cases, none from their own service "
            "or proposed by them.", "", "| Auditor | Case | Service | Case holder | Team manager |",
            "|---|---|---|---|---|"]
    rows += [f"| {a.auditor} | {a.case_ref} | {a.service} | {a.holder} | {a.manager} |" for a in audits]
    n.note("\n".join(rows))
    first = audits[0]
    n.note(f"Each auditor, case holder and team manager was told by DM. For {first.case_ref}:")
    p.show(first.auditor, p.dm_with(first.auditor, "Set up meeting", first.case_ref))
    p.show(first.holder, p.dm_with(first.holder, "Start reflection", first.case_ref))
    p.show(first.manager, p.dm_saying(first.manager, first.case_ref))
    from storage.models import LearningRound

    with p.bot.rt.db.session() as session:
        learning_round = session.get(LearningRound, QUARTER)
        if learning_round is None:
            raise LookupError(f"no learning round for {QUARTER}")
        explanation = learning_round.allocation_explanation or ""
    n.note("Why the other proposals were not allocated (what `qmf-bot jobs run allocate-learning-audits "
           "--dry-run` explains):\n\n```\n" + explanation.strip() + "\n```")


def _reflection(story: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = dict(zip(REFLECTION_LABELS, story["reflection"], strict=True))
    values["Themes that went well in this case"] = story["reflection_good"]
    values["Themes to develop"] = story["reflection_develop"]
    return values


def _audit_record(story: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = dict(zip(AUDIT_LABELS, story["audit"], strict=True))
    values["Themes: areas to improve"] = story["improve"]
    values["Themes: good practice"] = story["good"]
    return values


def _reflect(p: Play, a: Audit, story: dict[str, Any]) -> None:
    p.slack.click(a.holder, f"Start reflection for {a.case_ref}",
                  message=p.dm_with(a.holder, "Start reflection", a.case_ref))
    reply = p.slack.submit(a.holder, _reflection(story))
    if reply.errors:
        raise RuntimeError(f"the demo's reflection on {a.case_ref} was refused: {reply.errors}")


def _record(p: Play, a: Audit, story: dict[str, Any], action: tuple[str, date, str] | None) -> None:
    p.slack.click(a.auditor, f"Record learning audit for {a.case_ref}",
                  message=p.dm_with(a.auditor, "Record learning audit", a.case_ref))
    form = p.fake.latest_view(a.auditor)
    if action is not None:
        p.slack.click(a.auditor, "Add an action", view=form)
        owner, due, what = action
        p.slack.submit(a.auditor, {"Owner": owner, "Due date": due, "What needs to happen": what})
    reply = p.slack.submit(a.auditor, _audit_record(story))
    if reply.errors:
        raise RuntimeError(f"the demo's audit of {a.case_ref} was refused: {reply.errors}")


@scene
def learning_audit_meetings_and_records(n: Narrator) -> None:
    p = Play(n)
    audits = p.audits()
    first, second, third = audits[0], audits[2], audits[4]  # three different auditors
    n.chapter(
        "Learning audits: the meeting, the reflection and the audit record",
        "The auditor meets the case holder and team manager in person. Before the meeting the case holder "
        "reflects on their own work; afterwards the auditor records the learning (there is no grade "
        "anywhere in a learning audit) and any individual actions, each with an owner and a due date. The "
        "case holder and team manager then get the learning, not the whole record.")
    n.bot.set_time(london(2026, 4, 21, 10, 0))
    p.act(first.auditor, f"presses *Set up meeting* for {first.case_ref}",
          lambda: p.slack.click(first.auditor, f"Set up meeting for {first.case_ref}",
                                message=p.dm_with(first.auditor, "Set up meeting", first.case_ref)))
    p.submit(first.auditor, "chooses a day and time and presses *Send invitation*",
             {"Meeting date": date(2026, 5, 6), "Start time": "10:00", "Length": "1 hour",
              "Where": "Meeting room 2"})
    for a in audits[1:]:
        def set_up(a: Audit = a) -> Any:
            p.slack.click(a.auditor, f"Set up meeting for {a.case_ref}",
                          message=p.dm_with(a.auditor, "Set up meeting", a.case_ref))
            return p.slack.submit(a.auditor, {"Meeting date": date(2026, 5, 7), "Start time": "14:00"})
        p.quietly(set_up)
    n.note("The other auditors set up their meetings the same way.")

    n.bot.set_time(london(2026, 4, 22, 14, 0))
    p.act(first.holder, f"presses *Start reflection* for {first.case_ref}",
          lambda: p.slack.click(first.holder, f"Start reflection for {first.case_ref}",
                                message=p.dm_with(first.holder, "Start reflection", first.case_ref)))
    p.submit(first.holder, "writes their reflection and presses *Save reflection*", _reflection(STORIES[0]))
    n.bot.set_time(london(2026, 4, 24, 11, 0))
    for a, story in zip(audits[1:], STORIES[1:], strict=True):
        p.quietly(partial(_reflect, p, a, story))
    n.note("The other seven case holders write their reflections before their meetings.")

    n.bot.set_time(london(2026, 5, 11, 14, 0))
    p.act(first.auditor, f"meets them, then presses *Record learning audit* for {first.case_ref}",
          lambda: p.slack.click(first.auditor, f"Record learning audit for {first.case_ref}",
                                message=p.dm_with(first.auditor, "Record learning audit", first.case_ref)))
    form = p.fake.latest_view(first.auditor)
    p.act(first.auditor, "presses *Add an action* (a second modal opens on top)",
          lambda: p.slack.click(first.auditor, "Add an action", view=form))
    p.submit(first.auditor, "adds an individual action and presses *Add*", {
        "Owner": first.holder, "Due date": date(2026, 6, 5),
        "What needs to happen": "Update the chronology after each review meeting."})
    p.submit(first.auditor, "completes the record and presses *Record audit*", _audit_record(STORIES[0]))

    n.bot.set_time(london(2026, 5, 12, 15, 0))
    n.step(f"{n.name(second.auditor)} records the audit of {second.case_ref}, with an action for "
           f"{second.holder} due Fri 29 May")
    p.quietly(lambda: _record(p, second, STORIES[2], (second.holder, date(2026, 5, 29),
                                                      "Book the health assessment that is overdue.")))
    n.bot.set_time(london(2026, 5, 13, 10, 0))
    plan_review = (third.manager, date(2026, 6, 12), "Add a plan-review prompt to the supervision notes.")
    for i, a in enumerate(audits[1:], 1):
        if a != second:
            action = plan_review if a == third else None
            p.quietly(partial(_record, p, a, STORIES[i], action))
    n.note(f"The other audits are recorded by Fri 15 May; {third.auditor} adds an action for "
           f"{third.manager} on {third.case_ref}. All {len(audits)} audits of the quarter are now recorded.")


@scene
def action_plans(n: Narrator) -> None:
    p = Play(n)
    audits = p.audits()
    first, second, third = audits[0], audits[2], audits[4]
    n.chapter(
        "Action plans: done, reminded, escalated",
        "Each action's owner has a DM with *Mark done*. The daily `send-reminders` job reminds owners "
        "before and on the due date, and tells the owner's team manager once when an action is overdue. "
        "`/qmf actions` lists a person's open actions.")
    n.bot.set_time(london(2026, 5, 20, 12, 0))
    p.act(third.manager, f"presses *Mark done* on the action from {third.case_ref}",
          lambda: p.slack.click(third.manager, "Mark done", message=p.dm_with(third.manager, "Mark done")))
    n.job("send-reminders", london(2026, 6, 3, 9, 30), only={first.holder, second.manager})
    n.note(f"{first.holder}'s action is due on Friday, so they are reminded; {second.holder}'s was due on "
           f"29 May and is still open, so their team manager {second.manager} is told.")
    n.bot.set_time(london(2026, 6, 3, 11, 0))
    p.act(first.holder, "types `/qmf actions`", lambda: p.slack.command(first.holder, "/qmf", "actions"))
    p.act(first.holder, "presses *Mark done* in the list",
          lambda: p.slack.click(first.holder, "Mark done", message=p.fake.ephemerals(first.holder)[-1]))


# =============================================================================================
# b. learning themes


@scene
def learning_themes(n: Narrator) -> None:

    p = Play(n)
    n.chapter(
        "Learning themes for the quarter",
        "The main output of learning audits is \"an analysis of the collective themes of learning to be "
        "shared within service, including what would have been needed to improve cases and what good "
        "practice could be shared\". Three working days after the audits are due, each Service Manager "
        "gets a draft to review and post to their service's channel. Nothing identifying reaches a "
        "channel, and no count under 5 is shown: with two audits a service, a quarter is too small "
        "to count, so its themes are ranked, most raised first, and the last four quarters (the year "
        "before, added up) are counted beside them, with a chart.")
    review, escalate = _themes_days(p)
    n.job("post-learning-themes", london(review.year, review.month, review.day, 9, 30), only={"U0SM1"})
    n.bot.set_time(london(review.year, review.month, review.day, 11, 0))
    draft = p.dm_saying("U0SM1", "Learning themes to review")
    p.act("U0SM1", "presses *Edit*", lambda: p.slack.click("U0SM1", "Edit", message=draft))
    p.submit("U0SM1", "writes the key messages and presses *Save*", {
        "Key messages": "Keep the child's voice at the centre of every plan.\n"
                        "Bring partners in early: plans drift when they join late."})
    p.act("U0SM1", "presses *Post to channel*",
          lambda: p.slack.click("U0SM1", "Post to channel", message=draft))
    for manager in ("U0SM2", "U0SM3"):
        def post(m: str = manager) -> Any:
            return p.slack.click(m, "Post to channel", message=p.dm_saying(m, "Learning themes to review"))
        p.quietly(post)
    n.note("U0SM2 and U0SM3 post theirs too. U0SM4 is busy and leaves the Front Door/MASH draft waiting; "
           "after five working days Q&I are told.")
    n.job("send-reminders", london(escalate.year, escalate.month, escalate.day, 9, 30), only={"U0QI1"})
    n.bot.set_time(london(escalate.year, escalate.month, escalate.day, 10, 0))
    p.act("U0QI1", "posts the waiting draft for Front Door/MASH",
          lambda: p.slack.click("U0QI1", "Post to channel", message=p.dm_saying("U0QI1", "Front Door")))
    p.act("U0SM1", "types `/qmf themes` to see the exact counts, just for them",
          lambda: p.slack.command("U0SM1", "/qmf", "themes"))
    p.act("U0QI1", "shares the learning of all four services with the Leadership Meeting",
          lambda: p.slack.command("U0QI1", "/qmf", f'share themes all {QUARTER} "Leadership Meeting"'))


def _themes_days(p: Play) -> tuple[date, date]:
    """The day the drafts are due (audits due + the review days) and the day Q&I hear of a waiting one."""
    from storage.models import LearningRound

    with p.bot.rt.db.session() as session:
        calendar, policy = p.bot.rt.calendar(session), p.bot.rt.policy(session)
        learning_round = session.get(LearningRound, QUARTER)
        if learning_round is None or learning_round.audits_due is None:
            raise LookupError(f"no audits due date for {QUARTER}")
        due = learning_round.audits_due
        review = calendar.add_working_days(due, policy.themes_review_working_days)
        return review, calendar.add_working_days(review, policy.themes_escalate_working_days)


# =============================================================================================
# c. a random sample


def _register_csv() -> str:
    """The case register the sample is drawn from: the repository's test register, else one like it."""
    if REPO_CASES_CSV.exists():
        return REPO_CASES_CSV.read_text(encoding="utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["case_ref", "service", "team", "case_holder", "team_manager", "reviewing_officer",
                     "status"])
    teams = {"cic": [("cic-north", "U0TM1", [1, 2, 3]), ("cic-south", "U0TM2", [4, 5])],
             "cp": [("cp-east", "U0TM3", [6, 7, 8]), ("cp-west", "U0TM4", [9, 10])],
             "cin": [("cin-central", "U0TM5", [11, 12, 13]), ("cin-outreach", "U0TM6", [14, 15])],
             "fd": [("fd-mash", "U0TM7", [16, 17, 18]), ("fd-assessment", "U0TM8", [19, 20])]}
    for number, (service, service_teams) in enumerate(teams.items(), 1):
        for i in range(15):
            team, manager, workers = service_teams[i % 2]
            writer.writerow([f"{service.upper()}-{number}{i + 1:03d}", service, team,
                             f"U0P{workers[i % len(workers)]}", manager, "", "open"])
    return out.getvalue()


def _drawn_for_a_manager(p: Play, refs: list[str]) -> tuple[str, dict[str, Any]]:
    """The team manager told of the most drawn cases, and the one message that told them."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for manager in TEAM_MANAGERS:
        for message in p.fake.dms(manager):
            text = render_blocks(message.get("blocks") or [], message.get("text"))
            named = sum(ref in text for ref in refs)
            if named and (best is None or named > best[0]):
                best = (named, manager, message)
    if best is None:
        raise LookupError("no team manager was told of a drawn case")
    return best[1], best[2]


def _holder_of(p: Play, case_id: int) -> str:
    from bot.sampling.service import slack_id_of
    from storage.models.sampling import SampledCase

    with p.bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert case is not None
        return slack_id_of(session, case.case_holder_id) or ""


def _manager_of(p: Play, case_id: int) -> str:
    from storage.models.sampling import SampledCase

    with p.bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert case is not None
        return case.team_manager.slack_id


def _sample_cases(p: Play) -> list[tuple[int, str, str, str]]:
    """(case id, case ref, Q&I auditor, Practice Consultant) of this quarter's sample."""
    from bot.sampling import service as sampling

    with p.bot.rt.db.session() as session:
        row = sampling.draw_for(session, QUARTER)
        assert row is not None
        return sorted((c.id, c.case_ref, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases)


SAMPLE_ANSWERS = {
    "Discussions held": ["Case holder", "Team manager"],
    "Strengths": "A clear plan reviewed monthly; the child's views are recorded at each visit.",
    "Areas for improvement": "Supervision notes do not show how risk was weighed.",
    "Themes": ["Management oversight and supervision", VOICE],
    "Why this grade?": "Most of the work is timely and purposeful, with gaps in oversight.",
}


def _sample_audit(grade: str, *, pc: bool) -> dict[str, Any]:
    """The blind audit's answers; the Practice Consultant's part is the service-user feedback."""
    values: dict[str, Any] = dict(SAMPLE_ANSWERS, **{"Overall grade": grade})
    if pc:
        values["Service-user feedback"] = "The young person said the worker listens and explains things."
    return values


def _buttons(message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for e in elements:
            if e.get("type") == "button":
                yield e["text"]["text"], str(e.get("value", ""))


def _press(p: Play, user: str, label: str, value: int) -> None:
    """Press ``label`` for this case, in the newest DM that has that button for it."""
    dm = next(m for m in reversed(p.fake.dms(user)) if (label, str(value)) in set(_buttons(m)))
    p.slack.click(user, label, message=dm, value=str(value))


def _open_sample_audit(p: Play, user: str, case_id: int) -> None:
    _press(p, user, "Record sample audit", case_id)


def _open_moderation(p: Play, user: str, case_id: int) -> None:
    _press(p, user, "Record moderated grade", case_id)


def _close_if_open(p: Play, user: str) -> None:
    if p.fake.latest_view(user) is not None:
        p.slack.close_modal(user)  # the person reads the confirmation and closes it


def _blind_audit(p: Play, user: str, case_id: int, grade: str, pc: bool) -> None:
    _open_sample_audit(p, user, case_id)
    reply = p.slack.submit(user, _sample_audit(grade, pc=pc))
    if reply.errors:
        raise RuntimeError(f"the demo's sample audit of case {case_id} was refused: {reply.errors}")
    _close_if_open(p, user)


def _moderate(p: Play, user: str, case_id: int, grade: str) -> None:
    _open_moderation(p, user, case_id)
    reason = "Agreed after talking the evidence through."
    reply = p.slack.submit(user, {"Agreed grade": grade, "Reason for the agreed grade": reason})
    if reply.errors:
        raise RuntimeError(f"the demo's moderation of case {case_id} was refused: {reply.errors}")
    _close_if_open(p, user)


GOOD, RI, OUT, INAD = "Good", "Requires improvement to be good", "Outstanding", "Inadequate"
# (Q&I grade, PC grade, agreed grade): the first for the narrated case, the rest in case order
SAMPLE_PLAN = [(GOOD, RI, GOOD), (GOOD, GOOD, GOOD), (OUT, GOOD, OUT), (RI, RI, RI), (GOOD, GOOD, GOOD),
               (RI, GOOD, RI), (GOOD, OUT, GOOD), (INAD, RI, INAD), (GOOD, GOOD, GOOD), (RI, RI, RI)]


@scene
def random_sample(n: Narrator) -> None:
    from bot.core.council import policy_of
    from bot.sampling.register import import_register

    p = Play(n)
    n.chapter(
        "Random sampling audits",
        "Back to the start of the quarter: alongside the learning audits, Q&I run a random sample. Each "
        "quarter one service is sampled (a different one each time); every Q&I auditor is paired with a "
        "Practice Consultant and gets two cases that neither of them holds or manages. Each of the two "
        "grades the case blind, on the Ofsted scale, then the pair agree a moderated grade; the report "
        "goes to the Q&I channel when the sample is complete.")
    n.bot.set_time(london(2026, 3, 31, 16, 0))
    n.step(f"{n.name('U0ADM1')} runs `qmf-bot cases import cases.csv`")
    with p.bot.rt.db.session() as session:
        result = import_register(session, _register_csv(), policy=policy_of(session), actor="U0ADM1",
                                 source="cases.csv")
    n.note(f"`{result.summary()}`")
    n.job("draw-random-sample", london(2026, 4, 1, 9, 0), only=set(), seed=SAMPLE_SEED)
    cases = _sample_cases(p)
    case_id, case_ref, qi, pc = next(c for c in cases if c[2] == "U0QI1")
    p.show(qi, p.dm_with(qi, "Record sample audit"))
    p.show(pc, p.dm_with(pc, "Record sample audit"))
    n.note("Every Q&I auditor and Practice Consultant got the same, for their own two cases.")
    manager, told = _drawn_for_a_manager(p, [c[1] for c in cases])
    n.note(f"Each case's team manager was told who will be in touch: one message for all their team's "
           f"drawn cases, not one per case. {n.name(manager)}'s:")
    p.show(manager, told)

    n.bot.set_time(london(2026, 4, 20, 10, 0))
    p.act(qi, f"presses *Record sample audit* for {case_ref}", lambda: _open_sample_audit(p, qi, case_id))
    p.submit(qi, "grades the case blind and presses *Submit and lock*", {
        **_sample_audit(SAMPLE_PLAN[0][0], pc=False), "Use as a case study": ["yes"],
        "Case study note (anonymised)": "Monthly plan reviews with the young person kept the plan live."})
    p.quietly(lambda: _close_if_open(p, qi))
    n.bot.set_time(london(2026, 4, 21, 15, 0))
    p.act(pc, f"presses *Record sample audit* for {case_ref}", lambda: _open_sample_audit(p, pc, case_id))
    p.submit(pc, "grades it blind, with what the young person said",
             _sample_audit(SAMPLE_PLAN[0][1], pc=True), only={qi, pc})
    p.quietly(lambda: _close_if_open(p, pc))
    n.note("Neither saw the other's grade until both had submitted; now both see them side by side. The "
           "grades fall either side of Good / Requires improvement, so the other Q&I auditors are told it "
           "needs a Q&I eye.")
    n.bot.set_time(london(2026, 4, 23, 11, 0))
    p.act(qi, "meets the Practice Consultant and presses *Record moderated grade*",
          lambda: _open_moderation(p, qi, case_id))
    p.submit(qi, "records the agreed grade", {
        "Agreed grade": SAMPLE_PLAN[0][2],
        "Reason for the agreed grade": "The plan is purposeful and reviewed; the oversight gap is isolated."})
    p.quietly(lambda: _close_if_open(p, qi))
    holder = _holder_of(p, case_id)
    n.note("The findings are not urgent, so they go with the next morning's messages: one message per person, "
           "whatever was moderated the day before.")
    n.job("send-reminders", london(2026, 4, 24, 9, 30), only={holder})

    n.step("Over May, the five pairs audit and moderate the other nine cases")
    n.bot.set_time(london(2026, 5, 18, 10, 0))
    rest = [c for c in cases if c[0] != case_id]
    plan = dict(zip([c[0] for c in rest], SAMPLE_PLAN[1:], strict=True))  # SAMPLE_PLAN[0] was narrated
    for cid, _ref, q, c_pc in rest:
        for user, grade, is_pc in ((q, plan[cid][0], False), (c_pc, plan[cid][1], True)):
            p.quietly(partial(_blind_audit, p, user, cid, grade, is_pc))
    n.bot.set_time(london(2026, 5, 22, 10, 0))
    last = rest[-1]
    for cid, _ref, q, _pc in rest[:-1]:
        p.quietly(partial(_moderate, p, q, cid, plan[cid][2]))
    n.note("An agreed *Inadequate* grade alerted that case's team manager and Service Manager at once and "
           "opened an improvement action for the team manager.")
    busiest = max(TEAM_MANAGERS, key=lambda m: sum(_manager_of(p, c[0]) == m for c in rest[:-1]))
    n.note("The other findings wait for the next morning: each case holder and team manager gets one message "
           "for all their cases moderated that day.")
    n.job("send-reminders", london(2026, 5, 26, 9, 30), only={busiest})
    n.bot.set_time(london(2026, 5, 29, 10, 0))
    p.act(last[2], f"records the last moderated grade, for {last[1]}",
          lambda: _open_moderation(p, last[2], last[0]))
    p.submit(last[2], "agrees the grade", {
        "Agreed grade": plan[last[0]][2],
        "Reason for the agreed grade": "Agreed after talking the evidence through."})
    p.quietly(lambda: _close_if_open(p, last[2]))


# =============================================================================================
# d. themed audits, learning visits and the Board


@scene
def themed_audit_and_learning_visit(n: Narrator) -> None:
    p = Play(n)
    slack, fake = p.slack, p.fake
    n.chapter(
        "Themed audits, learning visits and the Continuous Improvement Board",
        "Themed audits test a theory about practice across a sample of cases, commissioned by a board or "
        "the Divisional Leadership Team; learning visits send independent senior managers to a service "
        "where there is a need or a risk. Both report to the Continuous Improvement Board (CIB), whose "
        "digest also carries each service's learning themes and the random-sample headlines.")
    n.bot.set_time(london(2026, 7, 1, 10, 0))
    p.act("U0DLT1", "types `/qmf commission themed`",
          lambda: slack.command("U0DLT1", "/qmf", "commission themed"))
    p.submit("U0DLT1", "commissions the themed audit", {
        "Theme": "Management oversight of drift in plans",
        "The theory to test": "Plans drift where supervision does not review the plan's actions each month.",
        "Commissioned by": "Divisional Leadership Team",
        "Improvement-plan priority it serves": "Timely, purposeful plans",
        "Sampling focus": "Child in need plans open more than six months",
        "Sample size (cases)": 2, "Case references in the sample": "CIN-10001\nCIN-10002",
        "Auditors": ["U0SM1", "U0QI1"], "Service-user views": ["Seek service-user views for this theme"],
        "Workshop date": date(2026, 7, 7), "CIB meeting it reports to": "Wed 15 Jul 2026"})
    p.quietly(lambda: slack.close_modal("U0DLT1"))
    p.act("U0SM1", "presses *Record findings* for CIN-10001", lambda: slack.click("U0SM1", "Record findings"))
    p.submit("U0SM1", "records the findings", {
        "What you found, tested against the theory": "Supervision records the plan but not its progress.",
        "Evidence": "No supervision in six months reviewed the plan's actions.",
        "Service-user views": "The parent said the plan was not explained.",
        "Themes": ["Management oversight and supervision", DRIFT]})
    p.act("U0DLT1", "types `/qmf commission visit`",
          lambda: slack.command("U0DLT1", "/qmf", "commission visit"))
    visit = {
        "Service to visit": "Children in Care",
        "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
        "Date of the visit": date(2026, 7, 2), "Visitors": ["U0SEN1", "U0SM2"], "Lead reviewer": "U0SEN1",
        "Planned activities": ["Observation of practice", "Focus groups"],
        "Preparation notes": "Read the stability dashboard.",
        "Performance information": "Placement moves per child up from 0.4 to 0.7."}
    p.submit("U0DLT1", "commissions a learning visit to Children in Care", visit,
             only={"U0DLT1", "U0SEN1", "U0QI1"})
    p.quietly(lambda: slack.close_modal("U0DLT1"))
    n.bot.set_time(london(2026, 7, 2, 16, 0))
    p.act("U0SEN1", "presses *Record visit feedback* after the visit",
          lambda: slack.click("U0SEN1", "Record visit feedback"))
    p.act("U0SEN1", "presses *Add an action*",
          lambda: slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1")))
    p.submit("U0SEN1", "adds an action", {
        "Owner": "U0SM1", "Due date": date(2026, 9, 30),
        "What needs to happen": "A stability meeting after every second placement move."})
    p.submit("U0SEN1", "sends the feedback and plan", {
        "Direct feedback given to the service": "Warm, child-focused practice; moves are not reviewed.",
        "Improvement plan summary": "Review every second placement move."})
    n.job("send-reminders", london(2026, 7, 3, 9, 30), only={"U0SM1", "U0QI1"})
    n.note("Before the workshop, the collated findings go to the auditors.")
    n.bot.set_time(london(2026, 7, 7, 15, 0))
    p.act("U0DLT1", "presses *Record moderated findings* at the workshop",
          lambda: slack.click("U0DLT1", "Record moderated findings"))
    p.submit("U0DLT1", "records the moderated findings", {
        "Moderated findings": "Plans drift where supervision does not review their actions.",
        "Recommendations": "Add a plan-review prompt to the supervision template."})
    n.job("cib-digest", london(2026, 7, 10, 8, 30))
    n.job("cib-digest", london(2026, 7, 13, 8, 30))
    n.note("The second run finds the digest already sent: the Board gets one digest per meeting.")


# =============================================================================================
# the quarter's reports


@contextlib.contextmanager
def _database_env(url: str) -> Iterator[None]:
    """The report commands read DATABASE_URL, as at a terminal; point it at the demo's database."""
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def _run_cli(fn: Callable[[argparse.Namespace], int], **args: Any) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = fn(argparse.Namespace(**args))
    if code != 0:
        raise RuntimeError(f"{fn.__name__} exited {code}: {out.getvalue()}")
    return out.getvalue().strip()


@scene
def app_home(n: Narrator) -> None:
    n.chapter("App Home: what is yours to do now",
              "Everyone who opens the bot's Home tab sees what is theirs to do, in order of due date, with "
              "the button for each, and what is coming; Q&I and admins also see the quarter's progress "
              "across services and buttons to start the quarter's work early.")
    n.bot.set_time(london(2026, 5, 11, 9, 0))
    slack = n.bot.slack
    for who in ("U0P4", "U0TM1", "U0QI1"):
        n.act(who, "opens QMF Bot's Home tab", partial(slack.open_home, who), only={who})
    n.act("U0QI1", "presses *Draw the random sample now*, not knowing it was drawn in April",
          lambda: slack.click("U0QI1", "Draw the random sample now", home=True), only={"U0QI1"})


@scene
def quarter_reports(n: Narrator) -> None:

    n.chapter("The quarter's reports",
              "The same reports Q&I would export at a terminal, written to demo-out/reports/.")
    folder = n.reports
    written: list[str] = []
    with _database_env(n.bot.database_url):
        for fmt in ("md", "xlsx"):
            target = folder / f"themes-{QUARTER}.{fmt}"
            _run_cli(report_themes, quarter=QUARTER, service=None, format=fmt, output=str(target))
            written.append(f"`qmf-bot report themes --quarter {QUARTER} --format {fmt}` "
                           f"-> reports/{target.name}")
        for fmt in ("md", "xlsx"):
            target = folder / f"sample-{QUARTER}.{fmt}"
            _run_cli(report_sample, quarter=QUARTER, service=None, format=fmt, output=str(target),
                     explain=False)
            written.append(f"`qmf-bot report sample --quarter {QUARTER} --format {fmt}` "
                           f"-> reports/{target.name}")
        target = folder / f"sample-{QUARTER}-explained.txt"
        _run_cli(report_sample, quarter=QUARTER, service=None, format="md", output=str(target), explain=True)
        written.append(f"`qmf-bot report sample --quarter {QUARTER} --explain` -> reports/{target.name}")
    n.note("\n".join(f"- {line}" for line in written))
    # the top of each, up to the case-level detail (the sample's case list is for Q&I only)
    for name, stop in ((f"sample-{QUARTER}.md", "## Sampled cases"),
                       (f"themes-{QUARTER}.md", "## Good practice")):
        path = folder / name
        if path.exists():
            n.step(f"reports/{name}")
            shown = path.read_text("utf-8").split(stop)[0].strip().splitlines()
            n.note("\n".join("> " + line if line else ">" for line in shown) + "\n>\n> ...")
    counts = _counts(n.bot)
    n.note(f"In all, the quarter's records: {counts['proposals']} proposals, {counts['learning audits']} "
           f"learning audits, {counts['actions']} actions, {counts['sampled cases']} randomly sampled cases, "
           "and what each person saw is in people/.")


def _counts(bot: Any) -> dict[str, int]:
    """How much the quarter produced (for the closing line)."""
    from storage.models import Action, LearningAudit, Proposal
    from storage.models.sampling import SampledCase

    with bot.rt.db.session() as session:
        return {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (("proposals", Proposal), ("learning audits", LearningAudit),
                                    ("actions", Action), ("sampled cases", SampledCase))}
