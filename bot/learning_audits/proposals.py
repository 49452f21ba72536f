"""Case proposals for learning audits: who may propose, the proposal modal, saving, editing,
withdrawing and the person's list. The quarter's round is in ``rounds``; the job that opens it, the
reminder and the to-do are in ``proposal_jobs``.

The framework asks managers to "propose cases which will provide the most learning". Service and
Team Managers are asked on the quarter's first working day; they (and the Quality & Improvement
team, who support the process) propose through one modal, and can change their minds until the
cases are allocated. Everything here is checked on the server: the modal's metadata only says
*which* proposal is meant, never who may touch it.

A case is proposed once a quarter. ``Proposal.live_ref`` carries the reference while a proposal is
live and is cleared on withdrawal, so the database itself refuses a second live proposal of the
same case and a withdrawn case can be proposed again.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from slack_sdk.models.views import View
from sqlalchemy import Executable, and_, bindparam, or_, select
from sqlalchemy.orm import Session, contains_eager

from bot.core import directory, outbox
from bot.core.audit import record
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from bot.core.formatting import mention
from bot.core.policy import Policy
from bot.core.privacy import free_text_problem
from bot.core.roles import Role
from bot.learning_audits.proposal_messages import (
    CASE_HOLDER_LABEL,
    FLAG_WORDS,
    REASON_LABEL,
    TEAM_MANAGER_LABEL,
    ProposalMeta,
    confirmation_message,
    proposal_modal,
    proposals_list,
    quarter_words,
    short_date,
    withdrawn_text,
)
from bot.learning_audits.rounds import (
    ProposalsClosed,
    closed_message,
    current_round,
    ensure_round,
    require_open,
    round_dates,
)
from bot.learning_audits.types import ProposalCard, ProposalIds, ProposalPrefill, TeamOption
from storage.models import LearningRound, Person, Proposal, Service, Team, TeamMember

__all__ = [
    "ProposalForm",
    "carried_into",
    "live_proposals",
    "may_propose",
    "normalise_case_ref",
    "proposal_view",
    "proposals_of",
    "refreshed_view",
    "save_proposal",
    "team_options",
    "withdraw_proposal",
    "your_proposals",
]

PROPOSER_ROLES = (Role.SERVICE_MANAGER, Role.TEAM_MANAGER, Role.QUALITY_IMPROVEMENT, Role.ADMIN)
"""Who may propose: the managers the framework asks, and Q&I and admins who support them."""
OVERSEER_ROLES = (Role.QUALITY_IMPROVEMENT, Role.ADMIN)
"""Who may change someone else's proposal (to tidy up a mistake before allocation)."""


# ---------------------------------------------------------------------------------------------
# queries others use


def live_proposals(session: Session, quarter_key: str) -> list[Proposal]:
    """Every proposal of the quarter that has not been withdrawn, oldest first."""
    return list(session.scalars(
        select(Proposal).where(Proposal.quarter == quarter_key, Proposal.live_ref.is_not(None))
        .order_by(Proposal.id)))


def proposals_of(session: Session, slack_id: str, quarter_key: str) -> list[Proposal]:
    """A person's own proposals for the quarter, withdrawn ones included, oldest first."""
    return list(session.scalars(
        select(Proposal).join(Person, Proposal.proposed_by_id == Person.id)
        .where(Proposal.quarter == quarter_key, Person.slack_id == slack_id)
        .order_by(Proposal.id)))


def carried_into(session: Session, proposal_ids: list[int]) -> dict[int, Proposal]:
    """The proposals carried on from these ones (``carry``), by the id they were carried from."""
    if not proposal_ids:
        return {}
    rows = session.scalars(select(Proposal).where(Proposal.carried_from_id.in_(proposal_ids)))
    return {p.carried_from_id: p for p in rows if p.carried_from_id is not None}


def may_propose(who: directory.Who) -> bool:
    return who.known and who.has(*PROPOSER_ROLES)


def _label(person: Person) -> str:
    return person.display_name or f"<@{person.slack_id}>"


def _ask_admins(session: Session) -> str:
    admins = directory.people_with_role(session, Role.ADMIN)
    return ", ".join(mention(a) for a in admins) or "a QMF admin"


