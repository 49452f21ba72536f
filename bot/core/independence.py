"""The independence rule, once: who may audit a case or visit a service.

The framework says an auditing Service Manager is "entirely independent of the case" and that
learning-visit groups are "independent of the service receiving the visit". Both are one rule:
a person is independent of a subject when nothing they are tied to is part of it. A person is
tied to the services they manage, the teams they manage or belong to, and themselves; a subject
is the services, teams and people a case or a service involves. Callers phrase the conflicts in
their own words (an allocation's explanation, a visit modal's inline error); what counts as a
conflict is decided here and nowhere else.

``ties_of`` reads the ties from the directory, and ``case_subject`` widens a case by its people's
ties: the service and team a case is *said* to be in are only a claim (a form, an old row, a
register line), so the case also covers every service and team its case holder, team manager and
proposer really manage, belong to or work in. A case claimed for "CP East" but held in CiC North is
then a CiC North case too, and the Children in Care Service Manager is not independent of it.
``allowed`` turns many people and subjects into an eligibility matrix for the allocation's solver
with the same rule, without a Python call per pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Person, Service, Team, TeamMember


class Tie(StrEnum):
    """How a person is tied to part of a subject; each is a reason they are not independent."""

    MANAGES_SERVICE = "manages the service"
    MANAGES_TEAM = "manages the team"
    IN_TEAM = "belongs to the team"
    IS_PERSON = "is one of the case's people"


@dataclass(frozen=True)
class Ties:
    """What one person (a Slack id) is tied to in the directory."""

    person: str
    services: frozenset[str] = frozenset()
    """Keys of the services they are Service Manager of."""
    teams_managed: frozenset[str] = frozenset()
    teams_member: frozenset[str] = frozenset()
    works_in: frozenset[str] = frozenset()
    """Keys of the services their teams are in. Not a tie of an auditor (a practitioner is not
    barred from a whole service), but a case they hold or manage is part of that service."""

    @property
    def teams(self) -> frozenset[str]:
        return self.teams_managed | self.teams_member

    def tokens(self) -> frozenset[tuple[str, str]]:
        return frozenset({("service", s) for s in self.services} | {("team", t) for t in self.teams}
                         | {("person", self.person)})


@dataclass(frozen=True)
class Subject:
    """What is audited or visited: its services and teams, and the people it involves (Slack id ->
    their part in it, e.g. "holds the case")."""

    services: frozenset[str]
    teams: frozenset[str] = frozenset()
    people: tuple[tuple[str, str], ...] = ()
    through: tuple[tuple[str, str, str], ...] = ()
    """(kind, key, part) for each service or team that is part of the case only because one of its
    people is tied to it ("service", "cic", "holds the case"): so a conflict can say why."""

    def tokens(self) -> frozenset[tuple[str, str]]:
        return frozenset({("service", s) for s in self.services} | {("team", t) for t in self.teams}
                         | {("person", p) for p, _ in self.people})


@dataclass(frozen=True)
class Conflict:
    tie: Tie
    key: str
    """The service or team key, or the person's part in the case ("holds the case")."""
    via: str = ""
    """For a service or team the case was not said to be in: the part of the case's person who is
    tied to it ("holds the case"), so the caller can say why; empty otherwise."""


def conflicts(ties: Ties, subject: Subject) -> list[Conflict]:
    """Every way the person is not independent of the subject; empty means they are independent."""
    via: dict[tuple[str, str], str] = {}
    for kind, key, part in subject.through:
        via.setdefault((kind, key), part)
    found: list[Conflict] = []
    found += [Conflict(Tie.MANAGES_SERVICE, s, via.get(("service", s), ""))
              for s in sorted(ties.services & subject.services)]
    found += [Conflict(Tie.MANAGES_TEAM, t, via.get(("team", t), "")) for t in sorted(ties.teams_managed & subject.teams)]
    found += [Conflict(Tie.IN_TEAM, t, via.get(("team", t), ""))
              for t in sorted((ties.teams_member - ties.teams_managed) & subject.teams)]
    found += [Conflict(Tie.IS_PERSON, part) for person, part in subject.people if person == ties.person]
    return found


def is_independent(ties: Ties, subject: Subject) -> bool:
    return ties.tokens().isdisjoint(subject.tokens())


def allowed(people: Sequence[Ties], subjects: Sequence[Subject]) -> Any:
    """people x subjects: True where the person is independent of the subject (numpy bool array).

    The same rule as ``is_independent``: disjoint token sets. A person holds a few tokens and a
    subject has a few, so the pairs that share one are found by joining the two short lists on the
    token, in numpy: a council of thousands is allocated without a Python call per pair."""
    import numpy as np

    index: dict[tuple[str, str], int] = {}
    part_token: list[int] = []
    part_col: list[int] = []
    for col, subject in enumerate(subjects):
        for token in subject.tokens():
            part_token.append(index.setdefault(token, len(index)))
            part_col.append(col)
    held_token: list[int] = []
    held_row: list[int] = []
    for row, ties in enumerate(people):
        for token in ties.tokens():
            found = index.get(token)
            if found is not None:
                held_token.append(found)
                held_row.append(row)
    result = np.ones((len(people), len(subjects)), dtype=bool)
    if not held_token:
        return result
    tokens = np.asarray(held_token, dtype=np.int64)
    rows_by_token = np.asarray(held_row, dtype=np.int64)[np.argsort(tokens, kind="stable")]
    holders = np.bincount(tokens, minlength=len(index))
    first = np.cumsum(holders) - holders  # where each token's holders start in rows_by_token
    wanted = np.asarray(part_token, dtype=np.int64)
    pairs = holders[wanted]  # (person, subject) pairs each subject token makes
    cols = np.repeat(np.asarray(part_col, dtype=np.int64), pairs)
    starts = np.repeat(first[wanted] - (np.cumsum(pairs) - pairs), pairs)
    result[rows_by_token[starts + np.arange(cols.size)], cols] = False
    return result


