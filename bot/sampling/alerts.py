"""The Inadequate alert: a case graded Inadequate (a blind grade, then the agreed one) is flagged and
its team manager and service manager are told at once, never a member of the auditing pair (the
grades are blind). An agreed Inadequate also opens an improvement-plan action for the case."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.core.calendar import WorkingCalendar
from bot.core.errors import InvalidInput
from bot.core.policy import Policy
from bot.sampling import messages as blocks
from bot.sampling.service import members, quarter_of
from bot.sampling.types import Plan
from storage.models.sampling import SampledCase, SampleFlag, SampleModeration

log = logging.getLogger(__name__)

ACTION_WORKING_DAYS = 20


def add_flag(session: Session, case: SampledCase, kind: str, reason: str) -> None:
    """Flag the case for Q&I once per kind (a disagreement, an Inadequate grade)."""
    exists = session.scalar(select(SampleFlag.id).where(SampleFlag.case_id == case.id, SampleFlag.kind == kind))
    if exists is None:
        session.add(SampleFlag(case_id=case.id, kind=kind, reason=reason))
        session.flush()


def alert_inadequate(session: Session, case: SampledCase, *, agreed: bool, quarter_label: str,
                     plan: Plan | None = None, skip: Collection[str] = ()) -> None:
    """Tell the case's team manager and service manager at once (never a member of the pair: blind).

    ``skip``: people told in another message at the same moment (the findings DM carries the plan)."""
    kind = "agreed" if agreed else "original"
    add_flag(session, case, f"inadequate_{kind}", "Inadequate " + ("agreed grade" if agreed else "blind grade"))
    pair = set(members(case)) | set(skip)
    recipients = [case.team_manager.slack_id, case.service.service_manager.slack_id]
    text, message = blocks.inadequate_message(case_ref=case.case_ref, quarter_label=quarter_label, agreed=agreed,
                                              plan=plan)
    for person in dict.fromkeys(recipients):
        if person not in pair:
            outbox.enqueue(session, channel=person, text=text, blocks=message,
                           dedupe_key=f"sample-inadequate-{kind}:{case.id}:{person}")


def inadequate_agreed(session: Session, case: SampledCase, row: SampleModeration, *, actor: str, today: date,
                      calendar: WorkingCalendar, policy: Policy,
                      told: Collection[str] = ()) -> Plan | None:
    """Open the improvement-plan action (the team manager's, else the service manager's) and alert
    those not ``told`` by the message about the grade (the findings, or the correction); returns the
    plan (None if none could be opened). An owner among ``told`` reads the action, with its "Mark
    done", in that message, not in a second message of the same moment."""
    from bot.actions.service import (
        add_action,  # the action-plan flow; imported here so sampling loads without it
    )

    due = calendar.add_working_days(today, ACTION_WORKING_DAYS)
    owners = [case.team_manager.slack_id, case.service.service_manager.slack_id]
    description = f"Agree an improvement plan for {case.case_ref} after an Inadequate sample audit"
    action = None
    for owner in dict.fromkeys(owners):
        try:
            with session.begin_nested():
                action = add_action(session, source_kind="random_sample", source_id=case.id, owner=owner,
                                    description=description, due_on=due, created_by=actor,
                                    service_id=case.service_id, quarter=case.quarter, today=today,
                                    notify=owner not in told)
            break
        except InvalidInput:
            log.warning("could not give the improvement-plan action for %s to %s", case.case_ref, owner)
    if action is not None:
        row.action_id = action.id
    plan = Plan(owner=action.owner.slack_id, due=due, action_id=action.id) if action is not None else None
    alert_inadequate(session, case, agreed=True, quarter_label=quarter_of(case.quarter, policy).label,
                     plan=plan, skip=told)
    return plan
