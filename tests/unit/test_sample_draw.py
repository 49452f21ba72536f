"""Random sampling draws: which service, who pairs with whom, which cases each pair audits."""

from __future__ import annotations

import random
from datetime import date

import pytest

from bot.sampling.draw import (
    Draw,
    Pair,
    RegisterCase,
    ServiceChoice,
    choose_service,
    draw_sample,
    pair_auditors,
)

SERVICES = ["assessment", "child-in-need", "child-protection", "children-in-care"]
QI = ["qi1", "qi2", "qi3", "qi4", "qi5"]
PCS = ["pc1", "pc2", "pc3", "pc4", "pc5"]


def case(
    ref: str,
    *,
    service: str = "assessment",
    holder: str = "sw-x",
    manager: str = "tm-x",
    status: str = "open",
    iro: str | None = None,
) -> RegisterCase:
    return RegisterCase(
        case_ref=ref,
        service_key=service,
        team_key=f"{service}-team",
        case_holder=holder,
        team_manager=manager,
        reviewing_officer=iro,
        status=status,
    )


def five_pairs() -> list[Pair]:
    return [Pair(qi=q, pc=p) for q, p in zip(QI, PCS, strict=True)]


def register(n: int, service: str = "assessment", prefix: str = "CR") -> list[RegisterCase]:
    return [
        case(f"{prefix}{i:04d}", service=service, holder=f"sw{i % 7}", manager=f"tm{i % 3}") for i in range(n)
    ]


def people_of(draw: Draw, ref: str) -> set[str]:
    return {p for a in draw.assignments if a.case_ref == ref for p in (a.qi, a.pc)}


# --- choose_service ------------------------------------------------------------------------------


def test_rotation_over_four_quarters_samples_every_service_once_and_never_twice_running() -> None:
    last_sampled: dict[str, int | None] = {}
    previous: str | None = None
    chosen: list[str] = []
    for quarter in range(4):
        choice = choose_service(SERVICES, last_sampled, last_quarter_service=previous)
        assert choice.service_key != previous
        chosen.append(choice.service_key)
        last_sampled[choice.service_key] = quarter
        previous = choice.service_key
    assert sorted(chosen) == sorted(SERVICES)


def test_rotation_keeps_going_after_every_service_has_had_a_turn() -> None:
    last_sampled: dict[str, int | None] = {}
    previous: str | None = None
    chosen: list[str] = []
    for quarter in range(12):
        choice = choose_service(SERVICES, last_sampled, last_quarter_service=previous)
        assert choice.service_key != previous
        chosen.append(choice.service_key)
        last_sampled[choice.service_key] = quarter
        previous = choice.service_key
    for start in range(0, 12, 4):
        assert sorted(chosen[start : start + 4]) == sorted(SERVICES)


def test_never_sampled_services_come_before_any_sampled_one() -> None:
    choice = choose_service(
        SERVICES,
        {"assessment": 1, "child-in-need": 2, "child-protection": None},
        last_quarter_service="child-in-need",
    )
    assert choice.service_key == "child-protection"
    assert "never" in choice.reason


def test_least_recently_sampled_wins_once_all_have_been_sampled() -> None:
    sampled = {"assessment": 7, "child-in-need": 4, "child-protection": 6, "children-in-care": 5}
    choice = choose_service(SERVICES, sampled, last_quarter_service="assessment")
    assert choice.service_key == "child-in-need"
    assert "4" in choice.reason


def test_ties_go_to_key_order_whatever_order_services_are_listed_in() -> None:
    shuffled = list(reversed(SERVICES))
    choice = choose_service(shuffled, {}, last_quarter_service=None)
    assert choice.service_key == "assessment"


def test_last_quarters_service_is_skipped_even_if_it_looks_least_recent() -> None:
    # stale history: the store says assessment was sampled long ago, but it was last quarter's
    sampled = {"assessment": 0, "child-in-need": 3, "child-protection": 4, "children-in-care": 5}
    choice = choose_service(SERVICES, sampled, last_quarter_service="assessment")
    assert choice.service_key == "child-in-need"


