"""The independence rule (bot.core.independence): one rule for auditors and visitors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.directory import import_org
from bot.core.independence import (
    Conflict,
    Subject,
    Tie,
    Ties,
    allowed,
    case_subject,
    conflicts,
    is_independent,
    ties_of,
)
from bot.core.orgfile import load_org_file

CASE = case_subject(service="cin", team="cin-east",
                    people=[("U0TM9", "proposed it"), ("U0P1", "holds the case"), ("U0TM9", "manages the case")])


def test_a_service_manager_is_never_independent_of_their_own_service() -> None:
    sm = Ties(person="U0SM1", services=frozenset({"cin"}))
    assert conflicts(sm, CASE) == [Conflict(Tie.MANAGES_SERVICE, "cin")]
    assert not is_independent(sm, CASE)


def test_managing_or_belonging_to_the_case_team_is_a_conflict_even_from_another_service() -> None:
    tm = Ties(person="U0SM2", services=frozenset({"cp"}), teams_managed=frozenset({"cin-east"}))
    member = Ties(person="U0SM3", services=frozenset({"cp"}), teams_member=frozenset({"cin-east"}))
    assert conflicts(tm, CASE) == [Conflict(Tie.MANAGES_TEAM, "cin-east")]
    assert conflicts(member, CASE) == [Conflict(Tie.IN_TEAM, "cin-east")]


def test_proposing_holding_or_managing_the_case_is_a_conflict_named_by_its_part() -> None:
    proposer = Ties(person="U0TM9", services=frozenset({"cp"}))
    assert [c.key for c in conflicts(proposer, CASE)] == ["proposed it", "manages the case"]
    assert [c.key for c in conflicts(Ties(person="U0P1"), CASE)] == ["holds the case"]


def test_someone_from_elsewhere_is_independent() -> None:
    other = Ties(person="U0SM4", services=frozenset({"cp"}), teams_member=frozenset({"cp-west"}))
    assert conflicts(other, CASE) == []
    assert is_independent(other, CASE)


def test_a_visitor_in_any_team_of_the_service_is_not_independent_of_it() -> None:
    service = Subject(services=frozenset({"cin"}), teams=frozenset({"cin-east", "cin-west"}))
    assert not is_independent(Ties(person="U0P2", teams_member=frozenset({"cin-west"})), service)
    assert is_independent(Ties(person="U0P3", teams_member=frozenset({"cp-west"})), service)


def test_ties_come_from_the_directory(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
    with db.session() as session:
        ties = ties_of(session)
    assert ties["U0SM1"] == Ties(person="U0SM1", services=frozenset({"cic"}))
    assert ties["U0TM1"] == Ties(person="U0TM1", teams_managed=frozenset({"cic-north"}), works_in=frozenset({"cic"}))
    assert ties["U0P6"] == Ties(person="U0P6", teams_member=frozenset({"cp-east"}), works_in=frozenset({"cp"}))
    with db.session() as session:
        from sqlalchemy import select

        from bot.core.independence import service_subject
        from storage.models import Service
        cic = service_subject(session, session.scalar(select(Service).where(Service.key == "cic")))
    assert cic.teams == frozenset({"cic-north", "cic-south"})
    assert not is_independent(ties["U0P4"], cic) and is_independent(ties["U0P6"], cic)


# --- a case is what its people really are, not only what it claims (#14 item 4) -------------------

CIC_SM = Ties(person="U0SM1", services=frozenset({"cic"}))
CP_SM = Ties(person="U0SM2", services=frozenset({"cp"}))
CIC_NORTH_WORKER = Ties(person="U0P1", teams_member=frozenset({"cic-north"}), works_in=frozenset({"cic"}))
CIC_NORTH_TM = Ties(person="U0TM1", teams_managed=frozenset({"cic-north"}), works_in=frozenset({"cic"}))


def claimed_cp_east(ties: dict[str, Ties] | None) -> Subject:
    """The issue's case: said to be CP East's, held and proposed in CiC North."""
    return case_subject(service="cp", team="cp-east", ties=ties,
                        people=[("U0TM1", "proposed it"), ("U0P1", "holds the case"), ("U0TM3", "manages the case")])


def test_a_case_covers_the_services_and_teams_its_people_really_work_in() -> None:
    wide = claimed_cp_east({t.person: t for t in (CIC_NORTH_WORKER, CIC_NORTH_TM)})
    assert wide.services == frozenset({"cp", "cic"}) and wide.teams == frozenset({"cp-east", "cic-north"})
    assert conflicts(CIC_SM, wide) == [Conflict(Tie.MANAGES_SERVICE, "cic", via="proposed it")]
    assert not is_independent(CIC_SM, wide)
    assert [bool(x) for x in allowed([CIC_SM, CP_SM], [wide])[:, 0]] == [False, False]
    other_team = Ties(person="U0TM9", teams_managed=frozenset({"cic-north"}))
    assert conflicts(other_team, wide) == [Conflict(Tie.MANAGES_TEAM, "cic-north", via="proposed it")]
    # the claim alone would have let the Children in Care Service Manager audit it
    assert is_independent(CIC_SM, claimed_cp_east(None))


def test_widening_names_the_first_person_who_brings_a_service_and_leaves_claimed_ones_unexplained() -> None:
    holder_only = claimed_cp_east({"U0P1": CIC_NORTH_WORKER})
    assert conflicts(CIC_SM, holder_only) == [Conflict(Tie.MANAGES_SERVICE, "cic", via="holds the case")]
    cp_worker = Ties(person="U0TM3", teams_managed=frozenset({"cp-east"}), works_in=frozenset({"cp"}))
    assert claimed_cp_east({"U0TM3": cp_worker}).through == ()
    assert conflicts(CP_SM, claimed_cp_east({"U0TM3": cp_worker})) == [Conflict(Tie.MANAGES_SERVICE, "cp")]


def test_ties_of_knows_which_service_each_team_is_in(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
    with db.session() as session:
        ties = ties_of(session)
    subject = case_subject(service="cp", team="cp-east", people=[("U0P1", "holds the case")], ties=ties)
    assert conflicts(ties["U0SM1"], subject) == [Conflict(Tie.MANAGES_SERVICE, "cic", via="holds the case")]
    assert is_independent(ties["U0SM3"], subject)


keys = st.sampled_from(["a", "b", "c", "d"])
people = st.sampled_from(["U1", "U2", "U3"])
ties_strategy = st.builds(
    Ties, person=people, services=st.frozensets(keys, max_size=2),
    teams_managed=st.frozensets(keys, max_size=2), teams_member=st.frozensets(keys, max_size=2),
    works_in=st.frozensets(keys, max_size=2))
subjects = st.builds(
    Subject, services=st.frozensets(keys, min_size=1, max_size=2), teams=st.frozensets(keys, max_size=2),
    people=st.lists(st.tuples(people, st.sampled_from(["proposed it", "holds the case"])), max_size=3).map(tuple))


@given(ties_strategy, subjects)
def test_independent_exactly_when_there_is_no_conflict(ties: Ties, subject: Subject) -> None:
    assert is_independent(ties, subject) == (conflicts(ties, subject) == [])


@given(st.lists(ties_strategy, min_size=1, max_size=5), st.lists(subjects, min_size=1, max_size=5))
def test_the_solvers_matrix_is_the_same_rule(everyone: list[Ties], cases: list[Subject]) -> None:
    matrix = allowed(everyone, cases)
    assert [[bool(x) for x in row] for row in matrix] == [[is_independent(t, s) for s in cases] for t in everyone]