def case_subject(*, service: str, team: str, people: Iterable[tuple[str, str]],
                 ties: Mapping[str, Ties] | None = None) -> Subject:
    """A case: the service and team it is said to be in, its people (Slack id, part), and every
    service and team those people are tied to in the directory.

    ``ties`` holds the directory ties of the people whose place in the council places the case:
    its case holder, team manager and proposer (a reviewing officer is independent by office, so
    callers leave them out). Anyone missing from it widens nothing. Widening means a claimed team
    can never hide the real one, for rows stored before the proposal form checked the team too."""
    people = tuple(people)
    services, teams = {service}, {team}
    through: list[tuple[str, str, str]] = []
    for person, part in people:
        tied = (ties or {}).get(person)
        if tied is None:
            continue
        for kind, keys, found in (("service", tied.services | tied.works_in, services), ("team", tied.teams, teams)):
            for key in sorted(keys - found):
                found.add(key)
                through.append((kind, key, part))
    return Subject(services=frozenset(services), teams=frozenset(teams), people=people, through=tuple(through))


HOLDS = "holds the case"
MANAGES = "manages the case"
PROPOSED = "proposed it"
REVIEWS = "is the case's reviewing officer"


def case_of(*, service: str, team: str, case_holder: str, team_manager: str, proposed_by: str | None = None,
            reviewing_officer: str | None = None, ties: Mapping[str, Ties] | None = None) -> Subject:
    """A case as every feature sees it (a proposal, a register line): its claimed service and team,
    its people, and the services and teams its case holder, team manager and proposer are in.

    A reviewing officer is one of the case's people (they may not audit it) but does not place
    it: they are independent of its line management by office, and their service is not the case's."""
    people = [(case_holder, HOLDS), (team_manager, MANAGES)]
    if proposed_by is not None:
        people.insert(0, (proposed_by, PROPOSED))
    placing = {p: t for p, _ in people if ties and (t := ties.get(p)) is not None}
    if reviewing_officer is not None:
        people.append((reviewing_officer, REVIEWS))
    return case_subject(service=service, team=team, people=people, ties=placing)


def registered_cases(session: Session, case_refs: Iterable[str]) -> dict[str, Subject]:
    """The case register's cases with these references (those it knows), as subjects widened by
    their people's ties from the directory: for work that names cases by reference only."""
    from storage.models.sampling import CaseRegisterEntry

    refs = sorted(set(case_refs))
    if not refs:
        return {}
    entries = list(session.scalars(select(CaseRegisterEntry).where(CaseRegisterEntry.case_ref.in_(refs))))
    ties = ties_of(session, {p.id: p for e in entries for p in (e.case_holder, e.team_manager)}.values())
    return {
        e.case_ref: case_of(service=e.service.key, team=e.team.key, case_holder=e.case_holder.slack_id,
                            team_manager=e.team_manager.slack_id, ties=ties,
                            reviewing_officer=e.reviewing_officer.slack_id if e.reviewing_officer else None)
        for e in entries
    }


def service_subject(session: Session, service: Service) -> Subject:
    """A whole service: it and every one of its active teams."""
    teams = session.scalars(select(Team.key).where(Team.service_id == service.id, Team.active))
    return Subject(services=frozenset({service.key}), teams=frozenset(teams))


def ties_of(session: Session, people: Iterable[Person] | None = None) -> dict[str, Ties]:
    """Each person's ties from the directory (active services and teams only), by Slack id.

    ``people`` None means every active person."""
    if people is None:
        people = session.scalars(select(Person).where(Person.active))
    by_id = {p.id: p for p in people}
    if not by_id:
        return {}
    services: dict[int, set[str]] = defaultdict(set)
    managed: dict[int, set[str]] = defaultdict(set)
    member: dict[int, set[str]] = defaultdict(set)
    works_in: dict[int, set[str]] = defaultdict(set)
    for person_id, key in session.execute(
        select(Service.service_manager_id, Service.key).where(Service.active, Service.service_manager_id.in_(by_id))
    ):
        services[person_id].add(key)
    live = (Team.active, Service.active)
    for person_id, key, service_key in session.execute(
        select(Team.team_manager_id, Team.key, Service.key).join(Service, Team.service_id == Service.id)
        .where(*live, Team.team_manager_id.in_(by_id))
    ):
        managed[person_id].add(key)
        works_in[person_id].add(service_key)
    for person_id, key, service_key in session.execute(
        select(TeamMember.person_id, Team.key, Service.key).join(Team, TeamMember.team_id == Team.id)
        .join(Service, Team.service_id == Service.id).where(*live, TeamMember.person_id.in_(by_id))
    ):
        member[person_id].add(key)
        works_in[person_id].add(service_key)
    return {
        p.slack_id: Ties(person=p.slack_id, services=frozenset(services[pid]),
                         teams_managed=frozenset(managed[pid]), teams_member=frozenset(member[pid]),
                         works_in=frozenset(works_in[pid]))
        for pid, p in by_id.items()
    }