def test_only_one_service_is_sampled_again_and_the_reason_says_so() -> None:
    choice = choose_service(["fostering"], {"fostering": 3}, last_quarter_service="fostering")
    assert choice.service_key == "fostering"
    assert "only service" in choice.reason


def test_override_chosen_by_qi_wins_even_over_last_quarters_rule() -> None:
    choice = choose_service(
        SERVICES, {}, last_quarter_service="child-protection", override="child-protection"
    )
    assert choice == ServiceChoice("child-protection", "chosen by Q&I")


def test_override_of_an_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="adoption"):
        choose_service(SERVICES, {}, last_quarter_service=None, override="adoption")


def test_no_services_is_refused() -> None:
    with pytest.raises(ValueError):
        choose_service([], {}, last_quarter_service=None)


# --- pair_auditors -------------------------------------------------------------------------------


def test_every_qi_gets_a_different_pc() -> None:
    pairs = pair_auditors(QI, PCS, seed=1)
    assert [p.qi for p in pairs] == QI
    assert sorted(p.pc for p in pairs) == PCS


def test_pairs_avoid_last_quarters_pairs_when_possible() -> None:
    previous = five_pairs()
    for seed in range(30):
        pairs = pair_auditors(QI, PCS, previous_pairs=previous, seed=seed)
        assert not set(pairs) & set(previous), seed


def test_pairs_repeat_as_few_as_possible_when_a_repeat_is_unavoidable() -> None:
    # keeping qi1-pc1 and qi2-pc2 repeats two pairs; swapping repeats only qi1-pc2
    qi = ["qi1", "qi2"]
    pcs = ["pc1", "pc2"]
    previous = [Pair("qi1", "pc1"), Pair("qi2", "pc2"), Pair("qi1", "pc2")]
    for seed in range(10):
        pairs = pair_auditors(qi, pcs, previous_pairs=previous, seed=seed)
        assert pairs == [Pair("qi1", "pc2"), Pair("qi2", "pc1")]


def test_pairing_is_reproducible_and_varies_with_the_seed() -> None:
    assert pair_auditors(QI, PCS, seed=5) == pair_auditors(QI, PCS, seed=5)
    shuffled_pcs = list(reversed(PCS))
    assert pair_auditors(QI, shuffled_pcs, seed=5) == pair_auditors(QI, PCS, seed=5)
    assert len({tuple(pair_auditors(QI, PCS, seed=s)) for s in range(20)}) > 1


def test_spare_pcs_are_left_out_rather_than_doubled_up() -> None:
    pairs = pair_auditors(QI[:3], PCS, seed=2)
    assert len(pairs) == 3
    assert len({p.pc for p in pairs}) == 3


def test_fewer_pcs_than_qi_is_refused_with_the_numbers() -> None:
    with pytest.raises(ValueError, match="5 Q&I auditors but only 4 Practice Consultants"):
        pair_auditors(QI, PCS[:4], seed=1)


def test_nobody_is_paired_with_themselves() -> None:
    for seed in range(10):
        pairs = pair_auditors(["a", "b"], ["a", "b"], seed=seed)
        assert all(p.qi != p.pc for p in pairs)


def test_a_person_listed_twice_as_qi_is_refused() -> None:
    with pytest.raises(ValueError, match="qi1"):
        pair_auditors(["qi1", "qi1"], PCS, seed=1)


# --- draw_sample ---------------------------------------------------------------------------------


def test_every_pair_gets_two_cases_from_the_chosen_service_only() -> None:
    cases = register(30) + register(30, service="child-protection", prefix="CP")
    draw = draw_sample(cases, five_pairs(), service_key="assessment", seed=11)
    assert len(draw.assignments) == 10
    for pair in five_pairs():
        assert sum(1 for a in draw.assignments if (a.qi, a.pc) == (pair.qi, pair.pc)) == 2
    assert all(ref.startswith("CR") for ref in draw.pool)
    assert len(draw.pool) == 30
    assert draw.shortfalls == {}


def test_no_case_is_given_out_twice() -> None:
    draw = draw_sample(register(12), five_pairs(), service_key="assessment", seed=3)
    refs = [a.case_ref for a in draw.assignments]
    assert len(refs) == len(set(refs)) == 10


