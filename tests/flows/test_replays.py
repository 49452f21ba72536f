"""Replays and double presses (issue 14, item 5): Slack re-sends a view submission whose ack was late
and people press Submit twice. The byte-identical re-send creates nothing more, DMs nobody again and
is answered as the first was; two presses at once store one thing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from sqlalchemy import func, select

import handlers.common as common
from storage.models import Action, OutboxMessage, Proposal
from storage.models.commissions import LearningVisit, ThemedAudit
from tests.conftest import london
from tests.flows.test_commissions_flow import commission_themed_audit, dms_saying
from tests.flows.test_learning_audits_flow import (  # noqa: F401 - case is a fixture
    REFLECTION,
    case,
    dm_about,
    open_audit_form,
)
from tests.flows.test_proposals_flow import REASON, open_quarter

VISIT = {
    "Service to visit": "Children in Care",
    "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
    "Date of the visit": date(2026, 5, 12),
    "Visitors": ["U0SEN1", "U0SM2"],
    "Lead reviewer": "U0SEN1",
    "Planned activities": ["Observation of practice", "Focus groups"],
    "Preparation notes": "Read the stability dashboard and the last two quarters' themes.",
    "Performance information": "Placement moves per child up from 0.4 to 0.7.",
}
PREPARE = "Please prepare with the plan below"


@dataclass
class Sent:
    """A view submission exactly as it went to the app, and the app's answer to it."""

    content: bytes
    headers: dict[str, str]
    answer: Any


def is_submission(content: bytes) -> bool:
    return '"type":"view_submission"' in unquote_plus(content.decode()).replace(" ", "")


def answer_of(resp: httpx.Response) -> Any:  # noqa: ANN401
    return resp.json() if resp.text.strip() else None


@pytest.fixture
def sent(slack, monkeypatch) -> list[Sent]:  # noqa: ANN001
    """Every view submission the driver sends, byte for byte, with its answer."""
    recorded: list[Sent] = []
    original = slack._http.post

    def post(url: str, *, content: bytes, headers: dict[str, str], **kw: Any) -> httpx.Response:  # noqa: ANN401
        resp = original(url, content=content, headers=headers, **kw)
        if is_submission(content):
            recorded.append(Sent(content, dict(headers), answer_of(resp)))
        return resp

    monkeypatch.setattr(slack._http, "post", post)
    return recorded


def replay_twice(slack, first: Sent) -> None:  # noqa: ANN001
    """Slack's re-send, then a third: the same bytes and signature; each is answered as the first was."""
    for _ in range(2):
        again = slack.post_raw(first.content, first.headers)
        assert again.status == 200
        assert again.json == first.answer


def count(bot, model: Any, *where: Any) -> int:  # noqa: ANN001, ANN401
    with bot.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def commission_visit(slack, fake) -> None:  # noqa: ANN001
    slack.command("U0DLT1", "/qmf", "commission visit")
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Commission a visit"
    assert slack.submit("U0DLT1", VISIT).errors == {}


# ---------------------------------------------------------------------------------------------
# a re-sent submission


def test_a_resent_themed_audit_commission_creates_one_audit_and_briefs_the_auditors_once(bot, slack, fake, sent):
    commission_themed_audit(slack, fake)
    [first] = sent
    messages, outbox = len(fake.messages()), count(bot, OutboxMessage)
    replay_twice(slack, first)
    assert count(bot, ThemedAudit) == 1
    assert len(dms_saying(fake, "U0SM1", "You are an auditor for this themed audit")) == 1
    assert (len(fake.messages()), count(bot, OutboxMessage)) == (messages, outbox)


def test_a_resent_visit_commission_creates_one_visit_and_asks_the_visitors_once(bot, slack, fake, sent):
    commission_visit(slack, fake)
    [first] = sent
    assert first.answer and first.answer.get("response_action") == "update"
    messages = len(fake.messages())
    replay_twice(slack, first)
    assert count(bot, LearningVisit) == 1
    assert [len(dms_saying(fake, v, PREPARE)) for v in ("U0SEN1", "U0SM2")] == [1, 1]
    assert len(fake.messages()) == messages


def test_a_resent_action_on_a_visit_record_drafts_one_action(bot, slack, fake, sent):
    commission_visit(slack, fake)
    slack.close_modal("U0DLT1")
    bot.set_time(london(2026, 5, 12, 16, 0))
    [prep] = dms_saying(fake, "U0SEN1", PREPARE)
    slack.click("U0SEN1", "Record visit feedback", message=prep)
    slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1"))
    assert fake.latest_view("U0SEN1")["title"]["text"] == "Add an action"
    reply = slack.submit("U0SEN1", {"Owner": "U0SM1", "Due date": date(2026, 6, 30),
                                    "What needs to happen": "Stability meetings for every second move."})
    assert reply.errors == {}
    first = sent[-1]
    messages = len(fake.messages())
    replay_twice(slack, first)
    assert count(bot, Action) == 1
    assert len(fake.messages()) == messages


def test_a_resent_action_on_a_learning_audit_drafts_one_action(bot, slack, fake, sent, case):  # noqa: F811
    slack.click(case.holder, f"Start reflection for {case.case_ref}", message=dm_about(fake, case.holder, case.case_ref,
                                                                   "Start reflection"))
    slack.submit(case.holder, REFLECTION)
    form = open_audit_form(slack, fake, case)
    slack.click(case.auditor, "Add an action", view=form)
    reply = slack.submit(case.auditor, {"Owner": case.holder, "Due date": date(2026, 6, 30),
                                        "What needs to happen": "Update the chronology after each review."})
    assert reply.errors == {}
    first = sent[-1]
    messages = len(fake.messages())
    replay_twice(slack, first)
    assert count(bot, Action, Action.source_kind == "learning_audit") == 1
    assert len(fake.messages()) == messages


