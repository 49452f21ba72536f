"""Building a process's runtime: the shell's job, as it alone knows the Slack client, the outbox
sender and the feature registry the runtime carries."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.app.features import FEATURES
from bot.app.sender import OutboxSender
from bot.core.runtime import Clock, Runtime, system_clock
from bot.core.settings import Settings
from storage.db import Database


def make_client(settings: Settings) -> WebClient:
    """The listeners' and jobs' client: retries a dropped connection, a 429 (twice) and a 5xx."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    from bot.app.slack_http import KeepAliveWebClient

    handlers = [ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=2), ServerErrorRetryHandler()]

    return KeepAliveWebClient(
        token=settings.slack_bot_token or "xoxb-offline",
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=handlers,
    )


def sender_client(token: str | None, base_url: str) -> WebClient:
    """The outbox's own client: no retry handlers (the outbox retries, with its own pacing)."""
    from bot.app.slack_http import KeepAliveWebClient

    return KeepAliveWebClient(token=token, base_url=base_url, timeout=10, retry_handlers=[])


def build_runtime(settings: Settings, client: WebClient | None = None, *, clock: Clock = system_clock,
                  database: Database | None = None) -> Runtime:
    db = database or Database(settings.database_url)
    client = client or make_client(settings)
    rt = Runtime(settings=settings, db=db, client=client, clock=clock, features=FEATURES)
    rt.sender = OutboxSender(db, sender_client(client.token, client.base_url))
    db.after_commit.append(rt.sender.kick)
    return rt
