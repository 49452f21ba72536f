"""Pictures and dates where people look (issue 17 items 2 and 3), end to end through the fake Slack:
every chart uploaded carries alt text that says what it shows; Q&I's App Home shows the quarter's
progress as a picture uploaded once by the outbox; the Board's digest carries the four-quarter trend
of agreed grades; a due date in a DM is a Slack date token each reader's Slack writes their own way."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.app.sandbox.render import render_blocks
from bot.core.formatting import epoch_of
from bot.core.grades import Grade
from bot.core.policy import Policy
from storage.models import OutboxMessage, Person
from storage.models.sampling import SampledCase, SampleModeration
from tests.conftest import london
from tests.flows.test_actions_flow import about, add_audit_action
from tests.flows.test_sampling_flow import draw_now, import_cases
from tests.flows.test_themes_chart_flow import CHANNEL, post_to_channel, seeded  # noqa: F401 - the fixture
from tests.flows.test_themes_flow import files_in

QI = "U0QI1"
THRESHOLD = Policy().suppression_threshold


def test_the_themes_chart_reaches_the_channel_with_alt_text_saying_what_it_shows(seeded, slack, fake):  # noqa: F811
    post_to_channel(seeded, slack, fake)
    (upload,) = files_in(fake, CHANNEL)
    words = upload["alt_txt"] or ""
    assert words.startswith("Bar chart of learning themes in Children in Care, 2026-27 Q1 against 2025-26 Q4")
    # Risk 7 vs 5 said in full; Multi-agency 2 this quarter withheld, in the words as in the bars
    assert ("2026-27 Q1: To improve: Risk and safety 7, Good practice: Voice and lived experience of the child 6, "
            f"Good practice: Multi-agency working fewer than {THRESHOLD}; 2025-26 Q4: To improve: Risk and safety 5, "
            f"Good practice: Voice and lived experience of the child fewer than {THRESHOLD}, Good practice: "
            "Multi-agency working 5.") in words
    assert not any(f" {n}," in words or f" {n};" in words for n in range(1, THRESHOLD))
    assert fake.problems == []


def test_an_image_upload_without_alt_text_is_a_problem(fake):
    from slack_sdk import WebClient

    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    client.files_upload_v2(channel="C0QI", file=b"\x89PNG....", filename="chart.png", title="A chart")
    assert any("without alt text" in p for p in fake.problems)
    fake.problems.clear()
    client.files_upload_v2(channel="C0QI", file=b"a,b\n", filename="report.csv", title="A report")
    assert fake.problems == []


def home_image(fake: Any, user: str) -> dict[str, Any] | None:
    view = fake.home(user)
    assert view is not None
    return next((b for b in view["blocks"] if b.get("type") == "image"), None)


def test_qi_home_shows_the_quarter_s_progress_as_a_picture_uploaded_once(bot, slack, fake):
    slack.open_home(QI)
    bot.rt.wait_idle()
    # the picture is drawn and uploaded by the outbox, privately (no channel, no message)
    [upload] = [f for f in fake.files if f["filename"].startswith("progress-")]
    assert upload["channel_id"] is None and upload["content"][:4] == b"\x89PNG"
    assert upload["alt_txt"].startswith("Bar chart of the quarter's progress, 2026-27 Q1")
    assert "Learning-audit proposals 0" in upload["alt_txt"]

    slack.open_home(QI)  # Home now shows it, by its Slack file id, with the same words
    image = home_image(fake, QI)
    assert image is not None
    assert image["slack_file"] == {"id": upload["file_id"]} and image["alt_text"] == upload["alt_txt"]
    slack.open_home("U0QI2")  # another Q&I lead: the same figures, the same picture, no second upload
    assert home_image(fake, "U0QI2") == image
    assert len([f for f in fake.files if f["filename"].startswith("progress-")]) == 1
    slack.open_home("U0SM1")
    assert home_image(fake, "U0SM1") is None  # a Service Manager has no progress view
    assert fake.problems == []


def test_home_s_picture_must_be_a_file_slack_holds(fake):
    from slack_sdk import WebClient

    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    view = {"type": "home", "blocks": [{"type": "image", "alt_text": "x", "slack_file": {"id": "F0NOSUCH"}}]}
    with pytest.raises(SlackApiError, match="invalid_arguments"):  # Slack refuses it
        client.views_publish(user_id=QI, view=view)
    assert any("not a file uploaded" in p for p in fake.problems)


def moderate_directly(bot: Any, grades: list[Grade]) -> None:
    """The first cases of this quarter's draw moderated at these grades (the moderation flow itself
    is tested in test_sampling_flow; here only its outcome counts)."""
    with bot.rt.db.session() as session:
        qi = session.scalars(select(Person).where(Person.slack_id == QI)).one()
        cases = session.scalars(select(SampledCase).order_by(SampledCase.id)).all()
        assert len(cases) >= len(grades)
        for case, grade in zip(cases, grades, strict=False):
            session.add(SampleModeration(case_id=case.id, agreed_grade=int(grade), reason="Agreed.",
                                         moderated_by_id=qi.id))


def test_the_board_s_digest_carries_the_four_quarter_trend_of_agreed_grades(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    moderate_directly(bot, [Grade.GOOD] * 5 + [Grade.INADEQUATE])
    assert bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30)).status == "done"
    [chart] = [f for f in files_in(fake, "C0CIB") if f["filename"].endswith(".png")]
    assert chart["filename"] == "random-sample-grades-2025-26Q3-2026-27Q2.png"
    words = chart["alt_txt"]
    assert words.startswith("Bar chart of agreed random-sample grades by quarter, 2025-26 Q3 to 2026-27 Q2")
    assert "Good: 2025-26 Q3 0, 2025-26 Q4 0, 2026-27 Q1 5, 2026-27 Q2 0" in words
    assert f"Inadequate: 2025-26 Q3 0, 2025-26 Q4 0, 2026-27 Q1 fewer than {THRESHOLD}" in words
    assert "Counts under" in (chart["initial_comment"] or "")
    with bot.rt.db.session() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.file_name == chart["filename"])).one()
        assert row.blocks[0]["chart"]["series"]["Inadequate"] == [0, 0, 0, 0]  # drawn at zero
    # the job again: nothing twice
    bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30))
    assert len([f for f in files_in(fake, "C0CIB") if f["filename"].endswith(".png")]) == 1
    assert fake.problems == []


def test_a_due_date_in_a_dm_is_a_slack_date_token(bot, slack, fake):
    due = date(2026, 4, 10)
    action_id = add_audit_action(bot, due=due)
    [dm] = about(fake, "U0P1", action_id)
    token = f"<!date^{epoch_of(due)}^{{date_short_pretty}}|Fri 10 Apr 2026>"
    assert f"due {token}" in dm["text"]
    assert any(token in (b.get("text") or {}).get("text", "") for b in dm["blocks"])
    assert "*Due:* Fri 10 Apr 2026" in render_blocks(dm["blocks"])  # the transcript reads the fallback
    assert fake.problems == []


def test_the_sample_report_carries_the_trend_and_its_own_chart_with_alt_text(bot, slack, fake):
    from bot.core.council import policy_of
    from bot.sampling.results import maybe_post_report
    from bot.sampling.service import latest_draw

    import_cases(bot)
    draw_now(bot)
    with bot.rt.db.session() as session:
        count = len(session.scalars(select(SampledCase)).all())
    moderate_directly(bot, [Grade.GOOD] * count)
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None
        assert maybe_post_report(session, row, policy=policy_of(session), now=london(2026, 6, 1, 9, 0))
    bot.rt.wait_idle()
    charts = {f["filename"]: f for f in files_in(fake, "C0QI") if f["filename"].endswith(".png")}
    assert set(charts) == {"random-sample-2026-27Q1-grades.png", "random-sample-grades-2025-26Q2-2026-27Q1.png"}
    trend = charts["random-sample-grades-2025-26Q2-2026-27Q1.png"]["alt_txt"]
    assert f"Good: 2025-26 Q2 0, 2025-26 Q3 0, 2025-26 Q4 0, 2026-27 Q1 {count}" in trend
    own = charts["random-sample-2026-27Q1-grades.png"]["alt_txt"]
    # (the report counts cases with both blind grades in; these were moderated directly, so none)
    assert own.startswith("Bar chart of agreed grades in the random sample of Children in Care, 2026-27 Q1")
    assert all(g.label in own for g in Grade)
    assert fake.problems == []
