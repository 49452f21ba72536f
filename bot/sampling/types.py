"""What the random-sampling flow passes between its parts: the ids of its Slack surfaces and the
plain values the domain builds and ``bot.sampling.messages`` shows (never ORM rows), so neither
imports the other for a type."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.core.calendar import Quarter
from bot.core.grades import Grade


class SampleIds(StrEnum):
    """Block, action and callback ids of the random sampling flow (kebab-case ``flow-field``)."""

    RECORD_AUDIT = "sample-record-audit"
    RECORD_MODERATION = "sample-record-moderation"
    AUDIT_MODAL = "sample-audit"
    MODERATION_MODAL = "sample-moderation"
    DISCUSSIONS = "sample-discussions"
    FEEDBACK = "sample-feedback"
    STRENGTHS = "sample-strengths"
    IMPROVE = "sample-improve"
    THEMES = "sample-themes"
    GRADE = "sample-grade"
    RATIONALE = "sample-rationale"
    CASE_STUDY = "sample-case-study"
    CASE_STUDY_NOTE = "sample-case-study-note"
    AGREED_GRADE = "sample-agreed-grade"
    AGREED_REASON = "sample-agreed-reason"
    TALK_IT_THROUGH = "sample-talk-it-through"
    CORRECT_GRADE = "sample-correct-grade"
    CORRECT_MODAL = "sample-correct"
    CORRECTED_GRADE = "sample-corrected-grade"
    CORRECTION_REASON = "sample-correction-reason"


SECTION_PREFIX = "sample-section-"
AGREED_SECTION_PREFIX = "sample-agreed-section-"


def section_block_id(section: str, *, agreed: bool = False) -> str:
    """A section of practice's block id: stable for its name, so a council reordering its sections
    between opening and submitting a form cannot put a grade against the wrong section."""
    digest = hashlib.sha1(section.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    return f"{AGREED_SECTION_PREFIX if agreed else SECTION_PREFIX}{digest}"


DISCUSSION_OPTIONS: dict[str, str] = {
    "case_holder": "Case holder",
    "team_manager": "Team manager",
    "iro_cp": "IRO or CP co-ordinator",
}
CASE_STUDY_YES = "yes"


# ---------------------------------------------------------------------------------------------
# the draw and the blind audit


@dataclass(frozen=True)
class AssignedCase:
    """A case as its auditing pair is given it: who to talk to is named, the IRO or CP co-ordinator too."""

    case_id: int
    case_ref: str
    service: str
    team: str
    case_holder: str
    team_manager: str
    reviewing_officer: str | None = None


@dataclass(frozen=True)
class DrawnCase:
    """A drawn case as its case holder or team manager is told of it (``holds``: the reader holds it)."""

    case_ref: str
    team: str
    qi: str
    pc: str
    holds: bool
    case_holder: str
    reviewing_officer: str | None = None


@dataclass(frozen=True)
class AuditForm:
    case_id: int
    case_ref: str
    service: str
    team: str
    role: str  # qi | pc
    partner: str
    reviewing_officer: str | None
    themes: Sequence[str]
    due: date
    sections: Sequence[str] = ()


@dataclass(frozen=True)
class AuditAnswers:
    discussions: list[str]
    service_user_feedback: str | None
    strengths: str
    areas_for_improvement: str
    themes: list[str]
    grade: Grade
    rationale: str
    case_study: bool
    case_study_note: str | None
    section_grades: dict[str, Grade] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# both in: side by side, moderation; reminders


@dataclass(frozen=True)
class SectionPair:
    """One section of practice's two blind grades (None: that audit was recorded before sections)."""

    section: str
    qi: Grade | None
    pc: Grade | None

    @property
    def agreed(self) -> Grade | None:
        """The grade both gave, where they gave the same one."""
        return self.qi if self.qi is not None and self.qi == self.pc else None


@dataclass(frozen=True)
class BlindGrades:
    case_id: int
    case_ref: str
    qi: str
    qi_grade: Grade
    pc: str
    pc_grade: Grade
    flag: str | None = None
    sections: tuple[SectionPair, ...] = ()


@dataclass(frozen=True)
class Plan:
    """An agreed Inadequate's improvement-plan action: who agrees the plan, by when, and the action.
    Its owner reads it, with its "Mark done", in the message about the grade they are sent then."""

    owner: str
    due: date
    action_id: int


@dataclass(frozen=True)
class Findings:
    """What a moderated case's case holder and team manager are told: the agreed grade only (the blind
    grades and the auditors' reasons for them stay with the pair), the auditors' notes on what was
    strong and what to develop, what the child or family said, and who to talk it through with."""

    case_id: int
    case_ref: str
    quarter_label: str
    grade: Grade
    strengths: list[str]
    to_develop: list[str]
    feedback: list[str]
    qi: str
    pc: str
    case_holder: str
    team_manager: str
    reviewing_officer: str | None = None
    plan: Plan | None = None  # an agreed Inadequate's improvement-plan action
    sections: tuple[tuple[str, Grade], ...] = ()  # the agreed grade per section of practice


@dataclass(frozen=True)
class ReminderItem:
    case_id: int
    case_ref: str
    moderation: bool  # False: your blind audit is not in; True: both are in, moderation is not


# ---------------------------------------------------------------------------------------------
# the report


@dataclass
class SectionFigures:
    """One section of practice across the moderated cases: agreed grades, and how often the two
    blind grades matched (``pairs``: moderated cases where both auditors graded the section)."""

    section: str
    by_grade: dict[Grade, int]
    pairs: int
    matched: int


@dataclass
class ReportView:
    """What a channel post or an ephemeral report shows: aggregates and anonymised notes only."""

    quarter_label: str
    service: str
    total_cases: int
    moderated: int
    by_grade: dict[Grade, int]
    pct_good_or_better: float
    pct_inadequate: float
    pairs: int
    exact_agreement_pct: float
    within_one_pct: float
    moved_up: int
    moved_down: int
    moved_same: int
    themes: list[tuple[str, int]] = field(default_factory=list)
    case_studies: list[str] = field(default_factory=list)
    flags: int = 0
    corrected: int = 0
    """Moderated cases whose agreed grade Q&I have since corrected (the corrected grade is counted)."""
    sections: list[SectionFigures] = field(default_factory=list)
    not_by_section: int = 0
    """Moderated cases recorded before sections of practice: "not graded by section"."""


@dataclass(frozen=True)
class CorrectionForm:
    """What the "Correct agreed grade" modal needs: the case and its grade of record."""

    case_id: int
    case_ref: str
    grade: Grade
    agreed: Grade | None = None
    """The grade the pair agreed, when it has been corrected before."""


@dataclass(frozen=True)
class CaseRow:
    """One sampled case for the Q&I export (case references: never posted to a channel)."""

    case_ref: str
    team: str
    qi: str
    qi_grade: Grade | None
    pc: str
    pc_grade: Grade | None
    agreed: Grade | None
    moderation_reason: str | None
    corrected_from: Grade | None = None
    """The grade the pair agreed, when Q&I have since corrected it (``agreed`` is the corrected one)."""


@dataclass
class SampleReport:
    quarter: Quarter
    view: ReportView
    cases: list[CaseRow]
    complete: bool