def _require_proposer(session: Session, who: directory.Who) -> None:
    if not who.known:
        raise NotPermitted(f"You are not in the QMF directory yet, so you can't propose cases. "
                           f"Ask {_ask_admins(session)} to add you to the QMF directory.")
    if not may_propose(who):
        raise NotPermitted("Thank you for wanting to help. Cases for learning audits are proposed by Service "
                           "Managers, Team Managers and the Quality & Improvement team: if you know a case "
                           "that would give a lot of learning, please tell your team manager.")


def _changeable(session: Session, who: directory.Who, proposal_id: int | None,
                calendar: WorkingCalendar) -> Proposal:
    """The proposal, if this person may still change it: the server's check, whatever the payload says."""
    proposal = session.get(Proposal, proposal_id) if proposal_id is not None else None
    if proposal is None:
        raise NotFound("I can't find that proposal any more.")
    if proposal.proposed_by.slack_id != who.slack_id and not (who.known and who.has(*OVERSEER_ROLES)):
        raise NotPermitted("Only the person who proposed this case (or the Quality & Improvement team) can "
                           "edit or withdraw it.")
    quarter = Quarter.parse(proposal.quarter, calendar.year_start_month)
    round_ = current_round(session, proposal.quarter)
    require_open(round_, quarter, calendar)
    if proposal.status in ("allocated", "not_allocated"):
        raise ProposalsClosed(closed_message(round_, quarter, calendar) if round_ else
                              f"{proposal.case_ref} has been through allocation and can no longer change.")
    if proposal.status == "withdrawn":
        raise Conflict(f"{proposal.case_ref} was withdrawn from {quarter.label}; propose it again if you "
                       f"want it audited.")
    return proposal


def _quarter_of(calendar: WorkingCalendar, key: str) -> Quarter:
    return Quarter.parse(key, calendar.year_start_month)


