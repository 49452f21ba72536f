"""The quarter's random-sample draw, run against the database: which service, the pairs and their
cases, stored with everything needed to reproduce it, explained for Q&I, and announced.

The choices themselves are pure and live in ``bot.sampling.draw``; this module gives them the
database's inputs, stores what they decided, and tells people through the outbox in the same
transaction. The ``draw-random-sample`` job runs it on the quarter's first working day.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import audit, directory, independence, outbox
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, NotFound, NotPermitted
from bot.core.independence import Ties
from bot.core.jobs import JobContext, JobSpec, NotDue
from bot.core.policy import Policy
from bot.core.roles import Channel, Role
from bot.sampling import messages as blocks
from bot.sampling.draw import Draw, Pair, RegisterCase, choose_service, draw_sample, pair_auditors
from bot.sampling.service import active_person, draw_for, members, slack_id_of
from bot.sampling.types import AssignedCase, DrawnCase
from storage.models import LearningAudit, Person, Service
from storage.models.sampling import (
    CaseRegisterEntry,
    SampledCase,
    SampleDraw,
    SamplePair,
    SampleServiceChoice,
)

RECENT_AUDIT_DAYS = 365


# ---------------------------------------------------------------------------------------------
# which service


def _service_history(session: Session, before_index: int) -> dict[str, int | None]:
    rows = session.execute(
        select(Service.key, func.max(SampleDraw.quarter_index))
        .join(SampleDraw, SampleDraw.service_id == Service.id)
        .where(SampleDraw.quarter_index < before_index)
        .group_by(Service.key)
    ).all()
    return {key: index for key, index in rows}


def _services_with_open_cases(session: Session) -> set[int]:
    return set(session.scalars(select(CaseRegisterEntry.service_id).where(CaseRegisterEntry.status == "open")))


def choose_service_for(session: Session, quarter: Quarter) -> tuple[Service, str]:
    """Rotate through the services that have open cases; Q&I's choice for the quarter wins."""
    with_cases = _services_with_open_cases(session)
    services = {s.key: s for s in directory.active_services(session) if s.id in with_cases}
    choice = session.get(SampleServiceChoice, quarter.key)
    override = choice.service.key if choice is not None and choice.service.active else None
    if override is not None and override not in services:
        services[override] = choice.service  # type: ignore[union-attr]  # Q&I chose it knowingly
    previous = draw_for(session, quarter.previous().key)
    picked = choose_service(
        list(services), _service_history(session, quarter.index()),
        last_quarter_service=previous.service.key if previous is not None else None, override=override,
    )
    return services[picked.service_key], picked.reason


def set_next_service(session: Session, *, actor: str, service_key: str, calendar: WorkingCalendar,
                     now: datetime) -> tuple[Quarter, Service]:
    """Q&I's override: the service for the next draw (this quarter's, if it has not been drawn yet)."""
    me = directory.who(session, actor)
    if not me.has(Role.QUALITY_IMPROVEMENT):
        raise NotPermitted("Only Quality & Improvement can choose the service for the random sample.")
    service = directory.service_by_key(session, service_key)
    if service is None:
        keys = ", ".join(s.key for s in directory.active_services(session))
        raise NotFound(f"There is no service `{service_key}`. Services: {keys}.")
    quarter = calendar.quarter(now)
    if draw_for(session, quarter.key) is not None:
        quarter = quarter.next()
    previous = draw_for(session, quarter.previous().key)
    if previous is not None and previous.service_id == service.id:
        raise Conflict(f"{service.name} was sampled in {quarter.previous().label}; each quarter samples a "
                       "different service. Choose another.")
    person = active_person(session, actor)
    assert person is not None  # who() found them
    choice = session.get(SampleServiceChoice, quarter.key)
    if choice is None:
        session.add(SampleServiceChoice(quarter=quarter.key, service_id=service.id, chosen_by_id=person.id,
                                        chosen_at=now))
    else:
        choice.service_id, choice.chosen_by_id, choice.chosen_at = service.id, person.id, now
    session.flush()
    audit.record(session, actor, "edit", "sample_service_choice", quarter.key, service=service.key)
    return quarter, service


# ---------------------------------------------------------------------------------------------
# the draw


def sampling_people(session: Session, policy: Policy) -> tuple[list[str], list[str]]:
    qi = directory.people_with_role(session, Role.QUALITY_IMPROVEMENT)[: policy.random_sample_auditors]
    return qi, directory.people_with_role(session, Role.PRACTICE_CONSULTANT)


