"""A corpus of hostile and broken requests: each gets a clear answer or a 4xx, nothing is stored,
and no traceback reaches anyone."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from bot.app.web import MAX_BODY
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
    # #14 item 4: a proposal filed under CP East for a CiC North case holder, by the CiC Service Manager
    ("proposal naming a team the case holder is not in", payload_body(view_payload(
        "proposal-modal", private_metadata='{"quarter": "2026-27Q1"}', state={"values": {
            "proposal-case-ref": {"a": {"type": "plain_text_input", "value": "CP-20999"}},
            "proposal-team": {"a": {"type": "static_select", "selected_option": {"value": "cp-east"}}},
            "proposal-case-holder": {"a": {"type": "users_select", "selected_user": "U0P1"}},
            "proposal-reason": {"a": {"type": "plain_text_input", "value": "Strong multi-agency work."}}}})),
     FORM),
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
def test_broken_or_unknown_signed_requests_are_refused_cleanly(slack, bot, fake, caplog, name, body, content_type):
    caplog.set_level(logging.INFO)
    before = counts(bot)
    reply = slack.post_raw(body, {"Content-Type": content_type} | slack.sign(body))
    assert_clean(reply)
    assert counts(bot) == before
    for call in fake.calls("response_url"):
        assert not any(leak in json.dumps(call.args) for leak in LEAKS)
    assert "Traceback" not in caplog.text
    assert len(slack_events_log(caplog)) <= 1, [r.getMessage() for r in slack_events_log(caplog)]


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


# ---- requests refused before anything parses them (issue 14 item 7) ----------------------------------

def slack_events_log(caplog) -> list[logging.LogRecord]:  # type: ignore[no-untyped-def]
    """What the web layer logged: one line per refused request is the rule."""
    return [r for r in caplog.records if r.name.startswith(("bot.app.web", "slack_bolt", "uvicorn"))]


def assert_one_clean_log_line(caplog) -> None:  # type: ignore[no-untyped-def]
    lines = slack_events_log(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None
    assert "Traceback" not in caplog.text


def now() -> str:
    return str(int(time.time()))


BAD_HEADERS: list[tuple[str, dict[str, str]]] = [
    ("timestamp of 5,000 digits", {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=" + "a" * 64}),
    ("timestamp of 13 digits", {"X-Slack-Request-Timestamp": "1" * 13, "X-Slack-Signature": "v0=" + "a" * 64}),
    ("timestamp with a sign", {"X-Slack-Request-Timestamp": "-1", "X-Slack-Signature": "v0=" + "a" * 64}),
    ("timestamp in arabic-indic digits", {"X-Slack-Request-Timestamp": "١٢٣".encode(),  # type: ignore[dict-item]
                                          "X-Slack-Signature": "v0=" + "a" * 64}),
    ("timestamp a day old", {"X-Slack-Request-Timestamp": str(int(time.time()) - 86400),
                             "X-Slack-Signature": "v0=" + "a" * 64}),
    ("no signature", {"X-Slack-Request-Timestamp": "NOW"}),
    ("signature too short", {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=abc"}),
    ("signature of 5,000 hex digits", {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=" + "a" * 5000}),
    ("signature not hex", {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=" + "z" * 64}),
    ("well-formed but wrong signature", {"X-Slack-Request-Timestamp": "NOW", "X-Slack-Signature": "v0=" + "a" * 64}),
]


@pytest.mark.parametrize("name,headers", BAD_HEADERS, ids=[c[0] for c in BAD_HEADERS])
def test_bad_timestamp_or_signature_headers_get_401_with_one_log_line(slack, bot, caplog, name, headers):
    caplog.set_level(logging.INFO)
    headers = {k: (now() if v == "NOW" else v) for k, v in headers.items()}
    before = counts(bot)
    reply = slack.post_raw(command_body(), {"Content-Type": FORM} | headers)
    assert reply.status == 401
    assert_one_clean_log_line(caplog)
    assert counts(bot) == before


MALFORMED_SIGNED: list[tuple[str, str, str]] = [
    ("truncated form payload", urlencode({"payload": json.dumps(view_payload())[:57]}), FORM),
    ("form payload cut mid-escape", payload_body(action_payload())[:70], FORM),
    ("form payload is a JSON array", urlencode({"payload": "[1, 2, 3]"}), FORM),
    ("form payload is a JSON string", urlencode({"payload": '"hello"'}), FORM),
    ("form payload nested 100,000 deep", urlencode({"payload": "[" * 100_000}), FORM),
    ("truncated JSON body", json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}})[:30],
     "application/json"),
    ("JSON body is an array", "[]", "application/json"),
    ("JSON body with trailing garbage", '{"type": "event_callback"} junk', "application/json"),
    ("JSON body nested 100,000 deep", '{"a":' * 100_000, "application/json"),
]


@pytest.mark.parametrize("name,body,content_type", MALFORMED_SIGNED, ids=[c[0] for c in MALFORMED_SIGNED])
def test_correctly_signed_but_malformed_payloads_get_400_with_one_log_line(slack, bot, caplog, name, body,
                                                                             content_type):
    caplog.set_level(logging.INFO)
    before = counts(bot)
    reply = slack.post_raw(body, {"Content-Type": content_type} | slack.sign(body))
    assert reply.status == 400
    assert_clean(reply)
    assert_one_clean_log_line(caplog)
    assert counts(bot) == before


def test_a_body_declared_over_the_cap_is_refused_with_413_unread(slack, bot, caplog):
    caplog.set_level(logging.INFO)
    declared = 2000 * 65536  # 131 MB
    sent = 0

    def body() -> Iterator[bytes]:  # the server answers from the Content-Length and stops taking it
        nonlocal sent
        for _ in range(declared // 65536):
            sent += 65536
            yield b"x" * 65536

    with httpx.Client(timeout=30) as client:
        resp = client.post(bot.url + "/slack/events", content=body(),
                           headers={"Content-Type": FORM, "Content-Length": str(declared)} | slack.sign(""))
    assert resp.status_code == 413
    assert sent < declared // 4, f"the server took {sent} bytes of a body it had refused"
    assert_one_clean_log_line(caplog)
    assert "declared" in slack_events_log(caplog)[0].getMessage()  # refused on its Content-Length alone


def test_a_chunked_body_is_refused_with_413_as_soon_as_it_passes_the_cap(slack, bot, caplog):
    caplog.set_level(logging.INFO)
    offered = 2000 * 65536  # 131 MB
    sent = 0

    def body() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        nonlocal sent
        for _ in range(offered // 65536):
            sent += 65536
            yield b"x" * 65536

    with httpx.Client(timeout=30) as client:
        resp = client.post(bot.url + "/slack/events", content=body(), headers={"Content-Type": FORM} | slack.sign(""))
    assert resp.status_code == 413
    assert sent < offered // 4, f"the server read {sent} bytes of a body past the cap"
    assert_one_clean_log_line(caplog)


def test_the_size_cap_leaves_room_for_slacks_largest_payloads(slack, bot):
    """A modal holds at most 100 blocks and a text input at most 3,000 characters."""
    view = view_payload(state={"values": {f"b{i}": {"a": {"type": "plain_text_input", "value": "x" * 3000}}
                                          for i in range(100)}})
    body = payload_body(view)
    assert 300_000 < len(body) < MAX_BODY
    reply = slack.post_raw(body, {"Content-Type": FORM} | slack.sign(body))
    assert reply.status not in (400, 413)


# ---- a real `qmf-bot serve` under four concurrent oversized posts -----------------------------------

def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zeros(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    block = b"0" * chunk
    for _ in range(total // chunk):
        yield block


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_four_concurrent_20mb_unsigned_posts_get_413_and_serve_stays_small(tmp_path):
    from bot.app.sandbox.fake_slack import FakeSlack
    from bot.app.sandbox.harness import SAMPLE_ORG

    port = _free_port()
    with FakeSlack() as fake:
        env = os.environ | {"SLACK_BOT_TOKEN": "xoxb-fake-token", "SLACK_SIGNING_SECRET": "serve-secret",
                            "SLACK_API_URL": fake.base_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
                            "QMF_ORG_FILE": str(SAMPLE_ORG)}
        env.pop("TEST_DATABASE_URL", None)
        proc = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "serve", "--port", str(port)], env=env,
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(url + "/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise AssertionError(proc.stdout.read().decode() if proc.stdout else "no output") from None
                    time.sleep(0.2)
            before = rss_kib(proc.pid)
            size = 20 << 20
            statuses: list[int] = []
            go = threading.Barrier(4)

            def post(chunked: bool) -> None:
                headers = {"Content-Type": FORM} | ({} if chunked else {"Content-Length": str(size)})
                go.wait()
                with httpx.Client(timeout=60) as client:
                    statuses.append(client.post(url + "/slack/events", content=zeros(size), headers=headers)
                                    .status_code)

            peak = before
            posted = threading.Event()

            def sample() -> None:  # the peak while the posts are in flight, not only what is left after
                nonlocal peak
                while not posted.is_set():
                    peak = max(peak, rss_kib(proc.pid))
                    posted.wait(0.005)

            threads = [threading.Thread(target=post, args=(i > 0,)) for i in range(4)]  # one with a length
            sampler = threading.Thread(target=sample)
            sampler.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            posted.set()
            sampler.join()
            after = rss_kib(proc.pid)
            assert statuses == [413] * 4
            assert max(peak, after) - before < 50 * 1024, f"RSS {before} KiB, peak {peak} KiB, after {after} KiB"
        finally:
            proc.terminate()
            out = proc.communicate(timeout=10)[0].decode()
    assert "Traceback" not in out


def test_a_submission_while_the_database_is_locked_gets_words_stores_nothing_and_no_traceback(
        bot, slack, fake, database_url, caplog):
    from handlers.common import NOT_SAVED
    from tests.stall_proxy import write_lock

    assert bot.run_job("open-proposals").status == "done"
    slack.command("U0TM1", "/propose-case")
    before = counts(bot)
    with write_lock(database_url), caplog.at_level(logging.WARNING):
        reply = slack.submit("U0TM1", {"Case reference": "CIC-10234", "Case holder": "U0P1",
                                       "Why would this case give most learning?": "A plan that changed course."})
    assert list(reply.errors.values()) == [NOT_SAVED]
    assert not any(leak in reply.body for leak in LEAKS)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert counts(bot) == before
