"""Pictures and dates as each person reads them (issue 17 items 2 and 3): the Slack date token, the
words that say what a chart shows, the fake Slack's checks of both, and the grade trend's chart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.app.sandbox.fake_slack import date_token_issues
from bot.app.sandbox.render import render_blocks
from bot.core import outbox
from bot.core.calendar import Quarter
from bot.core.charts import alt_text
from bot.core.formatting import DATE_TOKEN, day, due, epoch_of, plain_dates
from bot.core.grade_trend import GradeTrend
from bot.core.grades import Grade
from bot.core.privacy import SmallCounts

FRI = date(2026, 5, 15)


def test_a_due_date_is_a_slack_date_token_with_the_usual_words_as_fallback() -> None:
    token = due(FRI)
    assert token == f"<!date^{epoch_of(FRI)}^{{date_short_pretty}}|Fri 15 May 2026>"
    assert token.endswith(f"|{day(FRI)}>")
    found = DATE_TOKEN.fullmatch(token)
    assert found is not None and found["format"] == "{date_short_pretty}"


@pytest.mark.parametrize("hours", [-11, -5, 0, 1, 5.5, 11])
def test_the_token_s_moment_is_the_same_day_in_every_reader_s_timezone(hours: float) -> None:
    moment = datetime.fromtimestamp(epoch_of(FRI), tz=timezone(timedelta(hours=hours)))
    assert moment.date() == FRI
    assert datetime.fromtimestamp(epoch_of(FRI), tz=UTC) == datetime(2026, 5, 15, 12, tzinfo=UTC)


def test_the_transcript_reads_the_fallback_words() -> None:
    text = f"Your action is due on {due(FRI)}."
    assert plain_dates(text) == "Your action is due on Fri 15 May 2026."
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    assert render_blocks(blocks) == "Your action is due on Fri 15 May 2026."
    assert render_blocks([], text) == "Your action is due on Fri 15 May 2026."


def test_the_fake_slack_finds_a_malformed_or_misplaced_date_token() -> None:
    good = {"text": f"due {due(FRI)}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Due:* {due(FRI)}"}}]}
    assert date_token_issues(good, "here") == []
    for bad in ("<!date^1778846400|Fri 15 May 2026>",  # no format
                "<!date^tomorrow^{date_short_pretty}|Fri>",  # no epoch
                "<!date^1778846400^{date_short_pretty}|>",  # no fallback
                "<!date^1778846400^{day_name}|Fri 15 May 2026>",  # no such format
                "<!date^1778846400^{date_short_pretty}"):  # never closed
        assert date_token_issues({"text": f"due {bad}"}, "here"), bad
    in_plain = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": f"Due {due(FRI)}"}}]}
    assert "plain_text" in date_token_issues(in_plain, "here")[0].sentence
    initial = {"blocks": [{"type": "input", "element": {"type": "plain_text_input", "initial_value": due(FRI)}}]}
    assert date_token_issues(initial, "here")


def test_alt_text_says_each_count_and_withheld_ones_as_withheld() -> None:
    words = alt_text("learning themes in Children in Care, 2026-27 Q1", ["Voice of the child", "Planning", "Recording"],
                     {"2026-27 Q1": [7, 5, None]}, threshold=5)
    assert words == ("Bar chart of learning themes in Children in Care, 2026-27 Q1: Voice of the child 7, "
                     "Planning 5, Recording fewer than 5.")
    two = alt_text("grades", ["Good", "Inadequate"], {"Q1": [6, None], "Q2": [0, 8]})
    assert two == "Bar chart of grades. Q1: Good 6, Inadequate withheld; Q2: Good 0, Inadequate 8."


def test_a_chart_cannot_be_queued_without_alt_text() -> None:
    with pytest.raises(ValueError, match="alt text"):
        outbox.enqueue_chart(None, channel="C1", file_name="x.png", title="t", categories=["a"],  # type: ignore[arg-type]
                             series={"s": [1]}, chart_title="t", alt_text="  ")
    with pytest.raises(ValueError, match="alt text"):
        outbox.enqueue_file(None, channel="C1", file_name="x.png", content=b"", title="t")  # type: ignore[arg-type]
    assert len(outbox.clip_alt_text("word " * 400)) <= outbox.ALT_TEXT_MAX


def test_the_grade_trend_chart_withholds_small_counts_in_the_bars_and_the_words() -> None:
    last = Quarter.parse("2026-27 Q2")
    quarters = tuple(last.shift(-n) for n in (3, 2, 1, 0))
    counts: dict[Grade, tuple[int, ...]] = {Grade.OUTSTANDING: (0, 0, 0, 0), Grade.GOOD: (0, 0, 6, 2),
              Grade.REQUIRES_IMPROVEMENT: (0, 0, 5, 0), Grade.INADEQUATE: (0, 0, 1, 0)}
    trend = GradeTrend(quarters=quarters, counts=counts)
    chart = trend.chart(SmallCounts(5))
    assert chart is not None
    assert chart["series"]["Good"] == [0, 0, 6, 0] and chart["series"]["Inadequate"] == [0, 0, 0, 0]
    assert chart["categories"] == ["2025-26 Q3", "2025-26 Q4", "2026-27 Q1 *", "2026-27 Q2 *"]
    words = chart["alt_text"]
    assert "2026-27 Q1: 2025-26 Q3" not in words
    assert "Good: 2025-26 Q3 0, 2025-26 Q4 0, 2026-27 Q1 6, 2026-27 Q2 fewer than 5" in words
    assert "Inadequate: 2025-26 Q3 0, 2025-26 Q4 0, 2026-27 Q1 fewer than 5" in words
    assert "Requires improvement to be good: 2025-26 Q3 0, 2025-26 Q4 0, 2026-27 Q1 5" in words
    # exact counts for people who may see them; nothing drawable: no chart at all
    assert trend.chart(SmallCounts(5, suppress=False))["series"]["Inadequate"] == [0, 0, 1, 0]  # type: ignore[index]
    small = GradeTrend(quarters=quarters, counts={g: (0, 0, 1, 2) for g in Grade})
    assert small.chart(SmallCounts(5)) is None
