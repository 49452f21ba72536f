"""The ASGI app: POST /slack/events for everything Slack sends, GET /healthz for the platform.

Bolt's dispatch is synchronous, so it runs in the thread pool; the event loop stays free to
take other requests while one waits for its ack.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import runtime_of

MAX_BODY = 1_000_000
log = logging.getLogger(__name__)


def _dispatch(bolt_app: App, body: bytes, request: Request) -> BoltResponse:
    bolt_request = BoltRequest(
        body=body.decode("utf-8", errors="replace"),
        query=request.url.query,
        headers={k: v for k, v in request.headers.items()},
    )
    return bolt_app.dispatch(bolt_request)


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
            bolt_response = await run_in_threadpool(_dispatch, bolt_app, body, request)
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

    from bot.app import create_app
    from bot.runtime import build_runtime
    from bot.settings import load_settings
    from storage.db import Database

    settings = load_settings().require("serve")
    rt = build_runtime(settings, database=Database(settings.database_url))
    rt.db.ensure_schema()
    app = create_app(settings, runtime=rt)
    rt.sender.start()
    atexit.register(rt.sender.stop)
    return create_web_app(app)
