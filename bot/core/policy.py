"""The council's own rules for the framework: the settings a council edits in its org file.

These are not environment variables (those are only the deployment's secrets and URLs, see
CONTRACTS.md): they are part of how a council runs its QMF, so they travel with the org
directory under the org file's ``settings:`` key and are stored in the database.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_LEARNING_THEMES: tuple[str, ...] = (
    "Voice and lived experience of the child",
    "Family engagement and feedback",
    "Assessment and analysis",
    "Risk and safety",
    "SMART planning and review",
    "Timeliness, drift and delay",
    "Management oversight and supervision",
    "Multi-agency working",
    "Chronology and recording",
    "Identity, diversity and equality",
    "Permanence and stability",
    "Health, education and wellbeing",
    "Transitions",
    "Impact for the child and family",
)

DEFAULT_PRACTICE_SECTIONS: tuple[str, ...] = (
    "Voice and lived experience of the child",
    "Assessment and analysis",
    "Planning and review",
    "Management oversight and supervision",
    "Recording",
    "Multi-agency working",
    "Impact for the child and family",
)
PRACTICE_SECTIONS_MAX = 12
PRACTICE_SECTION_LENGTH = 150

OFSTED_GRADES: tuple[str, ...] = (
    "Outstanding",
    "Good",
    "Requires improvement to be good",
    "Inadequate",
)

THEMED_AUDIT_SOURCES: tuple[str, ...] = (
    "Remodelling Social Work Practice Board",
    "Remodelling Children's Care programme",
    "Divisional Leadership Team",
    "Safeguarding Children Partnership",
    "Other",
)


class Policy(BaseModel):
    """Every council-editable rule, with the framework's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year_start_month: int = Field(4, ge=1, le=12, description="First month of the financial year")
    case_reference_pattern: str = Field(
        r"^[A-Z]{2,5}-?\d{3,10}$",
        description="Regular expression a case-management reference must match",
    )
    case_reference_example: str = "CIC-10234"
    learning_audits_per_manager: int = Field(2, ge=1, le=10)
    proposal_window_working_days: int = Field(
        10, ge=1, le=40, description="Working days from the quarter opening to the deadline"
    )
    reminder_working_days_before_deadline: int = Field(2, ge=0, le=20)
    audit_window_working_days: int = Field(
        30, ge=1, le=60, description="Working days after allocation for audits to be recorded"
    )
    amend_window_working_days: int = Field(
        10, ge=0, le=60,
        description="Working days after recording in which a learning audit, reflection or visit feedback may be amended",
    )
    themes_review_working_days: int = Field(
        3, ge=0, le=30, description="Working days after the audits are due before themes are drafted"
    )
    themes_escalate_working_days: int = Field(
        5, ge=1, le=30, description="Working days a draft may wait before Q&I is told"
    )
    themes_post_without_review: bool = False
    suppression_threshold: int = Field(5, ge=1, le=50)
    learning_themes: tuple[str, ...] = DEFAULT_LEARNING_THEMES
    grades: tuple[str, ...] = OFSTED_GRADES
    random_sample_cases_per_auditor: int = Field(2, ge=1, le=10)
    random_sample_auditors: int = Field(5, ge=1, le=50)
    practice_sections: tuple[str, ...] = Field(
        DEFAULT_PRACTICE_SECTIONS,
        description="Sections of practice each random-sample auditor grades (Ofsted scale), 1 to 12",
    )
    learning_visits_per_year: int = Field(4, ge=1, le=52)
    themed_audit_sources: tuple[str, ...] = THEMED_AUDIT_SOURCES
    cib_digest_working_days_before: int = Field(3, ge=0, le=20)
    action_reminder_working_days_before: int = Field(2, ge=0, le=20)
    retention_years: int = Field(7, ge=1, le=100, description="Years records are kept before the purge job")
    working_day_start_hour: int = Field(9, ge=0, le=23)

    @field_validator("case_reference_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression ({exc})") from exc
        return value

    @field_validator("practice_sections")
    @classmethod
    def _sections_usable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        sections = tuple(" ".join(str(s).split()) for s in value)
        if not 1 <= len(sections) <= PRACTICE_SECTIONS_MAX:
            raise ValueError(f"needs 1 to {PRACTICE_SECTIONS_MAX} sections of practice, not {len(sections)}")
        for section in sections:
            if not section:
                raise ValueError("has an empty section of practice")
            if len(section) > PRACTICE_SECTION_LENGTH:
                raise ValueError(f"section {section[:40]!r}... is longer than {PRACTICE_SECTION_LENGTH} characters")
        folded = [s.casefold() for s in sections]
        repeated = sorted({s for s, f in zip(sections, folded, strict=True) if folded.count(f) > 1})
        if repeated:
            raise ValueError(f"lists a section of practice more than once: {', '.join(repeated)}")
        return sections

    def case_reference_ok(self, reference: str) -> bool:
        return re.fullmatch(self.case_reference_pattern, reference) is not None
