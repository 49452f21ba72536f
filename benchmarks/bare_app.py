"""The baseline for bench_load.py: a bare bolt app behind the same web stack that acks, opens a
static modal and stores nothing. Run: python benchmarks/bare_app.py PORT SIGNING_SECRET SLACK_API_URL"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from slack_bolt import Ack, App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STATIC_MODAL = {
    "type": "modal",
    "callback_id": "bare-modal",
    "title": {"type": "plain_text", "text": "Propose a case"},
    "submit": {"type": "plain_text", "text": "Propose"},
    "blocks": [{"type": "input", "block_id": "ref", "label": {"type": "plain_text", "text": "Case reference"},
                "element": {"type": "plain_text_input", "action_id": "ref"}}],
}


def build(secret: str, api_url: str) -> Starlette:
    from concurrent.futures import ThreadPoolExecutor

    app = App(client=WebClient(token="xoxb-bare", base_url=api_url), signing_secret=secret,
              token_verification_enabled=False, listener_executor=ThreadPoolExecutor(max_workers=32))

    @app.command("/qmf")
    def qmf(ack: Ack, respond: Any) -> None:
        ack()
        respond(text="QMF Bot commands: help, whoami", response_type="ephemeral")

    @app.command("/propose-case")
    def propose(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=STATIC_MODAL)

    @app.view("bare-modal")
    def submitted(ack: Ack) -> None:
        ack()

    async def events(request: Request) -> Response:
        body = await request.body()
        bolt_request = BoltRequest(body=body.decode(), query=request.url.query, headers=dict(request.headers))
        result: BoltResponse = await run_in_threadpool(app.dispatch, bolt_request)
        return Response(result.body, status_code=result.status, headers=result.first_headers_without_set_cookie())

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


if __name__ == "__main__":
    port, secret, api_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(build(secret, api_url), host="127.0.0.1", port=port, log_level="warning", access_log=False)
