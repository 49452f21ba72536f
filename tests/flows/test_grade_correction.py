"""Q&I correct a moderated grade with a reason (issue 16 item 4): the button on the moderation's
confirmation, the modal's inline errors, the people told, the audit log, the report's "corrected
from", and the blind grades untouched. Only Q&I and admins, checked on the server."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.core.errors import NotPermitted
from bot.core.grades import Grade
from bot.sampling.corrections import correct_grade
from bot.sampling.service import slack_id_of
from storage.models import Action, AuditLogEntry
from storage.models.sampling import SampledCase, SampleFlag, SampleGradeCorrection
from tests.conftest import london
from tests.flows.test_sampling_flow import (
    all_dm_text,
    buttons,
    draw_now,
    import_cases,
    message_text,
    moderate,
    pair_cases,
    submit_audit,
)

QI = "U0QI1"
REASON = "The plan's oversight gap was wider than the pair weighed; the Q&I lead reviewed the supervision notes."


def moderated_case(bot: Any, slack: Any, fake: Any, qi_grade: Grade, pc_grade: Grade,
                   agreed: Grade) -> tuple[int, str, str, str, str]:
    """A case of U0QI1's moderated by the PC, its findings sent the next morning: (id, ref, pc, holder, tm)."""
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), _ = pair_cases(bot, QI)
    assert submit_audit(slack, fake, pc, case_id, pc_grade).errors == {}
    assert submit_audit(slack, fake, QI, case_id, qi_grade, feedback=None).errors == {}
    assert moderate(slack, fake, pc, case_id, agreed).errors == {}
    bot.run_job("send-reminders", at=london(2026, 4, 2, 9, 30))  # the morning's findings DM
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        holder, tm = slack_id_of(session, case.case_holder_id) or "", case.team_manager.slack_id
    return case_id, ref, pc, holder, tm


def open_correction(slack: Any, fake: Any, case_id: int, user: str = QI) -> Any:
    dm = next(m for m in reversed(fake.dms(user)) if ("Correct agreed grade", str(case_id)) in buttons(m))
    return slack.click(user, "Correct agreed grade", message=dm, value=str(case_id))


def forged_button(user: str, case_id: int) -> dict[str, Any]:
    return {"channel": f"D{user}", "ts": "1.000001", "blocks": [{"type": "actions", "block_id": "x", "elements": [
        {"type": "button", "action_id": "sample-correct-grade", "value": str(case_id),
         "text": {"type": "plain_text", "text": "Correct agreed grade"}}]}]}


