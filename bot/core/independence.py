"""The independence rule, once: who may audit a case or visit a service.

The framework says an auditing Service Manager is "entirely independent of the case" and that
learning-visit groups are "independent of the service receiving the visit". Both are one rule:
a person is independent of a subject when nothing they are tied to is part of it. A person is
tied to the services they manage, the teams they manage or belong to, and themselves; a subject
is the services, teams and people a case or a service involves. Callers phrase the conflicts in
their own words (an allocation's explanation, a visit modal's inline error); what counts as a
conflict is decided here and nowhere else.

``ties_of`` reads the ties from the directory (so a case's claimed team cannot hide a real one);
``allowed`` turns many people and subjects into an eligibility matrix for the allocation's solver
with the same rule, without a Python call per pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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

    def tokens(self) -> frozenset[tuple[str, str]]:
        return frozenset({("service", s) for s in self.services} | {("team", t) for t in self.teams}
                         | {("person", p) for p, _ in self.people})


@dataclass(frozen=True)
class Conflict:
    tie: Tie
    key: str
    """The service or team key, or the person's part in the case ("holds the case")."""


def conflicts(ties: Ties, subject: Subject) -> list[Conflict]:
    """Every way the person is not independent of the subject; empty means they are independent."""
    found: list[Conflict] = []
    found += [Conflict(Tie.MANAGES_SERVICE, s) for s in sorted(ties.services & subject.services)]
    found += [Conflict(Tie.MANAGES_TEAM, t) for t in sorted(ties.teams_managed & subject.teams)]
    found += [Conflict(Tie.IN_TEAM, t) for t in sorted((ties.teams_member - ties.teams_managed) & subject.teams)]
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


def case_subject(*, service: str, team: str, people: Iterable[tuple[str, str]]) -> Subject:
    return Subject(services=frozenset({service}), teams=frozenset({team}), people=tuple(people))


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
    for person_id, key in session.execute(
        select(Service.service_manager_id, Service.key).where(Service.active, Service.service_manager_id.in_(by_id))
    ):
        services[person_id].add(key)
    live = (Team.active, Service.active)
    for person_id, key in session.execute(
        select(Team.team_manager_id, Team.key).join(Service, Team.service_id == Service.id)
        .where(*live, Team.team_manager_id.in_(by_id))
    ):
        managed[person_id].add(key)
    for person_id, key in session.execute(
        select(TeamMember.person_id, Team.key).join(Team, TeamMember.team_id == Team.id)
        .join(Service, Team.service_id == Service.id).where(*live, TeamMember.person_id.in_(by_id))
    ):
        member[person_id].add(key)
    return {
        p.slack_id: Ties(person=p.slack_id, services=frozenset(services[pid]),
                         teams_managed=frozenset(managed[pid]), teams_member=frozenset(member[pid]))
        for pid, p in by_id.items()
    }
