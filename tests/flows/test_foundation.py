"""The foundation, driven the way Slack and an operator use it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import httpx

from bot.sandbox.harness import SIGNING_SECRET


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
