"""A local stand-in for the Slack Web API, used by the tests, the offline demo and the benchmarks.

The app talks to it through its ordinary ``WebClient`` (``SLACK_API_URL`` = ``FakeSlack.base_url``),
so everything the SDK does on the wire (JSON or form bodies, the three-step ``files_upload_v2``,
``respond()`` through a response_url) really happens. It is deliberately strict: Slack refuses
malformed Block Kit, stale trigger ids, over-long titles and too many blocks, and a bot that only
ever met a forgiving mock would ship those bugs. Every refusal is also written to ``problems`` as a
sentence a person can act on.

Only the standard library's threaded HTTP server is used, so the demo needs no extra packages.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.app.sandbox.fake_scopes import manifest_scopes, missing_scope
from bot.core.formatting import DATE_TOKEN

# Slack's documented limits.
MESSAGE_TEXT_LIMIT = 40_000
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
VIEW_STACK_LIMIT = 3
PRIVATE_METADATA_LIMIT = 3_000
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60.0

APP_ID = "A0QMFAPP"
BOT_ID = "B0QMFBOT"
TEAM_DOMAIN = "qmf"

# Fields that form-encoded callers send as JSON strings.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")
# What a caller may put in a view; Slack rejects the read-only fields it adds itself (id, state, hash...).
_VIEW_INPUT_KEYS = {
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
    "submit_disabled",
}
_INTERACTIVE_TYPES = {
    "button",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
}
# Selects whose options are plain_text only (radio buttons and checkboxes accept mrkdwn).
_PLAIN_OPTION_ELEMENTS = {"static_select", "multi_static_select", "overflow"}


@dataclass
class Call:
    """One request the fake received: an API method, a response_url or an upload_url POST."""

    method: str
    args: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    response: dict[str, Any]
    at: float  # when the fake had handled it (``time.monotonic()``)
    token: str | None
    url: str | None = None
    received: float | None = None  # when it arrived, before the fake's own checks (API methods)


@dataclass(frozen=True)
class Issue:
    """A validation finding: the Slack error code and a sentence saying what is wrong."""

    code: str
    sentence: str


class ApiError(Exception):
    """Raised inside a method to answer ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, messages: Iterable[str] = (), extra: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = list(messages)
        self.extra = extra or {}


@dataclass
class _Fault:
    status: int
    count: int
    method: str | None
    retry_after: int | None
    error: str | None


@dataclass
class _Outage:
    until: float
    status: int
    methods: set[str] | None


@dataclass
class _Trigger:
    user_id: str
    issued: float
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str | None
    user_id: str | None
    message_ts: str | None
    issued: float
    uses: int = 0


@dataclass
class _ViewRecord:
    user_id: str
    kind: str  # "modal" or "home"
    view: dict[str, Any]
    open: bool = True


# ---------------------------------------------------------------------------------------------
# Validation (pure functions, shared with the driver for response_action views)
# ---------------------------------------------------------------------------------------------


def _text_type(obj: Any) -> str | None:
    return obj.get("type") if isinstance(obj, dict) else None


def _plain_text_issues(raw: dict[str, Any], where: str) -> list[Issue]:
    """Places where Slack accepts only plain_text; the SDK lets mrkdwn through, Slack does not."""
    issues: list[Issue] = []

    def need_plain(obj: Any, what: str) -> None:
        if obj is not None and _text_type(obj) != "plain_text":
            issues.append(Issue("invalid_blocks", f"{where}: {what} must be a plain_text object"))

    btype = raw.get("type")
    if btype == "header":
        need_plain(raw.get("text"), "header text")
    if btype == "input":
        need_plain(raw.get("label"), "input label")
        need_plain(raw.get("hint"), "input hint")
    elements: list[Any] = []
    if isinstance(raw.get("elements"), list) and btype in ("actions", "context_actions"):
        elements.extend(raw["elements"])
    for key in ("accessory", "element"):
        if isinstance(raw.get(key), dict):
            elements.append(raw[key])
    for el in elements:
        if not isinstance(el, dict):
            continue
        etype = el.get("type")
        if etype == "button":
            need_plain(el.get("text"), "button text")
        if "placeholder" in el:
            need_plain(el.get("placeholder"), f"{etype} placeholder")
        if etype in _PLAIN_OPTION_ELEMENTS:
            options = list(el.get("options") or [])
            for group in el.get("option_groups") or []:
                options.extend(group.get("options") or [])
            for opt in options:
                need_plain(opt.get("text") if isinstance(opt, dict) else None, f"{etype} option text")
    return issues


def block_issues(blocks: Any, *, limit: int, where: str, code: str = "invalid_blocks") -> list[Issue]:
    """Everything Slack would refuse in a list of blocks, checked with slack_sdk's own models."""
    if not isinstance(blocks, list):
        return [Issue("invalid_blocks_format", f"{where}: blocks must be a JSON array")]
    issues: list[Issue] = []
    if len(blocks) > limit:
        issues.append(Issue(code, f"{where} has {len(blocks)} blocks; Slack allows at most {limit}"))
    seen_ids: set[str] = set()
    for index, raw in enumerate(blocks):
        label = f"{where}, block {index}"
        if not isinstance(raw, dict) or "type" not in raw:
            issues.append(Issue(code, f"{label} is not a block object with a type"))
            continue
        label = f"{where}, block {index} ({raw['type']})"
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in seen_ids:
                issues.append(Issue(code, f"{label} repeats block_id {block_id!r}; block ids must be unique"))
            seen_ids.add(block_id)
        try:
            parsed = Block.parse(raw)
        except Exception as exc:  # the SDK raises TypeError/ValueError on shapes it cannot build
            issues.append(Issue(code, f"{label} cannot be parsed: {exc}"))
            continue
        if parsed is None:
            issues.append(Issue(code, f"{label}: unknown block type {raw['type']!r}"))
            continue
        unknown = set(raw) - set(parsed.attributes)
        if unknown:
            issues.append(Issue(code, f"{label} has fields Slack does not accept: {sorted(unknown)}"))
        elements = getattr(parsed, "elements", None)
        if isinstance(raw.get("elements"), list) and isinstance(elements, list) and None in elements:
            issues.append(Issue(code, f"{label} contains an element of an unknown type"))
        for key in ("element", "accessory"):
            if isinstance(raw.get(key), dict) and getattr(parsed, key, None) is None:
                issues.append(Issue(code, f"{label}: {key} of unknown type {raw[key].get('type')!r}"))
        if raw["type"] == "input" and "element" not in raw:
            issues.append(Issue(code, f"{label} has no element"))
        try:
            parsed.to_dict()  # validates the block and, recursively, every element and text object
        except Exception as exc:
            issues.append(Issue(code, f"{label}: {exc}"))
        action_ids: list[Any] = [
            e.get("action_id")
            for e in (raw.get("elements") or [])
            if isinstance(e, dict) and e.get("action_id") is not None
        ]
        repeated = sorted({a for a in action_ids if action_ids.count(a) > 1})
        if repeated and raw["type"] in ("actions", "context_actions"):
            issues.append(
                Issue(code, f"{label} repeats action_id {repeated}; they must be unique in a block")
            )
        issues.extend(Issue(code, i.sentence) for i in _plain_text_issues(raw, label))
    return issues


