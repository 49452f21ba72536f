"""manifest.json asks for exactly the scopes the code's Slack calls need: no call without its scope
(the install works, then the feature fails with missing_scope), no scope without a call (a council's
Slack admin is asked to approve access the bot never uses)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.sandbox.fake_scopes import EVERY_SCOPE, missing_scope
from bot.app.sandbox.fake_slack import FakeSlack
from bot.app.slack_http import METHOD_SCOPES, OTHER_SCOPES, SDK_HELPERS

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("bot", "handlers", "schedules")
NOT_SCANNED = REPO / "bot" / "app" / "sandbox"  # the local Slack and its drivers, not the app
# Events the manifest subscribes to, and the scopes Slack asks for them.
EVENT_SCOPES: dict[str, tuple[str, ...]] = {"app_home_opened": ()}

# slack_sdk's method name for each Web API method (chat_postMessage for chat.postMessage, ...)
SDK_METHODS = {name for name, value in vars(WebClient).items() if callable(value) and not name.startswith("_")}


def _manifest() -> dict:
    return json.loads((REPO / "manifest.json").read_text(encoding="utf-8"))


def methods_called(roots: list[Path]) -> dict[str, set[str]]:
    """Web API method -> the files that call it, found by the slack_sdk method names in the source."""
    pattern = re.compile(r"\.\s*([A-Za-z]+_[A-Za-z0-9_]+)\s*\(")
    literal = re.compile(r"api_call\(\s*(?:api_method\s*=\s*)?[\"']([\w.]+)[\"']")
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if NOT_SCANNED in path.parents:
                continue
            source = path.read_text(encoding="utf-8")
            names = [n for n in pattern.findall(source) if n in SDK_METHODS and n != "api_call"]
            methods = [m for n in names for m in SDK_HELPERS.get(n, (n.replace("_", "."),))]
            methods += literal.findall(source)
            for method in methods:
                found.setdefault(method, set()).add(str(path.relative_to(root.parent)))
    return found


def test_the_scan_finds_calls_helpers_and_api_call(tmp_path: Path) -> None:
    code = tmp_path / "bot"
    code.mkdir()
    (code / "x.py").write_text(
        "rt.client.reactions_add(channel=c)\nself.client.files_upload_v2(\n  channel=c)\n"
        "client.api_call('pins.add')\nteam_options(session)\nrows.sort_by(x)\n"
    )
    assert set(methods_called([code])) == {
        "reactions.add", "files.getUploadURLExternal", "files.completeUploadExternal", "pins.add",
    }


def test_every_slack_call_in_the_code_is_in_the_scope_table() -> None:
    called = methods_called([REPO / name for name in SCANNED])
    unlisted = {m: sorted(files) for m, files in called.items() if m not in METHOD_SCOPES}
    assert not unlisted, f"add these methods and their scopes to bot.app.slack_http.METHOD_SCOPES: {unlisted}"
    unused = sorted(set(METHOD_SCOPES) - set(called))
    assert not unused, f"METHOD_SCOPES lists methods nothing calls (drop them and their scopes): {unused}"


def test_the_manifest_asks_for_exactly_the_scopes_the_calls_need() -> None:
    manifest = _manifest()
    called = methods_called([REPO / name for name in SCANNED])
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) <= set(EVENT_SCOPES), "give each subscribed event's scope in EVENT_SCOPES"
    needed = {scope for method in called for scope in METHOD_SCOPES.get(method, ())}
    needed |= {scope for event in events for scope in EVENT_SCOPES[event]}
    if manifest["features"].get("slash_commands"):
        needed.add("commands")
    if "users:read.email" in needed:
        needed.add("users:read")  # Slack grants users:read.email only together with users:read
    asked = manifest["oauth_config"]["scopes"]["bot"]
    assert len(asked) == len(set(asked))
    assert sorted(asked) == sorted(needed)
    assert set(OTHER_SCOPES) <= needed  # each reason given for a non-call scope still applies


def test_the_apps_table_agrees_with_the_fakes_model_of_slack() -> None:
    # the app's belief about each method's scope, checked against the fake's rule for the way it calls it
    how_called = {"conversations.open": {"users": "U0A,U0B"}}
    for method, scopes in METHOD_SCOPES.items():
        granted = frozenset(scopes) | {"commands"}
        assert missing_scope(method, how_called.get(method, {}), granted) == (), method


def test_history_scopes_are_gone_and_the_fake_refuses_reading_history() -> None:
    asked = set(_manifest()["oauth_config"]["scopes"]["bot"])
    assert not {s for s in asked if s.endswith((":history", ":read")) and s != "users:read"}
    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url)
        client.chat_postMessage(channel="C0CIC", text="a learning post")
        with pytest.raises(SlackApiError) as refused:
            client.conversations_history(channel="C0CIC")
        assert refused.value.response["error"] == "missing_scope"
        assert refused.value.response["needed"] == "channels:history,groups:history"
        # a one-person DM needs im:write, asked for since /qmf report uploads into the asker's DM
        assert client.conversations_open(users="U0SM1")["channel"]["id"].startswith("D")
        assert client.conversations_open(users="U0SM1,U0TM1")["channel"]["id"].startswith("G")
    with FakeSlack(scopes=EVERY_SCOPE) as everything:
        client = WebClient(token="xoxb-test", base_url=everything.base_url)
        assert client.conversations_history(channel="C0CIC")["ok"]
