"""The driver drives a real slack-bolt app over HTTP the way Slack does, against the fake Web API."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.app.sandbox.driver import SlackDriver, SubmitBlocked
from bot.app.sandbox.fake_slack import FakeSlack
from bot.core.runtime import TrackingExecutor

SECRET = "secret"


def text_input(block_id: str, label: str, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": "value", **element},
    }


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


PROPOSAL_MODAL = {
    "type": "modal",
    "callback_id": "propose",
    "title": {"type": "plain_text", "text": "Propose a case"},
    "submit": {"type": "plain_text", "text": "Propose"},
    "blocks": [
        text_input("case", "Case reference"),
        {
            "type": "input",
            "block_id": "service",
            "label": {"type": "plain_text", "text": "Service"},
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": [option("Children in Care", "cic"), option("Care Leavers", "cl")],
            },
        },
        {
            "type": "input",
            "block_id": "auditor",
            "label": {"type": "plain_text", "text": "Suggested auditor"},
            "element": {"type": "users_select", "action_id": "value"},
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due date"},
            "element": {"type": "datepicker", "action_id": "value", "initial_date": "2026-06-30"},
        },
        text_input("why", "Why this case", multiline=True, max_length=50),
    ],
}
TWO_STEP_MODAL = {
    "type": "modal",
    "callback_id": "two-step",
    "title": {"type": "plain_text", "text": "Record audit"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [text_input("summary", "Summary")],
}
FILTER_MODAL = {
    "type": "modal",
    "callback_id": "filter",
    "title": {"type": "plain_text", "text": "Choose"},
    "submit": {"type": "plain_text", "text": "Go"},
    "blocks": [
        {
            "type": "input",
            "block_id": "service",
            "dispatch_action": True,
            "label": {"type": "plain_text", "text": "Service"},
            "element": {
                "type": "static_select",
                "action_id": "pick-service",
                "options": [option("Children in Care", "cic"), option("Care Leavers", "cl")],
            },
        },
        text_input("note", "Note", initial_value="as before"),
    ],
}


@dataclass
class Seen:
    submissions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    retries: list[str | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def build_app(fake: FakeSlack, seen: Seen, executor: TrackingExecutor) -> App:
    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    app = App(
        token="xoxb-test",
        signing_secret=SECRET,
        client=client,
        token_verification_enabled=False,
        listener_executor=executor,
    )

    @app.command("/propose-case")
    def propose(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=PROPOSAL_MODAL)

    @app.command("/record")
    def record(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=TWO_STEP_MODAL)

    @app.command("/choose")
    def choose(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=FILTER_MODAL)

    @app.command("/echo")
    def echo(ack: Any, command: dict[str, Any]) -> None:
        ack(f"You said {command['text']}")

    @app.command("/later")
    def later(ack: Any, respond: Any) -> None:
        ack()
        respond("Your report is ready")

    @app.command("/long-title")
    def long_title(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = dict(PROPOSAL_MODAL, title={"type": "plain_text", "text": "Propose a case for audit!"})
        try:
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            seen.errors.append(exc.response["error"])

    @app.command("/reuse-trigger")
    def reuse(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=PROPOSAL_MODAL)
        try:
            client.views_open(trigger_id=body["trigger_id"], view=PROPOSAL_MODAL)
        except SlackApiError as exc:
            seen.errors.append(exc.response["error"])

    @app.command("/big")
    def big(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"case {n}"}} for n in range(51)]
        try:
            client.chat_postMessage(channel=body["channel_id"], text="all cases", blocks=blocks)
        except SlackApiError as exc:
            seen.errors.append(exc.response["error"])

    @app.command("/slow")
    def slow(ack: Any) -> None:
        time.sleep(0.3)
        ack()

    @app.view("propose")
    def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = view["state"]["values"]
        case_ref = values["case"]["value"]["value"]
        if not re.fullmatch(r"CR-\d+", case_ref or ""):
            ack(response_action="errors", errors={"case": "Use a case reference like CR-123"})
            return
        ack()
        seen.submissions.append(values)
        client.chat_postMessage(
            channel=body["user"]["id"],
            text=f"{case_ref} proposed",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{case_ref}* proposed"}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "start-reflection",
                            "text": {"type": "plain_text", "text": "Start reflection"},
                            "value": case_ref,
                        }
                    ],
                },
            ],
        )

    @app.view("two-step")
    def two_step(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        loading = dict(
            TWO_STEP_MODAL, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Saving…"}}]
        )
        del loading["submit"]
        ack(response_action="update", view=loading)
        done = dict(loading, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Saved"}}])
        client.views_update(view_id=body["view"]["id"], view=done)

    @app.view("filter")
    def filtered(ack: Any, view: dict[str, Any]) -> None:
        ack()
        seen.submissions.append(view["state"]["values"])

    @app.action("pick-service")
    def picked(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen.actions.append(body)

    @app.action("start-reflection")
    def start(ack: Any, body: dict[str, Any], respond: Any, client: WebClient) -> None:
        ack()
        seen.actions.append(body)
        case_ref = body["actions"][0]["value"]
        respond(replace_original=True, text=f"Reflection started for {case_ref}")
        client.files_upload_v2(
            channel=body["channel"]["id"],
            content=f"case_ref\n{case_ref}\n",
            filename="reflection.csv",
            title="Reflection",
        )

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient, request: BoltRequest) -> None:
        seen.events.append(event)
        seen.retries.append(request.headers.get("x-slack-retry-num", [None])[0])
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "Nothing due"},
                        "accessory": {
                            "type": "button",
                            "action_id": "start-reflection-home",
                            "text": {"type": "plain_text", "text": "Propose a case"},
                        },
                    }
                ],
            },
        )

    @app.action("start-reflection-home")
    def home_click(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen.actions.append(body)

    return app


def serve(app: App) -> tuple[uvicorn.Server, threading.Thread, str]:
    async def endpoint(request: Request) -> Response:
        body = (await request.body()).decode("utf-8")
        bolt_request = BoltRequest(body=body, query=request.url.query, headers=dict(request.headers))
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        return Response(bolt_response.body, bolt_response.status, bolt_response.first_headers())

    web = Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "test app did not start"
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


@dataclass
class Rig:
    fake: FakeSlack
    slack: SlackDriver
    seen: Seen


@pytest.fixture()
def rig() -> Iterator[Rig]:
    fake = FakeSlack().start()
    fake.add_user("U0SM1", name="sam")
    seen = Seen()
    executor = TrackingExecutor(max_workers=8)
    server, thread, url = serve(build_app(fake, seen, executor))
    driver = SlackDriver(url, SECRET, fake, wait_idle=executor.wait_idle)
    try:
        yield Rig(fake, driver, seen)
    finally:
        driver.close()
        server.should_exit = True
        thread.join(timeout=10)
        executor.shutdown(wait=True)
        fake.stop()


PROPOSAL = {
    "Case reference": "CR-123",
    "Service": "Care Leavers",
    "Suggested auditor": "U0SM2",
    "Why this case": "Repeat referrals",
}


def test_slash_command_opens_the_modal_with_the_trigger_slack_sent(rig: Rig) -> None:
    reply = rig.slack.command("U0SM1", "/propose-case")

    assert reply.status == 200
    view = rig.fake.latest_view("U0SM1")
    assert view is not None and view["callback_id"] == "propose"
    assert rig.fake.problems == []


def test_submission_by_labels_reaches_the_app_as_slack_state(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/propose-case")

    reply = rig.slack.submit("U0SM1", PROPOSAL)

    assert reply.status == 200 and reply.errors == {}
    [values] = rig.seen.submissions
    assert values["case"]["value"] == {"type": "plain_text_input", "value": "CR-123"}
    assert values["service"]["value"]["selected_option"]["value"] == "cl"
    assert values["auditor"]["value"]["selected_user"] == "U0SM2"
    assert values["due"]["value"]["selected_date"] == "2026-06-30"  # untouched: its initial date
    assert rig.fake.views("U0SM1") == []  # an empty ack closes the modal
    assert rig.fake.dms("U0SM1")[0]["text"] == "CR-123 proposed"


def test_inline_errors_keep_the_modal_open(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/propose-case")

    reply = rig.slack.submit("U0SM1", {**PROPOSAL, "Case reference": "Jane Smith"})

    assert reply.errors == {"case": "Use a case reference like CR-123"}
    assert rig.fake.latest_view("U0SM1")["callback_id"] == "propose"
    assert rig.seen.submissions == []
    assert rig.fake.problems == []


def test_slack_blocks_a_submission_missing_a_required_field(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/propose-case")

    with pytest.raises(SubmitBlocked, match="Suggested auditor"):
        rig.slack.submit("U0SM1", {k: v for k, v in PROPOSAL.items() if k != "Suggested auditor"})
    with pytest.raises(SubmitBlocked, match="at most 50"):
        rig.slack.submit("U0SM1", {**PROPOSAL, "Why this case": "x" * 51})
    assert rig.seen.submissions == []


def test_unknown_labels_say_what_is_there(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/propose-case")

    with pytest.raises(LookupError, match="Case reference"):
        rig.slack.submit("U0SM1", {"Child's name": "x"})
    with pytest.raises(LookupError, match="Service"):
        rig.slack.submit("U0SM1", {**PROPOSAL, "Service": "Fostering"})
    with pytest.raises(LookupError, match="Start reflection|no button"):
        rig.slack.click("U0SM1", "Approve")


def test_button_in_a_dm_replaces_the_message_and_uploads_a_file(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/propose-case")
    rig.slack.submit("U0SM1", PROPOSAL)
    [dm] = rig.fake.dms("U0SM1")

    reply = rig.slack.click("U0SM1", "Start reflection", message=dm)

    assert reply.status == 200
    [payload] = rig.seen.actions
    assert payload["container"] == {
        "type": "message",
        "message_ts": dm["ts"],
        "channel_id": "DU0SM1",
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["value"] == "CR-123"
    assert reply.text == "Reflection started for CR-123"
    assert rig.fake.dms("U0SM1")[0]["text"] == "Reflection started for CR-123"
    [upload] = rig.fake.files
    assert upload["content"] == b"case_ref\nCR-123\n" and upload["channel_id"] == "DU0SM1"


def test_ack_text_and_response_url_text_both_reach_reply_text(rig: Rig) -> None:
    assert rig.slack.command("U0SM1", "/echo", "hello").text == "You said hello"
    assert rig.fake.ephemerals("U0SM1")[-1]["text"] == "You said hello"
    assert rig.slack.command("U0SM1", "/later").text == "Your report is ready"


def test_response_action_update_lands_before_the_follow_up_views_update(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/record")

    rig.slack.submit("U0SM1", {"Summary": "Good practice seen"})

    view = rig.fake.latest_view("U0SM1")
    assert view["blocks"][0]["text"]["text"] == "Saved"
    assert [c.ok for c in rig.fake.calls("views.update")] == [True]


def test_select_with_dispatch_action_is_sent_and_kept_for_the_submission(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/choose")

    rig.slack.select("U0SM1", "Service", "Care Leavers")
    rig.slack.submit("U0SM1", {})

    [action] = rig.seen.actions
    assert action["container"]["type"] == "view"
    assert action["actions"][0]["selected_option"]["value"] == "cl"
    [values] = rig.seen.submissions
    assert values["service"]["pick-service"]["selected_option"]["value"] == "cl"
    assert values["note"]["value"]["value"] == "as before"


def test_validation_failures_reach_the_app_as_slack_errors(rig: Rig) -> None:
    rig.slack.command("U0SM1", "/long-title")
    rig.slack.command("U0SM1", "/reuse-trigger")
    rig.slack.command("U0SM1", "/big")

    assert rig.seen.errors == ["invalid_arguments", "invalid_trigger_id", "invalid_blocks"]
    assert any("title" in p for p in rig.fake.problems)
    assert any("51 blocks" in p for p in rig.fake.problems)


def test_faults_surface_in_the_app(rig: Rig) -> None:
    rig.fake.fail_next(500, method="views.open")
    rig.slack.command("U0SM1", "/propose-case")
    assert rig.fake.views("U0SM1") == []
    assert rig.fake.calls("views.open")[0].status == 500

    rig.fake.fail_next(429, method="chat.postMessage", retry_after=3)
    rig.slack.command("U0SM1", "/big")  # fails validation only after the rate limit is passed
    [limited] = rig.fake.calls("chat.postMessage")
    assert (limited.status, limited.error) == (429, "ratelimited")


def test_a_bad_signature_or_stale_timestamp_gets_401(rig: Rig) -> None:
    body = "command=%2Fecho&text=hi&user_id=U0SM1"
    forged = {"Content-Type": "application/x-www-form-urlencoded", **rig.slack.sign(body)}
    forged["X-Slack-Signature"] = "v0=" + "0" * 64
    assert rig.slack.post_raw(body, forged).status == 401

    stale = {
        "Content-Type": "application/x-www-form-urlencoded",
        **rig.slack.sign(body, int(time.time()) - 600),
    }
    assert rig.slack.post_raw(body, stale).status == 401

    signed = {"Content-Type": "application/x-www-form-urlencoded", **rig.slack.sign(body)}
    assert rig.slack.post_raw(body, signed).status == 200


def test_home_opened_event_publishes_home_and_its_button_clicks(rig: Rig) -> None:
    rig.slack.open_home("U0SM1")
    rig.slack.event(
        {"type": "app_home_opened", "user": "U0SM1", "channel": "DU0SM1", "tab": "home"}, retry_num=1
    )

    assert [e["user"] for e in rig.seen.events] == ["U0SM1", "U0SM1"]
    assert rig.seen.retries == [None, "1"]
    rig.slack.click("U0SM1", "Propose a case", home=True)
    [payload] = rig.seen.actions
    assert payload["view"]["type"] == "home"
    assert payload["container"]["type"] == "view"


def test_a_slow_ack_is_recorded_as_a_problem(rig: Rig) -> None:
    rig.slack.ack_deadline = 0.1
    rig.slack.command("U0SM1", "/slow")
    assert any("to acknowledge" in p for p in rig.fake.problems)
