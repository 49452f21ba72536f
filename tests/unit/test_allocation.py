"""The learning-audit allocation: independence is never broken, then cardinality, then preferences."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from bot.learning_audits.allocation import AllocationPlan, Auditor, Candidate, allocate, conflicts

SERVICES = ("cic", "cp", "cin", "fost")


def sm(
    person_id: str,
    *services: str,
    teams: Sequence[str] = (),
    last: Sequence[str] = (),
    capacity: int | None = None,
) -> Auditor:
    return Auditor(person_id, frozenset(services), frozenset(teams), frozenset(last), capacity)


def case(
    pid: int,
    service: str,
    *,
    team: str | None = None,
    by: str = "TM",
    holder: str | None = None,
    manager: str | None = None,
    flagged: bool = False,
) -> Candidate:
    return Candidate(
        proposal_id=pid,
        case_ref=f"{service.upper()}-{pid:04d}",
        service_key=service,
        team_key=team or f"{service}-north",
        proposed_by=by,
        case_holder=holder or f"W{pid}",
        team_manager=manager or f"TM-{service}",
        flagged=flagged,
    )


def four_service_org() -> tuple[list[Auditor], list[Candidate]]:
    """4 services, one SM each, 14 proposals; some proposed by SMs, one SM also holds a case."""
    auditors = [sm(f"SM-{s}", s, teams=[f"{s}-north", f"{s}-south"]) for s in SERVICES]
    cases = []
    pid = 1
    for s in SERVICES:
        for i in range(3):
            team = f"{s}-north" if i % 2 == 0 else f"{s}-south"
            cases.append(case(pid, s, team=team))
            pid += 1
    cases.append(case(pid, "cp", by="SM-cic"))  # SM-cic proposed it
    cases.append(case(pid + 1, "cin", holder="SM-fost"))  # SM-fost holds it
    return auditors, cases


def assert_independent(plan: AllocationPlan, auditors: Sequence[Auditor], cases: Sequence[Candidate]) -> None:
    by_id = {a.person_id: a for a in auditors}
    by_pid = {c.proposal_id: c for c in cases}
    for a in plan.assignments:
        assert conflicts(by_id[a.auditor_id], by_pid[a.proposal_id]) == [], a


def assert_each_case_once(plan: AllocationPlan) -> None:
    pids = [a.proposal_id for a in plan.assignments]
    assert len(pids) == len(set(pids))
    assert not set(pids) & set(plan.unallocated)


# --- conflicts ---------------------------------------------------------------------------------------


def test_conflicts_names_every_way_an_sm_is_not_independent() -> None:
    auditor = sm("U1", "cic", teams=["cp-east"])
    c = Candidate(1, "CP-1", "cic", "cp-east", proposed_by="U1", case_holder="U1", team_manager="U1")
    assert conflicts(auditor, c) == [
        "is the Service Manager for cic",
        "manages or belongs to team cp-east",
        "proposed it",
        "holds the case",
        "manages the case",
    ]


def test_sm_of_another_service_with_no_link_is_independent() -> None:
    assert conflicts(sm("U1", "cic"), case(1, "cp")) == []


# --- the organisation as a whole ---------------------------------------------------------------------


def test_every_sm_in_a_four_service_org_gets_exactly_two_independent_cases() -> None:
    auditors, cases = four_service_org()
    plan = allocate(auditors, cases, per_auditor=2, seed=7)
    counts = Counter(a.auditor_id for a in plan.assignments)
    assert counts == {a.person_id: 2 for a in auditors}
    assert plan.short == {}
    assert_independent(plan, auditors, cases)
    assert_each_case_once(plan)
    assert len(plan.unallocated) == len(cases) - 8
    for pid, reason in plan.unallocated.items():
        assert "already has 2 cases" in reason, (pid, reason)


def test_auditor_is_never_from_the_case_service_or_team() -> None:
    auditors = [sm("A", "cic", teams=["cp-north"]), sm("B", "cp")]
    cases = [case(1, "cp", team="cp-north"), case(2, "cic"), case(3, "cp", team="cp-south")]
    plan = allocate(auditors, cases, per_auditor=2, seed=1)
    got = {a.proposal_id: a.auditor_id for a in plan.assignments}
    assert got == {2: "B", 3: "A"}
    assert "no independent Service Manager" in plan.unallocated[1]
    assert "own service: B" in plan.unallocated[1] and "own team: A" in plan.unallocated[1]


def test_sm_who_holds_or_manages_a_case_never_audits_it() -> None:
    auditors = [sm("A", "cic"), sm("B", "cin")]
    cases = [case(1, "cp", holder="A"), case(2, "cp", manager="B"), case(3, "fost", holder="A", manager="B")]
    plan = allocate(auditors, cases, per_auditor=2, seed=3)
    got = {a.proposal_id: a.auditor_id for a in plan.assignments}
    assert got == {1: "B", 2: "A"}
    assert plan.unallocated[3] == (
        "no independent Service Manager: all 2 conflict (holds the case: A; manages the case: B)"
    )


def test_case_proposed_by_the_only_otherwise_independent_sm_stays_unallocated_with_that_reason() -> None:
    auditors = [sm("U1", "cp"), sm("U2", "cic"), sm("U3", "cp")]
    cases = [case(1, "cp", by="U2"), case(2, "cin"), case(3, "fost")]
    plan = allocate(auditors, cases, per_auditor=2, seed=11)
    assert 1 not in {a.proposal_id for a in plan.assignments}
    assert plan.unallocated[1] == (
        "no independent Service Manager: all 3 conflict (own service: U1, U3; proposed it: U2)"
    )
    assert "CP-0001" in plan.explain() and plan.unallocated[1] in plan.explain()


# --- preferences --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_flagged_case_is_preferred_over_unflagged_whatever_the_seed(seed: int) -> None:
    auditors = [sm("A", "cic")]
    cases = [case(1, "cp"), case(2, "cin", flagged=True), case(3, "fost"), case(4, "cp", team="cp-x")]
    plan = allocate(auditors, cases, per_auditor=1, seed=seed)
    assert [a.proposal_id for a in plan.assignments] == [2]
    assert "flagged case preferred" in plan.assignments[0].notes


def test_all_flagged_cases_are_taken_when_an_allocation_can_take_them_all() -> None:
    auditors = [sm(f"S{i}", s) for i, s in enumerate(SERVICES)]
    cases = [case(i, SERVICES[i % 4], flagged=i % 5 == 0) for i in range(1, 31)]
    flagged = {c.proposal_id for c in cases if c.flagged}
    for seed in range(10):
        plan = allocate(auditors, cases, per_auditor=2, seed=seed)
        assert flagged <= {a.proposal_id for a in plan.assignments}


@pytest.mark.parametrize("seed", range(20))
def test_no_auditor_gets_two_cases_from_one_service_when_avoidable(seed: int) -> None:
    # The flagged cases are all in cp, which tempts the solver to give one SM two of them; spread
    # outranks nothing above it here, because each SM can still take one flagged cp case.
    auditors = [sm("A", "cic"), sm("B", "cin")]
    cases = [
        case(1, "cp", flagged=True),
        case(2, "cp", flagged=True, team="cp-s"),
        case(3, "fost"),
        case(4, "fost", team="fost-s"),
        case(5, "cp"),
        case(6, "cp", team="cp-s"),
    ]
    plan = allocate(auditors, cases, per_auditor=2, seed=seed)
    for auditor_id, assigned in plan.by_auditor().items():
        services = [a.service_key for a in assigned]
        assert len(services) == len(set(services)) == 2, (auditor_id, services)
    assert {1, 2} <= {a.proposal_id for a in plan.assignments}


def test_pair_from_one_service_is_given_and_explained_when_unavoidable() -> None:
    auditors = [sm("A", "cic")]
    cases = [case(1, "cp"), case(2, "cp", team="cp-s")]
    plan = allocate(auditors, cases, per_auditor=2, seed=0)
    assert len(plan.assignments) == 2
    assert any("no better spread" in note for a in plan.assignments for note in a.notes)


def test_spread_does_not_outrank_flagged_cases() -> None:
    auditors = [sm("A", "cic")]
    cases = [case(1, "cp", flagged=True), case(2, "cp", flagged=True, team="cp-s"), case(3, "fost")]
    plan = allocate(auditors, cases, per_auditor=2, seed=0)
    assert {a.proposal_id for a in plan.assignments} == {1, 2}


@pytest.mark.parametrize("seed", range(20))
def test_last_quarters_service_is_avoided_when_possible(seed: int) -> None:
    auditors = [sm("A", "cic", last=["cp"]), sm("B", "cin", last=["fost"])]
    cases = [case(1, "cp"), case(2, "fost"), case(3, "cp", team="cp-s"), case(4, "fost", team="fost-s")]
    plan = allocate(auditors, cases, per_auditor=1, seed=seed)
    assert {(a.auditor_id, a.service_key) for a in plan.assignments} == {("A", "fost"), ("B", "cp")}
    assert not any("last quarter" in n for a in plan.assignments for n in a.notes)


def test_spread_outranks_last_quarter_and_the_note_says_so() -> None:
    # Two fost cases for A would be a same-service pair, so A takes one cp case although A
    # audited cp last quarter.
    auditors = [sm("A", "cic", last=["cp"])]
    cases = [case(1, "cp"), case(2, "fost"), case(4, "fost", team="fost-s")]
    for seed in range(10):
        plan = allocate(auditors, cases, per_auditor=2, seed=seed)
        assert sorted(a.service_key for a in plan.assignments) == ["cp", "fost"]
        (cp,) = [a for a in plan.assignments if a.service_key == "cp"]
        assert "audited cp last quarter: no better option was found" in cp.notes


def test_last_quarters_service_is_avoided_when_an_alternative_exists() -> None:
    for seed in range(20):
        auditors = [sm("A", "cic", last=["cp"])]
        plan = allocate(auditors, [case(1, "cp"), case(2, "fost")], per_auditor=1, seed=seed)
        assert [a.proposal_id for a in plan.assignments] == [2]


def test_last_quarter_does_not_outrank_a_flagged_case() -> None:
    auditors = [sm("A", "cic", last=["cp"])]
    plan = allocate(auditors, [case(1, "cp", flagged=True), case(2, "fost")], per_auditor=1, seed=0)
    assert [a.proposal_id for a in plan.assignments] == [1]


# --- cardinality ----------------------------------------------------------------------------------------


def test_cases_go_where_they_fill_everyone_not_to_whoever_comes_first() -> None:
    # A greedy pass in name order would give A the cin case and leave B with nothing.
    auditors = [sm("A", "cic"), sm("B", "cp", "fost")]
    cases = [case(1, "cin"), case(2, "cp")]
    plan = allocate(auditors, cases, per_auditor=1, seed=0)
    assert {a.proposal_id: a.auditor_id for a in plan.assignments} == {1: "B", 2: "A"}


def test_more_sms_reach_two_rather_than_many_sms_getting_one() -> None:
    # Three cases, two SMs who could each take any of them: one SM gets two, not one each... and the
    # third SM, who can only take case 1, must not be starved into a worse total.
    auditors = [sm("A", "cic"), sm("B", "cin")]
    cases = [case(1, "cp"), case(2, "fost"), case(3, "cp", team="cp-s")]
    for seed in range(10):
        plan = allocate(auditors, cases, per_auditor=2, seed=seed)
        assert sorted(Counter(a.auditor_id for a in plan.assignments).values()) == [1, 2]
    auditors = [sm("A", "cic"), sm("B", "cin"), sm("C", "x1")]
    cases = [case(1, "cp"), case(2, "fost")]
    for seed in range(10):
        plan = allocate(auditors, cases, per_auditor=2, seed=seed)
        assert sorted(Counter(a.auditor_id for a in plan.assignments).values()) == [2]
        assert len(plan.short) == 2


@pytest.mark.parametrize("seed", range(10))
def test_cases_are_chosen_again_after_moving_cases_to_fill_more_sms(seed: int) -> None:
    # A and B can both be full only as A {3, 5} and B {2, 4}; C, who could take 2 or 5, goes without.
    auditors = [sm("A", "s1"), sm("B", "s3", "s1"), sm("C", "s3")]
    cases = [
        case(1, "s3", by="C", holder="A", manager="C"),
        case(2, "s0", manager="A", flagged=True),
        case(3, "s3", manager="C"),
        case(4, "s2", manager="C"),
        case(5, "s0", team="s0-x", flagged=True),
    ]
    plan = allocate(auditors, cases, per_auditor=2, seed=seed)
    assert {a.proposal_id: a.auditor_id for a in plan.assignments} == {2: "B", 3: "A", 4: "B", 5: "A"}
    assert plan.short == {
        "C": "the 2 cases they could take went to other Service Managers, "
        "and giving them one would leave another Service Manager short"
    }


def test_short_sm_is_told_how_few_cases_they_are_independent_of() -> None:
    auditors = [sm("A", "cic"), sm("B", "cp", "fost", "cin")]
    cases = [case(1, "cp"), case(2, "fost"), case(3, "cin"), case(4, "cic")]
    plan = allocate(auditors, cases, per_auditor=2, seed=5)
    assert plan.short == {"B": "only 1 case they are independent of was proposed"}
    plan = allocate([sm("C", *SERVICES)], cases, per_auditor=2, seed=5)
    assert plan.short == {"C": "no case they are independent of was proposed"}


def test_short_sm_is_told_their_cases_went_to_others() -> None:
    # C is independent of cp only; A and B can take only cp cases as well... so someone is short.
    auditors = [sm("A", "cic", "cin", "fost"), sm("B", "cic", "cin", "fost"), sm("C", "cic", "cin", "fost")]
    cases = [
        case(1, "cp"),
        case(2, "cp", team="cp-s"),
        case(3, "cp", team="cp-e"),
        case(4, "cp", team="cp-w"),
    ]
    plan = allocate(auditors, cases, per_auditor=2, seed=2)
    assert len(plan.assignments) == 4
    ((who, reason),) = plan.short.items()
    assert reason == (
        "the 4 cases they could take went to other Service Managers, "
        "and giving them one would leave another Service Manager short"
    )
    assert f"{who} (0 of 2)" in plan.explain()


def test_capacity_overrides_the_per_auditor_setting() -> None:
    auditors = [sm("A", "cic", capacity=1), sm("B", "cin", capacity=0), sm("C", "cp")]
    cases = [case(i, s) for i, s in enumerate(["fost", "fost", "cp", "cin", "cic", "fost"], start=1)]
    plan = allocate(auditors, cases, per_auditor=2, seed=0)
    assert Counter(a.auditor_id for a in plan.assignments) == {"A": 1, "C": 2}
    assert plan.short == {"A": "their capacity this quarter is 1", "B": "their capacity this quarter is 0"}


def test_unallocated_case_says_every_independent_sm_is_full() -> None:
    auditors = [sm("A", "cic")]
    cases = [case(1, "cp"), case(2, "fost"), case(3, "cin")]
    plan = allocate(auditors, cases, per_auditor=2, seed=4)
    ((pid, reason),) = plan.unallocated.items()
    assert reason == "every independent Service Manager already has 2 cases (A)"


def test_no_service_managers_leaves_everything_unallocated_with_a_reason() -> None:
    plan = allocate([], [case(1, "cp")], per_auditor=2, seed=0)
    assert plan.assignments == [] and plan.unallocated == {1: "no Service Managers to allocate to"}


def test_nothing_proposed_leaves_every_sm_short() -> None:
    plan = allocate([sm("A", "cic")], [], per_auditor=2, seed=0)
    assert plan.short == {"A": "no case they are independent of was proposed"}
    assert "A (0 of 2)" in plan.explain()


@pytest.mark.parametrize(
    ("auditors", "cases", "word"),
    [
        ([sm("A", "cic"), sm("A", "cp")], [case(1, "cp")], "person_id"),
        ([sm("A", "cic")], [case(1, "cp"), case(1, "fost")], "proposal_id"),
        ([sm("A", "cic")], [case(1, "cp"), Candidate(2, "CP-0001", "cp", "t", "x", "y", "z")], "case_ref"),
    ],
)
def test_duplicates_are_refused_so_no_case_is_audited_twice(
    auditors: list[Auditor], cases: list[Candidate], word: str
) -> None:
    with pytest.raises(ValueError, match=word):
        allocate(auditors, cases, seed=0)


# --- reproducibility --------------------------------------------------------------------------------


def random_org(
    rng: random.Random, n_sms: int, n_cases: int, n_services: int = 4
) -> tuple[list[Auditor], list[Candidate]]:
    services = [f"s{i}" for i in range(n_services)]
    auditors = []
    for i in range(n_sms):
        own = rng.sample(services, k=rng.choice([1, 1, 1, 2]))
        teams = [f"{rng.choice(services)}-t{rng.randrange(2)}" for _ in range(rng.randrange(2))]
        last = rng.sample(services, k=rng.randrange(2))
        capacity = rng.choice([None, None, None, None, 1, 3])
        auditors.append(sm(f"U{i}", *own, teams=teams, last=last, capacity=capacity))
    people = [a.person_id for a in auditors] + ["TM1", "TM2", "W1", "W2"]
    cases = [
        Candidate(
            proposal_id=pid,
            case_ref=f"C-{pid:03d}",
            service_key=(s := rng.choice(services)),
            team_key=f"{s}-t{rng.randrange(2)}",
            proposed_by=rng.choice(people),
            case_holder=rng.choice(people),
            team_manager=rng.choice(people),
            flagged=rng.random() < 0.3,
        )
        for pid in range(1, n_cases + 1)
    ]
    return auditors, cases


def as_tuples(
    plan: AllocationPlan,
) -> tuple[list[tuple[int, str, tuple[str, ...]]], dict[int, str], dict[str, str]]:
    return (
        [(a.proposal_id, a.auditor_id, tuple(a.notes)) for a in plan.assignments],
        plan.unallocated,
        plan.short,
    )


def test_same_seed_gives_the_same_plan_whatever_the_input_order() -> None:
    rng = random.Random(99)
    auditors, cases = random_org(rng, 12, 40)
    first = allocate(auditors, cases, per_auditor=2, seed=1234)
    for _ in range(5):
        rng.shuffle(auditors)
        rng.shuffle(cases)
        again = allocate(auditors, cases, per_auditor=2, seed=1234)
        assert as_tuples(again) == as_tuples(first)
        assert again.explain() == first.explain()


def test_different_seeds_can_give_different_plans() -> None:
    auditors = [sm(f"S{i}", "own") for i in range(6)]
    cases = [case(i, "cp", team=f"t{i}") for i in range(1, 25)]
    plans = {tuple(as_tuples(allocate(auditors, cases, per_auditor=2, seed=s))[0]) for s in range(10)}
    assert len(plans) > 1
    assert all(len(p) == 12 for p in plans)


# --- property: independence always, cardinality maximal ----------------------------------------------


def target_of(a: Auditor, per: int) -> int:
    return per if a.capacity is None else a.capacity


def max_allocation_size(auditors: Sequence[Auditor], cases: Sequence[Candidate], per: int) -> int:
    """Kuhn's augmenting paths on slot-expanded SMs: an independent check of maximum cardinality."""
    slots = [a for a in auditors for _ in range(target_of(a, per))]
    options = [[j for j, c in enumerate(cases) if not conflicts(a, c)] for a in slots]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in options[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(augment(i, set()) for i in range(len(slots)))


Score = tuple[int, int, int, int, int]


def score(
    plan_or_combo: AllocationPlan | Sequence[str | None],
    auditors: Sequence[Auditor],
    cases: Sequence[Candidate],
    per: int,
) -> Score:
    """(cases, SMs full, flagged, -same-service pairs, -last-quarter repeats): larger is better."""
    if isinstance(plan_or_combo, AllocationPlan):
        by_pid = {a.proposal_id: a.auditor_id for a in plan_or_combo.assignments}
        combo: Sequence[str | None] = [by_pid.get(c.proposal_id) for c in cases]
    else:
        combo = plan_or_combo
    by_id = {a.person_id: a for a in auditors}
    taken = [(c, by_id[p]) for c, p in zip(cases, combo, strict=True) if p is not None]
    load = Counter(a.person_id for _, a in taken)
    full = sum(load[a.person_id] == target_of(a, per) for a in auditors)
    flagged = sum(c.flagged for c, _ in taken)
    per_service = Counter((a.person_id, c.service_key) for c, a in taken)
    pairs = sum(n - 1 for n in per_service.values())
    repeats = sum(c.service_key in a.last_quarter_service_keys for c, a in taken)
    return len(taken), full, flagged, -pairs, -repeats


def brute_force(
    auditors: Sequence[Auditor], cases: Sequence[Candidate], per: int, *, loads: Counter[str] | None = None
) -> Score:
    """The best score over every independent allocation (only those with these `loads`, if given)."""
    choices = [[None] + [a.person_id for a in auditors if not conflicts(a, c)] for c in cases]
    cap = {a.person_id: target_of(a, per) for a in auditors}
    best: Score | None = None
    for combo in itertools.product(*choices):
        load = Counter(p for p in combo if p is not None)
        if any(load[p] > cap[p] for p in load) or (loads is not None and load != loads):
            continue
        candidate = score(combo, auditors, cases, per)
        best = candidate if best is None or candidate > best else best
    assert best is not None  # allocating nothing is always possible
    return best


@pytest.mark.parametrize("seed", range(50))
def test_random_orgs_never_break_independence_and_allocate_the_most_cases(seed: int) -> None:
    rng = random.Random(seed)
    per = rng.choice([1, 2, 2, 3])
    auditors, cases = random_org(rng, rng.randrange(1, 15), rng.randrange(0, 40), rng.randrange(2, 7))
    plan = allocate(auditors, cases, per_auditor=per, seed=seed)
    assert_independent(plan, auditors, cases)
    assert_each_case_once(plan)
    assert len(plan.assignments) + len(plan.unallocated) == len(cases)
    assert len(plan.assignments) == max_allocation_size(auditors, cases, per)
    load = Counter(a.auditor_id for a in plan.assignments)
    for a in auditors:
        assert load[a.person_id] <= target_of(a, per)
        assert (a.person_id in plan.short) == (load[a.person_id] < per)
    text = plan.explain()
    for pid, reason in plan.unallocated.items():
        assert f"{plan.case_refs[pid]} (proposal {pid}): {reason}" in text


@pytest.mark.parametrize("seed", range(50))
def test_small_orgs_where_everyone_can_be_full_get_the_brute_force_best_on_every_priority(seed: int) -> None:
    rng = random.Random(2000 + seed)
    while True:  # draw until every SM can be given their full number (deterministic per seed)
        per = rng.choice([1, 2, 2, 3])
        auditors, cases = random_org(rng, rng.randrange(1, 4), rng.randrange(3, 8), rng.randrange(2, 5))
        auditors = [dataclasses.replace(a, capacity=None) for a in auditors]
        best = brute_force(auditors, cases, per)
        if best[1] == len(auditors):
            break
    plan = allocate(auditors, cases, per_auditor=per, seed=seed)
    assert score(plan, auditors, cases, per) == best


@pytest.mark.parametrize("seed", range(50))
def test_small_random_orgs_get_the_best_cases_for_the_numbers_each_sm_is_given(seed: int) -> None:
    rng = random.Random(1000 + seed)
    per = rng.choice([1, 2, 2])
    auditors, cases = random_org(rng, rng.randrange(1, 5), rng.randrange(1, 8), rng.randrange(2, 5))
    plan = allocate(auditors, cases, per_auditor=per, seed=seed)
    loads = Counter(a.auditor_id for a in plan.assignments)
    assert score(plan, auditors, cases, per) == brute_force(auditors, cases, per, loads=loads)
    assert score(plan, auditors, cases, per)[0] == brute_force(auditors, cases, per)[0]
