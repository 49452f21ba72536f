"""What the scenes of `qmf-bot demo` share: the quarter, the sample organisation's people and
their stories, and ``Play``, the short-hands with which a scene makes people act through the real app
(Slack-signed requests) while the narrator writes what happened.

The scenes themselves, in the order they play: ``demo_history`` (the year before, quietly),
``demo_learning`` (learning audits, cover, corrections and the quarter's learning themes),
``demo_sampling`` (a random sample) and ``demo_board`` (a themed audit, a learning visit, the Board, App
Home and the quarter's reports). Each module imports the one before it, so ``@scene`` keeps that order.

A few people are narrated in full; the rest of the quarter's work is done quietly, still through
Slack, so each person's own file under people/ has everything they saw while transcript.md stays
readable for a council manager rather than a hundred DMs that look alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app.sandbox.driver import Reply
from bot.app.sandbox.narrator import Narrator
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


