"""Learning visits' ids and plain values: what the service builds and the messages lay out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from bot.cib.types import ModalMeta, parse_day


class VisitIds(StrEnum):
    """Every block, action and callback id of the learning-visit flow (kebab-case ``flow-field``)."""

    VISIT_MODAL = "visit-commission"
    VISIT_SERVICE = "visit-service"
    VISIT_NEED = "visit-need"
    VISIT_DATE = "visit-date"
    VISIT_VISITORS = "visit-visitors"
    VISIT_LEAD = "visit-lead"
    VISIT_ACTIVITIES = "visit-activities"
    VISIT_PREP = "visit-preparation"
    VISIT_PERFORMANCE = "visit-performance"
    RECORD_VISIT = "visit-record"
    VISIT_RECORD_MODAL = "visit-record-modal"
    VISIT_FEEDBACK = "visit-feedback"
    VISIT_PLAN = "visit-plan"
    VISIT_TEAMS = "visit-teams"
    VISIT_ACTIONS_LIST = "visit-actions-list"
    VISIT_ADD_ACTION = "visit-add-action"
    VISIT_ACTION_MODAL = "visit-action-modal"
    AMEND_VISIT = "visit-amend"  # "Amend", on the recorder's receipt and App Home
    AMEND_VISIT_MODAL = "visit-amend-modal"


class VisitMeta(ModalMeta):
    visit_id: int | None = None
    parent_view: str | None = None


# option value -> words; the values are what LearningVisit.activities stores
ACTIVITIES: dict[str, str] = {
    "observation": "Observation of practice",
    "focus_groups": "Focus groups",
    "interviews": "Interviews",
    "case_discussions": "Case discussions",
}


@dataclass(frozen=True)
class VisitInput:
    service_key: str | None = None
    need_or_risk: str = ""
    visit_on: date | None = None
    visitors: tuple[str, ...] = ()
    lead_reviewer: str | None = None
    activities: tuple[str, ...] = ()
    preparation_notes: str = ""
    performance_info: str | None = None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> VisitInput:
        ids = VisitIds
        return cls(
            service_key=values.get(ids.VISIT_SERVICE),
            need_or_risk=values.get(ids.VISIT_NEED) or "",
            visit_on=parse_day(values.get(ids.VISIT_DATE)),
            visitors=tuple(values.get(ids.VISIT_VISITORS) or ()),
            lead_reviewer=values.get(ids.VISIT_LEAD),
            activities=tuple(values.get(ids.VISIT_ACTIVITIES) or ()),
            preparation_notes=values.get(ids.VISIT_PREP) or "",
            performance_info=values.get(ids.VISIT_PERFORMANCE),
        )


@dataclass(frozen=True)
class VisitPlan:
    id: int
    service_name: str
    visit_on: date
    need_or_risk: str
    activities: tuple[str, ...]
    preparation_notes: str
    performance_info: str | None
    lead_reviewer: str
    visitors: tuple[str, ...]
    commissioner: str


@dataclass(frozen=True)
class PlanAction:
    owner: str
    due_on: date
    description: str


@dataclass(frozen=True)
class VisitFeedback:
    """What the lead reviewer recorded, as the messages lay it out. For a channel post every text in
    it has been through ``bot.core.privacy.outbound`` first (the service does that, not the builder)."""

    feedback: str
    plan_summary: str | None
    actions: tuple[PlanAction, ...]
    teams: tuple[str, ...]  # the names of the teams observed
    meeting_on: date | None
