"""Posts that teach (#15 item 5), end to end through Slack: a service with two audits a quarter gets
its themes ranked (most raised first) instead of a column of "fewer than 5", the last four quarters
with counts and a chart once they allow, and the trend key only where an arrow is drawn. The Board's
digest never prints a withheld count beside the parts that give it away."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.policy import Policy
from storage.models import Action, LearningAudit, LearningRound, OutboxMessage, Person
from tests.flows.test_themes_flow import JOB, REVIEW_DAY, draft_dm, files_in, shown, text_of, theme_posts
from tests.unit.test_themes import ASSESS, MULTI, Q1, RISK, VOICE, seed_audit, seed_standard_quarter

CHANNEL = "C0CIC"
THRESHOLD = Policy().suppression_threshold
EARLIER = ("2025-26Q2", "2025-26Q3", "2025-26Q4")
TIMELY = "Timeliness, drift and delay"


def seed_two_a_quarter(session: Any, *, earlier: bool) -> None:
    """Children in Care as a small council has it: two audits a quarter. This quarter: Timeliness
    raised by both, Multi-agency by one (to improve); Voice by one (good practice). Each of the three
    quarters before (when ``earlier``): Timeliness and Voice raised by both audits, so over the last
    four quarters Timeliness is raised 8 times, Voice 7, Multi-agency once."""
    session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
    seed_audit(session, quarter=Q1, service_key="cic", improve=[TIMELY, MULTI], good=[VOICE],
               needed="A plan naming who does what by when.")
    seed_audit(session, quarter=Q1, service_key="cic", improve=[TIMELY], good=[],
               good_practice="Direct work recorded in the child's own words.")
    if earlier:
        for quarter in EARLIER:
            for _ in range(2):
                seed_audit(session, quarter=quarter, service_key="cic", improve=[TIMELY], good=[VOICE])


def post(bot, slack, fake) -> str:  # type: ignore[no-untyped-def]
    assert bot.run_job(JOB, at=REVIEW_DAY).status == "done"
    reply = slack.click("U0SM1", "Post to channel", message=draft_dm(fake, "U0SM1"))
    assert "Posted the learning themes for Children in Care" in (reply.text or "")
    posts = theme_posts(fake, CHANNEL)
    assert posts, "nothing was posted"
    return "\n".join(text_of(p) for p in posts)


def section_of(text: str, title: str) -> str:
    """One section of a rendered post: from its title to the next divider."""
    start = text.index(title)
    end = text.find("----", start)
    return text[start:end if end >= 0 else None]


def chart_spec(bot) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    with bot.rt.db.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "chart",
                                                           OutboxMessage.channel == CHANNEL)).all()
        assert len(rows) <= 1
        return rows[0].blocks[0]["chart"] if rows else None


@pytest.fixture
def small_service(bot):  # type: ignore[no-untyped-def]
    with bot.rt.db.session() as session:
        seed_two_a_quarter(session, earlier=True)
    return bot


def test_a_small_quarter_ranks_its_themes_and_adds_the_last_four_quarters_with_counts_and_a_chart(
        small_service, slack, fake):
    bot = small_service
    text = post(bot, slack, fake)

    improve = section_of(text, "Areas to improve: most raised first")
    assert improve.index(f"1. *{TIMELY}*") < improve.index(f"2. *{MULTI}*")
    good = section_of(text, "Good practice: most raised first")
    assert f"1. *{VOICE}*" in good
    assert "fewer than" not in improve + good, "a column of 'fewer than 5' says nothing"
    assert "how often each theme was raised*\n• *" not in text

    rolling = section_of(text, "The last four quarters")
    assert "2025-26 Q2 to 2026-27 Q1, from 8 learning audits" in rolling
    assert f"To improve: *{TIMELY}*: 8" in rolling and f"Good practice: *{VOICE}*: 7" in rolling
    assert f"also raised (fewer than {THRESHOLD} times each): {MULTI}" in rolling
    assert not re.search(rf"\b[1-{THRESHOLD - 1}]\b(?! of)", re.sub(r"\d+\. \*", "", rolling + improve + good))

    # no arrow anywhere (both quarters are too small to compare), so no key to arrows either
    assert not re.search("[▲▼＝]", text)

    # the chart is the last four quarters', one bar per theme that may be counted
    spec = chart_spec(bot)
    assert spec is not None
    assert spec["categories"] == [f"To improve: {TIMELY}", f"Good practice: {VOICE}"]
    assert list(spec["series"].values()) == [[8, 7]]
    (upload,) = files_in(fake, CHANNEL)
    assert "over the last four quarters" in (upload.get("initial_comment") or "")
    assert "A chart of the theme counts over the last four quarters follows." in text

    # the Service Manager's own view still has the exact small counts
    private = shown(slack.command("U0SM1", "/qmf", "themes cic 2026-27Q1"))
    assert f"{TIMELY}*: 2" in private and f"{MULTI}*: 1" in private
    assert fake.problems == []


def test_a_small_quarter_without_a_countable_year_is_ranked_with_no_chart(bot, slack, fake):
    with bot.rt.db.session() as session:
        seed_two_a_quarter(session, earlier=False)
        audit = session.scalars(select(LearningAudit).where(LearningAudit.quarter == Q1)).first()
        owner = session.scalar(select(Person.id).where(Person.slack_id == "U0P1"))
        for status, due in (("open", date(2026, 7, 30)), ("done", date(2026, 6, 1))):
            session.add(Action(source_kind="learning_audit", source_id=audit.id, service_id=audit.service_id,
                               quarter=Q1, owner_id=owner, description="Update the chronology", due_on=due,
                               status=status))
    text = post(bot, slack, fake)
    improve = section_of(text, "Areas to improve: most raised first")
    assert f"1. *{TIMELY}*" in improve and f"2. *{MULTI}*" in improve
    assert "The last four quarters" not in text
    # the action states in words, not a row of "fewer than 5"
    assert "Too few to count: some open and some done; none overdue." in text
    assert "Open: fewer than" not in text
    assert chart_spec(bot) is None and files_in(fake, CHANNEL) == []
    assert not re.search("[▲▼＝]", text)
    assert fake.problems == []


def test_a_quarter_with_counts_keeps_them_and_its_trend_key(bot, slack, fake):
    with bot.rt.db.session() as session:
        session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
        seed_standard_quarter(session)
    text = post(bot, slack, fake)
    assert f"• *{RISK}*: 7 ▲ (last quarter 5" in text
    assert f"• *{ASSESS}*: fewer than {THRESHOLD}" in text  # mixed with a shown count: still counted
    assert "▲ ▼ ＝ compare with 2025-26 Q4" in text
    assert "most raised first" not in text and "The last four quarters" not in text
    spec = chart_spec(bot)
    assert spec is not None and len(spec["series"]) == 2  # this quarter against last
    assert fake.problems == []


def test_the_boards_digest_lists_a_plans_actions_without_a_withheld_count_beside_them(bot, fake):
    from bot.visits import service as visits
    from storage.models import CibMeeting
    from tests.conftest import london
    from tests.unit.test_commissions import CALENDAR, NOW, POLICY, TODAY, visit_input

    with bot.rt.db.session() as session:
        visit, _ = visits.commission_visit(session, actor="U0DLT1", data=visit_input(), today=TODAY,
                                           calendar=CALENDAR, policy=POLICY)
        day = date(2026, 5, 12)
        visits.add_visit_action(session, actor="U0SEN1", visit_id=visit.id, owner="U0SM1",
                                description="A stability meeting after every second move.",
                                due_on=date(2026, 6, 30), today=day, policy=POLICY)
        visits.record_visit(session, actor="U0SEN1", visit_id=visit.id, feedback="Good practice seen.",
                            plan_summary=None, today=day, now=NOW, policy=POLICY)
        assert session.scalar(select(CibMeeting).where(CibMeeting.meets_on == date(2026, 7, 15))) is not None
    assert bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30)).status == "done"
    [digest] = [m for m in fake.messages("C0CIB") if "digest" in (m.get("text") or "").lower()]
    text = text_of(digest)
    assert "A stability meeting after every second move." in text
    assert "*Actions in the plan:*" in text
    assert not re.search(r"Actions[^\n]*fewer than", text), "a withheld count beside the list it counts"
    assert "<@" not in text
    assert fake.problems == []
