"""Themed audits' ids and plain values: what the service builds and the messages lay out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from bot.cib.types import ModalMeta, int_or_none, parse_day


class ThemedAuditIds(StrEnum):
    """Every block, action and callback id of the themed-audit flow (kebab-case ``flow-field``)."""

    # the commission modal
    THEMED_MODAL = "themed-commission"
    THEMED_THEME = "themed-theme"
    THEMED_THEORY = "themed-theory"
    THEMED_SOURCE = "themed-source"
    THEMED_SOURCE_OTHER = "themed-source-other"
    THEMED_PRIORITY = "themed-priority"
    THEMED_FOCUS = "themed-focus"
    THEMED_SIZE = "themed-size"
    THEMED_CASES = "themed-cases"
    THEMED_AUDITORS = "themed-auditors"
    THEMED_VIEWS = "themed-service-user-views"
    THEMED_WORKSHOP = "themed-workshop"
    THEMED_CIB = "themed-cib"
    # findings per case
    RECORD_FINDINGS = "themed-record-findings"
    FINDINGS_MODAL = "themed-findings"
    FINDINGS_CASE = "themed-findings-case"
    FINDINGS_FOUND = "themed-findings-found"
    FINDINGS_EVIDENCE = "themed-findings-evidence"
    FINDINGS_VIEWS = "themed-findings-views"
    FINDINGS_THEMES = "themed-findings-themes"
    # the workshop
    ATTACH_MATERIAL = "themed-attach-material"
    MATERIAL_MODAL = "themed-material"
    MATERIAL_PERFORMANCE = "themed-material-performance"
    MATERIAL_FEEDBACK = "themed-material-feedback"
    SEND_COLLATED = "themed-send-collated"
    RECORD_MODERATED = "themed-record-moderated"
    MODERATED_MODAL = "themed-moderated"
    MODERATED_FINDINGS = "themed-moderated-findings"
    MODERATED_RECOMMENDATIONS = "themed-moderated-recommendations"
    MODERATED_THEMES = "themed-moderated-themes"


class ThemedAuditMeta(ModalMeta):
    audit_id: int | None = None
    case_id: int | None = None


@dataclass(frozen=True)
class ThemedAuditInput:
    theme: str = ""
    theory: str = ""
    source: str | None = None
    source_other: str | None = None
    priority: str = ""
    sampling_focus: str = ""
    sample_size: int | None = None
    case_refs: str | None = None
    auditors: tuple[str, ...] = ()
    service_user_views: bool = False
    workshop_on: date | None = None
    cib_meeting_id: int | None = None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> ThemedAuditInput:
        ids = ThemedAuditIds
        return cls(
            theme=values.get(ids.THEMED_THEME) or "",
            theory=values.get(ids.THEMED_THEORY) or "",
            source=values.get(ids.THEMED_SOURCE),
            source_other=values.get(ids.THEMED_SOURCE_OTHER),
            priority=values.get(ids.THEMED_PRIORITY) or "",
            sampling_focus=values.get(ids.THEMED_FOCUS) or "",
            sample_size=int_or_none(values.get(ids.THEMED_SIZE)),
            case_refs=values.get(ids.THEMED_CASES),
            auditors=tuple(values.get(ids.THEMED_AUDITORS) or ()),
            service_user_views=bool(values.get(ids.THEMED_VIEWS)),
            workshop_on=parse_day(values.get(ids.THEMED_WORKSHOP)),
            cib_meeting_id=int_or_none(values.get(ids.THEMED_CIB)),
        )


@dataclass(frozen=True)
class MeetingChoice:
    """A Board meeting a themed audit may report to."""

    id: int
    meets_on: date


@dataclass(frozen=True)
class ThemedBrief:
    """A themed audit as its auditors and commissioner see it (DMs may carry case references)."""

    id: int
    theme: str
    theory: str
    source: str
    priority: str
    focus: str
    sample_size: int
    service_user_views: bool
    workshop_on: date
    cib_on: date | None
    commissioner: str
    auditors: tuple[str, ...] = ()
    cases: tuple[tuple[int, str], ...] = ()  # (case id, case reference)


@dataclass(frozen=True)
class FindingPrefill:
    case_ref: str | None = None
    against_theory: str | None = None
    evidence: str | None = None
    service_user_views: str | None = None
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingLine:
    case_ref: str
    auditor: str
    against_theory: str
    evidence: str
    service_user_views: str | None
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Collation:
    """The findings grouped by theme, most-raised first, with what the commissioner attached."""

    by_theme: tuple[tuple[str, tuple[FindingLine, ...]], ...]
    unthemed: tuple[FindingLine, ...]
    cases: int
    findings: int
    performance_notes: str | None = None
    service_user_feedback: str | None = None


@dataclass(frozen=True)
class CaseFindings:
    """One audited case's findings, for the people who hold and manage it (DMs only: it names the case)."""

    case_ref: str
    case_holder: str
    team_manager: str
    lines: tuple[FindingLine, ...]


@dataclass(frozen=True)
class FindingsBack:
    """What one person hears once the workshop has moderated: the audited cases they hold and those
    they manage, in one message however many there are."""

    reader: str
    held: tuple[CaseFindings, ...] = ()
    managed: tuple[CaseFindings, ...] = ()
    moderated_findings: str = ""
    recommendations: str = ""
    auditors: tuple[str, ...] = ()
    updated: bool = False
