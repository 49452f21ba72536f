"""A corpus of hostile and broken requests: each gets a clear answer or a 4xx, nothing is stored,
and no traceback reaches anyone."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from storage.models import AuditLogEntry, JobRun, OutboxMessage, Person, Proposal

FORM = "application/x-www-form-urlencoded"
COUNTED = (Person, Proposal, OutboxMessage, JobRun, AuditLogEntry)
LEAKS = ("Traceback", "File \"", "sqlalchemy", "psycopg", "Exception", "KeyError", "NoneType")


def counts(bot) -> dict[str, int]:
    with bot.rt.db.session() as session:
        return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def command_body(text: str = "help", user: str = "U0SM1", command: str = "/qmf", **extra: str) -> str:
    fields = {"token": "x", "team_id": "T0QMF", "channel_id": "C0GENERAL", "user_id": user, "user_name": "u",
              "command": command, "text": text, "response_url": "http://127.0.0.1:9/nowhere",
              "trigger_id": "1.2.3"} | extra
    return urlencode({k: v for k, v in fields.items() if v is not None})


def payload_body(payload: object) -> str:
    return urlencode({"payload": json.dumps(payload)})


def action_payload(action_id: str = "no-such-action", user: dict | None = None, **extra: object) -> dict:
    return {"type": "block_actions", "user": user if user is not None else {"id": "U0SM1"},
            "team": {"id": "T0QMF"}, "api_app_id": "A0QMF", "token": "x", "trigger_id": "1.2.3",
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": "1",
                         "action_ts": "1"}]} | extra


def view_payload(callback_id: str = "no-such-modal", **view: object) -> dict:
    return {"type": "view_submission", "user": {"id": "U0SM1"}, "team": {"id": "T0QMF"},
            "api_app_id": "A0QMF", "token": "x", "trigger_id": "1.2.3",
            "view": {"id": "V1", "type": "modal", "callback_id": callback_id, "private_metadata": "",
                     "state": {"values": {}}, "hash": "h"} | view}


# (name, body, headers, signed?) — signed requests get a correct signature for their body.
UNSIGNED: list[tuple[str, str, dict[str, str]]] = [
    ("no signature at all", command_body(), {}),
    ("no timestamp", command_body(), {"X-Slack-Signature": "v0=abc"}),
    ("garbage signature", command_body(), {"X-Slack-Signature": "v0=deadbeef"}),
    ("empty signature", command_body(), {"X-Slack-Signature": ""}),
    ("wrong version prefix", command_body(), {"X-Slack-Signature": "v1=deadbeef"}),
    ("timestamp not a number", command_body(), {"X-Slack-Request-Timestamp": "yesterday",
                                                 "X-Slack-Signature": "v0=deadbeef"}),
]

SIGNED_BODIES: list[tuple[str, str, str]] = [
    ("empty body", "", FORM),
    ("payload is not JSON", urlencode({"payload": "{not json"}), FORM),
    ("payload truncated", urlencode({"payload": json.dumps(action_payload())[:40]}), FORM),
    ("payload is a JSON array", urlencode({"payload": "[1, 2, 3]"}), FORM),
    ("payload is empty", urlencode({"payload": ""}), FORM),
    ("JSON body truncated", '{"type": "event_callback", "event": {"type": "app_ho', "application/json"),
    ("JSON body with no type", json.dumps({"hello": "world"}), "application/json"),
    ("event_callback without an event", json.dumps({"type": "event_callback", "event_id": "Ev1"}),
     "application/json"),
    ("unknown event type", json.dumps({"type": "event_callback", "event_id": "Ev2", "team_id": "T0QMF",
                                       "event": {"type": "reaction_added", "user": "U0SM1"}}), "application/json"),
    ("form body labelled JSON", command_body(), "application/json"),
    ("unknown button", payload_body(action_payload()), FORM),
    ("button with no user", payload_body(action_payload(user={})), FORM),
    ("button with no actions", payload_body({**action_payload(), "actions": []}), FORM),
    ("unknown modal submitted", payload_body(view_payload()), FORM),
    ("modal with no state", payload_body(view_payload(state=None)), FORM),
    ("modal with forged private_metadata", payload_body(view_payload(private_metadata='{"id": "1 OR 1=1"}')), FORM),
    ("unknown shortcut", payload_body({"type": "shortcut", "callback_id": "evil", "user": {"id": "U0SM1"},
                                       "team": {"id": "T0QMF"}, "trigger_id": "1.2.3", "token": "x"}), FORM),
    ("unknown message action", payload_body({"type": "message_action", "callback_id": "evil",
                                             "user": {"id": "U0SM1"}, "team": {"id": "T0QMF"},
                                             "channel": {"id": "C1"}, "message": {"ts": "1"},
                                             "trigger_id": "1.2.3", "token": "x"}), FORM),
    ("unknown options request", payload_body({"type": "block_suggestion", "action_id": "evil", "block_id": "b",
                                              "value": "x", "user": {"id": "U0SM1"}, "team": {"id": "T0QMF"}}), FORM),
    ("view_closed for an unknown modal", payload_body({**view_payload(), "type": "view_closed"}), FORM),
    ("unknown slash command", command_body(command="/evil"), FORM),
    ("slash command with no user", command_body(user=""), FORM),
    ("slash command with no text field", command_body(text=None), FORM),  # type: ignore[arg-type]
    ("invalid UTF-8", "payload=%ff%fe%fd", FORM),
    ("url_verification with no challenge", json.dumps({"type": "url_verification"}), "application/json"),
    ("interactive payload of unknown type", payload_body({"type": "nonsense", "user": {"id": "U0SM1"}}), FORM),
]

COMMAND_TEXTS: list[tuple[str, str, str]] = [
    ("SQL injection in a subcommand", "'; DROP TABLE people; --", "U0SM1"),
    ("SQL injection after whoami", "whoami ' OR 1=1 --", "U0SM1"),
    ("Block Kit injection", '{"blocks": [{"type": "section"}]} <!channel> <https://evil.example|click>', "U0SM1"),
    ("mention injection", "<!everyone> <@U0ADM1>", "U0SM1"),
    ("oversized text", "x" * 5000, "U0SM1"),
    ("unbalanced quotes", 'share "themes cic', "U0SM1"),
    ("null bytes", "help\x00\x00", "U0SM1"),
    ("right-to-left override", "\u202ewhoami", "U0SM1"),
    ("emoji and odd unicode", "🧒🏽 ｗｈｏａｍｉ", "U0SM1"),
    ("only whitespace", "   \t  ", "U0SM1"),
    ("a stranger asking for help", "help", "U0STRANGER"),
    ("a stranger asking whoami", "whoami", "U0STRANGER"),
    ("a stranger with SQL", "'; DELETE FROM proposals; --", "U0STRANGER"),
    ("path traversal", "../../etc/passwd", "U0SM1"),
    ("html", "<script>alert(1)</script>", "U0SM1"),
]


def assert_clean(reply) -> None:  # type: ignore[no-untyped-def]
    assert reply.status != 500 and reply.status < 500, reply.body
    for leak in LEAKS:
        assert leak not in reply.body
        assert leak not in (reply.text or "")


@pytest.mark.parametrize("name,body,headers", UNSIGNED, ids=[c[0] for c in UNSIGNED])
def test_unsigned_or_badly_signed_requests_get_401(slack, bot, name, body, headers):
    before = counts(bot)
    reply = slack.post_raw(body, {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time()))} | headers)
    assert reply.status == 401
    assert counts(bot) == before


@pytest.mark.parametrize("age", [-600, 301, 3600, 86400], ids=["future", "just-too-old", "hour-old", "day-old"])
def test_replayed_or_future_timestamps_get_401(slack, bot, age):
    body = command_body()
    ts = int(time.time()) - age
    reply = slack.post_raw(body, {"Content-Type": FORM} | slack.sign(body, timestamp=ts))
    assert reply.status == 401


def test_a_signature_for_another_body_gets_401(slack):
    headers = slack.sign(command_body(text="help"))
    reply = slack.post_raw(command_body(text="whoami"), {"Content-Type": FORM} | headers)
    assert reply.status == 401


@pytest.mark.parametrize("name,body,content_type", SIGNED_BODIES, ids=[c[0] for c in SIGNED_BODIES])
def test_broken_or_unknown_signed_requests_are_refused_cleanly(slack, bot, fake, name, body, content_type):
    before = counts(bot)
    reply = slack.post_raw(body, {"Content-Type": content_type} | slack.sign(body))
    assert_clean(reply)
    assert counts(bot) == before
    for call in fake.calls("response_url"):
        assert not any(leak in json.dumps(call.args) for leak in LEAKS)


def test_an_oversized_request_is_refused_with_413(slack, bot):
    body = command_body(text="x" * 1_100_000)
    reply = slack.post_raw(body, {"Content-Type": FORM} | slack.sign(body))
    assert reply.status == 413


@pytest.mark.parametrize("name,text,user", COMMAND_TEXTS, ids=[c[0] for c in COMMAND_TEXTS])
def test_hostile_command_text_gets_a_clear_answer_and_stores_nothing(slack, bot, fake, name, text, user):
    before = counts(bot)
    reply = slack.command(user, "/qmf", text)
    assert_clean(reply)
    assert reply.text, "the person must be told something"
    assert "<!channel>" not in reply.text and "<!everyone>" not in reply.text
    assert counts(bot) == before
    assert fake.problems == []
