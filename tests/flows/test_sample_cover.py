"""Reassigning a sampled case's auditor (issue 16 item 2): through the cover feature's Reassign modal,
with the draw's independence rule re-checked, and grading, reminders and App Home following the case's
new auditor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.core.grades import Grade
from bot.core.roles import Role
from bot.core.work import Move, problem
from bot.sampling import cover
from bot.sampling.reminders import todo_for
from bot.sampling.service import latest_draw
from storage.models import AuditLogEntry, Person, PersonRole, TeamMember
from storage.models.sampling import SampledCase
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

LEAD = "U0QI5"  # the Q&I lead who reassigns


def reassign_button(key: str, user: str = LEAD) -> dict[str, Any]:
    """A Q&I DM's Reassign button (the cover feature's), as Slack would send it back."""
    return {"channel": f"D{user}", "ts": "1.000001", "blocks": [{"type": "actions", "block_id": "r", "elements": [
        {"type": "button", "action_id": "cover-reassign", "value": key,
         "text": {"type": "plain_text", "text": "Reassign"}}]}]}


def reassign(slack: Any, fake: Any, case_id: int, slot: str, new: str, user: str = LEAD) -> Any:
    opened = slack.click(user, "Reassign", message=reassign_button(f"sample_case:{case_id}:{slot}", user))
    view = fake.latest_view(user)
    if view is None:
        return opened
    assert view["title"]["text"] == "Reassign"
    return slack.submit(user, {"New person": new})


def other_pc(bot: Any, case_id: int) -> str:
    """A Practice Consultant who is neither of the case's auditors and is independent of it."""
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        taken = {case.qi.slack_id, case.pc.slack_id}
        for pc in ["U0PC1", "U0PC2", "U0PC3", "U0PC4", "U0PC5"]:
            if pc in taken:
                continue
            move = Move(session=session, today=london(2026, 4, 1).date(), calendar=bot.rt.calendar(session),
                        policy=bot.rt.policy(session), actor=LEAD)
            work = cover.find(session, case_id, "pc")
            assert work is not None
            if problem(cover.SAMPLE_CASE_WORK, move, work, pc) is None:
                return pc
    raise AssertionError("no independent Practice Consultant")


def test_qi_reassign_a_sampled_cases_pc_and_the_new_one_grades_the_old_one_is_refused(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, old_pc), _ = pair_cases(bot, "U0QI1")
    new_pc = other_pc(bot, case_id)
    reply = reassign(slack, fake, case_id, "pc", new_pc)
    assert reply.errors == {}

    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert case.pc.slack_id == new_pc and case.pair.pc.slack_id == old_pc  # the pair is the draw's record
        entry = session.scalar(select(AuditLogEntry).where(AuditLogEntry.action == "reassign",
                                                           AuditLogEntry.entity == "sample_case"))
        assert entry is not None and entry.actor == LEAD and entry.entity_id == str(case_id)
        assert entry.detail == {"case_ref": ref, "slot": "pc", "from": old_pc, "to": new_pc}

    # the new PC has the draw's message for this case, with its button; the old one is told it moved
    told = next(m for m in reversed(fake.dms(new_pc)) if ("Record sample audit", str(case_id)) in buttons(m))
    assert "U0QI1" in message_text(told) and ref in message_text(told)
    assert f"{ref} has moved to <@{new_pc}>" in all_dm_text(fake, old_pc)
    assert f"<@{new_pc}> now audits {ref} with you" in all_dm_text(fake, "U0QI1")

    # the old PC's button is refused; the new PC grades; moderation is theirs with the Q&I auditor
    old_dm = next(m for m in fake.dms(old_pc) if ("Record sample audit", str(case_id)) in buttons(m))
    refused = slack.click(old_pc, "Record sample audit", message=old_dm, value=str(case_id))
    assert "Only the two auditors" in (refused.text or "")
    assert fake.latest_view(old_pc) is None
    assert submit_audit(slack, fake, new_pc, case_id, Grade.GOOD).errors == {}
    assert submit_audit(slack, fake, "U0QI1", case_id, Grade.GOOD, feedback=None).errors == {}
    assert moderate(slack, fake, new_pc, case_id, Grade.GOOD).errors == {}
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert {a.role: a.auditor.slack_id for a in case.audits} == {"qi": "U0QI1", "pc": new_pc}
        # once the PC's audit is in, that slot is no longer open work
        assert cover.find(session, case_id, "pc") is None
    assert fake.problems == []