def draw_blocker(session: Session, policy: Policy) -> str | None:
    """Why a draw cannot happen yet (so the job tries again on the next working day), or None."""
    active = {s.id for s in directory.active_services(session)}
    if not _services_with_open_cases(session) & active:
        return "the case register has no open cases: run `qmf-bot cases import FILE.csv` first"
    qi, pcs = sampling_people(session, policy)
    if not qi:
        return "there are no Q&I auditors in the QMF directory (quality_improvement); ask a QMF admin"
    if len(set(pcs) - set(qi)) < len(qi):
        return (f"there are {len(qi)} Q&I auditors but only {len(pcs)} Practice Consultants; ask a QMF admin "
                "to add Practice Consultants to the QMF directory")
    return None


def _register_cases(session: Session, service_id: int) -> tuple[list[RegisterCase], list[Person]]:
    """The service's register rows, and the people whose place in the directory places each case
    (its case holder and team manager)."""
    entries = list(session.scalars(
        select(CaseRegisterEntry).where(CaseRegisterEntry.service_id == service_id).order_by(CaseRegisterEntry.case_ref)
    ))
    cases = [
        RegisterCase(
            case_ref=e.case_ref, service_key=e.service.key, team_key=e.team.key, case_holder=e.case_holder.slack_id,
            team_manager=e.team_manager.slack_id,
            reviewing_officer=e.reviewing_officer.slack_id if e.reviewing_officer is not None else None,
            status=e.status,
        )
        for e in entries
    ]
    people = {p.id: p for e in entries for p in (e.case_holder, e.team_manager)}
    return cases, list(people.values())


def _ties_json(ties: dict[str, Ties]) -> dict[str, dict[str, list[str]]]:
    """The directory ties the draw judged by, kept with its inputs so a re-run judges the same way
    after people have moved teams (people tied to nothing are left out)."""
    return {person: {name: sorted(keys) for name in ("services", "teams_managed", "teams_member", "works_in")
                     if (keys := getattr(t, name))}
            for person, t in sorted(ties.items()) if t.services or t.teams or t.works_in}


def _ties_from_json(raw: Any) -> dict[str, Ties]:
    if not isinstance(raw, dict):
        return {}
    return {person: Ties(person=person, **{name: frozenset(keys) for name, keys in fields.items()})
            for person, fields in raw.items()}


def recently_audited(session: Session, people: list[str], *, since: datetime,
                     calendar: WorkingCalendar) -> dict[str, dict[str, date]]:
    """Cases each person was given to audit (sample or learning audit) since ``since``, with the date."""
    wanted = set(people)
    out: dict[str, dict[str, date]] = {}

    def note(person: str, ref: str, when: datetime) -> None:
        if person in wanted:
            day = calendar.today(when)
            seen = out.setdefault(person, {})
            seen[ref] = max(seen.get(ref, day), day)

    for case in session.scalars(select(SampledCase).join(SampleDraw).where(SampleDraw.drawn_at >= since)):
        for person in members(case):
            note(person, case.case_ref, case.draw.drawn_at)
    rows = session.execute(
        select(LearningAudit.case_ref, LearningAudit.allocated_at, Person.slack_id)
        .join(Person, Person.id == LearningAudit.auditor_id)
        .where(LearningAudit.allocated_at >= since)
    ).all()
    for ref, when, person in rows:
        note(person, ref, when)
    return out


def _inputs_json(qi: list[str], pcs: list[str], previous: list[Pair],
                 recent: dict[str, dict[str, date]], ties: dict[str, Ties]) -> dict[str, Any]:
    return {
        "qi": qi, "pcs": pcs, "previous_pairs": [[p.qi, p.pc] for p in previous],
        "recently_audited": {p: {ref: d.isoformat() for ref, d in sorted(refs.items())}
                             for p, refs in sorted(recent.items())},
        "ties": _ties_json(ties),
    }


