"""The ASGI app: POST /slack/events for everything Slack sends, GET /healthz for the platform.

Bolt's dispatch is synchronous, so it runs on the runtime's listener threads; the event loop stays
free to take other requests. Slack gets its answer the moment a listener calls ``ack()``: the
listener's ack is one that hands its response straight to the waiting request, and the listener
goes on (opening the modal, posting) on its thread. Bolt's own way, a listener thread plus a
request thread checking for the ack every 10 ms, added up to 10 ms to every answer and a wake-up
per waiting request every 10 ms.

Each request's database work runs under time limits from the moment it arrives (``storage.deadline``,
set up by the shell's first middleware): a stalled database gets the person a clear "not now" inside
Slack's 3 s, and frees the listener thread, instead of a hang. /healthz pings on its own thread,
one ping at a time, and answers within ``HEALTH_WAIT`` whatever the database does.

Nothing of a request is trusted before it is checked, cheapest first: the declared size, then the
size actually read (a capped streaming read, so an endless body costs at most ``MAX_BODY``), then
the shape of Slack's headers, then the signature, and only then is the body parsed. Every refusal
is a 4xx and one log line, never a traceback: a hostile or broken request is the sender's fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app.factory import runtime_of
from bot.core.logcontext import log_context
from schedules.health import Thresholds, operations_state
from storage.db import Database, one_connection
from storage.deadline import ACK_BUDGET, Limits, limited

MAX_BODY = 1 << 20
"""The largest request body taken, 1 MiB: anything larger is refused with 413 unread.

Slack's largest legitimate payload is a view submission: a modal holds at most 100 blocks and a text
input at most 3,000 characters, so a modal filled to the brim is about 300 kB of typed text plus a
few kB per block of state, around 400 kB url-encoded; our own modals hold a few dozen inputs at most.
Events and slash commands are a few kB. 1 MiB leaves more than double the headroom over the worst
real case while keeping four hostile uploads to a few MB of memory between them."""

SIGNATURE_WINDOW = 60 * 5
"""Slack's window: a request whose timestamp is further than five minutes from now is a replay."""

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: seconds since 1970 have 10 until 2286
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # v0= and a hex HMAC-SHA256
_LENGTH = re.compile(r"[0-9]{1,18}")
log = logging.getLogger(__name__)


class Refused(Exception):
    """A request answered with a 4xx before it reached bolt; ``reason`` is the one log line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused (413) from its Content-Length alone if that is over ``limit``, and read as a
    stream that stops the moment it passes ``limit`` otherwise (chunked or lying about its length)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _LENGTH.fullmatch(declared):
            raise Refused(413 if declared.isascii() and declared.isdigit() else 400,
                          "a Content-Length that is not a size we take")
        if int(declared) > limit:
            raise Refused(413, f"a body of {int(declared)} bytes declared, over the {limit}-byte cap")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refused(413, f"a body read past the {limit}-byte cap")
    except ClientDisconnect:
        raise Refused(400, "a body cut short by the sender hanging up") from None
    return bytes(body)


def check_headers(headers: Any, now: float) -> tuple[str, str]:
    """Slack's timestamp and signature headers, refused (401) unless they have Slack's shape and the
    timestamp is inside Slack's window; nothing converts a header before its shape is known."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refused(401, "a missing or malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        raise Refused(401, "an X-Slack-Request-Timestamp outside Slack's 5-minute window")
    signature = headers.get("x-slack-signature", "")
    if not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "a missing or malformed X-Slack-Signature")
    return timestamp, signature


class MalformedBody(Exception):
    """A correctly signed body that does not parse as Slack's form or JSON."""


class AnsweringAck(Ack):
    """Bolt's ``ack`` that also hands its response to the waiting HTTP request when first called."""

    def __init__(self, answer: Callable[[BoltResponse], None]) -> None:
        super().__init__()
        self._answer: Callable[[BoltResponse], None] | None = answer

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        answer, self._answer = self._answer, None
        if answer is not None:
            answer(response)
        return response