def test_nobody_audits_a_case_they_hold_manage_or_recently_audited() -> None:
    rng = random.Random(99)
    people = QI + PCS + ["sw1", "sw2", "tm1"]
    cases = [case(f"CR{i:03d}", holder=rng.choice(people), manager=rng.choice(people)) for i in range(40)]
    recent = {p: {f"CR{rng.randrange(40):03d}" for _ in range(6)} for p in QI + PCS}
    for seed in range(25):
        draw = draw_sample(cases, five_pairs(), service_key="assessment", seed=seed, recently_audited=recent)
        by_ref = {c.case_ref: c for c in cases}
        for a in draw.assignments:
            c = by_ref[a.case_ref]
            for person in (a.qi, a.pc):
                assert person not in (c.case_holder, c.team_manager)
                assert a.case_ref not in recent[person]


def test_closed_cases_are_never_drawn_and_are_listed_as_excluded() -> None:
    cases = register(10) + [case("CR9999", status="closed")]
    draw = draw_sample(cases, five_pairs(), service_key="assessment", seed=1)
    assert "CR9999" not in draw.pool
    assert "CR9999" not in {a.case_ref for a in draw.assignments}
    assert any(e.case_ref == "CR9999" and e.reason == "case is closed" for e in draw.exclusions)


def test_every_pair_is_served_when_only_a_matching_can_find_the_way() -> None:
    # pair 1 can take any case; pair 2 can take only A and B. A first-fit that hands pair 1 the
    # first cases in the shuffle would strand pair 2 for many seeds.
    pairs = [Pair("qi1", "pc1"), Pair("qi2", "pc2")]
    cases = [case("A"), case("B"), case("C", holder="qi2"), case("D", manager="pc2")]
    for seed in range(40):
        draw = draw_sample(cases, pairs, service_key="assessment", seed=seed)
        got = {p.qi: sorted(a.case_ref for a in draw.assignments if a.qi == p.qi) for p in pairs}
        assert got == {"qi1": ["C", "D"], "qi2": ["A", "B"]}, seed
        assert draw.shortfalls == {}


def test_shortfall_is_shared_out_and_explained_when_the_pool_is_too_small() -> None:
    draw = draw_sample(register(7), five_pairs(), service_key="assessment", seed=4)
    counts = sorted(sum(1 for a in draw.assignments if a.qi == q) for q in QI)
    assert counts == [1, 1, 1, 2, 2]
    assert len(draw.shortfalls) == 3
    for reason in draw.shortfalls.values():
        assert "1 of 2" in reason


def test_shortfall_names_the_pairs_own_conflicts() -> None:
    cases = [case("A", holder="qi1"), case("B", manager="pc1"), case("C")]
    draw = draw_sample(cases, [Pair("qi1", "pc1")], service_key="assessment", seed=0)
    assert [a.case_ref for a in draw.assignments] == ["C"]
    assert "qi1" in draw.shortfalls
    assert "only 1 eligible" in draw.shortfalls["qi1"]


def test_same_seed_and_pool_in_any_order_gives_the_same_draw() -> None:
    cases = register(40)
    recent = {"qi1": {"CR0003", "CR0010"}, "pc4": ["CR0005"]}
    first = draw_sample(cases, five_pairs(), service_key="assessment", seed=2024, recently_audited=recent)
    for shuffle_seed in range(5):
        shuffled = cases[:]
        random.Random(shuffle_seed).shuffle(shuffled)
        pairs = five_pairs()
        random.Random(shuffle_seed).shuffle(pairs)
        again = draw_sample(shuffled, pairs, service_key="assessment", seed=2024, recently_audited=recent)
        assert again.assignments == first.assignments
        assert again.exclusions == first.exclusions
        assert again.pool == first.pool


def test_different_seeds_give_different_draws() -> None:
    cases = register(40)
    draws = {
        tuple(
            a.case_ref for a in draw_sample(cases, five_pairs(), service_key="assessment", seed=s).assignments
        )
        for s in range(10)
    }
    assert len(draws) > 5