def make_draw(session: Session, *, quarter: Quarter, calendar: WorkingCalendar, policy: Policy, now: datetime,
              seed: int | None = None) -> SampleDraw:
    """Choose the service, pair the auditors, draw the cases, store it all, and tell everyone."""
    if draw_for(session, quarter.key) is not None:
        raise Conflict(f"The random sample for {quarter.label} has already been drawn.")
    service, reason = choose_service_for(session, quarter)
    qi, pcs = sampling_people(session, policy)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    previous_draw = draw_for(session, quarter.previous().key)
    previous = [Pair(p.qi.slack_id, p.pc.slack_id) for p in previous_draw.pairs] if previous_draw else []
    pairs = pair_auditors(qi, pcs, previous_pairs=previous, seed=seed)
    register, case_people = _register_cases(session, service.id)
    recent = recently_audited(session, qi + pcs, since=now - timedelta(days=RECENT_AUDIT_DAYS), calendar=calendar)
    auditors = session.scalars(select(Person).where(Person.slack_id.in_(qi + pcs)))
    ties = independence.ties_of(session, {p.id: p for p in [*auditors, *case_people]}.values())
    drawn = draw_sample(register, pairs, service_key=service.key, per_auditor=policy.random_sample_cases_per_auditor,
                        seed=seed, recently_audited=recent, ties=ties)
    due = calendar.previous_working_day(quarter.end)
    row = SampleDraw(
        quarter=quarter.key, quarter_index=quarter.index(), service_id=service.id, service_reason=reason, seed=seed,
        per_auditor=drawn.per_auditor, pool=[dataclasses.asdict(c) for c in register],
        inputs=_inputs_json(qi, pcs, previous, recent, ties),
        exclusions=[dataclasses.asdict(e) for e in drawn.exclusions], shortfalls=dict(drawn.shortfalls),
        explanation=f"Quarter: {quarter.label}\nService: {service.key} ({reason})\n{drawn.explain()}",
        due_on=due, drawn_at=now,
    )
    session.add(row)
    session.flush()
    people = {p.slack_id: p for p in session.scalars(select(Person).where(Person.slack_id.in_(qi + pcs)))}
    pair_rows: dict[str, SamplePair] = {}
    for pair in drawn.pairs:
        pair_rows[pair.qi] = SamplePair(draw_id=row.id, qi_id=people[pair.qi].id, pc_id=people[pair.pc].id)
        session.add(pair_rows[pair.qi])
    session.flush()
    entries = {e.case_ref: e for e in session.scalars(
        select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref.in_([a.case_ref for a in drawn.assignments])))}
    for assignment in drawn.assignments:
        e = entries[assignment.case_ref]
        session.add(SampledCase(
            draw_id=row.id, pair_id=pair_rows[assignment.qi].id, qi_id=pair_rows[assignment.qi].qi_id,
            pc_id=pair_rows[assignment.qi].pc_id, quarter=quarter.key, case_ref=e.case_ref,
            service_id=e.service_id, team_id=e.team_id, case_holder_id=e.case_holder_id,
            team_manager_id=e.team_manager_id, reviewing_officer_id=e.reviewing_officer_id, due_on=due,
            created_at=now,
        ))
    session.flush()
    session.refresh(row)
    audit.record(session, "system", "create", "sample_draw", quarter.key, service=service.key, seed=seed,
                 cases=len(drawn.assignments), pairs=len(drawn.pairs))
    _notify_draw(session, row, quarter, reason)
    return row


def _notify_draw(session: Session, row: SampleDraw, quarter: Quarter, reason: str) -> None:
    """Each pair gets their cases with who to talk to; each case holder and team manager gets ONE
    message for the whole draw, however many of their cases were drawn."""
    service = row.service
    told: dict[str, list[DrawnCase]] = {}
    for pair in row.pairs:
        cases = [c for c in row.cases if c.pair_id == pair.id]
        assigned = []
        for c in cases:
            holder_row = session.get(Person, c.case_holder_id)
            holder = holder_row.slack_id if holder_row is not None else ""
            iro = slack_id_of(session, c.reviewing_officer_id)
            assigned.append(AssignedCase(c.id, c.case_ref, service.name, c.team.name, case_holder=holder,
                                         team_manager=c.team_manager.slack_id, reviewing_officer=iro))
            for who in {p.id: p for p in (holder_row, c.team_manager) if p is not None and p.active}.values():
                person = who.slack_id
                if person:
                    told.setdefault(person, []).append(DrawnCase(
                        case_ref=c.case_ref, team=c.team.name, qi=pair.qi.slack_id, pc=pair.pc.slack_id,
                        holds=person == holder, case_holder=holder, reviewing_officer=iro))
        for member, role, partner in ((pair.qi, "qi", pair.pc), (pair.pc, "pc", pair.qi)):
            text, message = blocks.allocation_message(quarter_label=quarter.label, service=service.name, role=role,
                                                      partner=partner.slack_id, cases=assigned, due=row.due_on)
            outbox.enqueue(session, channel=member.slack_id, text=text, blocks=message,
                           dedupe_key=f"sample-draw:{row.quarter}:{member.slack_id}")
    for person, drawn in told.items():
        text, message = blocks.drawn_cases_message(quarter_label=quarter.label, cases=drawn)
        outbox.enqueue(session, channel=person, text=text, blocks=message,
                       dedupe_key=f"sample-drawn-for:{row.quarter}:{person}")
    channel = directory.channel_for(session, Channel.QUALITY_IMPROVEMENT)
    if channel:
        text, message = blocks.draw_posted_message(quarter_label=quarter.label, service=service.name, reason=reason,
                                                   cases=len(row.cases), pairs=len(row.pairs),
                                                   shortfalls=len(row.shortfalls or {}))
        outbox.enqueue(session, channel=channel, text=text, blocks=message, dedupe_key=f"sample-drawn:{row.quarter}")


