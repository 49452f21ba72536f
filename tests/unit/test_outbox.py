"""The outbox delivers every message once, in order, through Slack's faults and rate limits."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot import outbox
from bot.outbox import OutboxSender
from bot.runtime import sender_client
from bot.sandbox.fake_slack import FakeSlack
from storage.models import OutboxMessage, utcnow


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def sender_for(db, fake, **kwargs) -> OutboxSender:
    return OutboxSender(db, sender_client("xoxb-test", fake.base_url), **kwargs)


def queue(db, channel: str, texts: list[str], prefix: str = "m") -> None:
    with db.session() as session:
        for text in texts:
            outbox.enqueue(session, channel=channel, text=text, dedupe_key=f"{prefix}:{channel}:{text}")


def test_a_dedupe_key_queues_a_message_once(db):
    with db.session() as session:
        assert outbox.enqueue(session, channel="U0SM1", text="hello", dedupe_key="k1") is True
        assert outbox.enqueue(session, channel="U0SM1", text="hello again", dedupe_key="k1") is False
    with db.session() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_messages_arrive_once_in_order_through_500_then_429(db, fake):
    sender = sender_for(db, fake, burst=10)
    queue(db, "C0CIC", ["one", "two", "three", "four"])
    fake.fail_next(500, count=2, method="chat.postMessage")
    fake.fail_next(429, count=1, method="chat.postMessage", retry_after=1)
    started = time.monotonic()
    assert sender.drain(timeout=30)
    delivered = [m["text"] for m in fake.messages("C0CIC")]
    assert delivered == ["one", "two", "three", "four"]
    assert time.monotonic() - started >= 1.0  # the Retry-After was honoured
    with db.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert all(r.status == "sent" and r.ts for r in rows)
    failures = [c for c in fake.calls("chat.postMessage") if not c.ok]
    assert len(failures) == 3


def test_nothing_is_lost_while_slack_is_down(db, fake):
    sender = sender_for(db, fake)
    queue(db, "U0TM1", ["while down"])
    fake.fail_for(1.5, status=503)
    assert sender.drain(timeout=30)
    assert [m["text"] for m in fake.dms("U0TM1")] == ["while down"]


def test_a_connection_error_is_retried(db, fake):
    broken = OutboxSender(db, sender_client("xoxb-test", "http://127.0.0.1:9/api/"))
    queue(db, "U0TM1", ["later"])
    broken.send_due()
    with db.session() as session:
        row = session.scalar(select(OutboxMessage))
        assert row.status == "pending" and row.attempts == 1 and "connection" in (row.last_error or "")
        session.execute(update(OutboxMessage).values(not_before=utcnow()))
    assert sender_for(db, fake).drain(timeout=10)
    assert [m["text"] for m in fake.dms("U0TM1")] == ["later"]


def test_a_refused_message_is_marked_failed_and_does_not_block_the_channel(db, fake):
    sender = sender_for(db, fake)
    queue(db, "C0CIC", ["bad", "good"])
    fake.fail_next(200, count=1, method="chat.postMessage", error="channel_not_found")
    assert sender.drain(timeout=10)
    with db.session() as session:
        statuses = [r.status for r in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert statuses == ["failed", "sent"]
    assert [m["text"] for m in fake.messages("C0CIC")] == ["good"]


def test_a_sender_that_died_after_slack_answered_does_not_send_twice(db, fake):
    sender = sender_for(db, fake)
    queue(db, "U0SM1", ["exactly once"])
    sender.send_due()
    assert len(fake.dms("U0SM1")) == 1
    # Simulate the crash: Slack has the message but the row was never marked sent.
    with db.session() as session:
        session.execute(update(OutboxMessage).values(status="sending", ts=None,
                                                     claimed_at=utcnow() - timedelta(minutes=10)))
    restarted = sender_for(db, fake)
    assert restarted.drain(timeout=10)
    assert len(fake.dms("U0SM1")) == 1
    with db.session() as session:
        row = session.scalar(select(OutboxMessage))
        assert row.status == "sent" and row.ts


def test_a_sender_that_died_before_slack_answered_sends_on_restart(db, fake):
    queue(db, "U0SM1", ["not yet sent"])
    with db.session() as session:
        session.execute(update(OutboxMessage).values(status="sending", claimed_at=utcnow() - timedelta(minutes=10)))
    assert sender_for(db, fake).drain(timeout=10)
    assert [m["text"] for m in fake.dms("U0SM1")] == ["not yet sent"]


def test_the_sender_paces_each_channel(db, fake):
    sender = sender_for(db, fake, per_channel_rate=5.0, burst=1)
    queue(db, "C0CIC", [str(i) for i in range(6)])
    queue(db, "C0CP", ["other channel"])
    started = time.monotonic()
    assert sender.drain(timeout=30)
    elapsed = time.monotonic() - started
    assert [m["text"] for m in fake.messages("C0CIC")] == [str(i) for i in range(6)]
    assert elapsed >= 0.9  # 6 messages at 5 a second, after the first
    posts = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == "C0CIC"]
    gaps = [b.at - a.at for a, b in zip(posts, posts[1:], strict=False)]
    assert min(gaps) >= 0.15


def test_many_channels_at_slacks_limit_get_no_429_and_keep_their_order(db):
    """A pass takes the next second's messages early and posts each at its channel's time; the
    channel's clock restarts when Slack answered, so Slack never sees two within its window."""
    with FakeSlack(channel_rate_per_sec=2.0) as limited:
        sender = sender_for(db, limited, per_channel_rate=2.0, burst=1)
        channels = [f"U0M{i:03d}" for i in range(40)]
        for channel in channels:
            queue(db, channel, ["first", "second", "third"])
        sender.start()
        try:
            deadline = time.monotonic() + 30
            while sender.pending() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            sender.stop()
        posts = limited.calls("chat.postMessage")
        assert [c.status for c in posts if not c.ok] == []  # not one 429
        for channel in channels:
            mine = [c for c in posts if c.args.get("channel") == channel]
            assert [c.args["text"] for c in mine] == ["first", "second", "third"]
            assert min(b.at - a.at for a, b in zip(mine, mine[1:], strict=False)) >= 0.5


def test_files_are_uploaded_through_the_outbox(db, fake):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    with db.session() as session:
        outbox.enqueue_file(session, channel="C0CIC", file_name="themes.png", content=png, title="Themes",
                            dedupe_key="chart")
    assert sender_for(db, fake).drain(timeout=10)
    assert len(fake.files) == 1
    assert fake.files[0]["content"] == png
    assert fake.files[0]["channel_id"] == "C0CIC"
