"""The ASGI app: POST /slack/events for everything Slack sends, GET /healthz for the platform.

Bolt's dispatch is synchronous, so it runs on the runtime's listener threads; the event loop stays
free to take other requests. Slack gets its answer the moment a listener calls ``ack()``: the
listener's ack is one that hands its response straight to the waiting request, and the listener
goes on (opening the modal, posting) on its thread. Bolt's own way, a listener thread plus a
request thread checking for the ack every 10 ms, added up to 10 ms to every answer and a wake-up
per waiting request every 10 ms.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app.factory import runtime_of

MAX_BODY = 1_000_000
log = logging.getLogger(__name__)


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
              answer: Callable[[BoltResponse], None]) -> BoltResponse:
    bolt_request = BoltRequest(body=body.decode("utf-8", errors="replace"), query=query, headers=headers)
    bolt_request.context["ack"] = AnsweringAck(answer)
    return bolt_app.dispatch(bolt_request)


async def answer_of(bolt_app: App, body: bytes, request: Request) -> BoltResponse:
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
        _dispatch, bolt_app, body, request.url.query, {**request.headers}, answer))
    await asyncio.wait((acked, done), return_when=asyncio.FIRST_COMPLETED)
    if acked.done():
        done.add_done_callback(_log_late_failure)
        return acked.result()
    acked.cancel()
    return done.result()


def _log_late_failure(done: asyncio.Future[BoltResponse]) -> None:
    """Bolt hands listener errors to the app's error handler; only a failure of bolt itself lands here."""
    if not done.cancelled() and done.exception() is not None:
        log.error("request failed after its ack", exc_info=done.exception())


def create_web_app(bolt_app: App) -> Starlette:
    rt = runtime_of(bolt_app)
    verifier = SignatureVerifier(rt.settings.slack_signing_secret or "offline-signing-secret")

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("request too large", status_code=413)
        if not request.headers.get("x-slack-request-timestamp", "").isdigit():
            return Response("invalid request", status_code=401)  # bolt would fail on a non-numeric one
        if not verifier.is_valid_request(body, dict(request.headers)):
            return Response("invalid request", status_code=401)  # before anything parses the body
        try:
            bolt_response = await answer_of(bolt_app, body, request)
        except Exception:  # noqa: BLE001 - a body bolt cannot parse or route is the sender's fault
            log.warning("refused a malformed Slack request", exc_info=True)
            return Response("bad request", status_code=400)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    async def healthz(_: Request) -> Response:
        state = await run_in_threadpool(rt.db.ping)
        status = 200 if state.get("database") == "ok" else 503
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
    rt = build_runtime(settings, database=Database(settings.database_url))
    rt.db.ensure_schema()
    app = create_app(settings, runtime=rt)
    rt.sender.start()
    atexit.register(rt.sender.stop)
    web = create_web_app(app)
    tune_interpreter()
    return web
