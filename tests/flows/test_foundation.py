"""The foundation, driven the way Slack and an operator use it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import httpx

from bot.app.sandbox.harness import SIGNING_SECRET


def test_healthz_reports_the_database_state(bot):
    reply = httpx.get(bot.url + "/healthz")
    assert reply.status_code == 200
    body = reply.json()
    assert body["database"] == "ok"
    assert body["schema"] == "current"


def test_qmf_help_lists_every_subcommand(slack):
    reply = slack.command("U0SM1", "/qmf", "help")
    assert reply.status == 200
    text = reply.text
    for expected in ("/qmf help", "/qmf whoami", "/propose-case"):
        assert expected in text


def test_empty_or_unknown_subcommand_shows_help(slack):
    empty = slack.command("U0SM1", "/qmf", "")
    assert "/qmf whoami" in empty.text
    unknown = slack.command("U0SM1", "/qmf", "frobnicate")
    assert "frobnicate" in unknown.text
    assert "/qmf whoami" in unknown.text


def test_whoami_tells_a_service_manager_their_service(slack):
    text = slack.command("U0SM1", "/qmf", "whoami").text
    assert "Service Manager, Children in Care" in text


def test_whoami_tells_a_team_manager_and_qi_their_roles(slack):
    assert "Team Manager, CiC North" in slack.command("U0TM1", "/qmf", "whoami").text
    assert "Quality & Improvement" in slack.command("U0QI1", "/qmf", "whoami").text


def test_whoami_tells_a_stranger_whom_to_ask(slack):
    text = slack.command("U0STRANGER", "/qmf", "whoami").text
    assert "not in the QMF directory" in text
    assert "<@U0ADM1>" in text


def _signed(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _command_body(user: str = "U0SM1") -> str:
    return urlencode({"command": "/qmf", "text": "help", "user_id": user, "team_id": "T0QMF",
                      "channel_id": "C0GENERAL", "response_url": "http://127.0.0.1:9/none", "trigger_id": "1.2.3"})


def test_a_bad_signature_gets_401(bot):
    body = _command_body()
    headers = _signed(body, int(time.time()), secret="not-the-secret")
    assert httpx.post(bot.url + "/slack/events", content=body, headers=headers).status_code == 401


def test_an_old_timestamp_gets_401(bot):
    body = _command_body()
    headers = _signed(body, int(time.time()) - 10 * 60)
    assert httpx.post(bot.url + "/slack/events", content=body, headers=headers).status_code == 401


def test_a_missing_signature_gets_401(bot):
    body = _command_body()
    reply = httpx.post(bot.url + "/slack/events", content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 401


def test_url_verification_is_answered(bot):
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    headers = _signed(body, int(time.time())) | {"Content-Type": "application/json"}
    reply = httpx.post(bot.url + "/slack/events", content=body, headers=headers)
    assert reply.status_code == 200
    assert "abc123" in reply.text


def test_no_view_or_message_broke_slack_limits(slack, fake):
    slack.command("U0SM1", "/qmf", "help")
    slack.command("U0SM1", "/qmf", "whoami")
    assert fake.problems == []


def test_slack_gets_its_answer_at_the_ack_not_after_the_work_that_follows(bot, fake):
    """/propose-case acks, then opens the modal; with views.open held up, the answer still comes
    back at once (Slack gives up after 3 s), and the modal opens when Slack answers."""
    from bot.app.sandbox.driver import SlackDriver

    driver = SlackDriver(bot.url, SIGNING_SECRET, fake)  # no waiting for the work to finish
    gate = fake.hold("views.open")
    try:
        reply = driver.command("U0TM1", "/propose-case")
        assert reply.status == 200 and not fake.problems  # the driver notes an answer slower than 3 s
        assert not fake.calls("views.open")  # answered while views.open waits
    finally:
        gate.set()
    opened = fake.wait_for("views.open")
    assert opened[0].args["view"]["title"]["text"]


def test_an_event_is_answered_before_its_work(bot, fake):
    from bot.app.sandbox.driver import SlackDriver

    driver = SlackDriver(bot.url, SIGNING_SECRET, fake)
    gate = fake.hold("views.publish")
    try:
        reply = driver.open_home("U0SM1")
        assert reply.status == 200 and not fake.problems and not fake.calls("views.publish")
    finally:
        gate.set()
    assert fake.wait_for("views.publish")[0].args["user_id"] == "U0SM1"


def test_socket_mode_app_acks_from_dispatch_and_still_does_the_work(bot, fake):
    """Socket Mode answers with what dispatch returns, so its app acks the bolt way."""
    from slack_bolt.request import BoltRequest

    from bot.app.factory import create_app

    app = create_app(bot.settings, runtime=bot.rt, answered_by_web=False)
    trigger = fake.issue_trigger("U0TM1")
    body = urlencode({"command": "/propose-case", "text": "", "user_id": "U0TM1", "team_id": "T0QMF",
                      "channel_id": "C0GENERAL", "response_url": fake.new_response_url(user_id="U0TM1"),
                      "trigger_id": trigger})
    gate = fake.hold("views.open")
    try:
        started = time.monotonic()
        response = app.dispatch(BoltRequest(body=body, headers=_signed(body, int(time.time()))))
        assert response.status == 200 and time.monotonic() - started < 3  # Slack's limit for the ack
        assert not fake.calls("views.open")
    finally:
        gate.set()
    assert fake.wait_for("views.open")[0].args["trigger_id"] == trigger
