"""The outbox delivers every message once, in order, through Slack's faults and rate limits."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app.runtime import sender_client
from bot.app.sandbox.fake_slack import FakeSlack
from bot.app.sender import RESENT_NOTE, OutboxSender
from bot.core import outbox
from storage.db import Database
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


def test_a_sender_that_died_after_slack_answered_sends_again_without_reading_history(db, fake):
    # The bot has no *:history scope, so it cannot look for the message: at least once, noted on the row.
    sender = sender_for(db, fake)
    queue(db, "C0CIC", ["a learning post"])
    sender.send_due()
    assert len(fake.messages("C0CIC")) == 1
    # Simulate the crash: Slack has the message but the row was never marked sent.
    with db.session() as session:
        session.execute(update(OutboxMessage).values(status="sending", ts=None,
                                                     claimed_at=utcnow() - timedelta(minutes=10)))
    restarted = sender_for(db, fake)
    assert restarted.drain(timeout=10)
    copies = fake.messages("C0CIC")
    assert [m["text"] for m in copies] == ["a learning post", "a learning post"]
    assert len({m["metadata"]["event_payload"]["outbox_id"] for m in copies}) == 1  # a duplicate can be told
    assert not [c for c in fake.calls() if c.method.startswith("conversations.")]
    with db.session() as session:
        row = session.scalar(select(OutboxMessage))
        assert row.status == "sent" and row.ts == copies[-1]["ts"] and row.last_error == RESENT_NOTE


def test_a_sender_that_died_before_slack_answered_sends_on_restart(db, fake):
    queue(db, "U0SM1", ["not yet sent"])
    queue(db, "U0SM1", ["claimed a moment ago"], prefix="fresh")
    with db.session() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.text == "not yet sent")
                        .values(status="sending", claimed_at=utcnow() - timedelta(minutes=10)))
    sender = sender_for(db, fake)
    assert sender.drain(timeout=10)
    assert [m["text"] for m in fake.dms("U0SM1")] == ["not yet sent", "claimed a moment ago"]
    assert not [c for c in fake.calls() if c.method.startswith("conversations.")]


def test_a_claim_inside_its_lease_is_left_to_its_sender(db, fake):
    queue(db, "C0CIC", ["being sent right now"])
    with db.session() as session:
        session.execute(update(OutboxMessage).values(status="sending", claimed_at=utcnow() - timedelta(seconds=5)))
    sender_for(db, fake).send_due()
    assert fake.messages("C0CIC") == []
    with db.session() as session:
        assert session.scalar(select(OutboxMessage.status)) == "sending"


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
                            dedupe_key="chart", alt_text="Bar chart of learning themes")
    assert sender_for(db, fake).drain(timeout=10)
    assert len(fake.files) == 1
    assert fake.files[0]["content"] == png
    assert fake.files[0]["channel_id"] == "C0CIC"
    assert fake.files[0].get("alt_txt") == "Bar chart of learning themes"


def test_two_senders_at_once_send_each_message_exactly_once(database_url, fake):
    """Two senders (two threads, each with its own sender and its own connection pool) drain one
    outbox together. Both are held after choosing their first pass's rows and before claiming them,
    so both choose the same channel heads and both try to claim them: only the claim's ``status ==
    'pending'`` condition keeps the second from sending them again. The race is forced the same way
    on SQLite (its writers take turns, but the second claim still runs after both have chosen) and
    on PostgreSQL."""
    channels = [f"U0R{i:03d}" for i in range(6)]
    texts = {channel: [f"{channel} #{n}" for n in range(5)] for channel in channels}
    setup = Database(database_url)
    try:
        for channel in channels:
            queue(setup, channel, texts[channel], prefix="race")
        with setup.session() as session:
            queued = len(session.scalars(select(OutboxMessage.id)).all())
    finally:
        setup.dispose()
    assert queued == 30

    start = threading.Barrier(2, timeout=10)
    both_chose = threading.Barrier(2, timeout=10)
    first_choice: dict[str, list[int]] = {}
    drained: dict[str, bool] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        db = Database(database_url)
        sender = sender_for(db, fake, per_channel_rate=1000.0, burst=10)
        claim = sender._claim

        def claim_after_the_other_has_chosen(row_ids: list[int]) -> list[OutboxMessage]:
            if name not in first_choice:
                first_choice[name] = sorted(row_ids)
                both_chose.wait()
            return claim(row_ids)

        sender._claim = claim_after_the_other_has_chosen  # type: ignore[method-assign]
        try:
            start.wait()
            drained[name] = sender.drain(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
            both_chose.abort()
        finally:
            db.dispose()

    threads = [threading.Thread(target=run, args=(name,), name=f"sender-{name}") for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert drained == {"a": True, "b": True}

    check = Database(database_url)
    try:
        with check.session() as session:
            rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    finally:
        check.dispose()
    heads = [min(r.id for r in rows if r.channel == channel) for channel in channels]
    # The race really happened: both senders chose every channel's head before either claimed.
    assert first_choice["a"] == first_choice["b"] == sorted(heads)

    posts = [c for c in fake.calls("chat.postMessage") if c.ok]
    delivered = Counter(c.args["text"] for c in posts)
    assert {text: n for text, n in delivered.items() if n > 1} == {}  # nothing sent twice
    assert sorted(delivered) == sorted(t for channel in channels for t in texts[channel])  # nothing lost
    for channel in channels:  # and each channel's messages still in order
        assert [m["text"] for m in fake.dms(channel)] == texts[channel]
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * queued  # each claimed once, sent
    assert all(r.ts for r in rows)