def test_pool_is_the_sorted_open_cases_of_the_service() -> None:
    cases = [case("Z1"), case("A1"), case("M1", status="closed"), case("B1", service="fostering")]
    draw = draw_sample(cases, five_pairs(), service_key="assessment", seed=0)
    assert draw.pool == ["A1", "Z1"]


def test_explain_mentions_seed_service_pairs_assignments_and_every_exclusion() -> None:
    cases = [
        case("A", holder="qi1"),
        case("B", manager="pc2"),
        case("C", status="closed"),
        case("D"),
        case("E"),
        case("F"),
    ]
    recent = {"qi2": {"D": date(2026, 8, 1)}}
    pairs = [Pair("qi1", "pc1"), Pair("qi2", "pc2")]
    draw = draw_sample(cases, pairs, service_key="assessment", seed=77, recently_audited=recent)
    text = draw.explain()
    assert "77" in text
    assert "assessment" in text
    assert "qi1" in text and "pc2" in text
    for a in draw.assignments:
        assert a.case_ref in text
    assert draw.exclusions
    for e in draw.exclusions:
        assert e.reason in text
    reasons = {(e.case_ref, e.person): e.reason for e in draw.exclusions}
    assert reasons[("A", "qi1")] == "holds the case"
    assert reasons[("B", "pc2")] == "manages the case"
    assert reasons[("D", "qi2")] == "audited it on 2026-08-01 (within 12 months)"
    assert reasons[("C", "")] == "case is closed"


def test_explain_lists_shortfalls() -> None:
    draw = draw_sample([case("A")], [Pair("qi1", "pc1")], service_key="assessment", seed=0)
    assert draw.shortfalls["qi1"] in draw.explain()


def test_reviewing_officer_does_not_audit_their_own_case() -> None:
    cases = [case("A", iro="qi1"), case("B"), case("C")]
    draw = draw_sample(cases, [Pair("qi1", "pc1")], service_key="assessment", seed=0)
    assert "A" not in {a.case_ref for a in draw.assignments}
    assert any(e.case_ref == "A" and e.person == "qi1" for e in draw.exclusions)


def test_a_person_in_two_pairs_is_refused() -> None:
    with pytest.raises(ValueError, match="pc1"):
        draw_sample(register(10), [Pair("qi1", "pc1"), Pair("qi2", "pc1")], service_key="assessment", seed=0)


def test_conflicting_duplicate_case_refs_are_refused() -> None:
    with pytest.raises(ValueError, match="CR1"):
        draw_sample(
            [case("CR1"), case("CR1", holder="someone-else")], five_pairs(), service_key="assessment", seed=0
        )


# --- independence on the directory's teams (#14 item 4) ----------------------------------------


def test_a_pair_is_kept_off_cases_held_in_a_team_one_of_them_belongs_to_whatever_the_line_says() -> None:
    from bot.core.independence import Ties

    ties = {"pc1": Ties(person="pc1", teams_member=frozenset({"north"}), works_in=frozenset({"cic"})),
            "sw-north": Ties(person="sw-north", teams_member=frozenset({"north"}), works_in=frozenset({"cic"}))}
    cases = [RegisterCase("A1", "cic", "north", "sw-south", "tm-n"),  # the team itself
             RegisterCase("A2", "cic", "south", "sw-north", "tm-s"),  # says south, held by a north worker
             RegisterCase("A3", "cic", "south", "sw-south", "tm-s")]
    drawn = draw_sample(cases, [Pair("qi1", "pc1")], service_key="cic", per_auditor=2, seed=3, ties=ties)
    assert [a.case_ref for a in drawn.assignments] == ["A3"]
    reasons = {e.case_ref: e.reason for e in drawn.exclusions if e.person == "pc1"}
    assert reasons == {"A1": "belongs to team north",
                       "A2": "belongs to team north, the team of the person who holds the case"}
    # without the directory's ties (a draw stored before they were kept) it is judged on people alone
    assert len(draw_sample(cases, [Pair("qi1", "pc1")], service_key="cic", per_auditor=2, seed=3).assignments) == 2
