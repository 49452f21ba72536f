"""The keep-alive transport under slack_sdk: one connection reused, Slack's errors as slack_sdk gives them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.app.sandbox.fake_slack import FakeSlack
from bot.app.slack_http import KeepAliveWebClient


class _Recorder(BaseHTTPRequestHandler):
    """Answers every call ok, noting the client's port (one port = one connection); a call whose
    text is "close" is answered with Connection: close, and "429"/"500" with that status."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    ports: list[int] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.ports.append(self.client_address[1])
        status, extra = 200, {}
        if body.get("text") == "429":
            status, extra = 429, {"Retry-After": "7"}
        elif body.get("text") == "500":
            status = 500
        payload = json.dumps({"ok": status == 200, "error": "ratelimited" if status == 429 else None,
                              "ts": "1.000100", "channel": body.get("channel")}).encode()
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if body.get("text") == "close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def server():
    _Recorder.ports = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/"
    httpd.shutdown()
    httpd.server_close()


def test_calls_from_one_thread_share_one_connection(server):
    client = KeepAliveWebClient(token="xoxb-test", base_url=server)
    for i in range(5):
        assert client.chat_postMessage(channel="C1", text=f"hello {i}")["ts"] == "1.000100"
    assert len(_Recorder.ports) == 5 and len(set(_Recorder.ports)) == 1


def test_a_connection_the_server_closes_is_replaced(server):
    client = KeepAliveWebClient(token="xoxb-test", base_url=server)
    client.chat_postMessage(channel="C1", text="close")
    client.chat_postMessage(channel="C1", text="after")
    client.chat_postMessage(channel="C1", text="again")
    first, second, third = _Recorder.ports
    assert first != second and second == third


def test_a_429_is_slack_sdks_error_with_its_retry_after(server):
    client = KeepAliveWebClient(token="xoxb-test", base_url=server)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="429")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers.get("Retry-After") == "7"
    assert client.chat_postMessage(channel="C1", text="fine")["ok"] is True  # the connection lives on


def test_a_500_is_slack_sdks_error(server):
    client = KeepAliveWebClient(token="xoxb-test", base_url=server)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="500")
    assert raised.value.response.status_code == 500


def test_a_refused_connection_is_an_oserror():
    client = KeepAliveWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/", timeout=1)
    with pytest.raises(OSError):
        client.chat_postMessage(channel="C1", text="nobody there")


def test_the_fake_slack_keeps_the_connection_open():
    with FakeSlack() as fake:
        client = KeepAliveWebClient(token="xoxb-test", base_url=fake.base_url)
        for i in range(3):
            client.chat_postMessage(channel="C0CIC", text=f"message {i}")
        assert [m["text"] for m in fake.messages("C0CIC")] == ["message 0", "message 1", "message 2"]