def reproduce(row: SampleDraw) -> tuple[list[Pair], Draw]:
    """Re-run the pairing and the draw from the stored seed and inputs: the same answer proves the record."""
    inputs = row.inputs or {}
    previous = [Pair(qi, pc) for qi, pc in inputs.get("previous_pairs", [])]
    pairs = pair_auditors(inputs.get("qi", []), inputs.get("pcs", []), previous_pairs=previous, seed=row.seed)
    recent = {p: {ref: date.fromisoformat(d) for ref, d in refs.items()}
              for p, refs in (inputs.get("recently_audited") or {}).items()}
    cases = [RegisterCase(**c) for c in row.pool]
    drawn = draw_sample(cases, pairs, service_key=row.service.key, per_auditor=row.per_auditor, seed=row.seed,
                        recently_audited=recent, ties=_ties_from_json(inputs.get("ties")))
    return pairs, drawn


def stored_assignments(row: SampleDraw) -> list[tuple[str, str, str]]:
    return sorted((c.case_ref, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases)


def explain(row: SampleDraw) -> str:
    """The stored explanation, and whether re-running the draw from its seed and pool agrees with it."""
    pairs, drawn = reproduce(row)
    same_pairs = sorted((p.qi, p.pc) for p in pairs) == sorted((p.qi.slack_id, p.pc.slack_id) for p in row.pairs)
    same_cases = sorted((a.case_ref, a.qi, a.pc) for a in drawn.assignments) == stored_assignments(row)
    check = ("Re-running the draw from the stored seed and pool gives the same pairs and cases."
             if same_pairs and same_cases else
             "WARNING: re-running the draw from the stored seed and pool does NOT give the stored result.")
    pool = "\n".join(f"  {c['case_ref']}  {c['team_key']}  holder {c['case_holder']}  manager {c['team_manager']}"
                     + (f"  IRO {c['reviewing_officer']}" if c.get("reviewing_officer") else "") + f"  {c['status']}"
                     for c in row.pool) or "  (empty)"
    return f"{row.explanation}\n\nPool snapshot ({len(row.pool)} register row(s)):\n{pool}\n\n{check}"



# ---------------------------------------------------------------------------------------------
# the job


def _draw_period(ctx: JobContext) -> str:
    quarter = ctx.quarter
    first = ctx.calendar.first_working_day(quarter)
    if ctx.today < first:
        raise NotDue(f"the random sample for {quarter.label} is drawn on {first.isoformat()}")
    if draw_for(ctx.session, quarter.key) is None:
        blocker = draw_blocker(ctx.session, ctx.policy)
        if blocker:
            raise NotDue(f"random sample for {quarter.label} not drawn: {blocker}")
    return quarter.key


def draw_random_sample(ctx: JobContext) -> str:
    quarter = ctx.quarter
    existing = draw_for(ctx.session, quarter.key)
    if existing is not None:
        return f"{quarter.label}: already drawn ({existing.service.name})"
    seed = ctx.options.get("seed")
    row = make_draw(ctx.session, quarter=quarter, calendar=ctx.calendar, policy=ctx.policy, now=ctx.now,
                    seed=int(seed) if seed is not None else None)
    summary = (f"{quarter.label}: {row.service.name} ({row.service_reason}); {len(row.cases)} case(s) for "
               f"{len(row.pairs)} pair(s), seed {row.seed}")
    if row.shortfalls:
        summary += f"; {len(row.shortfalls)} pair(s) short of cases"
    return summary


DRAW_RANDOM_SAMPLE_JOB = JobSpec(
    name="draw-random-sample",
    description="Choose the quarter's service and draw the random sample for Q&I and PC pairs",
    cron={"day_of_week": "mon-fri", "hour": 9, "minute": 0},
    period=_draw_period,
    run=draw_random_sample,
)
