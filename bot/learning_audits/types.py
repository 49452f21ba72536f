"""The values and ids the learning-audit rules and their Block Kit share.

The rules build these from database rows and the messages render them, so the messages never need
a row or a rule: they import from here, never from the service modules. The ids are Slack's block,
action and callback ids, one enum per flow, stable on purpose (views.update keeps what was typed
only where the ids are unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

# ---------------------------------------------------------------------------------------------
# ids


class ProposalIds(StrEnum):
    """Every block, action and callback id the proposal flow uses."""

    MODAL = "proposal-modal"
    CASE_REF = "proposal-case-ref"
    TEAM = "proposal-team"
    CASE_HOLDER = "proposal-case-holder"
    TEAM_MANAGER = "proposal-team-manager"
    REASON = "proposal-reason"
    FLAGS = "proposal-flags"
    PROPOSE = "proposal-propose"  # the "Propose a case" button, wherever it appears
    EDIT = "proposal-edit"
    WITHDRAW = "proposal-withdraw"
    CARRY = "proposal-carry"  # "Propose again next quarter", on a case that was not allocated


class LearningIds(StrEnum):
    """Action ids (buttons) and callback ids (modals) of the learning-audit flow."""

    SET_UP_MEETING = "learning-set-up-meeting"
    RECORD_AUDIT = "learning-record-audit"
    REFLECTION = "learning-reflection"  # "Start reflection" and "View or amend reflection"
    ADD_ACTION = "learning-add-action"
    REMOVE_ACTION = "learning-remove-action"
    REFLECTION_MODAL = "learning-reflection-modal"
    AUDIT_MODAL = "learning-audit-modal"
    ADD_ACTION_MODAL = "learning-add-action-modal"
    MEETING_MODAL = "learning-meeting-modal"
    AMEND_AUDIT = "learning-amend-audit"  # "Amend", on the auditor's receipt and App Home
    AMEND_AUDIT_MODAL = "learning-amend-audit-modal"


class MeetingField(StrEnum):
    """Block ids (and action ids) of the "Set up meeting" modal."""

    DATE = "meeting-date"
    START = "meeting-start"
    LENGTH = "meeting-length"
    PLACE = "meeting-place"


class ReflectionField(StrEnum):
    """Block ids (and action ids) of the reflection modal's inputs."""

    TRYING = "reflection-trying"
    DIFFERENCE = "reflection-difference"
    FAMILY_SAID = "reflection-family-said"
    DIFFERENTLY = "reflection-differently"
    SUPPORT = "reflection-support"
    THEMES_GOOD = "reflection-themes-good"  # themes that went well
    THEMES = "reflection-themes"  # themes to develop (the one themes question before strengths were asked)


class AuditField(StrEnum):
    """Block ids (and action ids) of the learning-audit modal.

    Stable on purpose: views.update keeps what was typed only where the ids are unchanged.
    """

    OUTCOMES = "audit-outcomes"
    FEEDBACK = "audit-feedback"
    FEEDBACK_SOURCE = "audit-feedback-source"
    WORKER_IMPACT = "audit-worker-impact"
    NEEDED = "audit-needed-to-improve"
    GOOD_PRACTICE = "audit-good-practice"
    WIDER = "audit-wider-learning"
    IMPROVE_THEMES = "audit-improve-themes"
    GOOD_THEMES = "audit-good-themes"
    ACTIONS_HEADING = "audit-actions-heading"
    ACTIONS_BUTTONS = "audit-actions-buttons"


# ---------------------------------------------------------------------------------------------
# proposals


@dataclass(frozen=True)
class TeamOption:
    key: str
    service_name: str
    team_name: str
    manager: str  # Slack id of the team's manager

    @property
    def label(self) -> str:
        return f"{self.service_name} — {self.team_name}"


@dataclass(frozen=True)
class ProposalPrefill:
    """What the modal shows when it opens: the proposer's own team, or the proposal being edited."""

    case_ref: str | None = None
    team_key: str | None = None
    case_holder: str | None = None
    team_manager: str | None = None
    reason: str | None = None
    flags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ProposalCard:
    """One proposal as its proposer sees it."""

    id: int
    case_ref: str
    team_label: str
    status: str
    proposed_on: date
    flags: tuple[str, ...] = ()
    why_not: str | None = None
    """Why it was not allocated, in words for its proposer."""
    carried_to: str | None = None
    """The quarter (label) it was proposed again for, if it was."""


# ---------------------------------------------------------------------------------------------
# the allocation


@dataclass(frozen=True)
class NotAllocated:
    """Why a proposed case was left unallocated, as data, so each reader is told it in their own
    words: the proposer plainly, Q&I with the Service Managers named, the channel without names,
    the CLI with ids."""

    kind: str
    """"nobody" (no Service Managers at all), "not_independent" (none is independent of it),
    "all_full" (every independent one already has the quarter's cases), "at_capacity" (every
    independent one is at a capacity of their own)."""
    people: tuple[str, ...] = ()
    """Slack ids: the independent Service Managers who are full (the first few), or for
    "not_independent" every Service Manager."""
    total: int = 0
    """How many Service Managers ``people`` stands for (it may list only the first few)."""
    by_conflict: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """For "not_independent": each kind of tie ("own service", "proposed it", ...) and who has it."""
    per_auditor: int = 0


@dataclass(frozen=True)
class UnallocatedCard:
    """One case not allocated, as its proposer is told."""

    proposal_id: int
    case_ref: str
    why: str
    """Why, in words for the proposer."""


# ---------------------------------------------------------------------------------------------
# learning audits after allocation


@dataclass(frozen=True)
class CaseCard:
    """What the learning-audit messages say about one allocated case (references only, never names)."""

    audit_id: int
    case_ref: str
    quarter_label: str
    service_name: str
    team_name: str
    auditor: str  # Slack ids
    case_holder: str
    team_manager: str
    due_on: date | None
    meeting_on: date | None = None  # the meeting's council-local day, once one is set


@dataclass(frozen=True)
class DraftAction:
    id: int
    owner: str  # Slack id
    due_on: date
    description: str


@dataclass(frozen=True)
class Learning:
    """The part of a recorded audit that goes back to the case holder and team manager."""

    outcomes: str
    good_practice: str
    needed_to_improve: str
    wider_learning: str
