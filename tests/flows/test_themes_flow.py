"""Learning themes end to end, the way people meet them in Slack: the job drafts, the Service Manager
edits and posts, Q&I are told about drafts left waiting, forums get the learning, and nothing
identifying reaches a channel."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread
from PIL import Image
from sqlalchemy import func, select

from bot.app.sandbox.render import render_blocks
from bot.core.jobs import JobContext
from bot.themes.content import chart_png
from bot.themes.jobs import send_theme_reminders
from bot.themes.types import ChartData
from storage.models import LearningAudit, LearningRound, Person, Service, ThemeTag
from storage.models.themes import ThemeDraft
from tests.conftest import london
from tests.unit.test_themes import ASSESS, MULTI, Q1, RISK, VOICE, seed_standard_quarter, set_policy

JOB = "post-learning-themes"
REVIEW_DAY = london(2026, 6, 17, 9, 30)  # audits due Fri 12 June + 3 working days
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def seeded(bot):  # type: ignore[no-untyped-def]
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
        seed_standard_quarter(session)
    return bot


def text_of(message: dict[str, Any]) -> str:
    return render_blocks(message.get("blocks"), message.get("text"))


def theme_posts(fake, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages(channel) if "Learning themes:" in (m.get("text") or "")]


def files_in(fake, channel: str) -> list[dict[str, Any]]:
    return [f for f in fake.files if f["channel_id"] == channel]


def recorded_counts(bot, service_key: str, quarter: str) -> dict[tuple[str, str], int]:
    """What the audits recorded say, counted here independently of the code under test."""
    with bot.rt.db.session() as session:
        rows = session.execute(
            select(ThemeTag.kind, ThemeTag.theme, ThemeTag.audit_id)
            .join(LearningAudit, LearningAudit.id == ThemeTag.audit_id)
            .join(Service, Service.id == LearningAudit.service_id)
            .where(Service.key == service_key, LearningAudit.quarter == quarter, LearningAudit.status == "recorded")
        ).all()
    audits: dict[tuple[str, str], set[int]] = {}
    for kind, theme, audit_id in rows:
        audits.setdefault((kind, theme), set()).add(audit_id)
    return {key: len(ids) for key, ids in audits.items()}


def run_reminders(bot, at: datetime) -> str:
    """What the daily send-reminders job does for themes, at a given moment."""
    bot.set_time(at)
    session = bot.rt.db.sessions()
    try:
        ctx = JobContext(rt=bot.rt, session=session, now=at, calendar=bot.rt.calendar(session),
                         policy=bot.rt.policy(session))
        summary = send_theme_reminders(ctx)
        session.commit()
    finally:
        session.close()
    for hook in bot.rt.db.after_commit:
        hook()
    bot.rt.wait_idle()
    return summary


def shown(reply) -> str:  # type: ignore[no-untyped-def]
    """Everything the person read in answer to a command (every ephemeral, blocks rendered)."""
    return "\n".join(render_blocks(p.get("blocks"), p.get("text")) for p in reply.responses)


def draft_dm(fake, user: str) -> dict[str, Any]:
    found = [m for m in fake.dms(user) if "Learning themes to review" in (m.get("text") or "")]
    assert found, f"{user} got no draft: {[m.get('text') for m in fake.dms(user)]}"
    return found[0]


# ---------------------------------------------------------------------------------------------


def test_quarter_end_gives_one_channel_post_whose_counts_match_the_audits(seeded, slack, fake):
    bot = seeded
    assert bot.run_job(JOB, at=london(2026, 6, 16, 9, 30)).status == "not-due"
    outcome = bot.run_job(JOB, at=REVIEW_DAY)
    assert outcome.status == "done", outcome.line()
    assert bot.run_job(JOB, at=REVIEW_DAY).status in ("not-due", "already-done")
    assert bot.run_job(JOB, at=london(2026, 6, 18, 9, 30)).status == "not-due"

    dm = draft_dm(fake, "U0SM1")
    assert len([m for m in fake.dms("U0SM1") if "Learning themes to review" in (m.get("text") or "")]) == 1
    assert "Post to channel" in str(dm["blocks"]) and "Share with a forum" in str(dm["blocks"])
    assert draft_dm(fake, "U0SM2")  # Child Protection recorded audits too
    assert not [m for m in fake.dms("U0SM3") if "Learning themes" in (m.get("text") or "")]
    assert theme_posts(fake, "C0CIC") == []  # nothing posted before the review

    slack.click("U0SM1", "Edit", message=dm)
    view = fake.latest_view("U0SM1")
    assert view is not None and view["title"]["text"] == "Learning themes draft"
    reply = slack.submit("U0SM1", {
        "Key messages": "Plan safety with partners early.\nKeep capturing the child's voice in direct work.",
        "Leave out: areas to improve": [f"Improve: {ASSESS}"],
    })
    assert reply.errors == {}
    assert fake.latest_view("U0SM1") is None

    first = slack.click("U0SM1", "Post to channel", message=dm)
    assert "Posted the learning themes for Children in Care" in (first.text or "")
    second = slack.click("U0SM1", "Post to channel", message=dm)
    assert "already posted" in (second.text or "")
    assert bot.run_job(JOB, at=london(2026, 6, 19, 9, 30)).status == "not-due"

    posts = theme_posts(fake, "C0CIC")
    assert len(posts) == 1
    assert len(files_in(fake, "C0CIC")) == 1
    text = text_of(posts[0])
    counts = recorded_counts(bot, "cic", Q1)
    assert counts[("improve", RISK)] == 7 and f"{RISK}*: 7 ▲" in text
    assert counts[("good", VOICE)] == 6 and f"{VOICE}*: 6 ▲" in text
    assert counts[("good", MULTI)] == 2 and f"{MULTI}*: fewer than 5" in text
    assert f"*{ASSESS}*" not in text  # the Service Manager left it out
    assert "Plan safety with partners early." in text
    assert "Good practice to share" in text and "What would have improved the cases" in text
    assert "Direct work that captured the child's wishes, example a" in text
    with bot.rt.db.session() as session:
        draft = session.scalar(select(ThemeDraft).join(Service).where(Service.key == "cic"))
        assert draft is not None and draft.status == "posted" and draft.posted_by == "U0SM1"
    assert fake.problems == []


def test_nothing_identifying_or_suppressed_reaches_any_channel(seeded, slack, fake):
    bot = seeded
    bot.run_job(JOB, at=REVIEW_DAY)
    slack.click("U0SM1", "Post to channel", message=draft_dm(fake, "U0SM1"))
    slack.click("U0SM1", "Leadership Meeting", message=draft_dm(fake, "U0SM1"))
    slack.command("U0QI1", "/qmf", 'share themes all 2026-27Q1 "Continuous Improvement Board"')
    run_reminders(bot, london(2026, 6, 24, 9, 0))  # Child Protection's draft is escalated to Q&I
    slack.click("U0QI2", "Post to channel")

    with bot.rt.db.session() as session:
        refs = set(session.scalars(select(LearningAudit.case_ref)))
        people = set(session.scalars(select(Person.slack_id)))
    assert refs and len(theme_posts(fake, "C0CP")) == 1 and theme_posts(fake, "C0LEAD")
    assert theme_posts(fake, "C0CIB")

    suppressed = {
        "C0CIC": [(t, n) for (_, t), n in recorded_counts(bot, "cic", Q1).items() if 0 < n < 5],
        "C0CP": [(t, n) for (_, t), n in recorded_counts(bot, "cp", Q1).items() if 0 < n < 5],
    }
    assert suppressed["C0CIC"] and suppressed["C0CP"]
    channel_texts: list[tuple[str, str]] = []
    for message in fake.messages():
        if not message["channel"].startswith("D"):
            channel_texts.append((message["channel"], text_of(message) + " " + (message.get("text") or "")))
    for upload in fake.files:
        channel_texts.append((upload["channel_id"], f"{upload['title']} {upload['filename']} "
                                                    f"{upload.get('initial_comment') or ''}"))
    assert len(channel_texts) >= 6
    for channel, text in channel_texts:
        for ref in refs:
            assert ref not in text, f"case reference {ref} reached {channel}"
        for person in people:
            assert not re.search(rf"\b{person}\b", text), f"person {person} reached {channel}"
        assert not re.search(r"\bU0[A-Z0-9]+\b", text)
        for theme, n in suppressed.get(channel, []):
            assert not re.search(rf"{re.escape(theme)}\W+{n}\b", text), f"{theme}: {n} reached {channel}"
        bare = re.sub(r"[Pp]art \d+ of \d+", "", text)
        small = re.findall(r"(?<![\w.\-])[1-4](?![\w.])", bare)
        assert small == [], f"a count under 5 reached {channel}: {text}"
    for message in [*fake.messages(), *fake.ephemerals()]:  # DMs and replies: no case references either
        for ref in refs:
            assert ref not in text_of(message)
    assert fake.problems == []


def test_the_chart_is_a_real_png_of_the_services_theme_counts(seeded, slack, fake):
    bot = seeded
    bot.run_job(JOB, at=REVIEW_DAY)
    slack.click("U0SM1", "Post to channel", message=draft_dm(fake, "U0SM1"))
    (upload,) = files_in(fake, "C0CIC")
    content = upload["content"]
    assert content[:8] == PNG_MAGIC
    image = Image.open(io.BytesIO(content))
    image.verify()
    decoded = imread(io.BytesIO(content))
    assert decoded.ndim == 3 and decoded.shape[0] > 100 and decoded.shape[1] > 100
    assert "not shown" in (upload.get("initial_comment") or "")

    counts = recorded_counts(bot, "cic", Q1)
    before = recorded_counts(bot, "cic", "2025-26Q4")
    # Risk: 7 now, 5 before; Voice (good practice): 6 now, 1 before (hidden, drawn at zero);
    # Assessment (3 vs 4) and Multi-agency (2 vs 0) are under 5 in both quarters: left out.
    assert (counts[("improve", RISK)], before[("improve", RISK)]) == (7, 5)
    assert (counts[("good", VOICE)], before[("good", VOICE)]) == (6, 1)
    expected = ChartData(
        categories=[f"To improve: {RISK}", f"Good practice: {VOICE} *"],
        this_quarter=[counts[("improve", RISK)], counts[("good", VOICE)]],
        last_quarter=[before[("improve", RISK)], 0],
        this_label="2026-27 Q1", last_label="2025-26 Q4",
        title="Children in Care: learning themes, 2026-27 Q1 vs 2025-26 Q4", caption="",
    )
    regenerated = imread(io.BytesIO(chart_png(expected)))
    assert regenerated.shape == decoded.shape
    assert np.array_equal(regenerated, decoded)
    assert fake.problems == []


def test_qi_are_told_about_a_draft_left_waiting_and_can_post_it(seeded, slack, fake):
    bot = seeded
    bot.run_job(JOB, at=REVIEW_DAY)
    assert "no drafts waiting" in run_reminders(bot, london(2026, 6, 23, 9, 0))
    assert not [m for m in fake.dms("U0QI1") if "waiting" in (m.get("text") or "")]
    summary = run_reminders(bot, london(2026, 6, 24, 9, 0))  # 5 working days after the draft
    assert "told Q&I about 2 draft(s)" in summary
    waiting = [m for m in fake.dms("U0QI1") if "Learning themes waiting" in (m.get("text") or "")]
    assert len(waiting) == 2
    assert "<@U0SM1> has not posted it" in text_of(waiting[0]) + text_of(waiting[1])
    assert "no drafts waiting" in run_reminders(bot, london(2026, 6, 25, 9, 0))
    assert len([m for m in fake.dms("U0QI1") if "Learning themes waiting" in (m.get("text") or "")]) == 2

    cic = next(m for m in waiting if "Children in Care" in m["text"])
    reply = slack.click("U0QI1", "Post to channel", message=cic)
    assert "Posted" in (reply.text or "")
    slack.click("U0QI3", "Post to channel",
                message=next(m for m in fake.dms("U0QI3") if "Children in Care" in (m.get("text") or "")))
    assert len(theme_posts(fake, "C0CIC")) == 1
    assert any("posted to <#C0CIC> by <@U0QI1>" in (m.get("text") or "") for m in fake.dms("U0SM1"))
    assert fake.problems == []


def test_a_service_manager_who_is_away_is_covered_by_qi_at_once(seeded, slack, fake):
    bot = seeded
    with bot.rt.db.session() as session:
        session.scalar(select(Person).where(Person.slack_id == "U0SM2")).away_until = date(2026, 7, 1)
    bot.run_job(JOB, at=REVIEW_DAY)
    assert not [m for m in fake.dms("U0SM2") if "Learning themes" in (m.get("text") or "")]
    assert "told Q&I about 1 draft(s)" in run_reminders(bot, london(2026, 6, 18, 9, 0))
    waiting = [m for m in fake.dms("U0QI1") if "Learning themes waiting" in (m.get("text") or "")]
    assert len(waiting) == 1 and "<@U0SM2> is away" in text_of(waiting[0])


def test_without_review_the_job_posts_straight_away_once(seeded, slack, fake):
    bot = seeded
    with bot.rt.db.session() as session:
        set_policy(session, themes_post_without_review=True)
    assert bot.run_job(JOB, at=REVIEW_DAY).status == "done"
    bot.run_job(JOB, at=london(2026, 6, 18, 9, 30))
    assert len(theme_posts(fake, "C0CIC")) == 1 and len(theme_posts(fake, "C0CP")) == 1
    assert len(files_in(fake, "C0CIC")) == 1
    assert not [m for m in fake.dms("U0SM1") if "to review" in (m.get("text") or "")]
    assert any("posted to <#C0CIC> automatically" in (m.get("text") or "") for m in fake.dms("U0SM1"))
    assert fake.problems == []


def test_someone_else_pressing_post_with_a_copied_payload_is_refused(seeded, slack, fake):
    bot = seeded
    bot.run_job(JOB, at=REVIEW_DAY)
    dm = draft_dm(fake, "U0SM1")
    for person in ("U0SM2", "U0P1", "U0TM1"):
        reply = slack.click(person, "Post to channel", message=dm)
        assert "Only Children in Care's Service Manager" in (reply.text or "")
        reply = slack.click(person, "Edit", message=dm)
        assert "Only Children in Care's Service Manager" in (reply.text or "")
    assert theme_posts(fake, "C0CIC") == []
    assert fake.latest_view("U0SM2") is None
    assert fake.problems == []


def test_key_messages_with_a_postcode_come_back_as_an_inline_error_and_nothing_is_saved(seeded, slack, fake):
    bot = seeded
    bot.run_job(JOB, at=REVIEW_DAY)
    slack.click("U0SM1", "Edit", message=draft_dm(fake, "U0SM1"))
    reply = slack.submit("U0SM1", {"Key messages": "The family near SW1A 1AA needed help sooner"})
    assert "postcode" in reply.errors.get("themes-key-messages", "")
    with bot.rt.db.session() as session:
        assert session.scalar(select(ThemeDraft.key_messages).join(Service).where(Service.key == "cic")) is None
    reply = slack.submit("U0SM1", {"Key messages": "Remember CIC-10001 when planning"})
    assert "case reference" in reply.errors.get("themes-key-messages", "")
    assert fake.problems == []


def test_qmf_themes_shows_exact_counts_to_the_people_allowed_and_refuses_others(seeded, slack, fake):
    text = shown(slack.command("U0SM1", "/qmf", "themes"))
    assert f"{ASSESS}*: 3 ▼" in text and f"{RISK}*: 7 ▲" in text
    assert "CIC-" not in text
    assert f"{RISK}*: 7" in shown(slack.command("U0TM1", "/qmf", "themes cic 2026-27Q1"))
    everyone = shown(slack.command("U0QI1", "/qmf", "themes all"))
    assert f"{RISK}*: 9" in everyone and "Children in Care: 8" in everyone
    assert f"{RISK}*: 2" in shown(slack.command("U0DLT1", "/qmf", "themes cp"))
    for person, words in (("U0P1", "themes"), ("U0SM2", "themes cic"), ("U0TM3", "themes all")):
        text = shown(slack.command(person, "/qmf", words))
        assert "Sorry" in text or "are for" in text, text
        assert RISK not in text
    assert "don't know the service" in slack.command("U0SM1", "/qmf", "themes nowhere").text
    assert fake.problems == []


def test_sharing_with_a_forum_posts_once_and_only_for_those_allowed(seeded, slack, fake):
    bot = seeded
    first = slack.command("U0SM1", "/qmf", 'share themes cic 2026-27Q1 "Leadership Meeting"')
    assert "Shared the learning themes of Children in Care" in first.text
    again = slack.command("U0SM1", "/qmf", "share themes cic 2026-27Q1 Leadership Meeting")
    assert "already shared" in again.text
    refused = slack.command("U0SM2", "/qmf", 'share themes cic 2026-27Q1 "Leadership Meeting"')
    assert "Only Children in Care's Service Manager" in refused.text
    assert "don't know the forum" in slack.command("U0SM1", "/qmf", "share themes cic 2026-27Q1 Pub").text
    assert "Use `/qmf share themes" in slack.command("U0SM1", "/qmf", "share themes").text
    posts = theme_posts(fake, "C0LEAD")
    assert len(posts) == 1 and "Shared for the Leadership Meeting" in text_of(posts[0])
    assert len(files_in(fake, "C0LEAD")) == 1

    bot.run_job(JOB, at=REVIEW_DAY)
    reply = slack.click("U0SM1", "Strategy Day", message=draft_dm(fake, "U0SM1"))
    assert "Shared the learning themes for Children in Care with the Strategy Day" in (reply.text or "")
    assert len(theme_posts(fake, "C0STRAT")) == 1
    with bot.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ThemeDraft)) == 2
    assert fake.problems == []


def test_the_draft_is_on_the_service_managers_home_until_posted(seeded, slack, fake):
    bot = seeded
    bot.run_job(JOB, at=REVIEW_DAY)
    slack.open_home("U0SM1")
    assert "Review learning themes" in str(fake.home("U0SM1"))
    slack.click("U0SM1", "Review learning themes", home=True)
    view = fake.latest_view("U0SM1")
    assert view is not None and view["title"]["text"] == "Learning themes draft"
    assert fake.problems == []


def test_themes_too_long_for_five_replies_say_what_is_left_out_and_where_to_get_it(seeded, slack, fake, monkeypatch):
    """Slack takes 5 replies on one command's response_url: a collation needing more says so in the
    fifth and names the report that has all of it (here the messages are made small to force it)."""
    import bot.themes.messages as theme_blocks

    monkeypatch.setattr(theme_blocks, "MESSAGE_BLOCKS", 6)
    reply = slack.command("U0QI1", "/qmf", "themes all 2026-27Q1")
    assert len(reply.responses) == 5
    last = reply.responses[-1]["text"]
    assert re.search(r"\d+ more part\(s\) of these themes do not fit", last), last
    assert "`/qmf report themes all 2026-27Q1` sends you the whole collation" in last
    # and doing what it says sends the file (no command line needed)
    slack.command("U0QI1", "/qmf", "report themes all 2026-27Q1")
    assert [f["filename"] for f in fake.files if f["channel_id"] == "DU0QI1"] == ["learning-themes-2026-27Q1-all.xlsx"]
    assert fake.problems == []