def test_a_resent_proposal_stores_one_proposal_and_confirms_it_once(bot, slack, fake, sent):
    open_quarter(bot)
    slack.click("U0TM1", "Propose a case")
    reply = slack.submit("U0TM1", {"Case reference": "CIC-10234", "Case holder": "U0P2",
                                   REASON: "Voice of the child came through strongly in every visit."})
    assert reply.errors == {}
    [first] = sent
    confirmations = len(fake.dms("U0TM1"))
    replay_twice(slack, first)
    assert count(bot, Proposal) == 1
    assert len(fake.dms("U0TM1")) == confirmations


def test_a_submission_refused_inline_is_not_remembered_so_the_corrected_form_saves(bot, slack, fake, sent):
    slack.command("U0DLT1", "/qmf", "commission visit")
    refused = slack.submit("U0DLT1", {**VISIT, "Visitors": ["U0SEN1", "U0SM1"]})  # U0SM1 is from the service
    assert refused.errors
    assert slack.post_raw(sent[-1].content, sent[-1].headers).json == sent[-1].answer  # refused again, alike
    assert slack.submit("U0DLT1", {"Visitors": ["U0SEN1", "U0SM2"]}).errors == {}
    assert count(bot, LearningVisit) == 1


# ---------------------------------------------------------------------------------------------
# two presses at once


def press_twice_at_once(slack, user: str, values: dict[str, Any], monkeypatch) -> list[Any]:  # noqa: ANN001
    """Submit through the driver and, released by a barrier with it, the same bytes from a second
    connection (a second press). Returns both answers."""
    barrier = threading.Barrier(2, timeout=10)
    request: dict[str, Any] = {}
    captured = threading.Event()
    original = slack._http.post

    def post(url: str, *, content: bytes, headers: dict[str, str], **kw: Any) -> httpx.Response:  # noqa: ANN401
        if is_submission(content) and not request:
            request.update(content=content, headers=headers)
            captured.set()
            barrier.wait()
        return original(url, content=content, headers=headers, **kw)

    monkeypatch.setattr(slack._http, "post", post)
    answers: list[Any] = []

    def second_press() -> None:
        assert captured.wait(10)
        barrier.wait()
        with httpx.Client(timeout=10) as client:
            resp = client.post(slack.events_url, content=request["content"], headers=request["headers"])
        assert resp.status_code == 200
        answers.append(answer_of(resp))

    thread = threading.Thread(target=second_press)
    thread.start()
    reply = slack.submit(user, values)
    thread.join(15)
    assert not thread.is_alive()
    return [reply.json, *answers]


def hold_the_claim_until(event: threading.Event, monkeypatch, *, on_gave_up: bool = False) -> None:  # noqa: ANN001
    """The request that wins the claim starts its work only once ``event`` is set."""
    original = common._claim_submission

    def claim(rt: Any, key: tuple[str, str]) -> Any:  # noqa: ANN401
        got = original(rt, key)
        if got[0] is not None:
            assert event.wait(10), "the second press never reached the claim"
        elif on_gave_up and got[1] is None:
            event.set()
        return got

    monkeypatch.setattr(common, "_claim_submission", claim)


def test_two_presses_at_once_commission_one_visit_and_both_get_its_answer(bot, slack, fake, monkeypatch):
    second_is_waiting = threading.Event()
    looked = common._look_again_soon

    def look_again() -> None:
        second_is_waiting.set()
        looked()

    monkeypatch.setattr(common, "_look_again_soon", look_again)
    hold_the_claim_until(second_is_waiting, monkeypatch)
    slack.command("U0DLT1", "/qmf", "commission visit")
    first, second = press_twice_at_once(slack, "U0DLT1", VISIT, monkeypatch)
    assert count(bot, LearningVisit) == 1
    assert second_is_waiting.is_set()  # the second press found the first still saving, and waited
    assert first == second and first["response_action"] == "update"
    assert [len(dms_saying(fake, v, PREPARE)) for v in ("U0SEN1", "U0SM2")] == [1, 1]


def test_a_second_press_that_outwaits_the_first_is_told_it_is_being_saved_and_nothing_doubles(
        bot, slack, fake, monkeypatch):
    monkeypatch.setattr(common, "SUBMISSION_WAIT", 0.2)
    gave_up = threading.Event()
    hold_the_claim_until(gave_up, monkeypatch, on_gave_up=True)
    slack.command("U0DLT1", "/qmf", "commission themed")
    assert fake.latest_view("U0DLT1")["title"]["text"] == "Commission themed audit"
    answers = press_twice_at_once(slack, "U0DLT1", {
        "Theme": "Management oversight of drift in plans",
        "The theory to test": "Plans drift where supervision does not review the plan's actions each month.",
        "Commissioned by": "Divisional Leadership Team",
        "Improvement-plan priority it serves": "Priority 3: timely, purposeful plans",
        "Sampling focus": "Child in need plans open more than six months",
        "Sample size (cases)": 3,
        "Case references in the sample": "CIN-10001\nCIN-10002",
        "Auditors": ["U0SM1", "U0QI1"],
        "Service-user views": ["Seek service-user views for this theme"],
        "Workshop date": date(2026, 6, 10),
        "CIB meeting it reports to": "Wed 15 Jul 2026",
    }, monkeypatch)
    assert count(bot, ThemedAudit) == 1
    told = [a for a in answers if a and a.get("response_action") == "errors"]
    assert [list(a["errors"].values()) for a in told] == [[common.ALREADY_SAVING]]
    assert len(dms_saying(fake, "U0SM1", "You are an auditor for this themed audit")) == 1
