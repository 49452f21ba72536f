"""Themed audits' part of the daily ``send-reminders`` job."""

from __future__ import annotations

from sqlalchemy import select

from bot.cib import service as board
from bot.core.directory import is_available
from bot.core.jobs import JobContext
from bot.themed_audits import messages as blocks
from bot.themed_audits.service import collation_day, send_collated_findings, themed_brief
from storage.models import Person
from storage.models.commissions import ThemedAudit, ThemedAuditFinding


def send_themed_audit_reminders(ctx: JobContext) -> str:
    """Auditors the working day before collation, and the collated findings themselves when due.

    Windows rather than single days, so a day the job did not run is caught up; the dedupe keys
    keep every message to once.
    """
    session, calendar, today, policy = ctx.session, ctx.calendar, ctx.today, ctx.policy
    if not calendar.is_working_day(today):
        return f"themed audits: {today.isoformat()} is not a working day; nobody prompted."
    counts = {"findings": 0, "collated": 0}
    audits = list(session.scalars(select(ThemedAudit).where(ThemedAudit.status == "commissioned",
                                                            ThemedAudit.workshop_on >= today)))
    for audit in audits:
        collate_on = collation_day(calendar, audit.workshop_on, policy)
        if today >= collate_on:
            send_collated_findings(session, audit=audit, actor=None, now=ctx.now, policy=policy)
            counts["collated"] += 1
            continue
        if today >= calendar.previous_working_day(collate_on, include_today=False):
            recorded = set(session.scalars(select(Person.slack_id).join(
                ThemedAuditFinding, ThemedAuditFinding.auditor_id == Person.id)
                .where(ThemedAuditFinding.audit_id == audit.id)))
            brief = themed_brief(audit)
            for auditor in audit.auditors:
                person = auditor.person
                if person.slack_id in recorded or not is_available(person, today):
                    continue
                message = blocks.findings_reminder_message(brief, collate_on, person.slack_id)
                if board.dm(session, person.slack_id, message,
                            f"themed:{audit.id}:findings-reminder:{person.slack_id}"):
                    counts["findings"] += 1
    return f"themed audits: {counts['findings']} findings reminder(s), {counts['collated']} collation(s) sent"
