"""manifest.json must be accepted by Slack's own schema, or creating the app in one step fails."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema.validators import validator_for

from tests.shared_docs import shared_dir, shared_file

REPO = Path(__file__).resolve().parents[2]
SCHEMA_NAME = "manifest.schema.1.0.0.json"
VENDORED_SCHEMA = REPO / "tests" / "data" / SCHEMA_NAME
EVENTS_PATH = "/slack/events"

# Every bot scope the app asks for, and why: a council's Slack admin approves each one, so an
# unexplained scope is a reason to refuse the install. No *:read or *:history scope: the bot reads
# no channel or its messages (the outbox re-sends rather than reading history after a crash), it
# subscribes to no message events, and app_home_opened needs no scope. tests/unit/test_scopes.py
# checks these are exactly what the code's Slack calls need.
SCOPE_REASONS = {
    "commands": "the /qmf and /propose-case slash commands",
    "chat:write": "messages and reminders in DMs and in the service and board channels",
    "mpim:write": "conversations.open for a group DM of the auditor, case holder and team manager",
    "im:write": "conversations.open for a person's own DM with the bot, where /qmf report uploads their file",
    "users:read": "Slack grants users:read.email only together with users:read (no users.info or users.list call)",
    "users:read.email": "users.lookupByEmail when the case register names people by email",
    "files:write": "uploading the quarter's reports (xlsx, csv, charts) to a channel or a person's DM",
}


def _schema_path() -> Path:
    shared = shared_dir() / "slack" / SCHEMA_NAME
    return shared if shared.is_file() else VENDORED_SCHEMA


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(_schema_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = validator_for(schema)  # the schema says draft-07; honour whatever it declares
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture()
def manifest() -> dict[str, Any]:
    return json.loads((REPO / "manifest.json").read_text(encoding="utf-8"))


def _errors(validator: jsonschema.protocols.Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_manifest_validates_against_slacks_v1_schema(
    validator: jsonschema.protocols.Validator, manifest: dict[str, Any]
) -> None:
    assert _errors(validator, manifest) == []


def test_manifest_validates_against_the_vendored_schema_too(manifest: dict[str, Any]) -> None:
    # The fallback used when the repo is checked out without ../shared next to it.
    vendored = json.loads(VENDORED_SCHEMA.read_text(encoding="utf-8"))
    cls = validator_for(vendored)
    assert _errors(cls(vendored, format_checker=cls.FORMAT_CHECKER), manifest) == []


def test_schema_check_is_real_and_rejects_a_broken_manifest(
    validator: jsonschema.protocols.Validator, manifest: dict[str, Any]
) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["slash_commands"][0]["command"] = "qmf"  # must start with "/"
    broken["settings"]["interactivity"].pop("is_enabled")
    broken["features"]["bot_user"]["colour"] = "blue"

    assert len(_errors(validator, broken)) == 3


def test_manifest_declares_schema_major_version_one(manifest: dict[str, Any]) -> None:
    assert manifest.get("_metadata", {}).get("major_version", 1) == 1


def test_vendored_schema_matches_the_shared_copy() -> None:
    shared = shared_file("slack", SCHEMA_NAME)
    assert json.loads(VENDORED_SCHEMA.read_text(encoding="utf-8")) == json.loads(shared.read_text(encoding="utf-8"))
    assert (VENDORED_SCHEMA.parent / "manifest.schema.LICENSE").exists()


def test_background_colour_is_a_hex_colour(manifest: dict[str, Any]) -> None:
    # The schema spells this as "regex", which JSON Schema ignores, so check it here.
    assert re.fullmatch(
        r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", manifest["display_information"]["background_color"]
    )


def test_slash_commands_are_exactly_qmf_and_propose_case(manifest: dict[str, Any]) -> None:
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}

    assert sorted(commands) == ["/propose-case", "/qmf"]
    import bot.app.features  # noqa: F401  (imports every feature's listeners, so all subcommands are known)
    from handlers.common import SUBCOMMANDS

    hinted = {word.strip() for word in commands["/qmf"]["usage_hint"].split("|")}
    registered = {name for name in SUBCOMMANDS if not name.startswith("test-")}
    assert hinted == registered
    assert all(c["should_escape"] is False for c in commands.values())


def test_every_request_url_goes_to_slack_events(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls.append(settings["event_subscriptions"]["request_url"])
    urls.append(settings["interactivity"]["request_url"])

    assert len(urls) == 4
    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls), urls


def test_app_home_is_on_and_its_opening_is_subscribed(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_http_mode_settings_match_the_serve_command(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert (
        settings["socket_mode_enabled"],
        settings["org_deploy_enabled"],
        settings["token_rotation_enabled"],
    ) == (
        False,
        False,
        False,
    )


def test_every_bot_scope_is_one_we_can_justify(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]

    assert len(scopes) == len(set(scopes))
    assert set(scopes) == set(SCOPE_REASONS)


def test_the_messages_tab_shows_the_bots_dms_but_takes_no_messages(manifest: dict[str, Any]) -> None:
    # Reminders and results arrive in the bot's DM, so the tab stays; but nobody reads what is typed
    # there (no message.im subscription, no im:history scope), so Slack says messaging is off rather
    # than letting someone type a case's details into a conversation no one will answer.
    app_home = manifest["features"]["app_home"]
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is True
    assert not any(event.startswith("message") for event in manifest["settings"]["event_subscriptions"]["bot_events"])
    assert "im:history" not in manifest["oauth_config"]["scopes"]["bot"]


def test_no_options_url_without_a_menu_that_loads_its_options(manifest: dict[str, Any]) -> None:
    # message_menu_options_url is for external_select menus; the bot builds none (its menus are static),
    # so the setting would point Slack at a listener that does not exist.
    import bot.app.features  # noqa: F401
    sources = "\n".join(p.read_text(encoding="utf-8") for folder in ("bot", "handlers")
                         for p in (REPO / folder).rglob("*.py"))
    builds_external = re.search(r"[\"']type[\"']\s*:\s*[\"'](multi_)?external_select[\"']", sources)
    assert builds_external is None
    assert "message_menu_options_url" not in manifest["settings"]["interactivity"]


def test_every_event_subscribed_has_a_listener(manifest: dict[str, Any]) -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "handlers").rglob("*.py"))
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert f'app.event("{event}")' in sources, f"{event} is subscribed but nothing listens for it"
