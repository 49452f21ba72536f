"""The local Slack stand-in refuses what Slack refuses, through the real slack_sdk WebClient."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.app.sandbox.fake_scopes import EVERY_SCOPE
from bot.app.sandbox.fake_slack import FakeSlack
from bot.app.sandbox.render import render_blocks, render_view


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    # every scope, to exercise every method the fake serves; test_scopes.py tests the manifest's grant
    with FakeSlack(scopes=EVERY_SCOPE) as server:
        yield server


@pytest.fixture()
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.base_url)


def modal(title: str = "Propose a case", blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Propose"},
        "blocks": blocks
        or [
            {
                "type": "input",
                "block_id": "case",
                "label": {"type": "plain_text", "text": "Case reference"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        **extra,
    }


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


# ---- messages ---------------------------------------------------------------------------------


def test_post_to_a_user_id_lands_in_their_dm_channel(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="U0SM1", text="Please propose cases")
    second = client.chat_postMessage(channel="U0SM1", text="Reminder")

    assert first["channel"] == "DU0SM1"
    assert float(second["ts"]) > float(first["ts"])
    assert [m["text"] for m in fake.dms("U0SM1")] == ["Please propose cases", "Reminder"]
    assert fake.messages("C0GENERAL") == []


def test_update_needs_the_dm_id_not_the_user_id(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U0SM1", text="old")

    assert (
        error_of(lambda: client.chat_update(channel="U0SM1", ts=posted["ts"], text="new"))
        == "channel_not_found"
    )
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="new")

    assert fake.dms("U0SM1")[0]["text"] == "new"
    assert fake.dms("U0SM1")[0]["edited"]["user"] == fake.bot_user_id


def test_fifty_one_blocks_are_refused_and_explained(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section(f"line {n}") for n in range(51)]

    assert (
        error_of(lambda: client.chat_postMessage(channel="C0QI", text="x", blocks=blocks)) == "invalid_blocks"
    )
    assert fake.messages() == []
    assert any("51 blocks" in p for p in fake.problems)
    failed = fake.calls("chat.postMessage")[0]
    assert (failed.ok, failed.error, failed.status) == (False, "invalid_blocks", 200)


def test_lenient_mode_records_the_problem_but_delivers(client: WebClient) -> None:
    with FakeSlack(strict=False) as lenient:
        lenient_client = WebClient(token="xoxb-test", base_url=lenient.base_url)
        lenient_client.chat_postMessage(channel="C0QI", text="x", blocks=[section("y")] * 51)
        assert len(lenient.messages("C0QI")) == 1
        assert lenient.problems


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")  # sent on purpose
def test_message_needs_text_or_blocks_and_at_most_40000_characters(client: WebClient) -> None:
    assert error_of(lambda: client.chat_postMessage(channel="C0QI", text="")) == "no_text"
    assert error_of(lambda: client.chat_postMessage(channel="C0QI", text="x" * 40_001)) == "msg_too_long"
    client.chat_postMessage(channel="C0QI", text="x" * 40_000)


def test_mrkdwn_header_and_duplicate_block_ids_are_refused(fake: FakeSlack, client: WebClient) -> None:
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "*Themes*"}}
    assert (
        error_of(lambda: client.chat_postMessage(channel="C0QI", text="t", blocks=[header]))
        == "invalid_blocks"
    )
    twice = [section("a", "same"), section("b", "same")]
    assert (
        error_of(lambda: client.chat_postMessage(channel="C0QI", text="t", blocks=twice)) == "invalid_blocks"
    )
    assert any("plain_text" in p for p in fake.problems)
    assert any("same" in p for p in fake.problems)


def test_section_text_over_3000_characters_is_refused(client: WebClient) -> None:
    blocks = [section("x" * 3001)]
    assert (
        error_of(lambda: client.chat_postMessage(channel="C0QI", text="t", blocks=blocks)) == "invalid_blocks"
    )


def test_form_encoded_calls_are_understood(fake: FakeSlack, client: WebClient) -> None:
    client.api_call(
        "chat.postMessage",
        params={"channel": "C0QI", "text": "form", "blocks": '[{"type":"divider"}]'},
    )
    assert fake.messages("C0QI")[0]["blocks"][0]["type"] == "divider"
    assert fake.calls("chat.postMessage")[0].token == "xoxb-test"


def test_missing_token_and_unknown_method(fake: FakeSlack, client: WebClient) -> None:
    assert error_of(lambda: WebClient(base_url=fake.base_url).auth_test()) == "not_authed"
    assert error_of(lambda: client.api_call("chat.teleport")) == "unknown_method"
    assert client.auth_test()["user_id"] == fake.bot_user_id


def test_history_is_newest_first_with_metadata_and_bounds(client: WebClient) -> None:
    posted = [
        client.chat_postMessage(
            channel="C0QI",
            text=f"m{n}",
            metadata={"event_type": "qmf_outbox", "event_payload": {"outbox_id": n}},
        )["ts"]
        for n in range(4)
    ]
    history = client.conversations_history(channel="C0QI", include_all_metadata=True)["messages"]
    assert [m["text"] for m in history] == ["m3", "m2", "m1", "m0"]
    assert history[0]["metadata"]["event_payload"] == {"outbox_id": 3}

    window = client.conversations_history(channel="C0QI", oldest=posted[0], latest=posted[3])["messages"]
    assert [m["text"] for m in window] == ["m2", "m1"]
    page = client.conversations_history(channel="C0QI", limit=3)
    assert page["has_more"] is True and len(page["messages"]) == 3


def test_conversations_open_is_deterministic_for_the_same_people(client: WebClient) -> None:
    one = client.conversations_open(users="U0SM1,U0TM1")["channel"]["id"]
    same = client.conversations_open(users=["U0TM1", "U0SM1"])["channel"]["id"]
    other = client.conversations_open(users="U0SM1,U0TM2")["channel"]["id"]
    assert one == same and one.startswith("G") and other != one
    assert client.conversations_open(users="U0SM1")["channel"]["id"] == "DU0SM1"


def test_users_info_and_lookup_by_email(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U0SM1", name="sam", real_name="Sam Manager", email="sam@council.example")
    assert client.users_info(user="U0SM1")["user"]["real_name"] == "Sam Manager"
    assert client.users_lookupByEmail(email="sam@council.example")["user"]["id"] == "U0SM1"
    assert error_of(lambda: client.users_info(user="U0NOBODY")) == "user_not_found"
    assert error_of(lambda: client.users_lookupByEmail(email="x@y.z")) == "users_not_found"


def test_reactions_and_permalinks_need_a_real_message(client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0QI", text="done")
    client.reactions_add(channel="C0QI", timestamp=posted["ts"], name="white_check_mark")
    assert (
        error_of(
            lambda: client.reactions_add(channel="C0QI", timestamp=posted["ts"], name="white_check_mark")
        )
        == "already_reacted"
    )
    link = client.chat_getPermalink(channel="C0QI", message_ts=posted["ts"])["permalink"]
    assert posted["ts"].replace(".", "") in link
    assert (
        error_of(lambda: client.chat_getPermalink(channel="C0QI", message_ts="1.000001"))
        == "message_not_found"
    )


def test_files_upload_v2_keeps_the_bytes_and_shares_them(fake: FakeSlack, client: WebClient) -> None:
    result = client.files_upload_v2(
        channel="C0QI",
        content="case_ref,grade\nCR-1,Good\n",
        filename="sample.csv",
        title="Q1 sample",
        initial_comment="This quarter's sample",
    )
    assert result["file"]["title"] == "Q1 sample"
    [stored] = fake.files
    assert stored["content"] == b"case_ref,grade\nCR-1,Good\n"
    assert (stored["channel_id"], stored["initial_comment"]) == ("C0QI", "This quarter's sample")
    assert [c.method for c in fake.calls()] == [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
    ]
    assert fake.messages("C0QI")[0]["files"][0]["id"] == stored["file_id"]


def test_completing_an_upload_that_never_happened_fails(client: WebClient) -> None:
    started = client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert (
        error_of(
            lambda: client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "a"}])
        )
        == "file_not_found"
    )


# ---- views ------------------------------------------------------------------------------------


def test_views_open_needs_a_fresh_unused_trigger(fake: FakeSlack, client: WebClient) -> None:
    trigger = fake.issue_trigger("U0SM1")
    opened = client.views_open(trigger_id=trigger, view=modal())

    assert opened["view"]["id"].startswith("V")
    assert fake.latest_view("U0SM1")["state"] == {"values": {}}
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=modal())) == "invalid_trigger_id"
    assert error_of(lambda: client.views_open(trigger_id="made-up", view=modal())) == "invalid_trigger_id"

    fake.trigger_ttl = 0.05
    stale = fake.issue_trigger("U0SM1")
    time.sleep(0.1)
    assert error_of(lambda: client.views_open(trigger_id=stale, view=modal())) == "expired_trigger_id"


def test_a_25_character_title_is_refused(fake: FakeSlack, client: WebClient) -> None:
    title = "Propose a case for audit!"
    assert len(title) == 25
    error = error_of(lambda: client.views_open(trigger_id=fake.issue_trigger("U0SM1"), view=modal(title)))
    assert error == "invalid_arguments"
    assert any("title" in p and "24" in p for p in fake.problems)
    assert fake.views("U0SM1") == []


def test_modal_with_inputs_needs_submit_and_unique_block_ids(fake: FakeSlack, client: WebClient) -> None:
    no_submit = modal()
    del no_submit["submit"]
    assert error_of(lambda: client.views_open(trigger_id=fake.issue_trigger("U1"), view=no_submit)) == (
        "invalid_arguments"
    )
    twice = modal(blocks=[section("a", "x"), section("b", "x")])
    assert error_of(lambda: client.views_open(trigger_id=fake.issue_trigger("U1"), view=twice)) == (
        "invalid_arguments"
    )


def test_a_view_copied_from_a_payload_is_refused(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=fake.issue_trigger("U1"), view=modal())["view"]
    error = error_of(lambda: client.views_update(view_id=opened["id"], view=opened))
    assert error == "invalid_arguments"
    assert any("read-only" in p for p in fake.problems)


def test_private_metadata_over_3000_characters_is_refused(fake: FakeSlack, client: WebClient) -> None:
    view = modal(private_metadata="x" * 3001)
    assert (
        error_of(lambda: client.views_open(trigger_id=fake.issue_trigger("U1"), view=view))
        == "invalid_arguments"
    )


def test_push_needs_an_open_modal_and_stops_at_three(fake: FakeSlack, client: WebClient) -> None:
    assert error_of(lambda: client.views_push(trigger_id=fake.issue_trigger("U1"), view=modal())) == (
        "invalid_arguments"
    )
    client.views_open(trigger_id=fake.issue_trigger("U1"), view=modal("One"))
    client.views_push(trigger_id=fake.issue_trigger("U1"), view=modal("Two"))
    client.views_push(trigger_id=fake.issue_trigger("U1"), view=modal("Three"))
    assert error_of(lambda: client.views_push(trigger_id=fake.issue_trigger("U1"), view=modal("Four"))) == (
        "push_limit_reached"
    )
    assert [v["title"]["text"] for v in fake.views("U1")] == ["One", "Two", "Three"]
    assert fake.views("U1")[2]["previous_view_id"] == fake.views("U1")[1]["id"]


def test_views_update_checks_the_hash_and_keeps_typed_values(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=fake.issue_trigger("U1"), view=modal(external_id="prop-1"))["view"]
    fake.set_view_state(opened["id"], "case", "value", {"type": "plain_text_input", "value": "CR-9"})

    updated = client.views_update(external_id="prop-1", hash=opened["hash"], view=modal("Checked"))["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert fake.latest_view("U1")["state"]["values"]["case"]["value"]["value"] == "CR-9"
    assert error_of(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())) == (
        "hash_conflict"
    )


def test_home_tab_is_published_per_person(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("Nothing to do")]}
    client.views_publish(user_id="U0SM1", view=home)
    client.views_publish(user_id="U0SM1", view={"type": "home", "blocks": [section("Two audits due")]})
    assert fake.home("U0SM1")["blocks"][0]["text"]["text"] == "Two audits due"
    assert fake.home("U0TM1") is None
    assert error_of(lambda: client.views_publish(user_id="U0SM1", view=modal())) == "invalid_arguments"


# ---- faults and limits ------------------------------------------------------------------------


def test_fail_next_500_then_recovers(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next(500, method="chat.postMessage")
    client.auth_test()  # other methods are untouched
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C0QI", text="a")
    assert caught.value.response.status_code == 500
    client.chat_postMessage(channel="C0QI", text="b")
    assert [(c.status, c.ok) for c in fake.calls("chat.postMessage")] == [(500, False), (200, True)]
    assert [m["text"] for m in fake.messages()] == ["b"]


def test_fail_next_429_carries_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next(429, retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C0QI", text="a")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"


def test_fail_next_200_with_an_error_code(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next(200, count=2, error="fatal_error")
    assert error_of(lambda: client.auth_test()) == "fatal_error"
    assert error_of(lambda: client.auth_test()) == "fatal_error"
    assert client.auth_test()["ok"] is True


def test_outage_window_fails_everything_until_it_ends(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_for(0.2, status=503, methods={"chat.postMessage"})
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0QI", text="a")
    client.auth_test()
    time.sleep(0.25)
    client.chat_postMessage(channel="C0QI", text="b")


def test_posting_faster_than_the_channel_rate_gets_429(client: WebClient) -> None:
    with FakeSlack(channel_rate_per_sec=1) as limited:
        slow = WebClient(token="xoxb-test", base_url=limited.base_url)
        slow.chat_postMessage(channel="C0QI", text="one")
        with pytest.raises(SlackApiError) as caught:
            slow.chat_postMessage(channel="C0QI", text="two")
        assert caught.value.response.status_code == 429
        assert int(caught.value.response.headers["Retry-After"]) >= 1
        slow.chat_postMessage(channel="C0CIB", text="another channel is fine")
        assert [c.ok for c in limited.calls("chat.postMessage")] == [True, False, True]


def test_wait_for_sees_calls_from_other_threads_and_times_out_clearly(
    fake: FakeSlack, client: WebClient
) -> None:
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C0QI", text="later")).start()
    [call] = fake.wait_for("chat.postMessage", timeout=5)
    assert call.args["text"] == "later"
    with pytest.raises(TimeoutError, match="views.open"):
        fake.wait_for("views.open", timeout=0.1)


def test_clear_forgets_what_happened(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C0QI", text="a")
    fake.clear()
    assert fake.calls() == [] and fake.messages() == [] and fake.problems == []


# ---- response_url -----------------------------------------------------------------------------


def test_response_url_replaces_deletes_or_whispers(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0QI", text="Propose a case?")
    url = fake.new_response_url(channel="C0QI", user_id="U0SM1", message_ts=posted["ts"])
    WebhookClient(url).send(text="Thanks, proposed", replace_original=True)
    assert fake.messages("C0QI")[0]["text"] == "Thanks, proposed"

    WebhookClient(url).send(text="Only you can see this")
    assert fake.ephemerals("U0SM1")[-1]["text"] == "Only you can see this"

    WebhookClient(url).send(delete_original=True)
    assert fake.messages("C0QI") == []
    assert [c.ok for c in fake.calls("response_url")] == [True, True, True]


def test_response_url_refuses_bad_blocks(fake: FakeSlack) -> None:
    url = fake.new_response_url(channel="C0QI", user_id="U1")
    response = WebhookClient(url).send(text="x", blocks=[section("y")] * 51)
    assert response.status_code == 400
    assert fake.ephemerals() == []


# ---- rendering --------------------------------------------------------------------------------


def test_render_shows_words_buttons_and_fields() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Learning audit"}},
        section("Case *CR-1* is yours to audit"),
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Due 30 June"}]},
        {"type": "image", "image_url": "https://x/y.png", "alt_text": "themes chart"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Propose a case"},
                    "action_id": "p",
                },
            ],
        },
    ]
    text = render_blocks(blocks, "fallback")
    for expected in (
        "# Learning audit",
        "CR-1",
        "Due 30 June",
        "[image: themes chart]",
        "[Button: Propose a case]",
    ):
        assert expected in text
    assert render_blocks([], "just text") == "just text"


def test_render_view_lists_inputs_with_optional_marks() -> None:
    view = modal(
        blocks=[
            {
                "type": "input",
                "optional": True,
                "label": {"type": "plain_text", "text": "Notes"},
                "element": {"type": "plain_text_input"},
            },
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Service"},
                "element": {
                    "type": "static_select",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Children in Care"}, "value": "cic"},
                        {"text": {"type": "plain_text", "text": "Care Leavers"}, "value": "cl"},
                    ],
                },
            },
        ]
    )
    text = render_view(view)
    assert text.startswith("=== Propose a case ===")
    assert "Notes: <plain_text_input> (optional)" in text
    assert "Children in Care | Care Leavers" in text
    assert "[Propose]" in text


def test_a_modal_is_timed_from_when_views_open_arrived_not_from_when_the_fake_had_handled_it(
        fake: FakeSlack, client: WebClient) -> None:
    import threading
    import time

    gate = fake.hold("views.open")  # the fake's own work on the call takes 0.3 s here
    threading.Timer(0.3, gate.set).start()
    sent = time.monotonic()
    view_id = client.views_open(trigger_id=fake.issue_trigger("U0SM1"), view=modal())["view"]["id"]
    [call] = fake.calls("views.open")
    assert call.received is not None and call.received - sent < 0.2 and call.at - sent >= 0.3
    assert fake.opened_at(view_id) == call.received
