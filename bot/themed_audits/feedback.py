"""Themed-audit findings going back to practitioners: once the workshop has moderated, each audited
case's case holder and team manager hear what the auditors found on it and what the workshop agreed.

The framework's point is that "findings from all audits go back to practitioners, individually and
collectively"; a themed audit used to stop at the Board. Who hears comes from the case register
(the only place that knows who holds and manages a case): a case it does not list reaches nobody,
and the commissioner is told which, so they can share those findings themselves.

Privacy: the message names cases, so it is a DM to the people who hold or manage those cases and
nobody else; a person with several audited cases (a team manager, usually) gets one message.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cib import service as board
from bot.themed_audits import messages as blocks
from bot.themed_audits.types import CaseFindings, FindingLine, FindingsBack, ThemedBrief
from storage.models.sampling import CaseRegisterEntry


def findings_back(session: Session, lines: Sequence[FindingLine], *, moderated_findings: str,
                  recommendations: str, auditors: Sequence[str], updated: bool = False
                  ) -> tuple[list[FindingsBack], list[str]]:
    """(one FindingsBack per person to tell, the audited case references the register does not know).

    A case holder hears about the cases they hold, a team manager about the cases they manage; the
    same person in both parts of different cases gets both in one message. People who have left
    (inactive in the directory) are not written to."""
    by_case: dict[str, list[FindingLine]] = {}
    for line in lines:
        by_case.setdefault(line.case_ref, []).append(line)
    if not by_case:
        return [], []
    entries = {e.case_ref: e for e in session.scalars(
        select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref.in_(sorted(by_case))))}
    held: dict[str, list[CaseFindings]] = {}
    managed: dict[str, list[CaseFindings]] = {}
    unknown: list[str] = []
    for ref, found in by_case.items():
        entry = entries.get(ref)
        if entry is None:
            unknown.append(ref)
            continue
        case = CaseFindings(case_ref=ref, case_holder=entry.case_holder.slack_id,
                            team_manager=entry.team_manager.slack_id, lines=tuple(found))
        if entry.case_holder.active:
            held.setdefault(case.case_holder, []).append(case)
        if entry.team_manager.active and case.team_manager != case.case_holder:
            managed.setdefault(case.team_manager, []).append(case)
    people = list(dict.fromkeys([*held, *managed]))
    return [FindingsBack(reader=p, held=tuple(held.get(p, ())), managed=tuple(managed.get(p, ())),
                         moderated_findings=moderated_findings, recommendations=recommendations,
                         auditors=tuple(auditors), updated=updated)
            for p in people], unknown


def send_findings_back(session: Session, brief: ThemedBrief, lines: Sequence[FindingLine], *,
                       moderated_findings: str, recommendations: str, updated: bool) -> tuple[int, list[str]]:
    """DM each case holder and team manager their findings, in the caller's transaction; returns
    (people told, case references nobody could be told about).

    The dedupe key carries what the workshop agreed, so saving the same moderated findings twice
    sends nothing new, and a correction reaches everyone once more, marked as replacing the first."""
    found, unknown = findings_back(session, lines, moderated_findings=moderated_findings,
                                   recommendations=recommendations, auditors=brief.auditors, updated=updated)
    version = board.content_key(moderated_findings, recommendations)
    for back in found:
        board.dm(session, back.reader, blocks.findings_back_message(brief, back),
                 f"themed:{brief.id}:findings-back:{back.reader}:{version}")
    return len(found), unknown
