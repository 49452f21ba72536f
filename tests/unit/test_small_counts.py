"""The small-count rule (bot.core.privacy.SmallCounts): one rule for posts, digests and exports."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.core.privacy import SmallCounts, small_count


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=50))
def test_a_shared_count_never_shows_a_number_under_the_threshold(n: int, threshold: int) -> None:
    shown = SmallCounts(threshold)
    words = [shown.count(n), shown.export(n), shown.average(float(n)) or ""]
    for text in words:
        for number in re.findall(r"\d+", text):
            assert int(number) == 0 or int(number) >= threshold
    if 0 < n < threshold:
        assert shown.drawn(n) == 0 and shown.hidden(n)
    else:
        assert shown.drawn(n) == n


def test_the_named_people_who_may_see_exact_counts_see_them() -> None:
    exact = SmallCounts(5, suppress=False)
    assert exact.count(2) == "2" and exact.export(2) == "2" and exact.drawn(2) == 2


def test_the_words_for_none_few_and_many() -> None:
    assert [small_count(n, 5) for n in (0, 1, 4, 5, 12)] == ["none", "fewer than 5", "fewer than 5", "5", "12"]
    assert SmallCounts(5).export(3) == "<5" and SmallCounts(5).export(None) == ""


def test_no_trend_between_two_withheld_counts() -> None:
    shown = SmallCounts(5)
    assert shown.both_hidden(3, 1) and shown.both_hidden(2, None)
    assert not shown.both_hidden(6, 2) and not SmallCounts(5, suppress=False).both_hidden(3, 1)


def test_a_quarter_is_too_small_for_counts_only_when_every_raised_count_is_withheld() -> None:
    shown = SmallCounts(5)
    assert shown.too_small([2, 1, 0]) and not shown.too_small([2, 6]) and not shown.too_small([0, 0])
    assert not shown.too_small([]) and not SmallCounts(5, suppress=False).too_small([2, 1])


def test_ranked_names_most_counted_first_and_ties_share_a_place() -> None:
    shown = SmallCounts(5)
    assert shown.ranked([("b", 1), ("Voice", 2), ("a", 1), ("gone", 0)]) == [["Voice"], ["a", "b"]]
    assert shown.ranked([]) == []


@given(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=60),
       st.integers(min_value=1, max_value=20))
def test_a_part_never_gives_away_a_withheld_total(part: int, extra: int, threshold: int) -> None:
    """"1 Inadequate" beside "fewer than 5 cases audited" tells the total: a part is written with the
    same rule, and a percentage only when the part and the total may both be shown."""
    total = part + extra
    shown = SmallCounts(threshold)
    if shown.hidden(total):
        assert shown.count(part) in ("none", f"fewer than {threshold}")
    share = shown.share(part, total)
    if share is not None:
        assert total > 0 and not shown.hidden(total) and not shown.hidden(part)
        assert share == f"{round(100 * part / total)}%"
    elif total > 0 and not shown.hidden(total) and not shown.hidden(part):
        raise AssertionError(f"{part} of {total} may be shown as a share")