def _dispatch(bolt_app: App, body: bytes, query: str, headers: dict[str, str | Sequence[str]],
              answer: Callable[[BoltResponse], None], arrived: float) -> BoltResponse:
    try:  # the constructor only parses: whatever it raises is the body's fault
        bolt_request = BoltRequest(body=body.decode("utf-8", errors="replace"), query=query, headers=headers)
    except Exception as e:  # noqa: BLE001 - json's ValueError, RecursionError, a list where a dict goes...
        raise MalformedBody(type(e).__name__) from None
    ack = bolt_request.context["ack"] = AnsweringAck(answer)
    # The request's database time limits count from its arrival, the wait for a thread included.
    # One checked-out database connection for the whole request (storage.db.one_connection).
    with limited(Limits(ack_by=arrived + ACK_BUDGET, answered=lambda: ack.response is not None)), \
            one_connection(), log_context(request=_request_id(headers), slack=_kind(bolt_request.body)):
        return bolt_app.dispatch(bolt_request)


def _request_id(headers: dict[str, str | Sequence[str]]) -> str:
    """The line's request: Slack's timestamp and the signature's first hex digits, enough to group lines."""
    timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    return f"{timestamp}-{str(signature)[3:11]}"


def _kind(body: dict[str, Any]) -> str:
    """What Slack sent, for the log's context: a command's name, an event's type, or the payload's type."""
    if not isinstance(body, dict):
        return "?"
    if "command" in body:
        return f"command {str(body['command'])[:40]}"
    event = body.get("event")
    if isinstance(event, dict):
        return f"event {str(event.get('type'))[:40]}"
    return str(body.get("type") or "?")[:40]


async def answer_of(bolt_app: App, body: bytes, request: Request, arrived: float | None = None) -> BoltResponse:
    """Dispatch on a listener thread; the answer is the ack's response as soon as there is one,
    otherwise what dispatch returns (a middleware's refusal, a listener that failed before acking)."""
    rt = runtime_of(bolt_app)
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[BoltResponse] = loop.create_future()

    def settle(response: BoltResponse) -> None:
        if not acked.done():
            acked.set_result(response)

    def answer(response: BoltResponse) -> None:
        loop.call_soon_threadsafe(settle, response)

    done = asyncio.wrap_future(rt.executor.submit(
        _dispatch, bolt_app, body, request.url.query, {**request.headers}, answer,
        time.monotonic() if arrived is None else arrived))
    await asyncio.wait((acked, done), return_when=asyncio.FIRST_COMPLETED)
    if acked.done():
        done.add_done_callback(_log_late_failure)
        return acked.result()
    acked.cancel()
    return done.result()


def _log_late_failure(done: asyncio.Future[BoltResponse]) -> None:
    """Bolt hands listener errors to the app's error handler; only a failure of bolt itself lands here."""
    if not done.cancelled() and done.exception() is not None:
        log.error("a Slack request failed after its ack: %s", where(done.exception()))  # type: ignore[arg-type]


def where(error: BaseException) -> str:
    """The error and the line that raised it, in one line: enough to find a bug, never a traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    place = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {str(error)[:200]}{place}"


def refuse(request: Request, status: int, reason: str) -> Response:
    client = request.client.host if request.client else "?"
    log.warning("refused a request to /slack/events from %s with %d: %s", client, status, reason)
    text = {400: "bad request", 401: "invalid request", 413: "request too large"}.get(status, "refused")
    # An oversized body is left unread: closing the connection is what stops the server taking the rest
    # (left open, uvicorn would read and discard it to keep the connection alive).
    headers = {"Connection": "close"} if status == 413 else None
    return Response(text, status_code=status, headers=headers)


HEALTH_WAIT = 0.8
"""Seconds /healthz gives the database: a platform's probe usually allows 1 s."""


