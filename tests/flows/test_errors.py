"""Failures reach people as words: a refusal, or an apology with a reference that is in the log."""

from __future__ import annotations

import logging
import re

import pytest

from bot.core.errors import NotPermitted
from handlers.common import SUBCOMMANDS, subcommand


@pytest.fixture
def broken_subcommands():
    @subcommand("test-boom", "test-boom", "a subcommand that fails unexpectedly")
    def boom(call) -> None:
        raise RuntimeError("database on fire")

    @subcommand("test-refuse", "test-refuse", "a subcommand that refuses")
    def refuse(call) -> None:
        raise NotPermitted("Only Q&I can do that.")

    yield
    SUBCOMMANDS.pop("test-boom")
    SUBCOMMANDS.pop("test-refuse")


def test_an_unexpected_error_gets_an_apology_with_a_reference_in_the_log(slack, broken_subcommands, caplog):
    with caplog.at_level(logging.ERROR, logger="qmf.handlers"):
        reply = slack.command("U0SM1", "/qmf", "test-boom")
    assert reply.status == 200
    text = reply.text
    assert "Sorry, something went wrong" in text
    assert "database on fire" not in text and "Traceback" not in text
    ref = re.search(r"`([0-9a-f]{10})`", text).group(1)
    assert any(ref in record.getMessage() for record in caplog.records)


def test_a_domain_refusal_is_told_as_it_is(slack, broken_subcommands):
    assert slack.command("U0SM1", "/qmf", "test-refuse").text == "Only Q&I can do that."


def test_an_unknown_button_is_answered_with_a_4xx_not_a_crash(slack):
    import json

    payload = {"type": "block_actions", "user": {"id": "U0SM1"}, "team": {"id": "T0QMF"},
               "actions": [{"action_id": "no-such-action", "block_id": "b", "type": "button", "value": "1"}],
               "trigger_id": "1.2.3", "api_app_id": "A0QMF", "token": "x"}
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(payload)})
    reply = slack.post_raw(body, slack.sign(body) | {"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= reply.status < 500


@pytest.mark.parametrize("acks_first", [False, True], ids=["fails before its ack", "fails after its ack"])
def test_a_listener_that_fails_is_answered_and_the_person_told(bot, fake, acks_first):
    """Whether the failure comes before or after the ack, Slack gets an answer without a traceback
    and the person an apology where they typed."""
    import asyncio
    import time
    from urllib.parse import urlencode

    import httpx

    from bot.app.factory import create_app
    from bot.app.sandbox.driver import SlackDriver
    from bot.app.sandbox.harness import SIGNING_SECRET
    from bot.app.web import create_web_app

    app = create_app(bot.settings, runtime=bot.rt)

    @app.command("/boom")
    def boom(ack) -> None:
        if acks_first:
            ack()
        raise RuntimeError("database on fire")

    response_url = fake.new_response_url(user_id="U0SM1")
    body = urlencode({"command": "/boom", "text": "", "user_id": "U0SM1", "team_id": "T0QMF",
                      "channel_id": "C0GENERAL", "response_url": response_url, "trigger_id": "1.2.3"})
    headers = SlackDriver(bot.url, SIGNING_SECRET, fake).sign(body)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_web_app(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://qmf") as client:
            return await client.post("/slack/events", content=body,
                                     headers=headers | {"Content-Type": "application/x-www-form-urlencoded"})

    reply = asyncio.run(send())
    assert reply.status_code == (200 if acks_first else 500)
    assert "Traceback" not in reply.text and "database on fire" not in reply.text
    bot.rt.wait_idle()
    deadline = time.monotonic() + 5
    while not fake.ephemerals("U0SM1") and time.monotonic() < deadline:
        time.sleep(0.01)
    told = [m["text"] for m in fake.ephemerals("U0SM1")]
    assert any("Sorry, something went wrong" in t for t in told) and not any("on fire" in t for t in told)
