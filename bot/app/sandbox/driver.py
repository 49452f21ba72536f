"""Plays the part of Slack's servers and the person at the keyboard, against the running app over HTTP.

Requests are built the way Slack builds them (form-encoded slash commands, ``payload=`` JSON for
interactivity, JSON event envelopes) and signed with the v0 scheme, so the app's real request
verification, routing and acknowledgement run. The person's side is modelled too: a button is found
by the words on it, a modal field by its label, and Slack's own client-side checks (required fields,
length limits, number ranges) stop a submission before the app sees it, as they would in Slack.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json as _json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.app.sandbox.fake_slack import APP_ID, TEAM_DOMAIN, FakeSlack
from bot.app.sandbox.render import render_blocks

EVENTS_PATH = "/slack/events"
ACK_DEADLINE_SECONDS = 3.0

_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_SINGLE_OPTION = {"static_select", "radio_buttons", "external_select", "overflow"}
_MULTI_OPTION = {"multi_static_select", "checkboxes", "multi_external_select"}
_OPTION_ELEMENTS = _SINGLE_OPTION | _MULTI_OPTION
_SELECTED_KEY = {
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
_INITIAL_KEY = {
    "users_select": "initial_user",
    "multi_users_select": "initial_users",
    "conversations_select": "initial_conversation",
    "multi_conversations_select": "initial_conversations",
    "channels_select": "initial_channel",
    "multi_channels_select": "initial_channels",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
    "datetimepicker": "initial_date_time",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SubmitBlocked(ValueError):
    """Slack's own client would refuse to send this submission (a required field empty, too long...)."""


@dataclass
class Reply:
    """The app's HTTP answer, and whatever it then posted to the request's response_url."""

    status: int
    body: str
    json: dict[str, Any] | None
    response_url: str | None = None
    _fake: FakeSlack | None = field(default=None, repr=False, compare=False)

    @property
    def errors(self) -> dict[str, str]:
        """The inline modal errors of a ``response_action: errors`` answer, keyed by block id."""
        if self.json and self.json.get("response_action") == "errors":
            return dict(self.json.get("errors") or {})
        return {}

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Payloads the app sent to this request's response_url (respond()), in order."""
        if self._fake is None or self.response_url is None:
            return []
        return [c.args for c in self._fake.calls("response_url") if c.url == self.response_url]

    @property
    def text(self) -> str | None:
        """What the person read: the ack's text, else the last response_url message (blocks rendered)."""
        if self.json is not None:
            if self.json.get("text"):
                return str(self.json["text"])
            if self.json.get("blocks"):
                return render_blocks(self.json["blocks"])
        elif self.body.strip():
            return self.body
        for payload in reversed(self.responses):
            if payload.get("text"):
                return str(payload["text"])
            if payload.get("blocks"):
                return render_blocks(payload["blocks"])
        return None


@dataclass
class _Target:
    """Something a person can press or choose, and where it lives."""

    block: dict[str, Any]
    element: dict[str, Any]
    option: dict[str, Any] | None
    label: str
    view: dict[str, Any] | None = None
    message: dict[str, Any] | None = None
    ephemeral: bool = False


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, dict)]


