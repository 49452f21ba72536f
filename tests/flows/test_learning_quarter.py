"""A whole learning-audit quarter (issue 3's "Must show"), through signed Slack requests only: the quarter
opens, managers propose from their DMs, one is reminded, the cases are allocated independently, case
holders reflect, auditors record audits with actions, actions are reminded, escalated and done, the
learning themes are posted, and then every job of the quarter is run again and changes nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from bot.app.sandbox.render import render_blocks
from storage.models import Action, JobRun, LearningAudit, LearningRound, OutboxMessage, Proposal
from tests.conftest import london

QUARTER = "2026-27Q1"
SERVICE_MANAGERS = {"U0SM1": "cic", "U0SM2": "cp", "U0SM3": "cin", "U0SM4": "fd"}
REASON = "Why would this case give most learning?"
FLAGS = "Does any of these apply?"
TEAMS = {
    "cic-north": "Children in Care — CiC North", "cic-south": "Children in Care — CiC South",
    "cp-east": "Child Protection — CP East", "cp-west": "Child Protection — CP West",
    "cin-central": "Child in Need — CiN Central", "cin-outreach": "Child in Need — CiN Outreach",
    "fd-mash": "Front Door/MASH — MASH", "fd-assessment": "Front Door/MASH — Assessment",
}
# (proposer, case reference, team, case holder, flags): 13 proposals, 4 services, every manager but U0TM6
PROPOSALS = [
    ("U0TM1", "CIC-20411", "cic-north", "U0P1", ["Previously graded Inadequate"]),
    ("U0TM1", "CIC-20415", "cic-north", "U0P3", []),
    ("U0TM2", "CIC-20502", "cic-south", "U0P4", ["Previously created a lot of learning"]),
    ("U0SM1", "CIC-20533", "cic-south", "U0P5", ["A re-visit of an earlier audit"]),
    ("U0TM3", "CP-31007", "cp-east", "U0P6", []),
    ("U0TM4", "CP-31120", "cp-west", "U0P9", ["Previously graded Inadequate"]),
    ("U0SM2", "CP-31188", "cp-east", "U0P7", []),
    ("U0TM5", "CIN-40021", "cin-central", "U0P11", ["Previously created a lot of learning"]),
    ("U0TM5", "CIN-40022", "cin-central", "U0P12", []),
    ("U0SM3", "CIN-40310", "cin-outreach", "U0P14", []),
    ("U0TM7", "FD-50017", "fd-mash", "U0P16", ["A re-visit of an earlier audit"]),
    ("U0TM8", "FD-50120", "fd-assessment", "U0P19", []),
    ("U0SM4", "FD-50144", "fd-mash", "U0P17", []),
]
REFLECTION = {
    "What were you trying to achieve for the child and family?": "Keep the children safe at home.",
    "What difference did your work make, and how do you know?": "Attendance is up; school says so.",
    "What did the child or family say?": "The eldest said she felt listened to.",
    "What would you do differently?": "Ask health to join sooner.",
    "Themes to develop": ["Multi-agency working"],
}
AUDIT = {
    "Outcomes and the difference made for the child and family": "The children stayed safely at home.",
    "Direct service-user feedback: what was said": "Mum said the worker was honest and kind.",
    "Who gave the feedback, or why there was none": "Mum, by phone, before the meeting.",
    "Impact on the worker": "Confident, and proud of the direct work.",
    "What would have been needed to improve the case?": "An earlier health referral.",
    "Good practice to share": "Direct work tools used with the eldest child.",
    "Wider learning for the service": "Share the direct work tools across teams.",
    "Themes: areas to improve": ["Timeliness, drift and delay"],
    "Themes: good practice": ["Voice and lived experience of the child"],
}


@dataclass(frozen=True)
class Allocated:
    id: int
    case_ref: str
    auditor: str
    holder: str
    manager: str


def seen(message: dict[str, Any]) -> str:
    return render_blocks(message.get("blocks") or [], message.get("text"))


def dm_with(fake, user: str, button: str, about: str = "") -> dict[str, Any]:  # noqa: ANN001
    """The newest DM to ``user`` mentioning ``about`` with a button reading ``button``."""
    for message in reversed(fake.dms(user)):
        if about in seen(message) and f"[Button: {button}" in seen(message):
            return message
    raise AssertionError(f"{user} has no DM about {about!r} with {button!r}")


def counts(bot) -> dict[str, int]:  # noqa: ANN001
    with bot.rt.db.session() as session:
        return {model.__name__: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Proposal, LearningAudit, Action, OutboxMessage)}


def run(bot, name: str, at: datetime) -> str:  # noqa: ANN001
    return str(bot.run_job(name, at=at).status)


def allocated(bot) -> list[Allocated]:  # noqa: ANN001
    with bot.rt.db.session() as session:
        rows = session.scalars(select(LearningAudit).order_by(LearningAudit.id)).all()
        return [Allocated(r.id, r.case_ref, r.auditor.slack_id, r.case_holder.slack_id,
                          r.team_manager.slack_id) for r in rows]


def propose_from_dm(slack, fake, proposer: str, case_ref: str, team: str, holder: str,  # noqa: ANN001
                    flags: list[str]) -> None:
    slack.click(proposer, "Propose a case", message=dm_with(fake, proposer, "Propose a case"))
    if proposer.startswith("U0SM"):
        slack.select(proposer, "Service and team", TEAMS[team])
    reply = slack.submit(proposer, {"Case reference": case_ref, "Case holder": holder,
                                    REASON: f"Good learning about {team} practice.", FLAGS: flags})
    assert reply.errors == {}, (case_ref, reply.errors)
    assert fake.latest_view(proposer) is None


def reflect(slack, fake, case: Allocated) -> None:  # noqa: ANN001
    slack.click(case.holder, f"Start reflection for {case.case_ref}",
                message=dm_with(fake, case.holder, "Start reflection", case.case_ref))
    assert slack.submit(case.holder, REFLECTION).errors == {}


def record(slack, fake, case: Allocated, action: tuple[str, date, str] | None = None) -> None:  # noqa: ANN001
    slack.click(case.auditor, f"Record learning audit for {case.case_ref}",
                message=dm_with(fake, case.auditor, "Record learning audit", case.case_ref))
    if action is not None:
        slack.click(case.auditor, "Add an action", view=fake.latest_view(case.auditor))
        owner, due, what = action
        reply = slack.submit(case.auditor, {"Owner": owner, "Due date": due, "What needs to happen": what})
        assert reply.errors == {}
    assert slack.submit(case.auditor, AUDIT).errors == {}
    assert fake.latest_view(case.auditor) is None


@pytest.fixture(autouse=True)
def _slack_saw_nothing_wrong(fake):  # noqa: ANN001
    yield
    assert fake.problems == []


def test_a_whole_quarter_allocates_independently_and_running_every_job_again_changes_nothing(  # noqa: ANN001
        bot, slack, fake) -> None:
    # --- the quarter opens: every Service and Team Manager is asked once -------------------------------
    assert run(bot, "open-proposals", london(2026, 4, 1, 9, 0)) == "done"
    managers = [f"U0SM{i}" for i in range(1, 5)] + [f"U0TM{i}" for i in range(1, 9)]
    assert all(len(fake.dms(m)) == 1 and "Propose a case" in seen(fake.dms(m)[0]) for m in managers)

    # --- proposals, from the button in each manager's DM ------------------------------------------------
    for day, chunk in ((london(2026, 4, 1, 11), PROPOSALS[:5]), (london(2026, 4, 8, 10), PROPOSALS[5:])):
        bot.set_time(day)
        for proposer, case_ref, team, holder, flags in chunk:
            propose_from_dm(slack, fake, proposer, case_ref, team, holder, flags)
    with bot.rt.db.session() as session:
        stored = session.scalars(select(Proposal).order_by(Proposal.id)).all()
        assert [p.case_ref for p in stored] == [p[1] for p in PROPOSALS]
        assert {p.service.key for p in stored} == {"cic", "cp", "cin", "fd"}
        assert [p.team.key for p in stored] == [p[2] for p in PROPOSALS]
        assert sum(p.previously_inadequate or p.lots_of_learning or p.revisit for p in stored) == 6

    # --- the reminder: only the manager who has not proposed, once ---------------------------------------
    before = {m: len(fake.dms(m)) for m in managers}
    assert run(bot, "send-reminders", london(2026, 4, 14, 9, 30)) == "done"  # three working days out
    assert [m for m in managers if len(fake.dms(m)) > before[m]] == []
    assert run(bot, "send-reminders", london(2026, 4, 15, 9, 30)) == "done"  # two: the reminder day
    assert [m for m in managers if len(fake.dms(m)) > before[m]] == ["U0TM6"]
    assert "haven't had one from you yet" in seen(fake.dms("U0TM6")[-1])
    bot.set_time(london(2026, 4, 15, 11, 0))
    propose_from_dm(slack, fake, "U0TM6", "CIN-40355", "cin-outreach", "U0P15", [])
    assert run(bot, "send-reminders", london(2026, 4, 16, 9, 30)) == "done"
    assert len([m for m in fake.dms("U0TM6") if "haven't had one" in seen(m)]) == 1

    # --- allocation: every Service Manager gets exactly 2 cases they are independent of ------------------
    assert run(bot, "allocate-learning-audits", london(2026, 4, 20, 9, 0)) == "done"
    cases = allocated(bot)
    assert Counter(c.auditor for c in cases) == {sm: 2 for sm in SERVICE_MANAGERS}
    with bot.rt.db.session() as session:
        for row in session.scalars(select(LearningAudit)):
            auditor = row.auditor.slack_id
            assert row.service.key != SERVICE_MANAGERS[auditor], row.case_ref
            assert row.team.team_manager.slack_id != auditor and row.team_manager.slack_id != auditor
            assert row.proposal.proposed_by.slack_id != auditor, row.case_ref
            assert row.case_holder.slack_id != auditor
        assert session.get(LearningRound, QUARTER).allocated_at is not None
    for case in cases:
        assert dm_with(fake, case.auditor, "Set up meeting", case.case_ref)
        assert dm_with(fake, case.holder, "Start reflection", case.case_ref)

    # --- the meeting, reflections and the audit records with actions ------------------------------------
    bot.set_time(london(2026, 4, 21, 10))
    first, second = cases[0], cases[2]
    meeting = dm_with(fake, first.auditor, "Set up meeting", first.case_ref)
    slack.click(first.auditor, f"Set up meeting for {first.case_ref}", message=meeting)
    assert slack.submit(first.auditor, {"Meeting date": date(2026, 5, 6), "Start time": "10:00"}).errors == {}
    bot.set_time(london(2026, 4, 23, 14))
    for case in cases:
        reflect(slack, fake, case)
    bot.set_time(london(2026, 5, 11, 14))
    record(slack, fake, first, (first.holder, date(2026, 6, 5), "Update the chronology after each review."))
    record(slack, fake, second, (second.holder, date(2026, 5, 29), "Book the overdue health assessment."))
    for case in cases:
        if case not in (first, second):
            record(slack, fake, case)
    with bot.rt.db.session() as session:
        assert set(session.scalars(select(LearningAudit.status))) == {"recorded"}
        actions = {a.owner.slack_id: a.id for a in session.scalars(select(Action))}
    assert set(actions) == {first.holder, second.holder}

    # --- action reminders: one before its due date, one overdue and escalated; both then done -----------
    assert run(bot, "send-reminders", london(2026, 6, 3, 9, 30)) == "done"
    reminder = dm_with(fake, first.holder, "Mark done", "is due on Fri 5 Jun 2026")
    escalation = dm_with(fake, second.manager, "Mark done", "is overdue")
    assert f"<@{second.holder}>" in seen(escalation)
    bot.set_time(london(2026, 6, 3, 11))
    slack.click(first.holder, "Mark done", message=reminder)
    slack.command(second.holder, "/qmf", "actions")
    slack.click(second.holder, "Mark done", message=fake.ephemerals(second.holder)[-1])
    with bot.rt.db.session() as session:
        assert set(session.scalars(select(Action.status))) == {"done"}

    # every job of the quarter, to run again below at the times it ran and later in the quarter
    later_jobs = [(name, london(*when)) for name, when in (
        ("open-proposals", (2026, 4, 1, 9)), ("open-proposals", (2026, 4, 2, 9)),
        ("open-proposals", (2026, 4, 16, 9)), ("open-proposals", (2026, 6, 30, 9)),
        ("send-reminders", (2026, 4, 15, 9, 30)), ("send-reminders", (2026, 4, 16, 15)),
        ("send-reminders", (2026, 6, 3, 9, 30)), ("send-reminders", (2026, 6, 4, 9, 30)),
        ("send-reminders", (2026, 6, 30, 9, 30)), ("allocate-learning-audits", (2026, 4, 20, 9)),
        ("allocate-learning-audits", (2026, 4, 21, 9)), ("allocate-learning-audits", (2026, 6, 30, 9)),
    )]

    # --- the quarter's learning themes, posted by every Service Manager ---------------------------------
    with bot.rt.db.session() as session:
        calendar, policy = bot.rt.calendar(session), bot.rt.policy(session)
        due = session.get(LearningRound, QUARTER).audits_due
        review = calendar.add_working_days(due, policy.themes_review_working_days)
    at = london(review.year, review.month, review.day, 9, 30)
    assert run(bot, "post-learning-themes", at) == "done"
    for sm in SERVICE_MANAGERS:
        draft = next(m for m in fake.dms(sm) if "Learning themes to review" in (m.get("text") or ""))
        assert "Posted the learning themes" in slack.click(sm, "Post to channel", message=draft).text
    for channel in ("C0CIC", "C0CP", "C0CIN", "C0FD"):
        posts = [m for m in fake.messages(channel) if "Learning themes:" in (m.get("text") or "")]
        assert len(posts) == 1, channel
    nxt = calendar.add_working_days(review, 1)
    later_jobs += [("post-learning-themes", at),
                   ("post-learning-themes", london(nxt.year, nxt.month, nxt.day, 9, 30)),
                   ("post-learning-themes", london(2026, 6, 30, 9, 30)),
                   ("send-reminders", london(2026, 6, 29, 9, 30))]  # when Q&I would hear of a draft

    # --- every job again, at the same times and later in the quarter: nothing changes, nobody hears twice
    stored_before = counts(bot)
    posts_before = len(fake.calls("chat.postMessage"))
    assert stored_before["Proposal"] == 14 and stored_before["LearningAudit"] == 8
    for name, at in later_jobs:
        assert run(bot, name, at) in ("already-done", "not-due", "done"), name
        assert counts(bot) == stored_before, f"{name} at {at} changed the records"
    # and again with the run-once records gone (a second scheduler by mistake, a lost row): each job's
    # own work runs once more, and only its item-level guards and dedupe keys stand between it and a resend
    with bot.rt.db.session() as session:
        session.execute(delete(JobRun))
    forced: set[str] = set()
    for name, at in later_jobs:
        if run(bot, name, at) == "done":
            forced.add(name)
        assert counts(bot) == stored_before, f"{name} at {at} changed the records on a forced re-run"
    assert {"open-proposals", "send-reminders", "allocate-learning-audits"} <= forced
    assert len(fake.calls("chat.postMessage")) == posts_before
    dms = [(m["channel"], m.get("text") or "") for m in fake.messages() if m["channel"].startswith("D")]
    repeated = [pair for pair, n in Counter(dms).items() if n > 1]
    assert repeated == [], f"sent twice: {repeated}"