class HealthCheck:
    """The database's, the outbox's and the scheduler's state for /healthz, inside ``HEALTH_WAIT``,
    without using a listener thread.

    The ping and then the outbox and job queries run on a thread of its own, all under one time limit
    that ends at ``HEALTH_WAIT``. While one is still out (a stalled database), another request is
    answered "not answering" at once rather than sending a second. The answer is 503 when the database
    is not ok or the outbox is stuck (its oldest due message has waited longer than
    ``QMF_HEALTH_OUTBOX_STUCK`` seconds); an overdue job is reported but does not fail the probe:
    restarting the web process would not run it."""

    def __init__(self, db: Database, operations: Callable[[], dict[str, Any]] | None = None) -> None:
        self.db = db
        self.operations = operations
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qmf-healthz")
        self._out: Future[dict[str, Any]] | None = None

    def _check(self) -> dict[str, Any]:
        ends = time.monotonic() + HEALTH_WAIT
        state: dict[str, Any] = dict(self.db.ping(HEALTH_WAIT))
        if state.get("database") != "ok" or self.operations is None:
            return state
        left = ends - time.monotonic()
        if left <= 0.05:
            state["operations"] = "not answering"
            return state
        try:
            with limited(Limits(ack_by=ends, call_limit=left)):
                state.update(self.operations())
        except Exception as e:  # noqa: BLE001 - a slow or failing query is "not answering", never a traceback
            log.warning("/healthz could not read the outbox and jobs: %s", where(e))
            state["operations"] = "not answering"
        return state

    async def state(self) -> dict[str, Any]:
        if self._out is not None and not self._out.done():
            return {"database": "not answering"}
        self._out = self._thread.submit(self._check)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._out)), HEALTH_WAIT + 0.1)
        except TimeoutError:
            return {"database": "not answering"}


def create_web_app(bolt_app: App) -> Starlette:
    rt = runtime_of(bolt_app)
    verifier = SignatureVerifier(rt.settings.slack_signing_secret or "offline-signing-secret")

    async def slack_events(request: Request) -> Response:
        arrived = time.monotonic()
        try:
            body = await read_capped(request)
            timestamp, signature = check_headers(request.headers, time.time())
            if not verifier.is_valid(body, timestamp, signature):
                raise Refused(401, "a signature that does not match the body")
        except Refused as refused:
            return refuse(request, refused.status, refused.reason)
        try:
            bolt_response = await answer_of(bolt_app, body, request, arrived)
        except MalformedBody as malformed:
            return refuse(request, 400, f"a signed body that does not parse ({malformed})")
        except Exception as e:  # noqa: BLE001 - parsed, but bolt fails on its shape (a button with no actions)
            return refuse(request, 400, f"a signed body bolt could not handle ({where(e)})")
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    thresholds = Thresholds(outbox_stuck_after=rt.settings.qmf_health_outbox_stuck,
                            job_grace=rt.settings.qmf_health_job_grace)
    health = HealthCheck(rt.db, lambda: operations_state(rt, thresholds))

    async def healthz(_: Request) -> Response:
        state = await health.state()
        stuck = isinstance(state.get("outbox"), dict) and state["outbox"].get("stuck")
        status = 200 if state.get("database") == "ok" and not stuck else 503
        state["status"] = "ok" if status == 200 else "unavailable"
        return JSONResponse(state, status_code=status)

    async def root(_: Request) -> Response:
        return Response(json.dumps({"app": "qmf-bot"}), media_type="application/json")

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/", root, methods=["GET"]),
        ]
    )


def serve_from_environment() -> Starlette:
    """uvicorn's factory for `qmf-bot serve`: each worker process builds its own app and sender."""
    import atexit

    from bot.app.factory import create_app
    from bot.app.runtime import build_runtime
    from bot.core.runtime import tune_interpreter
    from bot.core.settings import load_settings
    from storage.db import Database

    settings = load_settings().require("serve")
    from bot.app.logs import configure_logging

    if not logging.getLogger().handlers:  # a worker process of its own (--workers): its logs and Sentry
        configure_logging(settings=settings)
    rt = build_runtime(settings, database=Database(settings.database_url))
    rt.db.ensure_schema()
    app = create_app(settings, runtime=rt)
    rt.sender.start()
    atexit.register(rt.sender.stop)
    web = create_web_app(app)
    tune_interpreter()
    return web
