"""Failures reach people as words: a refusal, or an apology with a reference that is in the log."""

from __future__ import annotations

import logging
import re

import pytest

from bot.errors import NotPermitted
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