def _elements_of(block: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if block.get("type") in ("actions", "context_actions"):
        found.extend(e for e in block.get("elements") or [] if isinstance(e, dict))
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            found.append(block[key])
    return found


def _pressables(
    blocks: list[dict[str, Any]],
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, str]]:
    """Buttons by their words; overflow, select, radio and checkbox choices by their option words."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        for element in _elements_of(block):
            etype = element.get("type")
            if etype in ("button", "workflow_button"):
                yield block, element, None, _text(element.get("text"))
            elif etype in _OPTION_ELEMENTS and (block.get("type") != "input" or block.get("dispatch_action")):
                for option in _options(element):
                    yield block, element, option, _text(option.get("text"))


def _match_option(element: dict[str, Any], given: Any, label: str) -> dict[str, Any]:
    if isinstance(given, dict) and "value" in given:
        given = given["value"]
    wanted = str(given)
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": wanted, "emoji": True}, "value": wanted}
    options = _options(element)
    for option in options:
        if _text(option.get("text")) == wanted:
            return option
    for option in options:
        if option.get("value") == wanted:
            return option
    choices = [_text(o.get("text")) for o in options]
    raise LookupError(f"{label!r} has no option {wanted!r}; options are {choices}")


def _state_value(element: dict[str, Any], given: Any, label: str) -> dict[str, Any]:
    """What Slack puts in view.state for this element when the person entered ``given``."""
    etype = str(element.get("type"))
    if etype in _TEXT_INPUTS:
        return {"type": etype, "value": None if given is None or given == "" else str(given)}
    if etype == "rich_text_input":
        if given is None or given == "":
            return {"type": etype, "rich_text_value": None}
        section = {"type": "rich_text_section", "elements": [{"type": "text", "text": str(given)}]}
        return {"type": etype, "rich_text_value": {"type": "rich_text", "elements": [section]}}
    if etype in _SINGLE_OPTION:
        return {
            "type": etype,
            "selected_option": None if given is None else _match_option(element, given, label),
        }
    if etype in _MULTI_OPTION:
        items = [] if given is None else [given] if isinstance(given, str | dict) else list(given)
        return {"type": etype, "selected_options": [_match_option(element, g, label) for g in items]}
    if etype in _SELECTED_KEY:
        key = _SELECTED_KEY[etype]
        if etype.startswith("multi_"):
            items = [] if given is None else [given] if isinstance(given, str) else list(given)
            return {"type": etype, key: [str(i) for i in items]}
        if given is None:
            return {"type": etype, key: None}
        if etype == "datepicker":
            return {"type": etype, key: given.isoformat() if isinstance(given, date) else str(given)}
        if etype == "timepicker":
            return {"type": etype, key: given.strftime("%H:%M") if isinstance(given, dtime) else str(given)}
        if etype == "datetimepicker":
            return {"type": etype, key: int(given.timestamp()) if isinstance(given, datetime) else int(given)}
        return {"type": etype, key: str(given)}
    if etype == "file_input":
        return {"type": etype, "files": list(given or [])}
    return {"type": etype, "value": given}


def _initial_state(element: dict[str, Any]) -> dict[str, Any]:
    """What an untouched field submits: its initial value, or nothing."""
    etype = str(element.get("type"))
    if etype in _TEXT_INPUTS:
        return {"type": etype, "value": element.get("initial_value")}
    if etype == "rich_text_input":
        return {"type": etype, "rich_text_value": element.get("initial_value")}
    if etype in _SINGLE_OPTION:
        return {"type": etype, "selected_option": element.get("initial_option")}
    if etype in _MULTI_OPTION:
        return {"type": etype, "selected_options": list(element.get("initial_options") or [])}
    if etype in _SELECTED_KEY:
        initial = element.get(_INITIAL_KEY[etype])
        if etype.startswith("multi_"):
            return {"type": etype, _SELECTED_KEY[etype]: list(initial or [])}
        return {"type": etype, _SELECTED_KEY[etype]: initial}
    if etype == "file_input":
        return {"type": etype, "files": []}
    return {"type": etype, "value": None}


def _is_empty(value: dict[str, Any]) -> bool:
    return all(v in (None, "", []) for k, v in value.items() if k != "type")


def _client_checks(block: dict[str, Any], value: dict[str, Any]) -> None:
    """The checks Slack's client makes before it sends a view_submission at all."""
    label = _text(block.get("label")) or str(block.get("block_id"))
    element = block.get("element") or {}
    etype = element.get("type")
    if _is_empty(value):
        if not block.get("optional"):
            raise SubmitBlocked(f"{label!r} is required; Slack would not send the form")
        return
    if etype == "plain_text_input":
        text = str(value["value"])
        top = int(element.get("max_length") or 3000)
        if len(text) > top:
            raise SubmitBlocked(f"{label!r} takes at most {top} characters; {len(text)} were typed")
        if element.get("min_length") and len(text) < int(element["min_length"]):
            raise SubmitBlocked(f"{label!r} needs at least {element['min_length']} characters")
    elif etype == "number_input":
        try:
            number = float(value["value"])
        except ValueError:
            raise SubmitBlocked(f"{label!r} needs a number, not {value['value']!r}") from None
        if not element.get("is_decimal_allowed") and not number.is_integer():
            raise SubmitBlocked(f"{label!r} takes whole numbers only")
        if element.get("min_value") is not None and number < float(element["min_value"]):
            raise SubmitBlocked(f"{label!r} must be at least {element['min_value']}")
        if element.get("max_value") is not None and number > float(element["max_value"]):
            raise SubmitBlocked(f"{label!r} must be at most {element['max_value']}")
    elif etype == "email_text_input" and not _EMAIL.match(str(value["value"])):
        raise SubmitBlocked(f"{label!r} needs an email address")
    elif etype == "url_text_input" and not str(value["value"]).startswith(("http://", "https://")):
        raise SubmitBlocked(f"{label!r} needs a web address")
    elif etype in ("multi_static_select", "multi_users_select", "multi_conversations_select"):
        chosen: list[Any] = next((v for k, v in value.items() if k != "type"), [])
        most = element.get("max_selected_items")
        if most and len(chosen) > int(most):
            raise SubmitBlocked(f"{label!r} takes at most {most} choices")