def test_reminders_and_app_home_follow_the_new_auditor(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, old_pc), _ = pair_cases(bot, "U0QI2")
    new_pc = other_pc(bot, case_id)
    assert reassign(slack, fake, case_id, "pc", new_pc).errors == {}
    with bot.rt.db.session() as session:
        today = london(2026, 4, 1).date()
        assert str(case_id) in [t.value for t in todo_for(session, new_pc, today)]
        assert str(case_id) not in [t.value for t in todo_for(session, old_pc, today)]
        due = latest_draw(session).due_on
        five = bot.rt.calendar(session).add_working_days(due, -5)
    bot.run_job("send-reminders", at=london(five.year, five.month, five.day, 9, 30))
    new_reminder = [m for m in fake.dms(new_pc) if "closes in 5 working days" in message_text(m)]
    assert new_reminder and ("Record sample audit", str(case_id)) in buttons(new_reminder[-1])
    old_reminders = [m for m in fake.dms(old_pc) if "closes in 5 working days" in message_text(m)]
    assert all(("Record sample audit", str(case_id)) not in buttons(m) for m in old_reminders)
    assert fake.problems == []


def test_reassignment_refuses_people_who_are_not_independent_or_not_the_slots_role(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), _ = pair_cases(bot, "U0QI3")
    # a practitioner in the case's team who is also a Practice Consultant
    with bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        holder = session.get(Person, case.case_holder_id)
        member = session.scalar(select(Person).join(TeamMember, TeamMember.person_id == Person.id)
                                .where(TeamMember.team_id == case.team_id, Person.id != holder.id).limit(1))
        assert member is not None
        session.add(PersonRole(person_id=member.id, role=Role.PRACTICE_CONSULTANT))
        colleague, manager = member.slack_id, case.team_manager.slack_id
        session.commit()

    not_independent = reassign(slack, fake, case_id, "pc", colleague)
    assert not_independent.errors == {
        "cover-new-person": f"<@{colleague}> is not independent of {ref}: belongs to the team."}
    not_a_pc = reassign(slack, fake, case_id, "pc", manager)
    assert "is not a Practice Consultant" in not_a_pc.errors["cover-new-person"]
    same = reassign(slack, fake, case_id, "pc", pc)
    assert "already holds this: Random-sample audit of" in same.errors["cover-new-person"]
    partner = reassign(slack, fake, case_id, "qi", pc)
    assert "is not in Quality & Improvement" in partner.errors["cover-new-person"]
    with bot.rt.db.session() as session:
        assert session.get(SampledCase, case_id).pc.slack_id == pc  # nothing moved
        assert session.scalar(select(AuditLogEntry).where(AuditLogEntry.action == "reassign")) is None
    # someone outside Q&I cannot reassign at all
    outsider = slack.click(pc, "Reassign", message=reassign_button(f"sample_case:{case_id}:pc", pc))
    assert "Only Quality & Improvement" in (outsider.text or "")
    assert fake.latest_view(pc) is None
    assert fake.problems == []


def test_a_submitted_audit_is_no_longer_open_work_and_cannot_be_reassigned(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, ref, pc), _ = pair_cases(bot, "U0QI4")
    with bot.rt.db.session() as session:
        keys = {w.key for w in cover.open_work(session)}
        assert {f"sample_case:{case_id}:qi", f"sample_case:{case_id}:pc"} <= keys
    submit_audit(slack, fake, pc, case_id, Grade.GOOD)
    with bot.rt.db.session() as session:
        keys = {w.key for w in cover.open_work(session)}
        assert f"sample_case:{case_id}:pc" not in keys and f"sample_case:{case_id}:qi" in keys
    reply = reassign(slack, fake, case_id, "pc", "U0PC1" if pc != "U0PC1" else "U0PC2")
    assert "no longer open" in (reply.text or "")
    assert fake.problems == []
