"""The outbox sender: sends the rows ``bot.core.outbox`` enqueued, in order per channel, at Slack's
pace, once; at least once if a sender dies mid-send (see ``_recover_stale`` and ``bot.core.outbox``)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select, update

from bot.core.outbox import METADATA_EVENT, PRIVATE_FILE, _now, render_chart
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
LEASE = timedelta(seconds=120)
RECOVERY_EVERY = 30.0  # seconds between looks for claims abandoned by a dead sender
LOOKAHEAD = 0.25  # a pass also takes messages whose channel may send within this many seconds
MAX_BACKOFF = 300.0
RESENT_NOTE = "re-sent: the sender that claimed it stopped before recording Slack's answer; may be a duplicate"


@dataclass
class _Pace:
    tokens: float
    updated: float
    blocked_until: float = 0.0  # a 429's Retry-After
    ready_at: float = 0.0  # when the channel may send next (token bucket or Retry-After)


class OutboxSender:
    """Drains the outbox; several processes may run one at once (claims are atomic)."""

    def __init__(self, db: Database, client: WebClient, *, per_channel_rate: float = 1.0, burst: int = 3,
                 poll_seconds: float = 1.0, workers: int = 8) -> None:
        self.db = db
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qmf-outbox-send")
        self.client = client
        self.rate = per_channel_rate
        self.burst = burst
        self.poll_seconds = poll_seconds
        self._pace: dict[str, _Pace] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()
        self._next_recovery = 0.0
        self.lookahead = LOOKAHEAD
        self._next_due_at = 0.0  # (monotonic) the earliest not_before a pass found still in the future

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> OutboxSender:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="qmf-outbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def kick(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._idle_wait())
            self._wake.clear()
            try:
                while not self._stop.is_set() and self.send_due() > 0:
                    pass
            except Exception:  # noqa: BLE001 - the loop must survive a database blip
                log.exception("outbox pass failed; will retry")
                self._stop.wait(2.0)

    def _idle_wait(self) -> float:
        """Sleep until a paced channel comes within the look-ahead (or the poll interval), unless kicked."""
        now = time.monotonic()
        clock = now + self.lookahead
        # a channel (or a message released with a back-off) that a pass found just outside the
        # look-ahead counts until it is due: wake for it, not for the next poll a second later
        waits = [p.ready_at - clock for p in self._pace.values() if p.ready_at > now]
        if self._next_due_at > now:
            waits.append(self._next_due_at - clock)
        return max(0.01, min([self.poll_seconds, *waits]))

    # -- one pass --------------------------------------------------------------------------
    def send_due(self, limit: int = 1000) -> int:
        """Send every message that is due now; returns how many were attempted.

        One pass claims the head of every channel that may send now or within the look-ahead in
        one statement, posts them side by side (channels have separate rate limits), each at its
        channel's time, and records the successes in one statement: a few database round trips a
        pass rather than several a message. Taking the next second's messages a little early
        keeps a channel's messages 1 s apart however long a pass takes, instead of each waiting
        for the pass before it to finish.
        """
        with self._pass_lock:
            if time.monotonic() >= self._next_recovery:
                self._next_recovery = time.monotonic() + RECOVERY_EVERY
                self._recover_stale()
            send_at: dict[int, float] = {}
            for row_id, channel, due_in in self._channel_heads(limit):
                at = self._take_token(channel, self.lookahead, not_before=time.monotonic() + due_in)
                if at is not None:
                    send_at[row_id] = at
            rows = sorted(self._claim(list(send_at)), key=lambda r: (send_at[r.id], r.id))
            if not rows:
                return 0
            if len(rows) == 1 or self.workers <= 1:
                outcomes = [self._attempt(row, send_at[row.id]) for row in rows]
            else:
                outcomes = list(self._pool.map(self._attempt, rows, [send_at[row.id] for row in rows]))
            self._mark_sent([o for o in outcomes if o is not None])
            return len(rows)

    def pending(self) -> int:
        with self.db.sessions() as session:
            rows = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))
            ).all()
            return len(rows)

    def next_due_in(self) -> float | None:
        """Seconds until the next message may be sent (None if nothing is waiting)."""
        with self.db.sessions() as session:
            first = session.scalar(
                select(OutboxMessage.not_before)
                .where(OutboxMessage.status.in_(("pending", "sending")))
                .order_by(OutboxMessage.not_before)
                .limit(1)
            )
        if first is None:
            return None
        due_wait = (first - _now()).total_seconds()
        clock = time.monotonic()
        candidates = [w for w in (due_wait, *(p.ready_at - clock for p in self._pace.values())) if w > 0]
        return min(candidates) if candidates else 0.0

    def drain(self, timeout: float = 30.0) -> bool:
        """Send until nothing is waiting, sleeping through back-offs (tests and the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send_due()
            wait = self.next_due_in()
            if wait is None:
                return True
            time.sleep(min(max(wait, 0.01), 0.25, max(0.0, deadline - time.monotonic())))
        return False

    def _channel_heads(self, limit: int) -> list[tuple[int, str, float]]:
        """The oldest unsent message of each channel, if it is due (or due within the look-ahead) and
        the channel is not paced, with the seconds until it is due (0 if it is).

        A message released after a 429 is due when Slack's Retry-After ends, the moment its channel's
        pace allows it too: both are taken with the same look-ahead, so the pass that wakes for the
        channel takes it and posts it on time, rather than finding it not yet due and sleeping a
        whole poll interval (it was 1 s late after every 429)."""
        now = _now()
        horizon = now + timedelta(seconds=self.lookahead)
        clock = time.monotonic() + self.lookahead
        waiting = ("pending", "sending")
        first = (
            select(func.min(OutboxMessage.id).label("id"))
            .where(OutboxMessage.status.in_(waiting))
            .group_by(OutboxMessage.channel)
            .subquery()
        )
        with self.db.sessions() as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.status, OutboxMessage.not_before)
                .join(first, OutboxMessage.id == first.c.id)
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
        heads: list[tuple[int, str, float]] = []
        later: list[float] = []
        for row_id, channel, status, not_before in rows:
            pace = self._pace.get(channel)
            if status == "pending" and not_before > horizon:
                later.append((not_before - now).total_seconds())
            elif status == "pending" and (pace is None or pace.ready_at <= clock):
                heads.append((row_id, channel, max(0.0, (not_before - now).total_seconds())))
        self._next_due_at = time.monotonic() + min(later) if later else 0.0
        return heads

    def _claim(self, row_ids: list[int]) -> list[OutboxMessage]:
        """Atomically take these rows (another sender may have taken some first)."""
        if not row_ids:
            return []
        with self.db.sessions() as session:
            rows = list(session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(row_ids), OutboxMessage.status == "pending")
                .values(status="sending", claimed_at=_now(), attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage)
            ))
            session.commit()
        return sorted(rows, key=lambda r: r.id)

    def _take_token(self, channel: str, horizon: float = 0.0, not_before: float = 0.0) -> float | None:
        """When (monotonic) this channel may have its next message, no earlier than ``not_before``,
        taking the token for it; None, taking nothing, if that is more than ``horizon`` seconds away."""
        clock = time.monotonic()
        pace = self._pace.get(channel)
        if pace is None:
            pace = self._pace[channel] = _Pace(tokens=float(self.burst), updated=clock)
        start = max(clock, pace.blocked_until, not_before)
        tokens = min(float(self.burst), pace.tokens + max(0.0, start - pace.updated) * self.rate)
        at = start if tokens >= 1.0 else start + (1.0 - tokens) / self.rate
        if at > clock + horizon:
            pace.ready_at = at
            return None
        pace.tokens = max(0.0, tokens - 1.0)
        pace.updated = max(pace.updated, at)
        pace.ready_at = at if pace.tokens >= 1.0 else at + (1.0 - pace.tokens) / self.rate
        return at

    def _settle(self, channel: str) -> None:
        """Count the channel's refill from when Slack answered, not from when the message was taken.

        Slack times its limit by when a message arrives, which is after the claim by however long
        the message waited for a worker; refilling from the claim would send the next one too soon.
        """
        pace = self._pace.get(channel)
        if pace is None:
            return
        clock = time.monotonic()
        pace.updated = max(pace.updated, clock)
        if pace.tokens < 1.0:
            pace.ready_at = max(pace.ready_at, clock + (1.0 - pace.tokens) / self.rate)

    def _attempt(self, row: OutboxMessage, at: float) -> dict[str, Any] | None:
        """Post one claimed message at its channel's time ``at`` (monotonic); the values to mark it
        sent, or None."""
        wait = at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            ts, sent_channel = self._deliver(row)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if status == 429 or status >= 500 or error in RETRYABLE_ERRORS:
                retry_after = _retry_after(exc)
                delay = retry_after if status == 429 else _backoff(row.attempts)
                self._release(row.id, delay, f"{status} {error}".strip())
                if status == 429:  # after the release: the channel opens no sooner than the row is due
                    pace = self._pace[row.channel]
                    pace.blocked_until = pace.ready_at = time.monotonic() + retry_after
            else:
                self._fail(row.id, f"{status} {error}")
            return None
        except (OSError, TimeoutError) as exc:  # connection refused, reset, DNS, timeout
            self._release(row.id, _backoff(row.attempts), f"connection: {type(exc).__name__}")
            return None
        self._settle(row.channel)
        return {"id": row.id, "status": "sent", "ts": ts, "sent_channel": sent_channel, "sent_at": _now(),
                "file_content": None}

    def _deliver(self, row: OutboxMessage) -> tuple[str | None, str | None]:
        if row.kind in ("upload", "chart"):
            spec = (row.blocks or [{}])[0]
            title = spec.get("title", row.file_name)
            content = render_chart(spec) if row.kind == "chart" else row.file_content
            response = self.client.files_upload_v2(
                channel=None if row.channel == PRIVATE_FILE else row.channel, file=content, filename=row.file_name, title=title,
                initial_comment=row.text or None, alt_txt=spec.get("alt_text") or None,
            )
            file = (response.get("files") or [{}])[0]
            return str(file.get("id")), row.channel
        response = self.client.chat_postMessage(
            channel=row.channel,
            text=row.text,
            blocks=row.blocks,
            thread_ts=row.thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row.id}},
        )
        return response.get("ts"), response.get("channel")

    # -- state changes -----------------------------------------------------------------------
    def _release(self, row_id: int, seconds: float, reason: str) -> None:
        log.warning("outbox message %s not sent (%s); retrying in %.1fs", row_id, reason, seconds)
        with self.db.sessions() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(status="pending", not_before=_now() + timedelta(seconds=seconds), last_error=reason[:500])
            )
            session.commit()

    def _fail(self, row_id: int, reason: str) -> None:
        log.error("outbox message %s refused by Slack: %s", row_id, reason)
        with self.db.sessions() as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id).values(status="failed", last_error=reason[:500])
            )
            session.commit()

    def _mark_sent(self, sent: list[dict[str, Any]]) -> None:
        if not sent:
            return
        with self.db.sessions() as session:
            session.execute(update(OutboxMessage), sent)  # executemany, by primary key
            session.commit()

    def _recover_stale(self) -> None:
        """Send again every claim older than the lease: its sender died before recording Slack's answer.

        Whether Slack got the message cannot be known without reading the conversation's history,
        and the bot is not given that (no *:history scope: it would let the bot read every message in
        the service channels). So delivery is at least once: the window is a sender process dying
        between Slack accepting a message and the commit that marks it sent, at the end of the same
        pass (well under a second), and a duplicate reminder or learning post costs a council far
        less than a lost one. Each re-send is logged and noted on the row (``last_error``) so an
        operator can find the few messages that may have arrived twice.
        """
        cutoff = _now() - LEASE
        with self.db.sessions() as session:
            stale = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < cutoff)
                .values(status="pending", not_before=_now(), last_error=RESENT_NOTE)
                .returning(OutboxMessage.id, OutboxMessage.channel)
            ).all()
            session.commit()
        for row_id, channel in stale:
            log.warning("outbox message %s to %s was claimed by a sender that stopped; sending it again "
                        "(it may arrive twice)", row_id, channel)


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers if exc.response is not None else {}
    value = None
    for key, raw in (headers or {}).items():
        if key.lower() == "retry-after":
            value = raw[0] if isinstance(raw, list) else raw
    try:
        return max(1.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


def _backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 0.5 * (2 ** max(0, attempts - 1)))