class SlackDriver:
    """Sends the app what Slack would send when people use it, and keeps the fake's view stacks in step."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        fake: FakeSlack,
        *,
        team_id: str = "T0QMF",
        wait_idle: Callable[[], None] | None = None,
        api_app_id: str = APP_ID,
        verification_token: str = "fake-verification-token",
        timeout: float = 30.0,
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.events_url = self.app_url + EVENTS_PATH
        self.signing_secret = signing_secret
        self.fake = fake
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.verification_token = verification_token
        self.ack_deadline = ACK_DEADLINE_SECONDS
        self._wait_idle = wait_idle
        self._http = httpx.Client(timeout=timeout)
        self._event_ids = itertools.count(1)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SlackDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- wire ----------------------------------------------------------------------------------

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """Slack's v0 request signature headers for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = f"v0:{ts}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    def post_raw(self, body: bytes | str, headers: dict[str, str]) -> Reply:
        """Send exactly these bytes and headers (for hostile-input tests); nothing is added or signed."""
        content = body.encode("utf-8") if isinstance(body, str) else body
        resp = self._http.post(self.events_url, content=content, headers=headers)
        self._idle()
        return self._reply(resp, None)

    def _send(
        self,
        body: str,
        content_type: str,
        *,
        what: str,
        response_url: str | None = None,
        headers: dict[str, str] | None = None,
        before_idle: Callable[[httpx.Response], None] | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": content_type, **self.sign(body), **(headers or {})}
        started = time.monotonic()
        resp = self._http.post(self.events_url, content=body.encode("utf-8"), headers=all_headers)
        took = time.monotonic() - started
        if took > self.ack_deadline:
            self.fake.record_problem(
                f"{what} took {took:.1f}s to acknowledge; Slack gives up after {self.ack_deadline:g}s"
            )
        if before_idle is not None:
            before_idle(resp)
        self._idle()
        return self._reply(resp, response_url)

    def _idle(self) -> None:
        if self._wait_idle is not None:
            self._wait_idle()

    def _reply(self, resp: httpx.Response, response_url: str | None) -> Reply:
        body = resp.text
        parsed: dict[str, Any] | None = None
        if body.lstrip().startswith("{"):
            try:
                value = _json.loads(body)
                parsed = value if isinstance(value, dict) else None
            except ValueError:
                parsed = None
        return Reply(resp.status_code, body, parsed, response_url, self.fake)

    def _interaction(self, payload: dict[str, Any], what: str, **kwargs: Any) -> Reply:
        body = urlencode({"payload": _json.dumps(payload)})
        return self._send(body, "application/x-www-form-urlencoded", what=what, **kwargs)

    def _user(self, user: str) -> dict[str, str]:
        name = self.fake.user_name(user)
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, str]:
        return {"id": self.team_id, "domain": TEAM_DOMAIN}

    # ---- slash commands ----------------------------------------------------------------------

    def command(self, user: str, command: str, text: str = "", *, channel: str = "C0GENERAL") -> Reply:
        """Type ``/command text`` in ``channel``."""
        response_url = self.fake.new_response_url(channel=channel, user_id=user)
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.fake.channel_name(channel),
            "user_id": user,
            "user_name": self.fake.user_name(user),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self.fake.issue_trigger(user),
        }

        def show_ack(resp: httpx.Response) -> None:
            # Slack shows a message-bearing ack to the person (or the channel) at once.
            if resp.status_code != 200 or not resp.text.strip():
                return
            reply = self._reply(resp, None)
            message = reply.json if reply.json is not None else {"text": resp.text}
            if message.get("text") or message.get("blocks"):
                self.fake.deliver_ack_message(message, channel=channel, user_id=user)

        return self._send(
            urlencode(form),
            "application/x-www-form-urlencoded",
            what=f"{command} {text}".strip(),
            response_url=response_url,
            before_idle=show_ack,
        )

    # ---- finding things on screen ------------------------------------------------------------

    def _fresh_message(self, message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The current version of a message (and whether it is ephemeral)."""
        channel, ts = message.get("channel"), message.get("ts")
        if channel and ts:
            live = self.fake.message(channel, ts)
            if live is not None:
                return live, False
            for e in self.fake.ephemerals():
                if e["channel"] == channel and e["ts"] == ts:
                    return e, True
        return message, bool(message.get("source"))

    def _fresh_view(self, view: dict[str, Any]) -> dict[str, Any]:
        live = self.fake.view(view["id"]) if view.get("id") else None
        return live or view

    def _surfaces(
        self,
        user: str,
        message: dict[str, Any] | None,
        view: dict[str, Any] | None,
        home: bool,
    ) -> list[_Target]:
        """Where to look, nearest first: what was named, else the open modal, the person's messages, Home."""
        surfaces: list[tuple[dict[str, Any] | None, dict[str, Any] | None, bool]] = []
        if message is not None:
            fresh, ephemeral = self._fresh_message(message)
            surfaces.append((None, fresh, ephemeral))
        elif view is not None:
            surfaces.append((self._fresh_view(view), None, False))
        elif home:
            surfaces.append((self.fake.home(user), None, False))
        else:
            surfaces.append((self.fake.latest_view(user), None, False))
            surfaces.extend((None, e, True) for e in reversed(self.fake.ephemerals(user)))
            surfaces.extend((None, m, False) for m in reversed(self.fake.dms(user)))
            surfaces.append((self.fake.home(user), None, False))
            surfaces.extend(
                (None, m, False) for m in reversed(self.fake.messages()) if not m["channel"].startswith("D")
            )
        targets: list[_Target] = []
        for v, m, ephemeral in surfaces:
            holder = v if v is not None else m
            if holder is None:
                continue
            for block, element, option, label in _pressables(holder.get("blocks") or []):
                targets.append(_Target(block, element, option, label, v, m, ephemeral))
        return targets

    def _find(self, targets: list[_Target], label: str, value: str | None, what: str) -> _Target:
        for target in targets:
            if target.label != label:
                continue
            if value is not None:
                held = target.option.get("value") if target.option else target.element.get("value")
                if held != value:
                    continue
            return target
        labels = sorted({t.label for t in targets})
        raise LookupError(f"no {what} {label!r}; the person can see: {labels}")

    # ---- block_actions -------------------------------------------------------------------------

    def _action(self, target: _Target, state: dict[str, Any] | None = None) -> dict[str, Any]:
        element = target.element
        action: dict[str, Any] = {
            "action_id": element.get("action_id"),
            "block_id": target.block.get("block_id"),
            "type": element.get("type"),
            "action_ts": f"{time.time():.6f}",
        }
        if element.get("type") in ("button", "workflow_button"):
            action["text"] = element.get("text")
            if "value" in element:
                action["value"] = element["value"]
            if element.get("style"):
                action["style"] = element["style"]
        elif state is not None:
            action.update({k: v for k, v in state.items() if k != "type"})
        elif target.option is not None:
            if element.get("type") in _MULTI_OPTION:
                action["selected_options"] = [target.option]
            else:
                action["selected_option"] = target.option
        return action

    def _block_actions(self, user: str, target: _Target, action: dict[str, Any], what: str) -> Reply:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self.fake.issue_trigger(user),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        response_url = None
        if target.view is not None:
            view = self.fake.view(target.view["id"]) or target.view
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        else:
            message = target.message or {}
            channel, ts = message.get("channel", ""), message.get("ts", "")
            response_url = self.fake.new_response_url(channel=channel, user_id=user, message_ts=ts)
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": target.ephemeral,
            }
            payload["channel"] = {"id": channel, "name": self.fake.channel_name(channel)}
            if not target.ephemeral:
                payload["message"] = self.fake.slack_message(channel, ts) or message
            payload["state"] = {"values": {}}
            payload["response_url"] = response_url
        return self._interaction(payload, what, response_url=response_url)

    def click(
        self,
        user: str,
        label: str,
        *,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        home: bool = False,
        value: str | None = None,
    ) -> Reply:
        """Press the button (or choose the overflow/select option) whose words are ``label``.

        Without ``message``/``view``/``home`` it looks where the person would: the open modal, then
        their ephemeral messages and DMs (newest first), their App Home, then channel messages.
        """
        target = self._find(self._surfaces(user, message, view, home), label, value, "button or option")
        state = None
        if target.option is not None:
            state = _state_value(target.element, target.option, label)
            if target.view is not None:
                self.fake.set_view_state(
                    target.view["id"], target.block["block_id"], target.element["action_id"], state
                )
        return self._block_actions(user, target, self._action(target, state), f"click {label!r}")

    def select(
        self,
        user: str,
        label: str,
        option: Any,
        *,
        view: dict[str, Any] | None = None,
        message: dict[str, Any] | None = None,
    ) -> Reply:
        """Choose ``option`` in the select (or date/user picker) labelled ``label`` that dispatches actions.

        ``label`` is an input block's label, a select's placeholder, a block_id or an action_id.
        """
        holders: list[tuple[dict[str, Any] | None, dict[str, Any] | None, bool]] = []
        if message is not None:
            fresh, ephemeral = self._fresh_message(message)
            holders.append((None, fresh, ephemeral))
        elif view is not None:
            holders.append((self._fresh_view(view), None, False))
        else:
            holders.append((self.fake.latest_view(user), None, False))
            holders.append((self.fake.home(user), None, False))
            holders.extend((None, m, False) for m in reversed(self.fake.dms(user)))
        seen: list[str] = []
        for v, m, ephemeral in holders:
            holder = v if v is not None else m
            if holder is None:
                continue
            for block in holder.get("blocks") or []:
                for element in _elements_of(block):
                    if element.get("type") in ("button", "workflow_button", "image"):
                        continue
                    names = {
                        _text(block.get("label")) if block.get("type") == "input" else "",
                        _text(element.get("placeholder")),
                        str(block.get("block_id")),
                        str(element.get("action_id")),
                    } - {""}
                    seen.extend(n for n in names if n != str(block.get("block_id")))
                    if label not in names:
                        continue
                    target = _Target(block, element, None, label, v, m, ephemeral)
                    state = _state_value(element, option, label)
                    if v is not None:
                        self.fake.set_view_state(v["id"], block["block_id"], element["action_id"], state)
                    return self._block_actions(user, target, self._action(target, state), f"select {label!r}")
        raise LookupError(f"no select {label!r}; the person can see: {sorted(set(seen))}")

    # ---- modals --------------------------------------------------------------------------------

    def submit(self, user: str, values: dict[str, Any], *, view: dict[str, Any] | None = None) -> Reply:
        """Fill in the modal (fields by label or block_id) and press its submit button.

        Fields not named keep what the person chose earlier or the view's initial value; Slack's
        client checks run first and raise SubmitBlocked where Slack would not send the form.
        """
        current = self._fresh_view(view) if view is not None else self.fake.latest_view(user)
        if current is None:
            raise LookupError(f"{user} has no modal open")
        if not current.get("submit"):
            raise SubmitBlocked(f"modal {_text(current.get('title'))!r} has no submit button")
        inputs = [b for b in current.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"]
        by_key: dict[str, dict[str, Any]] = {}
        for block in inputs:
            by_key.setdefault(str(block.get("block_id")), block)
            by_key.setdefault(_text(block.get("label")), block)
        chosen: dict[str, Any] = {}
        for key, given in values.items():
            field_block = by_key.get(key)
            if field_block is None:
                labels = [_text(b.get("label")) for b in inputs]
                raise LookupError(f"modal has no field {key!r}; its fields are {labels}")
            chosen[str(field_block["block_id"])] = given
        state: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (current.get("state") or {}).get("values", {}).items()
        }
        for block in inputs:
            block_id = str(block["block_id"])
            element = block.get("element") or {}
            action_id = str(element.get("action_id"))
            label = _text(block.get("label"))
            if block_id in chosen:
                entry = _state_value(element, chosen[block_id], label)
            elif action_id in state.get(block_id, {}):
                entry = state[block_id][action_id]
            else:
                entry = _initial_state(element)
            _client_checks(block, entry)
            state.setdefault(block_id, {})[action_id] = entry
        submitted = dict(current)
        submitted["state"] = {"values": state}
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self.fake.issue_trigger(user),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        view_id = str(current["id"])
        for block_id, actions in state.items():
            for action_id, entry in actions.items():
                self.fake.set_view_state(view_id, block_id, action_id, entry)

        def apply(resp: httpx.Response) -> None:
            # Slack acts on the answer before the app's follow-up calls can reach it.
            reply = self._reply(resp, None)
            body = reply.json if resp.text.strip() else None
            if resp.text.strip() and reply.json is None and resp.status_code == 200:
                self.fake.record_problem(
                    f"view_submission answered a body that is not JSON: {resp.text[:80]!r}"
                )
            self.fake.apply_submission_response(view_id, resp.status_code, body)

        title = _text(current.get("title"))
        self.fake.begin_submission(view_id)
        try:
            return self._interaction(payload, f"submit {title!r}", before_idle=apply)
        finally:
            self.fake.end_submission(view_id)

    def close_modal(self, user: str, *, view: dict[str, Any] | None = None) -> Reply | None:
        """Press Cancel: the view closes, and the app hears view_closed if it asked (notify_on_close)."""
        current = self._fresh_view(view) if view is not None else self.fake.latest_view(user)
        if current is None:
            raise LookupError(f"{user} has no modal open")
        self.fake.close_view(str(current["id"]))
        if not current.get("notify_on_close"):
            return None
        payload = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": current,
            "is_cleared": bool(current.get("clear_on_close")),
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interaction(payload, "close modal")

    # ---- Events API ----------------------------------------------------------------------------

    def event(
        self,
        event: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        event_id: str | None = None,
    ) -> Reply:
        """Deliver ``event`` in an event_callback envelope (a retry when ``retry_num`` is given)."""
        now = time.time()
        inner = {"event_ts": f"{now:.6f}", **event}
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._event_ids):010d}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self._send(
            _json.dumps(envelope), "application/json", what=f"event {event.get('type')}", headers=headers
        )

    def open_home(self, user: str) -> Reply:
        """The person opens the app's Home tab."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": "home",
        }
        current = self.fake.home(user)
        if current is not None:
            event["view"] = current
        return self.event(event)
