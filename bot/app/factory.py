"""The app factory. No module-level app: tests and the demo hand in a client and a clock."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.app.runtime import build_runtime
from bot.core.errors import QmfError
from bot.core.runtime import Runtime
from bot.core.settings import Settings
from handlers.common import RUNTIME_KEY, reply_for
from storage.deadline import ACK_BUDGET, DatabaseUnavailable, Limits, current, start_limits

log = logging.getLogger(__name__)


def create_app(settings: Settings, client: WebClient | None = None, *, runtime: Runtime | None = None,
               answered_by_web: bool = True) -> App:
    """``answered_by_web``: requests arrive through bot.web, which answers Slack the moment a listener
    acks while the listener carries on in its thread. Socket Mode's handler answers only when
    dispatch returns, so there bolt's own way is used: listeners on the executor, dispatch waiting
    for the ack."""
    rt = runtime or build_runtime(settings, client)
    app = App(
        client=rt.client,
        signing_secret=settings.slack_signing_secret or "offline-signing-secret",
        token_verification_enabled=False,
        request_verification_enabled=True,
        process_before_response=answered_by_web,
        listener_executor=rt.executor,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("qmf.bolt"),
    )

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any, logger: logging.Logger) -> BoltResponse | None:
        message = reply_for(error)
        if not isinstance(error, QmfError):
            logger.debug("error handled: %s", type(error).__name__)
        if body.get("type") == "event_callback" and body.get("event_id"):
            _forget_delivery(rt, str(body["event_id"]))  # the work failed: let Slack's retry do it
        try:
            if body.get("response_url") or (body.get("response_urls") or []):
                respond(text=message, response_type="ephemeral", replace_original=False)
                return None
            user = (body.get("user") or {}).get("id") or body.get("user_id")
            if user:
                rt.client.chat_postMessage(channel=user, text=message)
        except Exception:  # noqa: BLE001 - telling the person failed too; the log has the reference
            log.exception("could not tell the person about an error")
        return None

    @app.middleware
    def time_limits(context: BoltContext, next: Any) -> BoltResponse | None:  # noqa: A002
        """Every request's database work runs under time limits (storage.deadline). bot.app.web sets
        them from the moment a request arrived; under Socket Mode they start here, for the rest of
        this dispatch (bolt calls the middleware one after another, not nested, so a ``with``
        would end before the listener ran; the listener pool runs each task in its own context)."""
        if current() is None:
            ack = context.ack
            start_limits(Limits(ack_by=time.monotonic() + ACK_BUDGET,
                                answered=lambda: getattr(ack, "response", None) is not None))
        return next()  # type: ignore[no-any-return]

    @app.middleware
    def shared_client(context: BoltContext, next: Any) -> BoltResponse | None:  # noqa: A002
        """Listeners get the runtime (module-level listeners read it with handlers.common.runtime_from)
        and its client, not the fresh one bolt makes per request: it keeps its connections to Slack
        open (bot.app.slack_http). The app has one bot token, never changed."""
        context["client"] = rt.client
        context[RUNTIME_KEY] = rt
        return next()  # type: ignore[no-any-return]

    @app.middleware
    def ack_events_first(body: dict[str, Any], context: BoltContext, next: Any) -> BoltResponse | None:  # noqa: A002
        """Events need only a 200, at once: the check for a re-delivery and the work (App Home, say)
        go on after it."""
        if body.get("type") == "event_callback":
            context.ack()
        return next()  # type: ignore[no-any-return]

    @app.middleware
    def drop_event_retries(body: dict[str, Any], next: Any) -> BoltResponse | None:  # noqa: A002
        """Slack re-delivers an event it thinks was missed; its id says we already have it."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not _first_delivery(rt, str(event_id)):
            return BoltResponse(status=200, body="")
        return next()  # type: ignore[no-any-return]

    for register in rt.features.listeners():
        register(app, rt)
    app._qmf_runtime = rt  # type: ignore[attr-defined]
    return app


def _first_delivery(rt: Runtime, event_id: str) -> bool:
    from sqlalchemy.exc import IntegrityError

    from storage.models import SlackEvent

    try:
        with rt.db.session() as session:
            session.add(SlackEvent(event_id=event_id))
    except IntegrityError:
        return False
    return True


def _forget_delivery(rt: Runtime, event_id: str) -> None:
    """Listeners run after the ack, so the middleware cannot see them fail; without this, a retry of
    an event whose first handling failed would be dropped and the work never done."""
    from sqlalchemy import delete

    from storage.models import SlackEvent

    try:
        with rt.db.session() as session:
            session.execute(delete(SlackEvent).where(SlackEvent.event_id == event_id))
    except DatabaseUnavailable as exc:
        log.warning("could not forget event %s after its handler failed: %s", event_id, exc.reason)
    except Exception:  # noqa: BLE001 - the database may be what failed; the log has the first error
        log.exception("could not forget event %s after its handler failed", event_id)


def runtime_of(app: App) -> Runtime:
    return app._qmf_runtime  # type: ignore[attr-defined,no-any-return]
