"""The fake Slack's model of OAuth scopes: which bot-token scopes Slack asks of each method it serves.

Slack answers ``missing_scope`` when the token was not granted the method's scope. The fake grants
what ``manifest.json`` asks for, so a change that calls a method without asking for its scope (or
drops a scope something still calls) fails in the tests and the demo, not at a council's install.
The table is Slack's rule, written out independently of the app's own list in
``bot.app.slack_http.METHOD_SCOPES``: that one says what the app believes it needs, this one checks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parents[3] / "manifest.json"

_Rule = tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]]


def _by_conversation(kind: str) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    """history/replies/info: the scope depends on the conversation's type (any one listed will do).

    The fake's ids: C... public (or private) channel, G... private channel or group DM, D... a DM."""

    def rule(args: dict[str, Any]) -> tuple[str, ...]:
        channel = str(args.get("channel") or "")
        if channel.startswith("D"):
            return (f"im:{kind}",)
        if channel.startswith("G"):
            return (f"groups:{kind}", f"mpim:{kind}")
        return (f"channels:{kind}", f"groups:{kind}")

    return rule


def _conversations_open(args: dict[str, Any]) -> tuple[str, ...]:
    """One person is a DM (im:write); two or more, a group DM (mpim:write)."""
    channel = str(args.get("channel") or "")
    if channel:
        return ("mpim:write",) if channel.startswith("G") else ("im:write",)
    users = args.get("users")
    names = users if isinstance(users, list) else str(users or "").split(",")
    return ("im:write",) if len([u for u in names if str(u).strip()]) <= 1 else ("mpim:write",)


# Method -> scopes (any one of them is enough); () needs none. From Slack's method reference.
RULES: dict[str, _Rule] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
    "conversations.open": _conversations_open,
    "conversations.history": _by_conversation("history"),
    "conversations.replies": _by_conversation("history"),
    "conversations.info": _by_conversation("read"),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "reactions.add": ("reactions:write",),
}

# Every scope some method above can ask for: a token with these may call anything the fake serves.
EVERY_SCOPE = frozenset({
    "chat:write", "im:write", "mpim:write", "users:read", "users:read.email", "files:write", "reactions:write",
    *(f"{kind}:{what}" for kind in ("channels", "groups", "im", "mpim") for what in ("history", "read")),
})


def manifest_scopes(path: Path = MANIFEST) -> frozenset[str] | None:
    """The bot scopes manifest.json asks for; None when it is not beside the code (an installed wheel)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def missing_scope(method: str, args: dict[str, Any], granted: frozenset[str] | None) -> tuple[str, ...]:
    """The scopes this call needs that the token lacks (any one would do); () when it may go ahead."""
    rule = RULES.get(method, ())
    needed = rule(args) if callable(rule) else rule
    if granted is None or not needed or any(scope in granted for scope in needed):
        return ()
    return needed