_DATE_OPEN = re.compile(r"<!date\b")
_DATE_FORMATS = {"date_num", "date", "date_short", "date_long", "date_pretty", "date_short_pretty",
                 "date_long_pretty", "time", "time_secs", "day_divider_pretty", "ago"}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif")
ALT_TEXT_LIMIT = 1000  # files.getUploadURLExternal's alt_txt


def date_token_issues(value: Any, where: str, code: str = "invalid_blocks") -> list[Issue]:
    """Slack date tokens (``<!date^EPOCH^{date_short_pretty}|fallback>``) that Slack would show as
    written: a malformed token, an unknown {format}, a token without fallback words, or a token in
    plain_text (only mrkdwn formats dates)."""
    issues: list[Issue] = []

    def check_text(text: str, plain: bool) -> None:
        for opened in _DATE_OPEN.finditer(text):
            if plain:
                issues.append(Issue(code, f"{where}: a date token in plain_text is shown as written: "
                                          f"{text[opened.start():opened.start() + 60]!r}"))
                continue
            found = DATE_TOKEN.match(text, opened.start())
            if found is None:
                issues.append(Issue(code, f"{where}: malformed date token {text[opened.start():opened.start() + 60]!r}"
                                          " (want <!date^EPOCH^{format}|fallback>)"))
                continue
            formats = re.findall(r"\{([a-z_]+)\}", found["format"])
            unknown = sorted(set(formats) - _DATE_FORMATS)
            if not formats or unknown:
                issues.append(Issue(code, f"{where}: date token {found[0]!r} has no known {{format}}"
                                          + (f" (unknown: {unknown})" if unknown else "")))
            if not found["fallback"].strip():
                issues.append(Issue(code, f"{where}: date token {found[0]!r} has no fallback words"))

    def walk(node: Any, plain: bool) -> None:
        if isinstance(node, str):
            check_text(node, plain)
        elif isinstance(node, dict):
            is_plain = node.get("type") == "plain_text"
            for key, child in node.items():
                if key in ("action_id", "block_id", "value", "private_metadata", "callback_id", "url",
                           "image_url"):
                    continue
                walk(child, key == "initial_value" or (is_plain and key == "text"))
        elif isinstance(node, list):
            for child in node:
                walk(child, plain)

    walk(value, False)
    return issues


def message_issues(args: dict[str, Any], where: str, *, require_content: bool = True) -> list[Issue]:
    """Text, blocks and metadata checks shared by postMessage, update, postEphemeral and response_url."""
    issues: list[Issue] = []
    text = args.get("text")
    blocks = args.get("blocks")
    attachments = args.get("attachments")
    if require_content and not text and not blocks and not attachments:
        issues.append(Issue("no_text", f"{where}: a message needs text or blocks"))
    if text is not None and not isinstance(text, str):
        issues.append(Issue("invalid_arguments", f"{where}: text must be a string"))
    elif text and len(text) > MESSAGE_TEXT_LIMIT:
        issues.append(
            Issue(
                "msg_too_long", f"{where}: text is {len(text)} characters; Slack allows {MESSAGE_TEXT_LIMIT}"
            )
        )
    if blocks is not None:
        issues.extend(block_issues(blocks, limit=MESSAGE_BLOCK_LIMIT, where=where))
    issues.extend(date_token_issues({"text": text, "blocks": blocks}, where))
    metadata = args.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        issues.append(
            Issue(
                "invalid_metadata_format",
                f"{where}: metadata needs event_type (str) and event_payload (object)",
            )
        )
    return issues


def view_issues(view: Any, *, kinds: set[str], where: str) -> list[Issue]:
    """What Slack would refuse in a view given to views.open/push/update/publish or a response_action."""
    if not isinstance(view, dict):
        return [Issue("invalid_view", f"{where}: view must be a JSON object")]
    issues: list[Issue] = []
    unknown = set(view) - _VIEW_INPUT_KEYS
    if unknown:
        issues.append(
            Issue("invalid_arguments", f"{where}: view has read-only or unknown fields {sorted(unknown)}")
        )
    vtype = view.get("type")
    if vtype not in kinds:
        issues.append(Issue("invalid_arguments", f"{where}: view type must be {' or '.join(sorted(kinds))}"))
    if vtype == "modal" and not view.get("title"):
        issues.append(Issue("invalid_arguments", f"{where}: a modal needs a title"))
    for key in ("title", "submit", "close"):
        if key in view and _text_type(view[key]) != "plain_text":
            issues.append(Issue("invalid_arguments", f"{where}: {key} must be a plain_text object"))
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        issues.append(Issue("invalid_arguments", f"{where}: view needs a blocks array"))
        blocks = []
    metadata = view.get("private_metadata")
    if isinstance(metadata, str) and len(metadata) > PRIVATE_METADATA_LIMIT:
        issues.append(
            Issue(
                "invalid_arguments",
                f"{where}: private_metadata is {len(metadata)} characters; Slack allows {PRIVATE_METADATA_LIMIT}",
            )
        )
    try:
        View(**view).validate_json()
    except Exception as exc:
        issues.append(Issue("invalid_arguments", f"{where}: {exc}"))
    issues.extend(block_issues(blocks, limit=VIEW_BLOCK_LIMIT, where=where, code="invalid_arguments"))
    issues.extend(date_token_issues({k: view.get(k) for k in ("title", "submit", "close", "blocks")}, where,
                                    "invalid_arguments"))
    if (
        vtype == "modal"
        and not view.get("submit")
        and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    ):
        issues.append(Issue("invalid_arguments", f"{where}: a modal with input blocks needs a submit button"))
    return issues


