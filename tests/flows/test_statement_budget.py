"""Statement budgets: the database work each main flow's request does, counted with SQLAlchemy's
events (tests/statements.py says what is counted), so a change that adds queries to a hot path
fails here. Each budget is written next to its flow; ``round_trips`` also counts BEGIN, COMMIT and
the check-out ping, which psycopg sends to PostgreSQL as messages of their own. No timing."""

from __future__ import annotations

from typing import Any

from bot.core.grades import Grade
from tests.conftest import PG_URL
from tests.flows.test_learning_audits_flow import AUDIT, REFLECTION, dm_about
from tests.flows.test_learning_audits_flow import case as case  # noqa: F401 - the allocated-case fixture
from tests.flows.test_proposals_flow import REASON, open_quarter
from tests.flows.test_sampling_flow import AUDIT_ANSWERS, buttons, draw_now, import_cases, section_answers
from tests.statements import Counted, count_statements


def within(counted: Counted, *, statements: int, round_trips: int) -> None:
    assert counted.statements <= statements, f"over its statement budget of {statements}: {counted}"
    assert counted.round_trips <= round_trips, f"over its round-trip budget of {round_trips}: {counted}"


def test_a_proposals_submission(bot: Any, slack: Any, fake: Any) -> None:
    open_quarter(bot)
    slack.click("U0TM1", "Propose a case")
    with count_statements(bot.rt.db.engine) as counted:
        reply = slack.submit("U0TM1", {"Case reference": "CIC-10234", "Case holder": "U0P2",
                                       REASON: "Voice of the child came through strongly."})
    assert reply.errors == {}
    assert counted.checkouts == 1, f"one connection for the whole request: {counted}"
    within(counted, statements=BUDGETS["proposal"][0], round_trips=BUDGETS["proposal"][1])


def test_a_replayed_proposal_submission_does_nothing_again_cheaply(bot: Any, slack: Any, fake: Any) -> None:
    open_quarter(bot)
    slack.click("U0TM1", "Propose a case")
    view = fake.latest_view("U0TM1")
    values = {"Case reference": "CIC-10234", "Case holder": "U0P2", REASON: "Voice of the child came through."}
    assert slack.submit("U0TM1", values, view=view).errors == {}
    with count_statements(bot.rt.db.engine) as counted:
        assert slack.submit("U0TM1", values, view=view).errors == {}
    within(counted, statements=BUDGETS["replay"][0], round_trips=BUDGETS["replay"][1])


def test_recording_a_learning_audit(bot: Any, slack: Any, fake: Any, case: Any) -> None:  # noqa: F811
    slack.click(case.auditor, f"Record learning audit for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"))
    with count_statements(bot.rt.db.engine) as counted:
        reply = slack.submit(case.auditor, AUDIT)
    assert reply.errors == {}
    within(counted, statements=BUDGETS["learning audit"][0], round_trips=BUDGETS["learning audit"][1])


def test_saving_a_reflection(bot: Any, slack: Any, fake: Any, case: Any) -> None:  # noqa: F811
    slack.click(case.holder, f"Start reflection for {case.case_ref}",
                message=dm_about(fake, case.holder, case.case_ref, "Start reflection"))
    with count_statements(bot.rt.db.engine) as counted:
        reply = slack.submit(case.holder, REFLECTION)
    assert reply.errors == {}
    within(counted, statements=BUDGETS["reflection"][0], round_trips=BUDGETS["reflection"][1])


def test_recording_a_sample_audit(bot: Any, slack: Any, fake: Any) -> None:
    import_cases(bot)
    draw_now(bot)
    user = "U0QI1"
    dm = next(m for m in reversed(fake.dms(user)) if any(b[0] == "Record sample audit" for b in buttons(m)))
    value = next(v for label, v in buttons(dm) if label == "Record sample audit")
    with count_statements(bot.rt.db.engine) as opening:
        slack.click(user, "Record sample audit", message=dm, value=value)
    view = fake.latest_view(user)
    assert view is not None and view["title"]["text"] == "Sample audit"
    values = dict(AUDIT_ANSWERS, **section_answers(view), **{"Overall grade": Grade.GOOD.label,
                                                            "Service-user feedback": "Parent said they listen."})
    with count_statements(bot.rt.db.engine) as counted:
        reply = slack.submit(user, values)
    assert reply.errors == {}
    within(opening, statements=BUDGETS["button opens a modal"][0], round_trips=BUDGETS["button opens a modal"][1])
    within(counted, statements=BUDGETS["sample audit"][0], round_trips=BUDGETS["sample audit"][1])


def test_opening_app_home(bot: Any, slack: Any, fake: Any) -> None:
    open_quarter(bot)
    with count_statements(bot.rt.db.engine) as counted:
        slack.open_home("U0SM1")
    assert fake.calls("views.publish")
    within(counted, statements=BUDGETS["app home"][0], round_trips=BUDGETS["app home"][1])


def test_the_propose_button_opening_its_modal(bot: Any, slack: Any, fake: Any) -> None:
    open_quarter(bot)
    with count_statements(bot.rt.db.engine) as counted:
        slack.click("U0TM3", "Propose a case", message=fake.dms("U0TM3")[0])
    assert fake.latest_view("U0TM3") is not None
    within(counted, statements=BUDGETS["propose modal"][0], round_trips=BUDGETS["propose modal"][1])


BUDGETS_BY_DATABASE: dict[str, dict[str, tuple[int, int]]] = {
    # flow: (SQL statements, round trips) at most in one request, on PostgreSQL and on SQLite. On
    # PostgreSQL an audit-log entry rides in the outbox's statement (bot.core.audit.record). A request
    # checks out one connection for all its work (storage.db.one_connection) and a submission's claim
    # commits as it runs, so each flow has one check-out and one BEGIN ... COMMIT.
    "postgresql": {
        "proposal": (8, 11),  # was 12 statements, 21 round trips (3 check-outs, 3 transactions), then 8 in 15
        "replay": (2, 3),  # was 8: the claim's INSERT, refused, and the stored answer's SELECT
        "learning audit": (18, 21),
        "reflection": (17, 20),
        "button opens a modal": (8, 11),  # 7 when the case's people are already loaded (it depends on the draw)
        "sample audit": (19, 22),
        "app home": (27, 32),
        "propose modal": (4, 7),
    },
    "sqlite": {
        "proposal": (9, 12),
        "replay": (2, 3),
        "learning audit": (19, 22),
        "reflection": (17, 20),
        "button opens a modal": (8, 11),  # as on PostgreSQL: 7 or 8 with the draw
        "sample audit": (19, 22),
        "app home": (27, 32),
        "propose modal": (4, 7),
    },
}
BUDGETS = BUDGETS_BY_DATABASE["postgresql" if PG_URL else "sqlite"]