def _card(proposal: Proposal, calendar: WorkingCalendar, carried: Proposal | None = None) -> ProposalCard:
    flags = tuple(f for f in FLAG_WORDS if getattr(proposal, f))
    return ProposalCard(
        id=proposal.id,
        case_ref=proposal.case_ref,
        team_label=f"{proposal.team.name}, {proposal.service.name}",
        status=proposal.status,
        proposed_on=calendar.today(proposal.created_at),
        flags=flags,
        why_not=proposal.not_allocated_reason if proposal.status == "not_allocated" else None,
        carried_to=_quarter_of(calendar, carried.quarter).label if carried is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# the modal


_FORM_FIELDS: dict[str, str] = {
    ProposalIds.CASE_REF: "case_ref",
    ProposalIds.TEAM: "team_key",
    ProposalIds.CASE_HOLDER: "case_holder",
    ProposalIds.TEAM_MANAGER: "team_manager",
    ProposalIds.REASON: "reason",
    ProposalIds.FLAGS: "flags",
}


class ProposalForm(BaseModel):
    """The proposal modal's state, keyed by the modal's block ids (``view_values(view)``)."""

    model_config = ConfigDict(extra="ignore")

    case_ref: str = ""
    team_key: str | None = None
    case_holder: str | None = None
    team_manager: str | None = None
    reason: str = ""
    flags: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_block_ids(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {_FORM_FIELDS.get(key, key): value for key, value in data.items()}
        return data

    @field_validator("case_ref", "reason", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value).strip()

    @field_validator("flags", mode="before")
    @classmethod
    def _flags(cls, value: Any) -> list[str]:
        return [] if value is None else [str(v) for v in value]


@cache
def _statements() -> dict[str, Executable]:
    """The statements of the modal-open and submission paths, built once: composing a statement
    costs more Python than running it, and these run on every request."""
    return {
        "team_options": select(Team.key, Service.name, Team.name, Person.slack_id)
        .join(Service, Team.service_id == Service.id)
        .join(Person, Team.team_manager_id == Person.id)
        .where(Team.active, Service.active)
        .order_by(Service.position, Service.id, Team.position, Team.id),
        "team": select(Team).join(Team.service).options(contains_eager(Team.service))
        .where(Team.key == bindparam("key"), Team.active),
        "people": select(Person, TeamMember.person_id)
        .outerjoin(TeamMember, and_(TeamMember.person_id == Person.id, TeamMember.team_id == bindparam("team_id")))
        .where(or_(and_(Person.slack_id.in_(bindparam("slack_ids", expanding=True)), Person.active),
                   Person.id == bindparam("also_id"))),
        "in_team": select(TeamMember.person_id).where(TeamMember.team_id == bindparam("team_id"),
                                                      TeamMember.person_id.in_(bindparam("person_ids", expanding=True))),
        "clash": select(Proposal).where(Proposal.quarter == bindparam("quarter"),
                                        Proposal.live_ref == bindparam("case_ref"),
                                        Proposal.id != bindparam("not_id")),
    }


def team_options(session: Session) -> list[TeamOption]:
    """Every active team with its service and manager, in one query (it is on the modal-open path)."""
    rows = session.execute(_statements()["team_options"]).all()
    return [TeamOption(key=key, service_name=service, team_name=team, manager=manager)
            for key, service, team, manager in rows]


def _own_team(who: directory.Who) -> Team | None:
    """The team a proposer most likely means: the one they manage, work in, or their service's first."""
    for team in who.teams_managed + who.teams_member:
        return team
    for service in who.services_managed:
        for team in service.teams:
            if team.active:
                return team
    return None


def proposal_view(session: Session, *, actor: str, now: datetime, calendar: WorkingCalendar, policy: Policy,
                  proposal_id: int | None = None) -> View:
    """The modal to propose a case (or to edit one), after checking the person may."""
    who = directory.who(session, actor)
    _require_proposer(session, who)
    teams = team_options(session)
    if proposal_id is None:
        quarter = calendar.quarter(now)
        round_ = current_round(session, quarter.key)
        require_open(round_, quarter, calendar)
        deadline = round_.deadline if round_ else round_dates(calendar, policy, quarter).deadline
        team = _own_team(who)
        # the options already name each team's manager: no need to load the person again
        manager = next((t.manager for t in teams if team is not None and t.key == team.key), None)
        if team is not None and manager is None:
            manager = team.team_manager.slack_id
        prefill = ProposalPrefill(team_key=team.key if team else None, team_manager=manager)
    else:
        proposal = _changeable(session, who, proposal_id, calendar)
        quarter = _quarter_of(calendar, proposal.quarter)
        round_ = current_round(session, proposal.quarter)
        deadline = round_.deadline if round_ else round_dates(calendar, policy, quarter).deadline
        prefill = ProposalPrefill(
            case_ref=proposal.case_ref, team_key=proposal.team.key, case_holder=proposal.case_holder.slack_id,
            team_manager=proposal.team_manager.slack_id, reason=proposal.reason,
            flags=frozenset(f for f in FLAG_WORDS if getattr(proposal, f)),
        )
        if proposal.team.key not in {t.key for t in teams}:  # the team has since closed: still show it
            teams.append(TeamOption(proposal.team.key, proposal.service.name, proposal.team.name,
                                    proposal.team.team_manager.slack_id))
        record(session, actor, "view", "proposal", proposal.id, quarter=proposal.quarter)
    return proposal_modal(
        meta=ProposalMeta(quarter=quarter.key, proposal_id=proposal_id),
        quarter=quarter_words(quarter.label, quarter.months_label),
        deadline=deadline,
        teams=teams,
        prefill=prefill,
        case_ref_example=policy.case_reference_example,
    )


def refreshed_view(session: Session, *, meta: ProposalMeta, form: ProposalForm, calendar: WorkingCalendar,
                   policy: Policy) -> View:
    """The same modal after the team changed: the team manager follows the team."""
    teams = team_options(session)
    chosen = next((t for t in teams if t.key == form.team_key), None)
    quarter = _quarter_of(calendar, meta.quarter)
    round_ = current_round(session, meta.quarter)
    deadline = round_.deadline if round_ else round_dates(calendar, policy, quarter).deadline
    prefill = ProposalPrefill(
        case_ref=form.case_ref or None, team_key=form.team_key, case_holder=form.case_holder,
        team_manager=chosen.manager if chosen else None, reason=form.reason or None,
        flags=frozenset(form.flags),
    )
    return proposal_modal(meta=meta, quarter=quarter_words(quarter.label, quarter.months_label),
                          deadline=deadline, teams=teams, prefill=prefill,
                          case_ref_example=policy.case_reference_example)


# ---------------------------------------------------------------------------------------------
# saving, withdrawing, listing


def normalise_case_ref(text: str, policy: Policy) -> str | None:
    """The reference as stored, or None if it is not one. Capitals are tried too, so "cic-10234"
    and "CIC-10234" are the same case (and clash as duplicates)."""
    text = text.strip()
    for candidate in (text.upper(), text):
        if candidate and policy.case_reference_ok(candidate):
            return candidate
    return None


def _team(session: Session, who: directory.Who, key: str) -> Team | None:
    """The active team with this key, with its service: the proposer's own teams are already loaded."""
    for team in who.teams_managed + who.teams_member:
        if team.key == key:
            return team
    return session.scalar(_statements()["team"], {"key": key})


def _people(session: Session, who: directory.Who, slack_ids: set[str], also_id: int | None = None,
            team: Team | None = None, members: set[int] | None = None) -> dict[str, Person]:
    """The active people with these Slack ids, in one statement (none if the proposer is all it needs).

    ``also_id`` loads one more person whatever their state (the team's manager, read through
    ``team.team_manager``), so that relationship is then answered from the session. ``members``, if
    given, gets the ids of the people loaded here who are members of ``team`` (for ``outsiders``).
    """
    found: dict[str, Person] = {}
    if who.person is not None and who.person.slack_id in slack_ids:
        found[who.person.slack_id] = who.person
    wanted = slack_ids - found.keys()
    if not wanted and also_id is None:
        return found
    params = {"slack_ids": sorted(wanted), "also_id": also_id, "team_id": team.id if team is not None else None}
    for person, member in session.execute(_statements()["people"], params):
        if members is not None and member is not None:
            members.add(person.id)
        if person.slack_id in wanted and person.active:
            found[person.slack_id] = person
        elif person.id == also_id:
            found.setdefault(f"id:{person.id}", person)
    return found


def outsiders(session: Session, team: Team, *, holder: Person | None, manager: Person | None,
              looked_up: tuple[set[int], set[int]] | None = None) -> dict[str, str]:
    """Inline errors for a case holder or chosen team manager who is not in the chosen team.

    The team is what the form says holds the case, and the independence rule starts from it: a
    case holder from another team would let the case be filed under a team (and service) whose
    Service Manager could then be allocated a case of their own service. A person is in the team
    if they are its manager or one of its members (a team manager may hold a case; an acting
    manager is a member). Old rows stored before this check are covered by the rule itself
    (``bot.core.independence.case_subject`` widens a case by its people's real teams)."""
    people = [p for p in (holder, manager) if p is not None]
    if not people:
        return {}
    inside = {team.team_manager_id}
    # ``looked_up``: (people whose membership of this team was already read, the members among them)
    unknown = sorted({p.id for p in people} - inside - (looked_up[0] if looked_up else set()))
    if looked_up:
        inside |= looked_up[1]
    if unknown:
        inside |= set(session.scalars(_statements()["in_team"], {"team_id": team.id, "person_ids": unknown}))
    errors: dict[str, str] = {}
    if holder is not None and holder.id not in inside:
        errors[ProposalIds.CASE_HOLDER] = (
            f"{_label(holder)} is not in team {team.name}. Choose the team the case is held in, or the "
            f"case holder who holds it.")
    if manager is not None and manager.id not in inside:
        errors[ProposalIds.TEAM_MANAGER] = (
            f"{_label(manager)} does not manage team {team.name} and is not in it. Leave the "
            f"{TEAM_MANAGER_LABEL.lower()} empty to use the team's own manager, or choose the team the case "
            f"is held in.")
    return errors


def save_proposal(session: Session, *, actor: str, form: ProposalForm, proposal_id: int | None, now: datetime,
                  calendar: WorkingCalendar, policy: Policy, insert_judges_clash: bool = False) -> Proposal:
    """Validate everything, then store and confirm; any problem raises before anything is written.

    InvalidInput carries one inline message per field; NotPermitted and ProposalsClosed refuse the
    whole thing. A race with another proposer of the same case surfaces as an IntegrityError on
    flush: call again and the duplicate is then reported inline.

    ``insert_judges_clash`` (the modal's first attempt): a new proposal whose form is otherwise valid
    is inserted without first looking for the same case this quarter; the unique key (quarter,
    live_ref) refuses a clash with an IntegrityError, and the caller calls again without it, which
    names the clash inline. One statement fewer on every submission; a clash costs a second attempt.
    """
    who = directory.who(session, actor)
    _require_proposer(session, who)
    editing: Proposal | None = None
    open_round: LearningRound | None = None  # held, so ensure_round finds it in the session
    if proposal_id is not None:
        editing = _changeable(session, who, proposal_id, calendar)
        quarter = _quarter_of(calendar, editing.quarter)
    else:
        quarter = calendar.quarter(now)
        open_round = current_round(session, quarter.key)
        require_open(open_round, quarter, calendar)

    errors: dict[str, str] = {}
    case_ref = normalise_case_ref(form.case_ref, policy)
    if not form.case_ref:
        errors[ProposalIds.CASE_REF] = "Please give the case reference."
    elif case_ref is None:
        errors[ProposalIds.CASE_REF] = (f"That is not a case reference in the council's format: use the "
                                        f"case-management reference, e.g. {policy.case_reference_example}.")
    team = _team(session, who, form.team_key) if form.team_key else None
    if editing is not None and team is None and form.team_key == editing.team.key:
        team = editing.team
    if team is None:
        errors[ProposalIds.TEAM] = "Please choose the service and team that hold the case."
    members: set[int] = set()
    people = _people(session, who, {s for s in (form.case_holder, form.team_manager) if s},
                     also_id=team.team_manager_id if team is not None and not form.team_manager else None,
                     team=team, members=members)
    read = {p.id for p in people.values() if p is not who.person}  # membership read with them
    holder = people.get(form.case_holder) if form.case_holder else None
    if not form.case_holder:
        errors[ProposalIds.CASE_HOLDER] = "Please choose the case holder (the allocated worker)."
    elif holder is None:
        errors[ProposalIds.CASE_HOLDER] = (
            f"<@{form.case_holder}> is not in the QMF directory, so they can't be the "
            f"{CASE_HOLDER_LABEL.lower()} here. Ask {_ask_admins(session)} to add them to the QMF directory.")
    manager = people.get(form.team_manager) if form.team_manager else None
    if form.team_manager and manager is None:
        errors[ProposalIds.TEAM_MANAGER] = (
            f"<@{form.team_manager}> is not in the QMF directory. Leave the "
            f"{TEAM_MANAGER_LABEL.lower()} empty to use the team's manager, or ask {_ask_admins(session)} "
            f"to add them.")
    elif manager is None and team is not None:
        manager = team.team_manager
    if team is not None:
        errors |= outsiders(session, team, holder=holder, manager=manager if form.team_manager else None,
                            looked_up=(read, members))
    if not form.reason:
        errors[ProposalIds.REASON] = "Please say why this case would give most learning."
    else:
        problem = free_text_problem(form.reason, REASON_LABEL, calendar.today(now))
        if problem:
            errors[ProposalIds.REASON] = problem
    if case_ref is not None and (editing is not None or errors or not insert_judges_clash):
        clash = session.scalar(_statements()["clash"], {"quarter": quarter.key, "case_ref": case_ref,
                                                        "not_id": editing.id if editing else -1})
        if clash is not None:
            on = short_date(calendar.today(clash.created_at))
            if clash.proposed_by.slack_id == actor:
                errors[ProposalIds.CASE_REF] = (f"You already proposed {case_ref} for {quarter.label} on "
                                                f"{on}: use Edit in `/qmf proposals` to change it.")
            else:
                errors[ProposalIds.CASE_REF] = (f"{case_ref} was already proposed for {quarter.label} by "
                                                f"{_label(clash.proposed_by)} on {on}.")
    if errors:
        raise InvalidInput(errors)
    assert case_ref is not None and team is not None and holder is not None and manager is not None

    flags = {f: f in form.flags for f in FLAG_WORDS}
    round_ = ensure_round(session, calendar=calendar, policy=policy, quarter=quarter, now=now)
    if editing is None:
        proposer = who.person  # the same active row directory.who found for the actor
        assert proposer is not None
        proposal = Proposal(quarter=quarter.key, case_ref=case_ref, live_ref=case_ref,
                            service_id=team.service_id, team_id=team.id, case_holder_id=holder.id,
                            team_manager_id=manager.id,
                            proposed_by_id=proposer.id, reason=form.reason, status="proposed",
                            created_at=now, updated_at=now, **flags)
        session.add(proposal)
        session.flush()
        record(session, actor, "create", "proposal", proposal.id, quarter=quarter.key, case_ref=case_ref)
        # every column was set above and its team, service and people are in the session: no refresh
    else:
        proposal = editing
        changed = {
            name: value
            for name, value in dict(case_ref=case_ref, team_id=team.id, case_holder_id=holder.id,
                                    team_manager_id=manager.id, reason=form.reason, **flags).items()
            if getattr(proposal, name) != value
        }
        for name, value in changed.items():
            setattr(proposal, name, value)
        proposal.service_id = team.service_id
        proposal.live_ref = case_ref
        proposal.updated_at = now
        session.flush()
        record(session, actor, "edit", "proposal", proposal.id, quarter=quarter.key, case_ref=case_ref,
               fields=sorted(changed))
        session.refresh(proposal)  # its relationships still point at the old team and people
    _confirm(session, proposal, actor=actor, quarter=quarter, deadline=round_.deadline,
             edited=editing is not None, now=now, calendar=calendar)
    return proposal


def _confirm(session: Session, proposal: Proposal, *, actor: str, quarter: Quarter, deadline: date,
             edited: bool, now: datetime, calendar: WorkingCalendar) -> None:
    text, blocks = confirmation_message(card=_card(proposal, calendar),
                                        quarter=quarter_words(quarter.label, quarter.months_label),
                                        edited=edited, deadline=deadline,
                                        changed_by=None if actor == proposal.proposed_by.slack_id else actor)
    stamp = f"edited:{int(now.timestamp())}" if edited else "created"
    outbox.enqueue(session, channel=proposal.proposed_by.slack_id, text=text, blocks=blocks,
                   dedupe_key=f"proposal:{proposal.id}:{stamp}")


def withdraw_proposal(session: Session, *, actor: str, proposal_id: int | None, now: datetime,
                      calendar: WorkingCalendar) -> str:
    """Withdraw at once (no questions: it can be proposed again) and return the words to confirm it."""
    who = directory.who(session, actor)
    proposal = _changeable(session, who, proposal_id, calendar)
    quarter = _quarter_of(calendar, proposal.quarter)
    proposal.status = "withdrawn"
    proposal.live_ref = None
    proposal.updated_at = now
    session.flush()
    record(session, actor, "withdraw", "proposal", proposal.id, quarter=proposal.quarter,
           case_ref=proposal.case_ref)
    words = withdrawn_text(proposal.case_ref, quarter.label)
    if proposal.proposed_by.slack_id != actor:
        outbox.enqueue(session, channel=proposal.proposed_by.slack_id,
                       text=f"<@{actor}> withdrew your proposal of {proposal.case_ref} from {quarter.label}.",
                       dedupe_key=f"proposal:{proposal.id}:withdrawn-by:{actor}")
    return words


def your_proposals(session: Session, *, actor: str, now: datetime,
                   calendar: WorkingCalendar) -> tuple[str, list[Any]]:
    """The `/qmf proposals` message: this quarter's proposals of the person, with Edit and Withdraw."""
    quarter = calendar.quarter(now)
    round_ = current_round(session, quarter.key)
    closed = round_ is not None and round_.allocated_at is not None
    who = directory.who(session, actor)
    mine = proposals_of(session, actor, quarter.key)
    carried = carried_into(session, [p.id for p in mine if p.status == "not_allocated"])
    cards = [_card(p, calendar, carried.get(p.id)) for p in mine]
    text, blocks = proposals_list(
        cards=cards, quarter=quarter.label, quarter_key=quarter.key, changeable=not closed,
        closed_note=closed_message(round_, quarter, calendar) if closed and round_ else None,
        can_propose=may_propose(who) and not closed,
    )
    return text, [b.to_dict() for b in blocks]