def _sentence_of(issues: list[Issue]) -> list[str]:
    return [i.sentence for i in issues]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _ts_float(ts: Any) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        return 0.0


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _Headers(dict[str, str]):
    """Request headers by lower-case name; ``get`` takes any case, as ``email.message.Message``'s does."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


def _copy(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists and scalars; bytes stay shared, being immutable)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    raw_requestline: bytes
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive clients would otherwise wait on delayed ACKs

    def parse_request(self) -> bool:
        """http.server's, with a plain reader for the headers: the email parser it would use costs
        more than everything else the fake does for a call. Anything unusual goes to http.server."""
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            return super().parse_request()
        self.requestline = " ".join(words)
        self.command, self.path, self.request_version = words
        self.close_connection = self.request_version == "HTTP/1.0"
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        headers = _Headers()
        for _ in range(100):
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if not colon or len(line) > 65536:
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
                return False
            headers[name.strip().lower()] = value.strip()
        else:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if headers.get("expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logging
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra_headers, body = self.server.fake._route(self.command, self.path, headers, raw)
        self.send_response(status)
        for key, value in extra_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    # The app's WebClient opens a connection per call; the default backlog of 5 drops SYNs under
    # load and adds a 1 s retransmit to the odd call, which would be the fake's delay, not the app's.
    request_queue_size = 256
    daemon_threads = True
    fake: FakeSlack


class FakeSlack:
    """The Slack Web API on loopback, with the state a test wants to look at afterwards."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        strict: bool = True,
        channel_rate_per_sec: float | None = None,
        check_blocks: bool = True,
        bot_user_id: str = "U0QMFBOT",
        team_id: str = "T0QMF",
        scopes: Iterable[str] | None = None,
    ) -> None:
        self.host = host
        # The bot token's scopes: manifest.json's unless given (fake_scopes.EVERY_SCOPE grants all).
        # A method whose scope is not granted is refused with missing_scope, as Slack does.
        self.scopes: frozenset[str] | None = frozenset(scopes) if scopes is not None else manifest_scopes()
        self.port = port
        self.strict = strict
        self.channel_rate_per_sec = channel_rate_per_sec
        # False skips the Block Kit checks of posted messages: for benchmarks, where Slack's own
        # checking would otherwise be timed as if it were the bot's work.
        self.check_blocks = check_blocks
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.trigger_ttl = 3.0
        # How long views.update on a modal being submitted waits for Slack to act on the app's answer.
        self.submission_wait = 2.0
        # Wall clock for message timestamps; the demo swaps in its simulated clock.
        self.clock: Callable[[], float] = time.time
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._users: dict[str, dict[str, Any]] = {}
        self._channel_names: dict[str, str] = {"C0GENERAL": "general"}
        self.add_user(bot_user_id, name="qmf-bot", real_name="QMF Bot", is_bot=True)
        self._reset_state()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What the app's WebClient gets as base_url (SLACK_API_URL)."""
        return f"{self.root_url}api/"

    # ---- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._calls: list[Call] = []
        self.problems: list[str] = []
        self.files: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, _ViewRecord] = {}
        self._stacks: dict[str, list[str]] = defaultdict(list)
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._submitting: set[str] = set()
        self._faults: deque[_Fault] = deque()
        self._outages: list[_Outage] = []
        self._holds: dict[str, threading.Event] = {}
        self._post_times: dict[str, deque[float]] = defaultdict(deque)
        self._last_ts_us = 0
        self._ids = itertools.count(1)

    def clear(self) -> None:
        """Forget everything that happened (calls, messages, views, files, faults); keep users and settings."""
        with self._lock:
            self._reset_state()
            self._changed.notify_all()

    def add_user(
        self,
        user_id: str,
        *,
        name: str = "",
        real_name: str = "",
        email: str | None = None,
        tz: str = "Europe/London",
        is_bot: bool = False,
    ) -> None:
        with self._lock:
            self._users[user_id] = {
                "id": user_id,
                "team_id": self.team_id,
                "name": name or user_id.lower(),
                "real_name": real_name or name or user_id,
                "deleted": False,
                "is_bot": is_bot,
                "is_app_user": False,
                "tz": tz,
                "tz_label": tz,
                "tz_offset": 0,
                "profile": {
                    "real_name": real_name or name or user_id,
                    "display_name": name or "",
                    **({"email": email} if email else {}),
                },
            }

    def add_channel(self, channel_id: str, name: str) -> None:
        """Give a channel a name for conversations.info and the slash-command payloads."""
        with self._lock:
            self._channel_names[channel_id] = name

    def channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        if channel_id.startswith("G") and channel_id not in self._channel_names:
            return f"mpdm-{channel_id.lower()}"
        return self._channel_names.get(channel_id, channel_id.lower())

    def user_name(self, user_id: str) -> str:
        user = self._users.get(user_id)
        return user["name"] if user else user_id.lower()

    def _new_id(self, prefix: str, width: int = 8) -> str:
        return f"{prefix}{next(self._ids):0{width}X}"

    def _next_ts(self) -> str:
        now_us = int(self.clock() * 1_000_000)
        us = max(now_us, self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    # ---- test-facing helpers -----------------------------------------------------------------

    def new_response_url(
        self, *, channel: str | None = None, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response_url the driver puts in a payload; the context says what replace/delete act on."""
        with self._lock:
            key = str(next(self._ids))
            self._response_urls[key] = _ResponseUrl(channel, user_id, message_ts, time.monotonic())
            return f"{self.root_url}response/{key}"

    def issue_trigger(self, user_id: str) -> str:
        """A trigger id, valid once and for ``trigger_ttl`` seconds, as Slack puts in interactions."""
        with self._lock:
            n = next(self._ids)
            trigger = f"{n}.{int(self.clock())}.{hashlib.sha1(f'{n}{user_id}'.encode()).hexdigest()[:20]}"
            self._triggers[trigger] = _Trigger(user_id, time.monotonic())
            return trigger

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Block until ``count`` matching calls arrived; raise TimeoutError naming what did arrive."""
        deadline = time.monotonic() + timeout

        def matching() -> list[Call]:
            return [c for c in self._calls if c.method == method and (predicate is None or predicate(c))]

        with self._changed:
            while len(matching()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({c.method for c in self._calls})
                    raise TimeoutError(
                        f"waited {timeout}s for {count} x {method}, got {len(matching())}; calls seen: {seen}"
                    )
                self._changed.wait(remaining)
            return copy.deepcopy(matching())

    def opened_at(self, view_id: str) -> float | None:
        """When (``time.monotonic()``) the views.open or views.push that made this view arrived,
        before the fake checked it (Slack's own checking is not the app's time)."""
        with self._lock:
            for call in reversed(self._calls):
                if call.method in ("views.open", "views.push") and (call.response.get("view") or {}).get("id") == view_id:
                    return call.received if call.received is not None else call.at
        return None

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        method: str | None = None,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        """Queue faults for the next calls (of ``method``, or any API method)."""
        with self._lock:
            self._faults.append(_Fault(status, count, method, retry_after, error))

    def hold(self, method: str) -> threading.Event:
        """Calls of ``method`` wait (up to 30 s) until the returned event is set: a slow Slack."""
        gate = threading.Event()
        with self._lock:
            self._holds[method] = gate
        return gate

    def fail_for(self, seconds: float, status: int = 500, methods: set[str] | None = None) -> None:
        """An outage: every API call (or those in ``methods``) fails for ``seconds``."""
        with self._lock:
            self._outages.append(
                _Outage(time.monotonic() + seconds, status, set(methods) if methods else None)
            )

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Delivered messages in posting order, with later updates applied and deleted ones left out."""
        with self._lock:
            return [
                self._public_message(m)
                for m in self._messages
                if not m["deleted"] and (channel is None or m["channel"] == channel)
            ]

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        return self.messages(f"D{user_id}")

    def ephemerals(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral, response_url and command replies) seen by a person."""
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if not e.get("deleted") and (user_id is None or e["user"] == user_id)
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._find_message(channel, ts)
            return self._public_message(found) if found else None

    def views(self, user_id: str) -> list[dict[str, Any]]:
        """The user's open modal stack, bottom first."""
        with self._lock:
            return [copy.deepcopy(self._views[v].view) for v in self._stacks.get(user_id, [])]

    def top_view_id(self, user_id: str) -> str | None:
        """The id of the user's topmost open modal, without copying it (cheap enough to poll)."""
        with self._lock:
            stack = self._stacks.get(user_id)
            return stack[-1] if stack else None

    def latest_view(self, user_id: str) -> dict[str, Any] | None:
        stack = self.views(user_id)
        return stack[-1] if stack else None

    def home(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            view_id = self._homes.get(user_id)
            return copy.deepcopy(self._views[view_id].view) if view_id else None

    def view(self, view_id: str) -> dict[str, Any] | None:
        """Any view by id (modal or home), as Slack would put it in a payload."""
        with self._lock:
            record = self._views.get(view_id)
            return copy.deepcopy(record.view) if record else None

    def view_owner(self, view_id: str) -> str | None:
        with self._lock:
            record = self._views.get(view_id)
            return record.user_id if record else None

    def record_problem(self, sentence: str) -> None:
        with self._lock:
            self.problems.append(sentence)
            self._changed.notify_all()

    # ---- driver-facing: what Slack's client does on its side ----------------------------------

    def set_view_state(self, view_id: str, block_id: str, action_id: str, value: dict[str, Any]) -> None:
        """Remember what a person chose in a view, as Slack keeps it in view.state."""
        with self._lock:
            record = self._views.get(view_id)
            if record is None:
                raise LookupError(f"no view {view_id}")
            record.view["state"]["values"].setdefault(block_id, {})[action_id] = value

    def begin_submission(self, view_id: str) -> None:
        """A view_submission is in flight: Slack handles the app's answer before any follow-up call.

        The app's listener may call views.update the instant it acks, racing the HTTP answer back to
        the driver; holding such calls until the answer is applied gives the order Slack gives.
        """
        with self._lock:
            self._submitting.add(view_id)

    def end_submission(self, view_id: str) -> None:
        with self._lock:
            self._submitting.discard(view_id)
            self._changed.notify_all()

    def apply_submission_response(self, view_id: str, status: int, body: dict[str, Any] | None) -> None:
        """Do to the modal stack what Slack does with the app's answer to a view_submission."""
        with self._lock:
            try:
                self._apply_submission_response(view_id, status, body)
            finally:
                self.end_submission(view_id)

    def _apply_submission_response(self, view_id: str, status: int, body: dict[str, Any] | None) -> None:
        record = self._views.get(view_id)
        if record is None:
            return
        user_id = record.user_id
        stack = self._stacks[user_id]
        if status != 200:
            self.problems.append(
                f"view_submission for {view_id} answered HTTP {status}; Slack shows the person an error"
            )
            return
        action = (body or {}).get("response_action")
        if action is None:
            if view_id in stack:
                stack.remove(view_id)
            record.open = False
        elif action == "clear":
            for vid in stack:
                self._views[vid].open = False
            stack.clear()
        elif action == "errors":
            errors = (body or {}).get("errors")
            inputs = {b.get("block_id") for b in record.view.get("blocks", []) if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors:
                self.problems.append(f"view_submission for {view_id}: response_action errors without errors")
            else:
                stray = sorted(set(errors) - inputs)
                if stray:
                    self.problems.append(
                        f"view_submission for {view_id}: errors name {stray}, which are not input block ids "
                        f"in the view ({sorted(i for i in inputs if i)}); Slack shows a generic failure"
                    )
        elif action in ("update", "push"):
            new_view = (body or {}).get("view")
            issues = view_issues(new_view, kinds={"modal"}, where=f"response_action {action}")
            if issues:
                self.problems.extend(_sentence_of(issues))
                if self.strict or not isinstance(new_view, dict):
                    return
            # view_issues flags anything but a dict, and that returned above, so new_view is a dict here.
            new_view = cast("dict[str, Any]", new_view)
            if action == "update":
                self._replace_view(record, new_view)
            else:
                if len(stack) >= VIEW_STACK_LIMIT:
                    self.problems.append(
                        f"response_action push would make {len(stack) + 1} views; Slack allows {VIEW_STACK_LIMIT}"
                    )
                    if self.strict:
                        return
                self._open_view(user_id, new_view, push=True)
        else:
            self.problems.append(f"view_submission for {view_id}: unknown response_action {action!r}")
        self._changed.notify_all()

    def close_view(self, view_id: str) -> None:
        """The person pressed Close (or Esc) on a modal."""
        with self._lock:
            record = self._views.get(view_id)
            if record is None:
                return
            stack = self._stacks[record.user_id]
            if record.view.get("clear_on_close"):
                for vid in stack:
                    self._views[vid].open = False
                stack.clear()
            elif view_id in stack:
                stack.remove(view_id)
            record.open = False

    def deliver_ack_message(self, body: dict[str, Any], *, channel: str, user_id: str) -> None:
        """A slash command's HTTP answer carrying a message: Slack shows it to the person (or the channel)."""
        with self._lock:
            issues = message_issues(body, "slash command response")
            if issues:
                self.problems.extend(_sentence_of(issues))
                if self.strict:
                    return
            self._deliver_response(body, _ResponseUrl(channel, user_id, None, time.monotonic()))

    # ---- views: internals --------------------------------------------------------------------

    def _fill_ids(self, blocks: list[Any]) -> None:
        """Slack assigns block_id and action_id when the app leaves them out."""
        for block in blocks:
            if not isinstance(block, dict):
                continue
            block.setdefault("block_id", hashlib.sha1(f"b{next(self._ids)}".encode()).hexdigest()[:5])
            elements: list[Any] = []
            if block.get("type") in ("actions", "context_actions"):
                elements.extend(block.get("elements") or [])
            for key in ("accessory", "element"):
                if isinstance(block.get(key), dict):
                    elements.append(block[key])
            for el in elements:
                if isinstance(el, dict) and el.get("type") in _INTERACTIVE_TYPES:
                    el.setdefault("action_id", hashlib.sha1(f"a{next(self._ids)}".encode()).hexdigest()[:5])

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{hashlib.sha1(str(next(self._ids)).encode()).hexdigest()[:8]}"

    def _materialise(
        self, view: dict[str, Any], *, view_id: str, root: str, previous: str | None
    ) -> dict[str, Any]:
        stored = copy.deepcopy(view)
        self._fill_ids(stored.get("blocks") or [])
        for key in ("title", "submit", "close"):
            if isinstance(stored.get(key), dict):
                stored[key].setdefault("emoji", True)
        stored.update(
            {
                "id": view_id,
                "team_id": self.team_id,
                "app_id": APP_ID,
                "app_installed_team_id": self.team_id,
                "bot_id": BOT_ID,
                "hash": self._new_hash(),
                "state": {"values": {}},
                "root_view_id": root,
                "previous_view_id": previous,
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "external_id": view.get("external_id", ""),
                "clear_on_close": bool(view.get("clear_on_close", False)),
                "notify_on_close": bool(view.get("notify_on_close", False)),
            }
        )
        return stored

    def _open_view(self, user_id: str, view: dict[str, Any], *, push: bool) -> dict[str, Any]:
        stack = self._stacks[user_id]
        if not push:
            for vid in stack:
                self._views[vid].open = False
            stack.clear()
        view_id = self._new_id("V")
        root = stack[0] if stack else view_id
        previous = stack[-1] if stack else None
        stored = self._materialise(view, view_id=view_id, root=root, previous=previous)
        self._views[view_id] = _ViewRecord(user_id, "modal", stored)
        stack.append(view_id)
        return stored

    def _replace_view(self, record: _ViewRecord, view: dict[str, Any]) -> dict[str, Any]:
        old = record.view
        stored = self._materialise(
            view, view_id=old["id"], root=old["root_view_id"], previous=old["previous_view_id"]
        )
        # Slack keeps what the person typed when the block_id and action_id survive the update.
        kept: dict[str, dict[str, Any]] = {}
        live = {
            (b.get("block_id"), (b.get("element") or {}).get("action_id"))
            for b in stored.get("blocks", [])
            if isinstance(b, dict)
        }
        live |= {
            (b.get("block_id"), e.get("action_id"))
            for b in stored.get("blocks", [])
            if isinstance(b, dict)
            for e in (b.get("elements") or []) + [b.get("accessory") or {}]
            if isinstance(e, dict)
        }
        for block_id, actions in old["state"]["values"].items():
            for action_id, value in actions.items():
                if (block_id, action_id) in live:
                    kept.setdefault(block_id, {})[action_id] = value
        stored["state"] = {"values": kept}
        record.view = stored
        return stored

    def _take_trigger(self, trigger_id: Any) -> _Trigger:
        trigger = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None or trigger.used:
            raise ApiError(
                "invalid_trigger_id", [f"trigger_id {trigger_id!r} is unknown or was already used"]
            )
        trigger.used = True
        age = time.monotonic() - trigger.issued
        if age > self.trigger_ttl:
            raise ApiError(
                "expired_trigger_id", [f"trigger_id is {age:.1f}s old; Slack allows {self.trigger_ttl:g}s"]
            )
        return trigger

    # ---- messages: internals -----------------------------------------------------------------

    def _find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        for m in self._messages:
            if m["channel"] == channel and m["ts"] == ts and not m["deleted"]:
                return m
        return None

    def _public_message(self, m: dict[str, Any]) -> dict[str, Any]:
        out = {
            "channel": m["channel"],
            "ts": m["ts"],
            "text": m["text"],
            "blocks": copy.deepcopy(m["blocks"]),
            "user": m["user"],
            "thread_ts": m["thread_ts"],
            "metadata": copy.deepcopy(m["metadata"]),
        }
        for key in ("files", "reactions", "edited", "attachments"):
            if m.get(key):
                out[key] = copy.deepcopy(m[key])
        return out

    def slack_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """A message in the shape Slack uses in history and in block_actions payloads."""
        with self._lock:
            m = self._find_message(channel, ts)
            return self._slack_message(m) if m else None

    def _slack_message(self, m: dict[str, Any], include_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": m["user"],
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": m["text"],
            "ts": m["ts"],
            "team": self.team_id,
        }
        if m["blocks"]:
            out["blocks"] = copy.deepcopy(m["blocks"])
        if m["thread_ts"]:
            out["thread_ts"] = m["thread_ts"]
        if m["metadata"] and include_metadata:
            out["metadata"] = copy.deepcopy(m["metadata"])
        for key in ("files", "reactions", "edited", "attachments"):
            if m.get(key):
                out[key] = copy.deepcopy(m[key])
        if m.get("files"):
            out["subtype"] = "file_share"
        return out

    def _store_message(self, channel: str, args: dict[str, Any]) -> dict[str, Any]:
        given_blocks = args.get("blocks")
        blocks: list[Any] = copy.deepcopy(given_blocks) if given_blocks else []
        self._fill_ids(blocks)
        m = {
            "channel": channel,
            "ts": self._next_ts(),
            "text": args.get("text") or "",
            "blocks": blocks,
            "user": self.bot_user_id,
            "thread_ts": args.get("thread_ts") or None,
            "metadata": copy.deepcopy(args.get("metadata")),
            "attachments": copy.deepcopy(args.get("attachments")) or [],
            "reply_broadcast": _truthy(args.get("reply_broadcast")),
            "files": [],
            "reactions": [],
            "edited": None,
            "deleted": False,
        }
        self._messages.append(m)
        return m

    @staticmethod
    def _dm_channel(channel: str) -> str:
        return f"D{channel}" if channel[:1] in ("U", "W") else channel

    def _existing_channel(self, args: dict[str, Any], key: str = "channel") -> str:
        """Methods other than postMessage need the conversation id, not a user id (Slack's docs say so)."""
        channel = args.get(key)
        if not isinstance(channel, str) or not channel:
            raise ApiError("channel_not_found", [f"{key} is missing"])
        if channel[:1] in ("U", "W"):
            raise ApiError(
                "channel_not_found",
                [f"{key} {channel} is a user id; use the D... id that postMessage returned"],
            )
        return channel

    def _deliver_response(self, payload: dict[str, Any], ctx: _ResponseUrl) -> None:
        """What Slack does with a response_url POST or a message-bearing ack."""
        target = self._find_message(ctx.channel, ctx.message_ts) if ctx.channel and ctx.message_ts else None
        ephemeral_target = None
        if ctx.message_ts and target is None:
            ephemeral_target = next(
                (e for e in self._ephemerals if e["ts"] == ctx.message_ts and e["channel"] == ctx.channel),
                None,
            )
        if _truthy(payload.get("delete_original")):
            if target is not None:
                target["deleted"] = True
            elif ephemeral_target is not None:
                ephemeral_target["deleted"] = True
            return
        if _truthy(payload.get("replace_original")) and (target or ephemeral_target):
            item = target or ephemeral_target
            assert item is not None
            item["text"] = payload.get("text") or ""
            item["blocks"] = copy.deepcopy(payload.get("blocks")) or []
            self._fill_ids(item["blocks"])
            if target is not None:
                target["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            return
        if payload.get("response_type") == "in_channel" and ctx.channel:
            self._store_message(ctx.channel, {**payload, "thread_ts": payload.get("thread_ts")})
            return
        self._store_ephemeral(ctx.channel or "", ctx.user_id or "", payload, source="response")

    def _store_ephemeral(
        self, channel: str, user_id: str, args: dict[str, Any], *, source: str
    ) -> dict[str, Any]:
        blocks = copy.deepcopy(args.get("blocks")) or []
        self._fill_ids(blocks)
        e = {
            "channel": channel,
            "user": user_id,
            "ts": self._next_ts(),
            "text": args.get("text") or "",
            "blocks": blocks,
            "source": source,
        }
        self._ephemerals.append(e)
        return e

    # ---- HTTP routing ------------------------------------------------------------------------

    def _route(
        self, verb: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        segments = [s for s in parts.path.split("/") if s]
        try:
            args = self._parse_args(headers.get("content-type", ""), raw, parts.query)
            parse_error = None
        except ApiError as exc:
            args, parse_error = {}, exc
        if len(segments) == 2 and segments[0] == "api":
            return self._handle_api(segments[1], args, headers, parse_error)
        if len(segments) == 2 and segments[0] == "response":
            return self._handle_response_url(segments[1], args, path, parse_error)
        if len(segments) == 2 and segments[0] == "upload" and verb == "POST":
            return self._handle_upload(segments[1], raw, path)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    @staticmethod
    def _parse_args(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        kind = content_type.split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError("invalid_json", [f"body is not JSON: {exc}"]) from exc
            if not isinstance(body, dict):
                raise ApiError("invalid_json", ["body must be a JSON object"])
            args.update(body)
        elif kind == "multipart/form-data":
            message = BytesParser(policy=HTTP_POLICY).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                # decode=True gives the part's bytes (or None for a nested multipart), never a Message.
                payload = cast("bytes | None", part.get_payload(decode=True)) or b""
                args[str(name)] = payload if part.get_filename() else payload.decode("utf-8")
        elif raw:
            try:
                args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError as exc:
                raise ApiError("invalid_form_data", [str(exc)]) from exc
        for key in _JSON_FIELDS:
            value = args.get(key)
            if isinstance(value, str) and value[:1] in ("[", "{"):
                try:
                    args[key] = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ApiError("invalid_arguments", [f"{key} is not valid JSON: {exc}"]) from exc
        return args

    def _fault_for(self, method: str) -> tuple[int, int | None, str | None] | None:
        """The fault to answer with, if any. Faults without a method hit Web API methods only."""
        api = method not in ("response_url", "upload_url")
        now = time.monotonic()
        self._outages = [o for o in self._outages if o.until > now]
        for outage in self._outages:
            if (outage.methods is None and api) or (outage.methods and method in outage.methods):
                return outage.status, max(1, math.ceil(outage.until - now)), None
        for fault in self._faults:
            if (fault.method is None and api) or fault.method == method:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault.status, fault.retry_after, fault.error
        return None

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        status: int,
        response: dict[str, Any],
        token: str | None,
        url: str | None = None,
        received: float | None = None,
    ) -> None:
        ok = bool(response.get("ok")) and status == 200
        error = None if ok else str(response.get("error") or HTTPStatus(status).phrase)
        self._calls.append(
            Call(method, _copy(args), status, ok, error, response, time.monotonic(), token, url, received)
        )
        self._changed.notify_all()

    @staticmethod
    def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        out = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return status, out, json.dumps(payload).encode("utf-8")

    def _fault_response(self, method, args, token, fault, url=None) -> tuple[int, dict[str, str], bytes]:
        status, retry_after, error = fault
        if status == 429:
            wait = max(1, int(retry_after or 1))
            payload = {"ok": False, "error": error or "ratelimited"}
            self._record(method, args, 429, payload, token, url)
            return self._json(429, payload, {"Retry-After": str(wait)})
        if status == 200:
            payload = {"ok": False, "error": error or "internal_error"}
            self._record(method, args, 200, payload, token, url)
            return self._json(200, payload)
        text = error or HTTPStatus(status).phrase
        self._record(method, args, status, {"ok": False, "error": text, "body": text}, token, url)
        return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8")

    def _rate_limited(self, channel: str) -> int | None:
        """Seconds to wait if this post would exceed channel_rate_per_sec, else None (and count it)."""
        rate = self.channel_rate_per_sec
        if not rate:
            return None
        window = max(1.0, 1.0 / rate)
        allowed = max(1, int(rate * window))
        now = time.monotonic()
        times = self._post_times[channel]
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) >= allowed:
            return max(1, math.ceil(window - (now - times[0])))
        times.append(now)
        return None

    def _handle_api(
        self, method: str, args: dict[str, Any], headers: dict[str, str], parse_error: ApiError | None
    ) -> tuple[int, dict[str, str], bytes]:
        received = time.monotonic()
        auth = headers.get("authorization", "")
        token: str | None = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if "token" in args:
            token = token or str(args["token"])
            args.pop("token")
        gate = self._holds.get(method)
        if gate is not None:
            gate.wait(30)
        with self._lock:
            fault = self._fault_for(method)
            if fault is not None:
                return self._fault_response(method, args, token, fault)
            try:
                if parse_error is not None:
                    raise parse_error
                if not token:
                    raise ApiError("not_authed", ["no token in the Authorization header"])
                if not token.startswith(("xoxb-", "xoxp-")):
                    raise ApiError("invalid_auth", [f"token {token[:5]}... is not a bot or user token"])
                handler = _METHODS.get(method)
                if handler is None:
                    raise ApiError(
                        "unknown_method", [f"{method} is not a Slack Web API method the fake knows"]
                    )
                needed = missing_scope(method, args, self.scopes)
                if needed:
                    raise ApiError("missing_scope", [f"{method} needs {' or '.join(needed)}, which manifest.json "
                                                     "does not ask for"],
                                   {"needed": ",".join(needed), "provided": ",".join(sorted(self.scopes or ()))})
                if method == "chat.postMessage" and isinstance(args.get("channel"), str):
                    wait = self._rate_limited(self._dm_channel(args["channel"]))
                    if wait is not None:
                        payload = {"ok": False, "error": "ratelimited"}
                        self._record(method, args, 429, payload, token, received=received)
                        return self._json(429, payload, {"Retry-After": str(wait)})
                result = handler(self, args)
                payload = {"ok": True, **result}
            except ApiError as exc:
                payload = {"ok": False, "error": exc.code, **exc.extra}
                if exc.messages:
                    payload["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in exc.messages]}
            self._record(method, args, 200, payload, token, received=received)
            return self._json(200, payload)

    def _enforce(self, method: str, issues: list[Issue]) -> None:
        """Write every issue to problems; in strict mode refuse the call with the first one's code.
        A view that is not a JSON object is refused in any mode."""
        if any(i.code == "invalid_view" for i in issues):
            raise ApiError("invalid_arguments", [f"{method}: view must be a JSON object"])
        if not issues:
            return
        self.problems.extend(i.sentence for i in issues)
        if self.strict:
            raise ApiError(issues[0].code, _sentence_of(issues))

    def _handle_response_url(
        self, key: str, args: dict[str, Any], path: str, parse_error: ApiError | None
    ) -> tuple[int, dict[str, str], bytes]:
        url = f"{self.root_url.rstrip('/')}{path}"
        with self._lock:
            fault = self._fault_for("response_url")
            if fault is not None:
                return self._fault_response("response_url", args, None, fault, url)
            ctx = self._response_urls.get(key)

            def answer(status: int, text: str, ok: bool = False) -> tuple[int, dict[str, str], bytes]:
                self._record(
                    "response_url", args, status, {"ok": ok, "error": None if ok else text}, None, url
                )
                return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8")

            if parse_error is not None:
                return answer(400, parse_error.code)
            if ctx is None:
                return answer(404, "no_such_url")
            ctx.uses += 1
            if ctx.uses > RESPONSE_URL_USES:
                self.problems.append(f"response_url used {ctx.uses} times; Slack allows {RESPONSE_URL_USES}")
                return answer(404, "used_url")
            if time.monotonic() - ctx.issued > RESPONSE_URL_TTL:
                return answer(404, "expired_url")
            issues = message_issues(
                args, "response_url", require_content=not _truthy(args.get("delete_original"))
            )
            if issues:
                self.problems.extend(_sentence_of(issues))
                if self.strict:
                    return answer(400, issues[0].code)
            self._deliver_response(args, ctx)
            return answer(200, "ok", ok=True)

    def _handle_upload(self, file_id: str, raw: bytes, path: str) -> tuple[int, dict[str, str], bytes]:
        url = f"{self.root_url.rstrip('/')}{path}"
        with self._lock:
            fault = self._fault_for("upload_url")
            if fault is not None:
                return self._fault_response("upload_url", {"file_id": file_id}, None, fault, url)
            pending = self._pending_files.get(file_id)
            args = {"file_id": file_id, "length": len(raw)}
            if pending is None:
                self._record("upload_url", args, 404, {"ok": False, "error": "file_not_found"}, None, url)
                return 404, {"Content-Type": "text/plain"}, b"file_not_found"
            pending["content"] = raw
            self._record("upload_url", args, 200, {"ok": True}, None, url)
            return 200, {"Content-Type": "text/plain"}, f"OK - {len(raw)}".encode()

    # ---- Web API methods ---------------------------------------------------------------------

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "QMF",
            "user": self.user_name(self.bot_user_id),
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message_checks(self, args: dict[str, Any], where: str) -> list[Issue]:
        if not self.check_blocks:
            return []
        return message_issues(args, where) + self._image_issues(args.get("blocks"), where)

    def _image_issues(self, blocks: Any, where: str, code: str = "invalid_blocks") -> list[Issue]:
        """Image blocks showing a Slack file: the file must be one uploaded here (by id, or by its
        url_private or permalink), and an image; Slack refuses the message otherwise."""
        issues: list[Issue] = []
        if not isinstance(blocks, list):
            return issues
        for index, block in enumerate(blocks):
            if not isinstance(block, dict) or block.get("type") != "image":
                continue
            label = f"{where}, block {index} (image)"
            ref = block.get("slack_file")
            if ref is None:
                continue
            if not isinstance(ref, dict) or bool(ref.get("id")) == bool(ref.get("url")):
                issues.append(Issue(code, f"{label}: slack_file needs exactly one of id or url"))
                continue
            known = next((f for f in self.files if f["file_id"] == ref.get("id")
                          or ref.get("url") in (f["url_private"], f["permalink"])), None)
            if known is None:
                issues.append(Issue(code, f"{label}: slack_file {ref} is not a file uploaded to this workspace"))
            elif not str(known["filename"]).lower().endswith(IMAGE_EXTENSIONS):
                issues.append(Issue(code, f"{label}: slack_file {known['filename']} is not a png, jpg or gif image"))
        return issues

    def _m_chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel:
            raise ApiError("channel_not_found", ["channel is missing"])
        self._enforce("chat.postMessage", self._message_checks(args, f"chat.postMessage to {channel}"))
        m = self._store_message(self._dm_channel(channel), args)
        return {"channel": m["channel"], "ts": m["ts"], "message": self._slack_message(m)}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        m = self._find_message(channel, str(args.get("ts")))
        if m is None:
            raise ApiError("message_not_found", [f"no message {args.get('ts')} in {channel}"])
        self._enforce("chat.update", self._message_checks(args, f"chat.update of {channel}/{m['ts']}"))
        if "text" in args:
            m["text"] = args.get("text") or ""
        if "blocks" in args:
            m["blocks"] = copy.deepcopy(args.get("blocks")) or []
            self._fill_ids(m["blocks"])
        if "metadata" in args:
            m["metadata"] = copy.deepcopy(args["metadata"])
        if "attachments" in args:
            m["attachments"] = copy.deepcopy(args["attachments"]) or []
        m["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"channel": channel, "ts": m["ts"], "text": m["text"], "message": self._slack_message(m)}

    def _m_chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        user = args.get("user")
        if not isinstance(channel, str) or not channel:
            raise ApiError("channel_not_found", ["channel is missing"])
        if not isinstance(user, str) or not user:
            raise ApiError("user_not_found", ["user is missing"])
        self._enforce(
            "chat.postEphemeral", self._message_checks(args, f"chat.postEphemeral to {user} in {channel}")
        )
        e = self._store_ephemeral(self._dm_channel(channel), user, args, source="chat.postEphemeral")
        return {"message_ts": e["ts"]}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        m = self._find_message(channel, str(args.get("ts")))
        if m is None:
            raise ApiError("message_not_found", [f"no message {args.get('ts')} in {channel}"])
        m["deleted"] = True
        return {"channel": channel, "ts": m["ts"]}

    def _m_chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        ts = str(args.get("message_ts"))
        if self._find_message(channel, ts) is None:
            raise ApiError("message_not_found", [f"no message {ts} in {channel}"])
        return {
            "channel": channel,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        issues = view_issues(view, kinds={"modal"}, where="views.open")
        trigger = self._take_trigger(args.get("trigger_id") or args.get("interactivity_pointer"))
        self._enforce("views.open", issues)
        view = cast("dict[str, Any]", view)  # _enforce refused anything that is not a dict
        external_id = view.get("external_id") if isinstance(view, dict) else None
        if external_id and any(
            r.view.get("external_id") == external_id for r in self._views.values() if r.open
        ):
            raise ApiError("duplicate_external_id", [f"external_id {external_id!r} is already in use"])
        stored = self._open_view(trigger.user_id, view, push=False)
        return {"view": copy.deepcopy(stored)}

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        issues = view_issues(view, kinds={"modal"}, where="views.push")
        trigger = self._take_trigger(args.get("trigger_id") or args.get("interactivity_pointer"))
        self._enforce("views.push", issues)
        view = cast("dict[str, Any]", view)  # _enforce refused anything that is not a dict
        stack = self._stacks[trigger.user_id]
        if not stack:
            self._enforce(
                "views.push",
                [Issue("invalid_arguments", f"views.push: {trigger.user_id} has no modal open to push onto")],
            )
        if len(stack) >= VIEW_STACK_LIMIT:
            self._enforce(
                "views.push",
                [
                    Issue(
                        "push_limit_reached", f"views.push would stack {len(stack) + 1} views; Slack allows 3"
                    )
                ],
            )
        stored = self._open_view(trigger.user_id, view, push=True)
        return {"view": copy.deepcopy(stored)}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if not view_id and not external_id:
            raise ApiError("invalid_arguments", ["views.update needs view_id or external_id"])
        record = None
        if view_id:
            record = self._views.get(view_id)
        else:
            record = next(
                (r for r in self._views.values() if r.view.get("external_id") == external_id and r.open), None
            )
        if record is not None and record.view["id"] in self._submitting:
            deadline = time.monotonic() + self.submission_wait
            while record.view["id"] in self._submitting and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
        if record is None or not record.open:
            raise ApiError("not_found", [f"view {view_id or external_id} is not open"])
        if args.get("hash") and args["hash"] != record.view["hash"]:
            raise ApiError("hash_conflict", ["the view changed since that hash was read"])
        kinds = {"home"} if record.kind == "home" else {"modal"}
        self._enforce("views.update", view_issues(args.get("view"), kinds=kinds, where="views.update"))
        stored = self._replace_view(record, args["view"])
        return {"view": copy.deepcopy(stored)}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ApiError("invalid_arguments", ["views.publish needs user_id"])
        view = args.get("view")
        self._enforce("views.publish", view_issues(view, kinds={"home"}, where="views.publish")
                      + (self._image_issues(view.get("blocks"), "views.publish", "invalid_arguments")
                         if isinstance(view, dict) and self.check_blocks else []))
        current = self._homes.get(user_id)
        if current and args.get("hash") and args["hash"] != self._views[current].view["hash"]:
            raise ApiError("hash_conflict", ["the Home tab changed since that hash was read"])
        if current:
            stored = self._replace_view(self._views[current], args["view"])
        else:
            view_id = self._new_id("V")
            stored = self._materialise(args["view"], view_id=view_id, root=view_id, previous=None)
            self._views[view_id] = _ViewRecord(user_id, "home", stored)
            self._homes[user_id] = view_id
        return {"view": copy.deepcopy(stored)}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            return {"channel": {"id": args["channel"]}, "no_op": True, "already_open": True}
        users = args.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        ids = sorted({u.strip() for u in str(users or "").split(",") if u.strip()})
        if not ids:
            raise ApiError("users_list_not_supplied", ["conversations.open needs users or channel"])
        if len(ids) > 8:
            raise ApiError("too_many_users", ["a group DM holds at most 8 people"])
        if len(ids) == 1:
            return {"channel": {"id": f"D{ids[0]}"}}
        digest = hashlib.sha1(",".join(ids).encode()).hexdigest()[:10].upper()
        return {"channel": {"id": f"G{digest}"}}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        oldest = _ts_float(args.get("oldest", 0))
        latest = _ts_float(args.get("latest")) if args.get("latest") else math.inf
        inclusive = _truthy(args.get("inclusive", False))
        limit = max(1, min(999, int(args.get("limit") or 100)))
        offset = int(args.get("cursor") or 0)

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = [
            m
            for m in self._messages
            if m["channel"] == channel
            and not m["deleted"]
            and (not m["thread_ts"] or m["thread_ts"] == m["ts"] or m["reply_broadcast"])
            and within(_ts_float(m["ts"]))
        ]
        found.sort(key=lambda m: _ts_float(m["ts"]), reverse=True)
        page = found[offset : offset + limit]
        more = len(found) > offset + limit
        return {
            "messages": [self._slack_message(m) for m in page],
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
        }

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        ts = str(args.get("ts"))
        parent = self._find_message(channel, ts)
        if parent is None:
            raise ApiError("thread_not_found", [f"no message {ts} in {channel}"])
        replies = [
            m for m in self._messages if m["channel"] == channel and m["thread_ts"] == ts and m is not parent
        ]
        return {
            "messages": [self._slack_message(m) for m in [parent, *replies] if not m["deleted"]],
            "has_more": False,
        }

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        if channel[:1] not in ("C", "G", "D"):
            raise ApiError("channel_not_found", [f"{channel} is not a conversation id"])
        info: dict[str, Any] = {
            "id": channel,
            "name": self.channel_name(channel),
            "is_channel": channel.startswith("C"),
            "is_group": False,
            "is_im": channel.startswith("D"),
            "is_mpim": channel.startswith("G"),
            "is_private": not channel.startswith("C"),
            "is_archived": False,
            "is_member": True,
        }
        if channel.startswith("D"):
            info["user"] = channel[1:]
            del info["name"]
        return {"channel": info}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user")))
        if user is None:
            raise ApiError("user_not_found", [f"no user {args.get('user')}"])
        return {"user": copy.deepcopy(user)}

    def _m_users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        for user in self._users.values():
            if str(user["profile"].get("email", "")).lower() == email and email:
                return {"user": copy.deepcopy(user)}
        raise ApiError("users_not_found", [f"no user with email {email!r}"])

    def _m_files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        try:
            length = int(args.get("length"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            length = -1
        if not filename or length < 0:
            raise ApiError("invalid_arguments", ["files.getUploadURLExternal needs filename and length"])
        alt = args.get("alt_txt")
        if str(filename).lower().endswith(IMAGE_EXTENSIONS) and not str(alt or "").strip():
            # Slack takes the upload; a screen reader then says only "image": the bot's own rule
            self.problems.append(f"files.getUploadURLExternal: image {filename} uploaded without alt text (alt_txt)")
        elif alt is not None and len(str(alt)) > ALT_TEXT_LIMIT:
            raise ApiError("invalid_arguments", [f"alt_txt is {len(str(alt))} characters; Slack allows {ALT_TEXT_LIMIT}"])
        file_id = self._new_id("F")
        self._pending_files[file_id] = {
            "filename": filename,
            "length": length,
            "alt_txt": args.get("alt_txt"),
            "content": None,
        }
        return {"upload_url": f"{self.root_url}upload/{file_id}", "file_id": file_id}

    def _m_files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise ApiError("invalid_arguments", ["files must be a JSON array of {id, title}"])
        channel = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        if channel and channel[:1] in ("U", "W"):  # like Slack: a conversation id (conversations.open gives a DM's)
            raise ApiError("invalid_arguments", [f"channel_id {channel} is a user id; share into a C, G or D id"])
        done: list[dict[str, Any]] = []
        for item in files:
            file_id = item.get("id") if isinstance(item, dict) else None
            pending = self._pending_files.get(str(file_id))
            if pending is None or pending["content"] is None:
                raise ApiError("file_not_found", [f"file {file_id} was not uploaded to its upload_url"])
            if len(pending["content"]) != pending["length"]:
                self.problems.append(
                    f"files.completeUploadExternal: {file_id} declared {pending['length']} bytes "
                    f"but {len(pending['content'])} were uploaded"
                )
        for item in files:
            file_id = str(item["id"])
            pending = self._pending_files.pop(file_id)
            title = item.get("title") or pending["filename"]
            self.files.append(
                {
                    "file_id": file_id,
                    "alt_txt": pending["alt_txt"],
                    "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{pending['filename']}",
                    "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{self.bot_user_id}/{file_id}",
                    "filename": pending["filename"],
                    "title": title,
                    "channel_id": channel,
                    "initial_comment": args.get("initial_comment"),
                    "content": pending["content"],
                }
            )
            done.append(
                {
                    "id": file_id,
                    "name": pending["filename"],
                    "title": title,
                    "size": len(pending["content"]),
                    "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{pending['filename']}",
                    "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{self.bot_user_id}/{file_id}",
                    "channels": [channel] if channel else [],
                }
            )
        if channel:
            m = self._store_message(
                channel, {"text": args.get("initial_comment") or "", "thread_ts": args.get("thread_ts")}
            )
            m["files"] = [{"id": f["id"], "name": f["name"], "title": f["title"]} for f in done]
        return {"files": done}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._existing_channel(args)
        m = self._find_message(channel, str(args.get("timestamp")))
        if m is None:
            raise ApiError("message_not_found", [f"no message {args.get('timestamp')} in {channel}"])
        name = args.get("name")
        if not name:
            raise ApiError("invalid_name", ["name is missing"])
        for reaction in m["reactions"]:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    raise ApiError("already_reacted", [f"{name} is already on that message"])
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {}
        m["reactions"].append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {}


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._m_auth_test,
    "chat.postMessage": FakeSlack._m_chat_post_message,
    "chat.update": FakeSlack._m_chat_update,
    "chat.postEphemeral": FakeSlack._m_chat_post_ephemeral,
    "chat.delete": FakeSlack._m_chat_delete,
    "chat.getPermalink": FakeSlack._m_chat_get_permalink,
    "views.open": FakeSlack._m_views_open,
    "views.push": FakeSlack._m_views_push,
    "views.update": FakeSlack._m_views_update,
    "views.publish": FakeSlack._m_views_publish,
    "conversations.open": FakeSlack._m_conversations_open,
    "conversations.history": FakeSlack._m_conversations_history,
    "conversations.replies": FakeSlack._m_conversations_replies,
    "conversations.info": FakeSlack._m_conversations_info,
    "users.info": FakeSlack._m_users_info,
    "users.lookupByEmail": FakeSlack._m_users_lookup_by_email,
    "files.getUploadURLExternal": FakeSlack._m_files_get_upload_url_external,
    "files.completeUploadExternal": FakeSlack._m_files_complete_upload_external,
    "reactions.add": FakeSlack._m_reactions_add,
}