def test_qi_correct_an_agreed_grade_with_a_reason_and_everyone_concerned_is_told(bot, slack, fake, tmp_path,
                                                                                  monkeypatch):
    case_id, ref, pc, holder, tm = moderated_case(bot, slack, fake, Grade.GOOD, Grade.GOOD, Grade.GOOD)
    assert ref in all_dm_text(fake, tm) and "Random sample findings" in all_dm_text(fake, tm)

    open_correction(slack, fake, case_id)
    view = fake.latest_view(QI)
    assert view is not None and view["title"]["text"] == "Correct agreed grade" and ref in message_text(view)

    same = slack.submit(QI, {"Corrected grade": Grade.GOOD.label, "Reason for the correction": REASON})
    assert same.errors == {"sample-corrected-grade": "That is the agreed grade already."}
    identifying = slack.submit(QI, {"Corrected grade": Grade.REQUIRES_IMPROVEMENT.label,
                                    "Reason for the correction": "Mum said call her on 07700 900123"})
    assert "phone number" in identifying.errors.get("sample-correction-reason", "")
    with bot.rt.db.session() as session:
        assert session.scalar(select(SampleGradeCorrection)) is None

    saved = slack.submit(QI, {"Corrected grade": Grade.REQUIRES_IMPROVEMENT.label, "Reason for the correction": REASON})
    assert saved.errors == {}
    assert "corrected from Good" in message_text(fake.latest_view(QI))
    slack.close_modal(QI)

    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert Grade(case.moderation.agreed_grade) is Grade.REQUIRES_IMPROVEMENT
        assert {a.role: Grade(a.grade) for a in case.audits} == {"qi": Grade.GOOD, "pc": Grade.GOOD}
        row = session.scalar(select(SampleGradeCorrection))
        assert (row.case_id, row.from_grade, row.to_grade, row.reason, row.corrected_by.slack_id) == (
            case_id, int(Grade.GOOD), int(Grade.REQUIRES_IMPROVEMENT), REASON, QI)
        entry = session.scalar(select(AuditLogEntry).where(AuditLogEntry.action == "correct-grade"))
        assert entry is not None and entry.actor == QI
        assert entry.detail == {"case": ref, "from": "Good", "to": "Requires improvement to be good",
                                "reason": REASON}

    for person in {holder, tm, pc}:
        told = [m for m in fake.dms(person) if "was corrected" in message_text(m) or "corrected the agreed grade"
                in message_text(m)]
        assert len(told) == 1, person
        assert "from Good to" in message_text(told[0]) and "supervision notes" in message_text(told[0])

    # the report counts the corrected grade and says what the pair had agreed
    from bot.app.cli import main

    monkeypatch.setenv("DATABASE_URL", bot.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    out = tmp_path / "sample.csv"
    assert main(["report", "sample", "--quarter", "2026-27 Q1", "--format", "csv", "--output", str(out)]) == 0
    text = out.read_text()
    line = next(row for row in text.splitlines() if row.startswith(f"Sampled cases,{ref},"))
    assert "Agreed grade: Requires improvement to be good (corrected from Good)" in line
    assert "Q&I grade: Good;" in line and "PC grade: Good;" in line  # the blind grades as they were
    assert "Moderation,Agreed grades corrected by Q&I,1" in text
    report = slack.command(QI, "/qmf", "sample report")
    assert "1 agreed grade(s) corrected by Q&I" in str(report.responses)
    assert fake.problems == []


def test_only_qi_or_an_admin_can_correct_a_grade(bot, slack, fake):
    case_id, ref, pc, holder, tm = moderated_case(bot, slack, fake, Grade.GOOD, Grade.GOOD, Grade.GOOD)
    for outsider in (pc, tm):
        reply = slack.click(outsider, "Correct agreed grade", message=forged_button(outsider, case_id))
        assert "Only Quality & Improvement" in (reply.text or "")
        assert fake.latest_view(outsider) is None
    with bot.rt.db.session() as session, pytest.raises(NotPermitted):
        correct_grade(session, case_id=case_id, slack_id=pc, now=bot.rt.now(), calendar=bot.rt.calendar(session),
                      policy=bot.rt.policy(session), values={"sample-corrected-grade": "2",
                                                             "sample-correction-reason": REASON})
    # an admin may, from a forged-looking but genuine button
    slack.click("U0ADM1", "Correct agreed grade", message=forged_button("U0ADM1", case_id))
    view = fake.latest_view("U0ADM1")
    assert view is not None and view["title"]["text"] == "Correct agreed grade"
    with bot.rt.db.session() as session:
        assert session.scalar(select(SampleGradeCorrection)) is None
    assert fake.problems == []


def test_corrected_to_inadequate_takes_the_inadequate_path(bot, slack, fake):
    case_id, ref, pc, holder, tm = moderated_case(bot, slack, fake, Grade.REQUIRES_IMPROVEMENT,
                                                  Grade.REQUIRES_IMPROVEMENT, Grade.REQUIRES_IMPROVEMENT)
    open_correction(slack, fake, case_id)
    before = len(fake.dms(tm))
    assert slack.submit(QI, {"Corrected grade": Grade.INADEQUATE.label, "Reason for the correction": REASON}).errors == {}
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        sm = case.service.service_manager.slack_id
        action = session.scalar(select(Action).where(Action.source_kind == "random_sample",
                                                     Action.source_id == case_id))
        assert action is not None and action.owner.slack_id == tm
        assert case.moderation.action_id == action.id
        assert session.scalar(select(SampleFlag).where(SampleFlag.case_id == case_id,
                                                       SampleFlag.kind == "inadequate_agreed")) is not None
    # the team manager, who had the findings, reads the correction and their plan's action in one message
    news = fake.dms(tm)[before:]
    assert len(news) == 1, "\n".join(m.get("text") or "" for m in news)
    assert "You have an action to agree an improvement plan" in message_text(news[0])
    assert ("Mark done", str(action.id)) in buttons(news[0])
    assert ("Mark done", str(action.id)) not in [b for m in fake.dms(holder) for b in buttons(m)]
    slack.click(tm, "Mark done", message=news[0], value=str(action.id))
    with bot.rt.db.session() as session:
        assert session.get(Action, action.id).status == "done"
    assert "Inadequate" in all_dm_text(fake, sm) and ref in all_dm_text(fake, sm)
    assert fake.problems == []


def test_corrected_from_inadequate_keeps_the_action_open_and_qi_are_told(bot, slack, fake):
    case_id, ref, pc, holder, tm = moderated_case(bot, slack, fake, Grade.INADEQUATE, Grade.REQUIRES_IMPROVEMENT,
                                                  Grade.INADEQUATE)
    with bot.rt.db.session() as session:
        action_id = session.get(SampledCase, case_id).moderation.action_id
        assert action_id is not None
    open_correction(slack, fake, case_id)
    assert slack.submit(QI, {"Corrected grade": Grade.REQUIRES_IMPROVEMENT.label,
                             "Reason for the correction": REASON}).errors == {}
    with bot.rt.db.session() as session:
        action = session.get(Action, action_id)
        assert action is not None and action.status == "open"
    for qi in ("U0QI2", "U0QI3"):
        assert f"{ref} was corrected from Inadequate" in all_dm_text(fake, qi)
        assert "stays open" in all_dm_text(fake, qi)
    assert "from Inadequate to" in all_dm_text(fake, tm)
    assert fake.problems == []
