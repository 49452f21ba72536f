"""Grades and random-sampling statistics: the numbers a sample report's headlines rest on."""

from __future__ import annotations

import pytest

from bot.core.grades import Grade, SampleStats, needs_qi_attention, sample_stats

OUT, G, RI, IN = Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE


# --- Grade ---------------------------------------------------------------------------------------


def test_grades_order_best_first_like_ofsted_numbers() -> None:
    assert [int(g) for g in (OUT, G, RI, IN)] == [1, 2, 3, 4]
    assert OUT < G < RI < IN


def test_labels_use_ofsteds_words() -> None:
    assert [g.label for g in Grade] == [
        "Outstanding",
        "Good",
        "Requires improvement to be good",
        "Inadequate",
    ]


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("Outstanding", OUT),
        ("good", G),
        ("  GOOD  ", G),
        ("Requires improvement to be good", RI),
        ("requires improvement", RI),
        ("RI", RI),
        ("ri", RI),
        ("inadequate", IN),
    ],
)
def test_from_label_reads_the_words_people_type(text: str, grade: Grade) -> None:
    assert Grade.from_label(text) is grade


def test_from_label_round_trips_every_label() -> None:
    for g in Grade:
        assert Grade.from_label(g.label) is g


@pytest.mark.parametrize("text", ["", "excellent", "Good-ish", "5"])
def test_from_label_rejects_unknown_words_and_lists_the_valid_ones(text: str) -> None:
    with pytest.raises(ValueError) as err:
        Grade.from_label(text)
    assert "Requires improvement to be good" in str(err.value)


def test_good_or_better_is_outstanding_and_good_only() -> None:
    assert [g.good_or_better for g in Grade] == [True, True, False, False]


# --- needs_qi_attention ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"), [(OUT, OUT), (OUT, G), (G, OUT), (G, G), (RI, RI), (RI, IN), (IN, RI), (IN, IN)]
)
def test_close_grades_on_the_same_side_of_good_need_no_attention(a: Grade, b: Grade) -> None:
    assert needs_qi_attention(a, b) is None


@pytest.mark.parametrize(("a", "b"), [(G, RI), (RI, G)])
def test_one_grade_apart_across_good_and_ri_needs_attention(a: Grade, b: Grade) -> None:
    reason = needs_qi_attention(a, b)
    assert reason is not None
    assert "crosses Good / Requires improvement" in reason


@pytest.mark.parametrize(
    ("a", "b", "gap"), [(OUT, RI, 2), (G, IN, 2), (IN, G, 2), (OUT, IN, 3), (IN, OUT, 3)]
)
def test_two_or_more_grades_apart_needs_attention_and_says_how_far(a: Grade, b: Grade, gap: int) -> None:
    reason = needs_qi_attention(a, b)
    assert reason is not None
    assert f"{gap} grades" in reason
    assert a.label in reason and b.label in reason


# --- sample_stats ---------------------------------------------------------------------------------

# A hand-worked sample of 10 cases (A, B, agreed). Agreed grades: OUT x1, G x4, RI x3, IN x1, and one
# case not yet moderated.
TEN_CASES: list[tuple[Grade, Grade, Grade | None]] = [
    (OUT, OUT, OUT),  # exact; same
    (G, G, G),  # exact; same
    (G, OUT, G),  # within one; mean 1.5 -> agreed 2 is worse: down
    (G, RI, G),  # within one; mean 2.5 -> agreed 2 is better: up
    (RI, G, G),  # within one; mean 2.5 -> up
    (RI, RI, RI),  # exact; same
    (RI, IN, RI),  # within one; mean 3.5 -> up
    (G, IN, RI),  # two apart; mean 3 -> same
    (IN, IN, IN),  # exact; same
    (OUT, RI, None),  # two apart; not yet moderated
]


def test_ten_case_example_matches_the_hand_count() -> None:
    stats = sample_stats(TEN_CASES)
    assert stats.total == 10
    assert stats.moderated == 9
    assert stats.pairs == 10
    assert stats.by_grade == {OUT: 1, G: 4, RI: 3, IN: 1}
    # 5 of 9 agreed grades are Good or better = 55.555...% -> 55.6
    assert stats.pct_good_or_better == 55.6
    # 1 of 9 Inadequate = 11.111...% -> 11.1
    assert stats.pct_inadequate == 11.1
    # exact agreement: 4 of 10; within one grade (including exact): 8 of 10
    assert stats.exact_agreement_pct == 40.0
    assert stats.within_one_pct == 80.0
    assert (stats.moderated_up, stats.moderated_down, stats.moderated_same) == (3, 1, 5)


def test_headline_counts_ignore_cases_not_yet_moderated() -> None:
    stats = sample_stats([(IN, IN, None), (G, G, G)])
    assert stats.by_grade[IN] == 0
    assert stats.pct_inadequate == 0.0
    assert stats.pct_good_or_better == 100.0
    # ...but agreement before moderation counts both pairs
    assert stats.exact_agreement_pct == 100.0


def test_no_cases_gives_zeros_not_a_division_error() -> None:
    stats = sample_stats([])
    assert stats == SampleStats(
        total=0,
        by_grade={OUT: 0, G: 0, RI: 0, IN: 0},
        pct_good_or_better=0.0,
        pct_inadequate=0.0,
        exact_agreement_pct=0.0,
        within_one_pct=0.0,
        moderated_up=0,
        moderated_down=0,
        moderated_same=0,
        pairs=0,
        moderated=0,
    )


def test_nothing_moderated_yet_gives_zero_headlines_but_real_agreement() -> None:
    stats = sample_stats([(G, RI, None), (G, G, None)])
    assert stats.pct_good_or_better == 0.0
    assert stats.exact_agreement_pct == 50.0
    assert stats.within_one_pct == 100.0


def test_percentages_round_half_up_to_one_decimal_place() -> None:
    # 1 of 16 = 6.25% -> 6.3 (banker's rounding would give 6.2)
    results: list[tuple[Grade, Grade, Grade | None]] = [(IN, IN, IN)]
    results += [(G, G, G)] * 15
    stats = sample_stats(results)
    assert stats.pct_inadequate == 6.3
    assert stats.pct_good_or_better == 93.8


def test_agreed_grade_equal_to_the_mean_of_the_two_counts_as_same() -> None:
    stats = sample_stats([(OUT, RI, G), (G, G, G)])
    assert (stats.moderated_up, stats.moderated_down, stats.moderated_same) == (0, 0, 2)


def test_moderation_can_move_a_grade_outside_both_originals() -> None:
    stats = sample_stats([(G, G, IN), (RI, RI, OUT)])
    assert (stats.moderated_up, stats.moderated_down) == (1, 1)
