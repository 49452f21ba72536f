"""The org directory: importing and exporting the org file, and answering "who is this person?".

Roles that follow from the structure (Service Manager, Team Manager, practitioner, DLT member)
are read from it; the rest (Q&I, Practice Consultant, ...) are stored as PersonRole rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from bot.core import audit
from bot.core.errors import NotFound, NotPermitted, QmfError
from bot.core.formatting import day, mention, mention_for
from bot.core.orgfile import Division as DivisionSpec
from bot.core.orgfile import Forum as ForumSpec
from bot.core.orgfile import OrgFile, People
from bot.core.orgfile import Service as ServiceSpec
from bot.core.orgfile import Team as TeamSpec
from bot.core.policy import Policy
from bot.core.privacy import escape
from bot.core.roles import PEOPLE_ROLES, ROLE_TITLES, Role
from storage.models import (
    CibMeeting,
    Division,
    DivisionLeader,
    Forum,
    OrgChannel,
    OrgSetting,
    Person,
    PersonRole,
    Service,
    Team,
    TeamMember,
)


@dataclass
class ImportReport:
    changes: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.changes.append(line)

    def summary(self) -> str:
        if not self.changes:
            return "No changes: the directory already matches the file."
        return f"{len(self.changes)} change(s):\n" + "\n".join(f"  {c}" for c in self.changes)


# ---------------------------------------------------------------------------------------------
# import


class _Importer:
    def __init__(self, session: Session, report: ImportReport) -> None:
        self.session = session
        self.report = report
        self.people: dict[str, Person] = {p.slack_id: p for p in session.scalars(select(Person))}

    def person(self, slack_id: str) -> Person:
        found = self.people.get(slack_id)
        if found is None:
            found = Person(slack_id=slack_id, active=True)
            self.session.add(found)
            self.session.flush()
            self.people[slack_id] = found
            self.report.add(f"+ person {slack_id}")
        elif not found.active:
            found.active = True
            self.report.add(f"~ person {slack_id}: active again")
        return found

    def set_attr(self, obj: Any, label: str, attr: str, value: Any, shown: Any = None) -> None:
        old = getattr(obj, attr)
        if old != value:
            setattr(obj, attr, value)
            if shown is None:
                shown = (old, value)
            self.report.add(f"~ {label}: {attr.removesuffix('_id')} {shown[0]} -> {shown[1]}")


def import_org(session: Session, org: OrgFile) -> ImportReport:
    """Upsert the directory to match the file; what the file no longer lists is deactivated."""
    report = ImportReport()
    imp = _Importer(session, report)
    in_file: set[str] = set()

    def use(slack_id: str) -> Person:
        in_file.add(slack_id)
        return imp.person(slack_id)

    _import_settings(session, org, report)

    # channels
    existing_channels = {c.name: c for c in session.scalars(select(OrgChannel))}
    for name, channel_id in org.channels.items():
        row = existing_channels.pop(name, None)
        if row is None:
            session.add(OrgChannel(name=name, channel_id=channel_id))
            report.add(f"+ channel {name} = {channel_id}")
        elif row.channel_id != channel_id:
            report.add(f"~ channel {name}: {row.channel_id} -> {channel_id}")
            row.channel_id = channel_id
    for row in existing_channels.values():
        session.delete(row)
        report.add(f"- channel {row.name}")

    # divisions
    divisions = {d.name: d for d in session.scalars(select(Division))}
    seen_divisions: set[str] = set()
    for dspec in org.divisions:
        seen_divisions.add(dspec.name)
        division = divisions.get(dspec.name)
        if division is None:
            division = Division(name=dspec.name, channel=dspec.channel, active=True)
            session.add(division)
            session.flush()
            divisions[dspec.name] = division
            report.add(f"+ division {dspec.name}")
        else:
            imp.set_attr(division, f"division {dspec.name}", "channel", dspec.channel)
            if not division.active:
                division.active = True
                report.add(f"~ division {dspec.name}: active again")
        wanted = [use(s).id for s in dspec.leadership_team]
        current_leaders = {leader.person_id: leader for leader in division.leaders}
        for position, person_id in enumerate(wanted):
            if person_id in current_leaders:
                current_leaders.pop(person_id).position = position
            else:
                division.leaders.append(DivisionLeader(person_id=person_id, position=position))
                report.add(f"+ {dspec.name} leadership team: {_slack(imp, person_id)}")
        for leader in current_leaders.values():
            division.leaders.remove(leader)
            report.add(f"- {dspec.name} leadership team: {_slack(imp, leader.person_id)}")
    for name, division in divisions.items():
        if name not in seen_divisions and division.active:
            division.active = False
            report.add(f"- division {name} (deactivated)")

    # services and teams
    services = {s.key: s for s in session.scalars(select(Service))}
    teams = {t.key: t for t in session.scalars(select(Team))}
    seen_services: set[str] = set()
    seen_teams: set[str] = set()
    for s_pos, sspec in enumerate(org.services):
        seen_services.add(sspec.key)
        manager = use(sspec.service_manager)
        division = divisions[sspec.division]
        service = services.get(sspec.key)
        if service is None:
            service = Service(key=sspec.key, name=sspec.name, division_id=division.id,
                              service_manager_id=manager.id, channel=sspec.channel, position=s_pos)
            session.add(service)
            session.flush()
            services[sspec.key] = service
            report.add(f"+ service {sspec.key} ({sspec.name})")
        else:
            label = f"service {sspec.key}"
            imp.set_attr(service, label, "name", sspec.name)
            imp.set_attr(service, label, "division_id", division.id,
                         (_division_name(divisions, service.division_id), sspec.division))
            imp.set_attr(service, label, "service_manager_id", manager.id,
                         (_slack(imp, service.service_manager_id), sspec.service_manager))
            imp.set_attr(service, label, "channel", sspec.channel)
            service.position = s_pos
            if not service.active:
                service.active = True
                report.add(f"~ {label}: active again")
        for t_pos, tspec in enumerate(sspec.teams):
            seen_teams.add(tspec.key)
            tm = use(tspec.team_manager)
            team = teams.get(tspec.key)
            if team is None:
                team = Team(key=tspec.key, name=tspec.name, service_id=service.id, team_manager_id=tm.id,
                            position=t_pos)
                session.add(team)
                session.flush()
                teams[tspec.key] = team
                report.add(f"+ team {tspec.key} ({tspec.name}) in {sspec.key}")
            else:
                label = f"team {tspec.key}"
                imp.set_attr(team, label, "name", tspec.name)
                imp.set_attr(team, label, "service_id", service.id,
                             (_service_key(services, team.service_id), sspec.key))
                imp.set_attr(team, label, "team_manager_id", tm.id,
                             (_slack(imp, team.team_manager_id), tspec.team_manager))
                team.position = t_pos
                if not team.active:
                    team.active = True
                    report.add(f"~ {label}: active again")
            wanted = [use(p).id for p in tspec.practitioners]
            current_members = {m.person_id: m for m in team.members}
            for position, person_id in enumerate(wanted):
                if person_id in current_members:
                    current_members.pop(person_id).position = position
                else:
                    team.members.append(TeamMember(person_id=person_id, position=position))
                    report.add(f"+ team {tspec.key} practitioner {_slack(imp, person_id)}")
            for member in current_members.values():
                team.members.remove(member)
                report.add(f"- team {tspec.key} practitioner {_slack(imp, member.person_id)}")
    for key, team in teams.items():
        if key not in seen_teams and team.active:
            team.active = False
            report.add(f"- team {key} (deactivated)")
    for key, service in services.items():
        if key not in seen_services and service.active:
            service.active = False
            report.add(f"- service {key} (deactivated)")

    # roles from people:
    wanted_roles: dict[str, set[str]] = {}
    for file_key, role in PEOPLE_ROLES.items():
        for slack_id in getattr(org.people, file_key):
            use(slack_id)
            wanted_roles.setdefault(slack_id, set()).add(role)
    for slack_id, person in imp.people.items():
        have = {r.role: r for r in person.roles}
        want = wanted_roles.get(slack_id, set())
        for role in sorted(want - set(have)):
            person.roles.append(PersonRole(role=role))
            report.add(f"+ {slack_id} role {role}")
        for role in sorted(set(have) - want):
            person.roles.remove(have[role])
            report.add(f"- {slack_id} role {role}")

    # time away booked in the file (left alone for anyone it does not list: `/qmf away` may have set it)
    for slack_id, away in org.people.away.items():
        booked = imp.people.get(slack_id) if slack_id in in_file else None
        if booked is None:
            report.add(f"! away for {slack_id} ignored: they are not named elsewhere in the file")
        elif (booked.away_from, booked.away_until) != (away.starts, away.to):
            booked.away_from, booked.away_until = away.starts, away.to
            report.add(f"~ {slack_id} away {away.starts.isoformat()} to {away.to.isoformat()}")

    # forums
    forums = {f.name: f for f in session.scalars(select(Forum))}
    seen_forums: set[str] = set()
    for position, fspec in enumerate(org.forums):
        seen_forums.add(fspec.name)
        forum = forums.get(fspec.name)
        if forum is None:
            session.add(Forum(name=fspec.name, channel=fspec.channel, position=position))
            report.add(f"+ forum {fspec.name}")
        else:
            imp.set_attr(forum, f"forum {fspec.name}", "channel", fspec.channel)
            forum.position = position
            if not forum.active:
                forum.active = True
                report.add(f"~ forum {fspec.name}: active again")
    for name, forum in forums.items():
        if name not in seen_forums and forum.active:
            forum.active = False
            report.add(f"- forum {name} (deactivated)")

    # CIB meetings listed in the file
    meetings = {m.meets_on: m for m in session.scalars(select(CibMeeting))}
    for meets_on in org.cib_meetings:
        if meets_on not in meetings:
            session.add(CibMeeting(meets_on=meets_on, source="org-file"))
            report.add(f"+ CIB meeting {meets_on.isoformat()}")

    # people no longer anywhere in the file
    for slack_id, person in imp.people.items():
        if slack_id not in in_file and person.active:
            person.active = False
            report.add(f"- person {slack_id} (deactivated)")
    session.flush()
    return report


def _import_settings(session: Session, org: OrgFile, report: ImportReport) -> None:
    policy = (org.settings or Policy()).model_dump(mode="json")
    values: dict[str, Any] = {
        "organisation": org.organisation,
        "timezone": org.timezone,
        "policy": policy,
        "bank_holidays": [d.isoformat() for d in org.bank_holidays],
        "settings_in_file": org.settings is not None,
    }
    current = {s.key: s for s in session.scalars(select(OrgSetting))}
    for key, value in values.items():
        row = current.get(key)
        if row is None:
            session.add(OrgSetting(key=key, value=value))
            if key in ("organisation", "timezone"):
                report.add(f"+ {key}: {value}")
            elif key == "policy" and org.settings is not None:
                report.add("+ settings")
        elif row.value != value:
            row.value = value
            report.add(f"~ {key} changed" if key not in ("organisation", "timezone") else f"~ {key}: {value}")


def _slack(imp: _Importer, person_id: int) -> str:
    for slack_id, person in imp.people.items():
        if person.id == person_id:
            return slack_id
    return str(person_id)


def _division_name(divisions: dict[str, Division], division_id: int) -> str:
    return next((n for n, d in divisions.items() if d.id == division_id), str(division_id))


def _service_key(services: dict[str, Service], service_id: int) -> str:
    return next((k for k, s in services.items() if s.id == service_id), str(service_id))


# ---------------------------------------------------------------------------------------------
# export


def export_org(session: Session) -> OrgFile:
    settings = {s.key: s.value for s in session.scalars(select(OrgSetting))}
    people = {p.id: p for p in session.scalars(select(Person))}
    divisions = session.scalars(select(Division).where(Division.active).order_by(Division.id)).all()
    services = session.scalars(select(Service).where(Service.active).order_by(Service.position, Service.id)).all()
    roles: dict[str, list[str]] = {key: [] for key in PEOPLE_ROLES}
    by_role = {role: key for key, role in PEOPLE_ROLES.items()}
    for role in session.scalars(select(PersonRole).order_by(PersonRole.id)):
        if people[role.person_id].active:
            roles[by_role[role.role]].append(people[role.person_id].slack_id)
    return OrgFile(
        organisation=settings.get("organisation", ""),
        timezone=settings.get("timezone", "Europe/London"),
        channels={c.name: c.channel_id for c in session.scalars(select(OrgChannel).order_by(OrgChannel.name))},
        divisions=[
            DivisionSpec(
                name=d.name,
                leadership_team=[people[leader.person_id].slack_id
                                 for leader in sorted(d.leaders, key=lambda x: x.position)],
                channel=d.channel,
            )
            for d in divisions
        ],
        services=[
            ServiceSpec(
                key=s.key,
                name=s.name,
                division=s.division.name,
                service_manager=people[s.service_manager_id].slack_id,
                channel=s.channel,
                teams=[
                    TeamSpec(
                        key=t.key,
                        name=t.name,
                        team_manager=people[t.team_manager_id].slack_id,
                        practitioners=[people[m.person_id].slack_id for m in t.members],
                    )
                    for t in s.teams
                    if t.active
                ],
            )
            for s in services
        ],
        people=People(**roles),
        forums=[
            ForumSpec(name=f.name, channel=f.channel)
            for f in session.scalars(select(Forum).where(Forum.active).order_by(Forum.position))
        ],
        cib_meetings=[m.meets_on for m in session.scalars(select(CibMeeting).order_by(CibMeeting.meets_on))],
        bank_holidays=[date.fromisoformat(d) for d in settings.get("bank_holidays", [])],
        settings=Policy.model_validate(settings["policy"]) if settings.get("settings_in_file") else None,
    )


# ---------------------------------------------------------------------------------------------
# who is this person?


@dataclass
class Who:
    slack_id: str
    known: bool
    roles: set[str] = field(default_factory=set)  # stored roles plus service_manager, team_manager, ...
    services_managed: list[Service] = field(default_factory=list)
    teams_managed: list[Team] = field(default_factory=list)
    teams_member: list[Team] = field(default_factory=list)
    divisions_led: list[Division] = field(default_factory=list)
    person: Person | None = field(default=None, repr=False, compare=False)
    """The stored row when known: holding it keeps it in the session, so relationships to it load free."""

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def service_keys(self) -> set[str]:
        """Services this person belongs to in any way (manages, manages a team in, works in)."""
        keys = {s.key for s in self.services_managed}
        keys |= {t.service.key for t in self.teams_managed + self.teams_member}
        return keys

    @property
    def team_keys(self) -> set[str]:
        return {t.key for t in self.teams_managed + self.teams_member}

    def titles(self) -> list[str]:
        out: list[str] = []
        out += [f"Service Manager, {s.name}" for s in self.services_managed]
        out += [f"Team Manager, {t.name} ({t.service.name})" for t in self.teams_managed]
        out += [f"Practitioner, {t.name} ({t.service.name})" for t in self.teams_member]
        out += [f"Divisional Leadership Team, {d.name}" for d in self.divisions_led]
        out += [ROLE_TITLES[r] for r in sorted(self.roles) if r in ROLE_TITLES]
        return out


@cache
def _who_statement() -> Select[Person, Service, Division, Team, Service, int]:
    """Built once: composing the statement costs more Python than running it."""
    team_service = aliased(Service)
    membership = aliased(TeamMember)
    active_services = select(Service.id).where(Service.active)
    return (
        select(Person, Service, Division, Team, team_service, membership.team_id)
        .outerjoin(Service, and_(Service.service_manager_id == Person.id, Service.active))
        .outerjoin(DivisionLeader, DivisionLeader.person_id == Person.id)
        .outerjoin(Division, and_(Division.id == DivisionLeader.division_id, Division.active))
        .outerjoin(membership, membership.person_id == Person.id)
        .outerjoin(Team, and_(Team.active, Team.service_id.in_(active_services),
                              or_(Team.team_manager_id == Person.id, Team.id == membership.team_id)))
        .outerjoin(team_service, team_service.id == Team.service_id)
        .options(joinedload(Person.roles), contains_eager(Team.service.of_type(team_service)))
        .where(Person.slack_id == bindparam("slack_id"), Person.active)
    )


def who(session: Session, slack_id: str) -> Who:
    """One statement, as every request starts here: the person with their roles, services managed,
    divisions led, and the teams they manage or work in with their services (a small cross product,
    put in order here)."""
    rows = session.execute(_who_statement(), {"slack_id": slack_id}).unique().all()
    if not rows:
        return Who(slack_id=slack_id, known=False)
    person = rows[0][0]
    result = Who(slack_id=slack_id, known=True, roles={r.role for r in person.roles}, person=person)
    services: dict[int, Service] = {}
    divisions: dict[int, Division] = {}
    teams: dict[int, Team] = {}
    member_of: set[int] = set()
    for _person, service, division, team, _team_service, member_team in rows:
        if service is not None:
            services.setdefault(service.id, service)
        if division is not None:
            divisions.setdefault(division.id, division)
        if team is not None:
            teams.setdefault(team.id, team)
            if member_team == team.id:
                member_of.add(team.id)
    ordered = sorted(teams.values(), key=lambda t: (t.service.position, t.position, t.service.id, t.id))
    result.services_managed = sorted(services.values(), key=lambda s: (s.position, s.id))
    result.divisions_led = sorted(divisions.values(), key=lambda d: d.id)
    result.teams_managed = [team for team in ordered if team.team_manager_id == person.id]
    result.teams_member = [team for team in ordered if team.id in member_of]
    if result.services_managed:
        result.roles.add(Role.SERVICE_MANAGER)
    if result.teams_managed:
        result.roles.add(Role.TEAM_MANAGER)
    if result.teams_member:
        result.roles.add(Role.PRACTITIONER)
    if result.divisions_led:
        result.roles.add(Role.DLT)
    return result


def channel_for(session: Session, name: str) -> str | None:
    return session.scalar(select(OrgChannel.channel_id).where(OrgChannel.name == name))


def people_with_role(session: Session, role: str) -> list[str]:
    return list(session.scalars(
        select(Person.slack_id).join(PersonRole).where(PersonRole.role == role, Person.active)
        .order_by(PersonRole.id)))


def directory_loaded(session: Session) -> bool:
    return session.scalar(select(OrgSetting.key).where(OrgSetting.key == "organisation")) is not None


def organisation_name(session: Session) -> str:
    return session.scalar(select(OrgSetting.value).where(OrgSetting.key == "organisation")) or "QMF"


def active_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).where(Service.active).order_by(Service.position, Service.id)))


def service_by_key(session: Session, key: str) -> Service | None:
    return session.scalar(select(Service).where(Service.key == key, Service.active))


def is_away(person: Person, on: date) -> bool:
    """Away on ``on``: from ``away_from`` (or, with none, from whenever) through ``away_until``."""
    until = person.away_until
    return until is not None and on <= until and (person.away_from is None or person.away_from <= on)


def is_available(person: Person, on: date) -> bool:
    """Nobody is prompted while marked away: every reminder and prompt asks this one question."""
    return person.active and not is_away(person, on)


# ---------------------------------------------------------------------------------------------
# time away: `/qmf away` and the org file's `away:` entries

AWAY_EXAMPLE = "For example: `/qmf away 2026-08-03 2026-08-14`, or `/qmf away off` when you are back."
AWAY_MAX_DAYS = 366


def away_dates(start_text: str, end_text: str, today: date) -> tuple[date, date]:
    """Two dates as typed, checked strictly: a wrong one is refused with an example, never guessed."""
    days: list[date] = []
    for text in (start_text, end_text):
        try:
            if len(text) != 10:
                raise ValueError(text)
            days.append(date.fromisoformat(text))
        except ValueError:
            raise QmfError(f"`{escape(text[:20])}` is not a date I can read: write dates as YYYY-MM-DD. "
                           f"{AWAY_EXAMPLE}") from None
    start, end = days
    if end < start:
        raise QmfError(f"The end, {day(end)}, is before the start, {day(start)}: give the first day away "
                       f"first. {AWAY_EXAMPLE}")
    if end < today:
        raise QmfError(f"Those dates are in the past (the last is {day(end)}); nothing was changed. "
                       f"{AWAY_EXAMPLE}")
    if (end - start).days >= AWAY_MAX_DAYS or (start - today).days >= AWAY_MAX_DAYS:
        raise QmfError("Time away can be at most a year, starting within the next year; for longer, ask a "
                       f"QMF admin to take them out of the directory. {AWAY_EXAMPLE}")
    return start, end


def _away_target(session: Session, actor: Who, slack_id: str) -> Person:
    """Only Quality & Improvement and admins may mark someone else away (checked here, on the server)."""
    if slack_id != actor.slack_id and not actor.has(Role.QUALITY_IMPROVEMENT, Role.ADMIN):
        raise NotPermitted("Only Quality & Improvement or a QMF admin can set someone else's time away; "
                           "you can set your own with `/qmf away FROM TO`.")
    person = session.scalar(select(Person).where(Person.slack_id == slack_id, Person.active))
    if person is None:
        raise NotFound(f"{mention(slack_id)} is not in the QMF directory, so there is nothing to mark away.")
    return person


def set_away(session: Session, actor: Who, slack_id: str, start: date, end: date) -> None:
    person = _away_target(session, actor, slack_id)
    person.away_from, person.away_until = start, end
    audit.record(session, actor.slack_id, "set-away", "person", slack_id,
                 away_from=start.isoformat(), away_until=end.isoformat())


def clear_away(session: Session, actor: Who, slack_id: str) -> bool:
    """Back: True if they were marked away (today or ahead), False if there was nothing to clear."""
    person = _away_target(session, actor, slack_id)
    was = person.away_until is not None
    person.away_from = person.away_until = None
    if was:
        audit.record(session, actor.slack_id, "clear-away", "person", slack_id)
    return was


def away_text(person: Person, today: date, reader: str | None) -> str | None:
    """"You are marked away from X to Y", or None when no time away is ahead or under way."""
    if person.away_until is None or person.away_until < today:
        return None
    who = mention_for(person.slack_id, reader)
    since = f"from {day(person.away_from)} " if person.away_from else ""
    verb = "are" if who == "you" else "is"
    return f"{who[:1].upper()}{who[1:]} {verb} marked away {since}to {day(person.away_until)}."
