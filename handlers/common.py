"""Plumbing every handler module shares: the /qmf subcommand registry and error replies."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.errors import QmfError
from bot.runtime import Runtime

log = logging.getLogger("qmf.handlers")

APOLOGY = (
    "Sorry, something went wrong on our side and nothing was changed. Please try again; if it keeps "
    "happening, give the QMF team this reference: `{ref}`."
)


@dataclass
class CommandCall:
    """A /qmf subcommand as the handlers see it, after the ack."""

    rt: Runtime
    user_id: str
    args: list[str]
    text: str
    trigger_id: str
    channel_id: str
    respond: Respond
    client: WebClient
    body: dict[str, Any] = field(default_factory=dict)

    def reply(self, text: str, blocks: list[Any] | None = None) -> None:
        self.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Callable[[CommandCall], None]
    order: int = 100


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str, usage: str, summary: str, order: int = 100) -> Callable[
        [Callable[[CommandCall], None]], Callable[[CommandCall], None]]:
    def decorate(fn: Callable[[CommandCall], None]) -> Callable[[CommandCall], None]:
        SUBCOMMANDS[name] = Subcommand(name=name, usage=usage, summary=summary, run=fn, order=order)
        return fn

    return decorate


def reference() -> str:
    return uuid.uuid4().hex[:10]


def apologise(exc: BaseException) -> str:
    """Log the unexpected with a reference id and return the words for the person."""
    ref = reference()
    log.error("unexpected error, reference %s", ref, exc_info=exc)
    return APOLOGY.format(ref=ref)


def reply_for(exc: BaseException) -> str:
    if isinstance(exc, QmfError):
        return exc.message
    return apologise(exc)
