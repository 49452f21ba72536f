"""The running sender posts a message again when Slack's Retry-After (or its own back-off) ends: not
before, and not a whole poll interval after."""

from __future__ import annotations

import time

import pytest

from bot.app.runtime import sender_client
from bot.app.sandbox.fake_slack import FakeSlack
from bot.app.sender import OutboxSender
from bot.core import outbox


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def _posts_of(fake: FakeSlack, channel: str, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == channel]
        if any(c.ok for c in posts):
            return posts
        time.sleep(0.02)
    raise AssertionError(f"nothing delivered to {channel}")


def _run(db, fake, status: int, **fault) -> tuple[float, int]:
    sender = OutboxSender(db, sender_client("xoxb-test", fake.base_url), burst=3)
    fake.fail_next(status, count=1, method="chat.postMessage", **fault)
    with db.session() as session:
        outbox.enqueue(session, channel="U0TM1", text="hello", dedupe_key="k:retry")
    sender.start()
    try:
        posts = _posts_of(fake, "U0TM1")
    finally:
        sender.stop()
    refused, delivered = posts[0], [c for c in posts if c.ok]
    assert refused.status == status
    return delivered[0].at - refused.at, len(delivered)


def test_after_a_429_the_message_goes_when_retry_after_ends(db, fake):
    gap, delivered = _run(db, fake, 429, retry_after=1)
    assert delivered == 1
    assert 1.0 <= gap < 1.4  # honoured, and not left waiting for the next 1 s poll (it was about 2 s)


def test_after_a_500_the_message_waits_its_back_off(db, fake):
    gap, delivered = _run(db, fake, 500)
    assert delivered == 1
    assert 0.5 <= gap < 0.9  # the first back-off is 0.5 s: never sent early, however far the look-ahead
