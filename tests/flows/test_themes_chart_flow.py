"""The themes chart that actually reaches a service's channel, end to end: the Service Manager posts
the quarter's learning through Slack, the outbox draws the chart and uploads it, and neither the data
it was drawn from nor the PNG Slack received shows a count under the suppression threshold. The
Service Manager's own `/qmf themes` still shows the exact small counts."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pytest
from matplotlib.image import imread
from sqlalchemy import select

from bot.core import outbox
from bot.core.policy import Policy
from storage.models import LearningRound, OutboxMessage
from tests.flows.test_themes_flow import (
    JOB,
    PNG_MAGIC,
    REVIEW_DAY,
    draft_dm,
    files_in,
    recorded_counts,
    shown,
    text_of,
    theme_posts,
)
from tests.unit.test_themes import (
    ASSESS,
    MULTI,
    Q1,
    Q4_LAST_YEAR,
    RISK,
    VOICE,
    seed_audit,
    seed_standard_quarter,
)

CHANNEL = "C0CIC"
THRESHOLD = Policy().suppression_threshold
# matplotlib's first two colours: the bars of this quarter and of last quarter
THIS_COLOUR = np.array([0x1F, 0x77, 0xB4]) / 255
LAST_COLOUR = np.array([0xFF, 0x7F, 0x0E]) / 255


@pytest.fixture
def seeded(bot):  # type: ignore[no-untyped-def]
    """Children in Care, 2026-27 Q1 against the quarter before, with every kind of small count:
    Risk 7 vs 5 (none small), Assessment 3 vs 4 (both small), Voice 6 vs 1 (last quarter small),
    Multi-agency 2 vs 5 (this quarter small)."""
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
        seed_standard_quarter(session)
        for _ in range(5):
            seed_audit(session, quarter=Q4_LAST_YEAR, service_key="cic", good=[MULTI])
    return bot


def post_to_channel(bot, slack, fake) -> None:  # type: ignore[no-untyped-def]
    assert bot.run_job(JOB, at=REVIEW_DAY).status == "done"
    reply = slack.click("U0SM1", "Post to channel", message=draft_dm(fake, "U0SM1"))
    assert "Posted the learning themes for Children in Care" in (reply.text or "")


def expected_chart(bot) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    """The channel chart the suppression rule asks for, from counts taken straight from the audits:
    a theme under the threshold in both quarters is left out; a small count is drawn at zero."""
    now, before = recorded_counts(bot, "cic", Q1), recorded_counts(bot, "cic", Q4_LAST_YEAR)
    assert (now[("improve", RISK)], before[("improve", RISK)]) == (7, 5)
    assert (now[("improve", ASSESS)], before[("improve", ASSESS)]) == (3, 4)
    assert (now[("good", VOICE)], before[("good", VOICE)]) == (6, 1)
    assert (now[("good", MULTI)], before[("good", MULTI)]) == (2, 5)
    rows = []
    for kind, theme in (("improve", RISK), ("good", VOICE), ("good", MULTI)):
        a, b = now.get((kind, theme), 0), before.get((kind, theme), 0)
        hidden = 0 < a < THRESHOLD or 0 < b < THRESHOLD
        name = f"{'To improve' if kind == 'improve' else 'Good practice'}: {theme}{' *' if hidden else ''}"
        rows.append((name, 0 if 0 < a < THRESHOLD else a, 0 if 0 < b < THRESHOLD else b))
    return rows


def chart_row(bot) -> OutboxMessage:  # type: ignore[no-untyped-def]
    with bot.rt.db.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "chart",
                                                           OutboxMessage.channel == CHANNEL)).all()
        assert len(rows) == 1 and rows[0].status == "sent"
        session.expunge(rows[0])
        return rows[0]


def bars_drawn(png: bytes) -> list[tuple[str, int]]:
    """The bars in the PNG itself, top to bottom: (series, length in pixels).

    A bar is a band of rows in a series' colour starting at the value axis; the legend's swatches
    do not start there, so they are not bars. A zero draws nothing.
    """
    image = imread(io.BytesIO(png))[:, :, :3]
    masks = {"this": np.all(np.abs(image - THIS_COLOUR) < 0.02, axis=2),
             "last": np.all(np.abs(image - LAST_COLOUR) < 0.02, axis=2)}
    x0 = min(int(np.argwhere(mask)[:, 1].min()) for mask in masks.values() if mask.any())
    found: list[tuple[int, str, int]] = []
    for series, mask in masks.items():
        rows = [r for r in range(mask.shape[0]) if mask[r, x0:x0 + 3].any()]
        bands: list[list[int]] = []
        for r in rows:
            if bands and r == bands[-1][-1] + 1:
                bands[-1].append(r)
            else:
                bands.append([r])
        for band in bands:
            lengths = []
            for r in band:
                line = mask[r, x0:]
                lengths.append(int(np.argmin(line)) if not line.all() else len(line))
            found.append((band[0], series, max(lengths)))
    return [(series, length) for _, series, length in sorted(found)]


# ---------------------------------------------------------------------------------------------


def test_the_chart_data_sent_to_the_channel_holds_no_count_under_the_threshold(seeded, slack, fake):
    bot = seeded
    post_to_channel(bot, slack, fake)
    spec = chart_row(bot).blocks[0]["chart"]
    series = list(spec["series"].values())
    assert len(series) == 2 and all(len(s) == len(spec["categories"]) for s in series)
    values = [v for s in series for v in s]
    assert all(v == 0 or v >= THRESHOLD for v in values), f"a small count went to {CHANNEL}: {spec}"

    expected = expected_chart(bot)
    assert spec["categories"] == [name for name, _, _ in expected]
    assert series[0] == [a for _, a, _ in expected] and series[1] == [b for _, _, b in expected]
    assert any(name.endswith(" *") for name in spec["categories"])
    assert fake.problems == []


def test_the_png_slack_received_draws_no_bar_for_a_small_count(seeded, slack, fake):
    bot = seeded
    post_to_channel(bot, slack, fake)
    (upload,) = files_in(fake, CHANNEL)
    png = upload["content"]
    assert png[:8] == PNG_MAGIC
    assert f"Counts under {THRESHOLD} are not shown" in (upload.get("initial_comment") or "")

    # what Slack got is the drawing of what the outbox stored, pixel for pixel
    row = chart_row(bot)
    assert np.array_equal(imread(io.BytesIO(outbox.render_chart(row.blocks[0]))), imread(io.BytesIO(png)))

    # and the picture itself: one bar per count drawn, none for a hidden one, lengths in proportion
    wanted = []
    for _, this_quarter, last_quarter in expected_chart(bot):
        wanted += [("this", this_quarter)] if this_quarter else []
        wanted += [("last", last_quarter)] if last_quarter else []
    bars = bars_drawn(png)
    assert [series for series, _ in bars] == [series for series, _ in wanted], (bars, wanted)
    per_unit = [length / value for (_, length), (_, value) in zip(bars, wanted, strict=True)]
    assert max(per_unit) - min(per_unit) <= 0.03 * max(per_unit), (bars, wanted)
    assert all(value >= THRESHOLD for _, value in wanted)
    assert fake.problems == []


def test_the_service_manager_still_sees_the_exact_small_counts_in_private(seeded, slack, fake):
    bot = seeded
    post_to_channel(bot, slack, fake)
    private = shown(slack.command("U0SM1", "/qmf", "themes cic 2026-27Q1"))
    assert f"{ASSESS}*: 3" in private and f"{MULTI}*: 2" in private
    assert "last quarter 1" in private  # Voice's one audit last quarter
    assert "Exact counts, for you only" in private

    (post,) = theme_posts(fake, CHANNEL)
    public = text_of(post)
    assert f"{ASSESS}*: fewer than {THRESHOLD}" in public and f"{MULTI}*: fewer than {THRESHOLD}" in public
    assert f"{ASSESS}*: 3" not in public and f"{MULTI}*: 2" not in public
    assert fake.problems == []
