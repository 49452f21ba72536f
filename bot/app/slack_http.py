"""A Slack Web API client that keeps its HTTP connections open.

slack_sdk's ``WebClient`` opens a new TCP (and TLS) connection for every call and closes it after
the answer. The outbox sends thousands of messages at a quarter's opening and a request handler
opens modals on every slash command, so each thread here keeps one persistent connection per host
and reuses it. Everything else (argument handling, ``SlackApiError``, retry handlers, 429
``Retry-After`` headers) is slack_sdk's own: only the transport underneath changes.

A connection the server closed while it sat idle is replaced and the request sent again once;
that is the only case retried here, and the request cannot have reached Slack in it (the socket
was already closed when the request was written, or closed before a byte of the answer came).
"""

from __future__ import annotations

import http.client
import io
import threading
import urllib.parse
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request

from slack_sdk import WebClient

# the errors a reused connection gives when the server had already closed it
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)

# Every Web API method the app calls, with the bot-token scopes it needs *as the app calls it*
# (Slack's method pages list them). A council's Slack admin approves each scope, so manifest.json
# asks for exactly these and nothing else: tests/unit/test_scopes.py scans the code for client calls
# and fails on a call missing here or a scope no call needs, and the sandbox's fake Slack refuses a
# method whose scope the manifest does not grant.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),  # every outbox message, and a DM about an error
    # the meeting's group DM of two or three people (mpim:write); the asker's own DM, where
    # `/qmf report` uploads the file (im:write: files_upload_v2 needs the D... id, not the user id)
    "conversations.open": ("mpim:write", "im:write"),
    "files.getUploadURLExternal": ("files:write",),  # files_upload_v2, step 1 (reports, charts)
    "files.completeUploadExternal": ("files:write",),  # files_upload_v2, step 3 (share in the channel)
    "users.lookupByEmail": ("users:read.email",),  # registers that name people by email
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
}

# slack_sdk helpers that are several Web API calls
SDK_HELPERS: dict[str, tuple[str, ...]] = {
    "files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}

# Scopes asked for by something other than a method call, and why.
OTHER_SCOPES: dict[str, str] = {
    "commands": "the manifest's slash commands, /qmf and /propose-case",
    "users:read": "Slack grants users:read.email only together with users:read (no users.info or users.list call)",
}


class KeepAliveWebClient(WebClient):
    """``WebClient`` over persistent per-thread connections (plain HTTP or HTTPS; proxies use urllib)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v for k, v in req.header_items()}
        body = req.data if isinstance(req.data, bytes) else None
        key = (parts.scheme, parts.netloc)
        for attempt in (1, 2):
            conn, reused = self._connection(key)
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except _STALE:
                self._drop(key)
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                self._drop(key)
                raise
            if resp.will_close:
                self._drop(key)
            charset = resp.msg.get_content_charset() or "utf-8"
            if resp.status >= 400:
                raise HTTPError(url, resp.status, resp.reason, resp.msg, io.BytesIO(data))
            if resp.msg.get_content_type() == "application/gzip":
                return {"status": resp.status, "headers": resp.msg, "body": data}
            return {"status": resp.status, "headers": resp.msg, "body": data.decode(charset)}
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _pool(self) -> dict[tuple[str, str], http.client.HTTPConnection]:
        """This thread's open connections, by (scheme, host:port)."""
        return self._local.__dict__.setdefault("pool", {})  # type: ignore[no-any-return]

    def _connection(self, key: tuple[str, str]) -> tuple[http.client.HTTPConnection, bool]:
        pool = self._pool()
        conn = pool.get(key)
        if conn is not None:
            return conn, True
        scheme, netloc = key
        if scheme == "https":
            conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl)
        else:
            conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
        pool[key] = conn
        return conn, False

    def _drop(self, key: tuple[str, str]) -> None:
        conn = self._pool().pop(key, None)
        if conn is not None:
            conn.close()
