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


class ReflectionField(StrEnum):
    """Block ids (and action ids) of the reflection modal's inputs."""

    TRYING = "reflection-trying"
    DIFFERENCE = "reflection-difference"
    FAMILY_SAID = "reflection-family-said"
    DIFFERENTLY = "reflection-differently"
    SUPPORT = "reflection-support"
    THEMES = "reflection-themes"


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
