"""Fan-out: a quarter opening for 1,000 managers against a Slack that allows 1 message per second per channel.

The organisation is 250 services, each with a Service Manager and 3 Team Managers (1,000 managers,
each DM its own channel). The fake Slack answers 429 with Retry-After to a second post to a channel
within a second; the real ``OutboxSender`` runs as the web process runs it (a background thread
kicked on every commit) with the same limit, 1 per second and a burst of 1.

The scheduler's jobs run back to back, as they would after a scheduler outage or on a day several
fall due: ``open-proposals`` (the invitation), ``send-reminders`` the same morning (nothing is due
yet on day one), ``send-reminders`` on the reminder day (everyone is reminded: nobody proposed) and
``open-proposals`` for the next quarter. That is 3 messages per manager, 3,000 in all.

Floors, measured from the first job's start:
- rate-limit floor: (messages per channel - 1) / rate = 2 s. No sender can beat it even if every
  message were queued at the start.
- schedule floor: the same limit applied to when each message was actually committed by its job
  (message k of a channel cannot go before its job committed, nor within 1 s of message k-1).
  This is the best any sender could do with these jobs; the difference between the two floors is
  the jobs' own time.

Reports messages, 429s received, duplicates and missing (both must be 0), the total time and its
ratio to both floors. ``--profile`` adds where the sender's time goes: database statements per
message and wall time per step of a pass.

    python benchmarks/bench_fanout.py [--services 250] [--database-url URL] [--mode both] [--profile]

``--mode live`` times from the first job's start with the sender running alongside (the scheduler
process as it runs); ``queued`` runs the jobs first and times the sender alone against the 2 s floor.
The fake Slack runs in its own process, as Slack is remote, so its checks do not compete with the bot.

The default database is PostgreSQL ``qmf_bench_fanout`` on 127.0.0.1 (created if missing, emptied
each run); ``--database-url sqlite:///path.db`` runs it on SQLite.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import resource
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select, text  # noqa: E402

from bot.app.runtime import build_runtime, sender_client  # noqa: E402
from bot.app.sandbox.fake_slack import FakeSlack  # noqa: E402
from bot.app.sender import OutboxSender  # noqa: E402
from bot.core.directory import import_org  # noqa: E402
from bot.core.orgfile import Division, OrgFile, People, Service, Team  # noqa: E402
from bot.core.runtime import ShiftedClock, tune_interpreter  # noqa: E402
from bot.core.settings import Settings  # noqa: E402
from schedules.jobs import run_job  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

LONDON = ZoneInfo("Europe/London")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench_fanout"
RATE = 1.0  # messages per second per channel, in the fake and in the sender
GOAL = 1.1
JOBS: list[tuple[str, datetime]] = [
    ("open-proposals", datetime(2026, 4, 1, 9, 0, tzinfo=LONDON)),
    ("send-reminders", datetime(2026, 4, 1, 9, 30, tzinfo=LONDON)),
    ("send-reminders", datetime(2026, 4, 15, 9, 30, tzinfo=LONDON)),
    ("open-proposals", datetime(2026, 7, 1, 9, 0, tzinfo=LONDON)),
]


# ---------------------------------------------------------------------------------------------
# set-up


def prepare_database(url: str) -> Database:
    """A fresh, migrated database: PostgreSQL's is created if missing and emptied; SQLite's recreated."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        import psycopg

        name = url.rsplit("/", 1)[1]
        if name == "test":
            raise SystemExit("refusing to empty the shared `test` database: give another --database-url")
        admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.dispose()
    db = Database(url)
    db.upgrade()
    return db


def large_org(services: int) -> OrgFile:
    """``services`` services, each with a Service Manager and three teams: 4 managers per service."""
    division = "Children's Social Care"
    return OrgFile(
        organisation="Benchmark Council Children & Families",
        channels={"quality_improvement": "C0QI"},
        divisions=[Division(name=division)],
        services=[
            Service(key=f"s{i:03d}", name=f"Service {i:03d}", division=division, service_manager=f"U{i:03d}SM",
                    teams=[Team(key=f"s{i:03d}-t{j}", name=f"Team {i:03d}-{j}", team_manager=f"U{i:03d}TM{j}")
                           for j in range(1, 4)])
            for i in range(services)
        ],
        people=People(quality_improvement=["U0QI1"], admins=["U0ADM1"]),
    )


# ---------------------------------------------------------------------------------------------
# where the sender's time goes (--profile): timers around its steps, statements counted per thread


class SenderProfile:
    STEPS = ("send_due", "_recover_stale", "_channel_heads", "_take_token", "_defer", "_claim", "_deliver",
             "_release", "_fail", "_mark_sent")

    def __init__(self, sender: OutboxSender, db: Database) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self._lock = threading.Lock()
        for step in self.STEPS:
            if hasattr(sender, step):  # steps of the sender as it is now; some come and go
                setattr(sender, step, self._timed(step, getattr(sender, step)))
        event.listen(db.engine, "before_cursor_execute", self._count)

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[name] += time.perf_counter() - started
                    self.calls[name] += 1

        return timed

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        who = "sender" if threading.current_thread().name.startswith("qmf-outbox") else "jobs"
        verb = statement.lstrip().split(None, 1)[0].upper()
        with self._lock:
            self.statements[f"{who} {verb}"] += 1

    def report(self, messages: int) -> list[str]:
        lines = ["where the sender's time goes (wall seconds summed over its threads; calls):"]
        for step in self.STEPS:
            if self.calls[step]:
                lines.append(f"  {step:15} {self.seconds[step]:8.2f} s  {self.calls[step]:7d} calls"
                             f"  {1000 * self.seconds[step] / self.calls[step]:7.2f} ms each")
        sender_total = sum(n for k, n in self.statements.items() if k.startswith("sender"))
        jobs_total = sum(n for k, n in self.statements.items() if k.startswith("jobs"))
        lines.append(f"  database statements: sender {sender_total} ({sender_total / max(1, messages):.1f} per "
                     f"message), jobs {jobs_total} ({jobs_total / max(1, messages):.1f} per message)")
        lines.append("  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(self.statements.items())))
        return lines


# ---------------------------------------------------------------------------------------------
# the fake Slack, in its own process as Slack is: its checks of every message must not compete with
# the bot for this process's interpreter lock


def fake_slack_process(rate: float, conn: Any) -> None:
    fake = FakeSlack(channel_rate_per_sec=rate, check_blocks=False).start()  # Block Kit checks: the tests' job
    conn.send(fake.base_url)
    conn.recv()  # "stop"
    posts = []
    for call in fake.calls("chat.postMessage"):
        metadata = call.args.get("metadata") or {}
        posts.append((call.status, call.ok, (metadata.get("event_payload") or {}).get("outbox_id"), call.at,
                      str(call.args.get("channel"))))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send((posts, list(fake.problems), usage.ru_utime + usage.ru_stime))
    fake.stop()


class RemoteFake:
    def __init__(self, rate: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=fake_slack_process, args=(rate, child), daemon=True)
        self._proc.start()
        self.base_url: str = self._conn.recv()

    def finish(self) -> tuple[list[tuple[int, bool, int | None, float, str]], list[str], float]:
        """Every chat.postMessage the fake answered (HTTP status, ok, outbox id, monotonic time, channel), the
        problems it found, and the CPU seconds it used."""
        self._conn.send("stop")
        result = self._conn.recv()
        self._proc.join(timeout=10)
        return result  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# the run


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def schedule_floor(queued: dict[str, list[float]], rate: float) -> float:
    """The earliest the last message could arrive: each channel's messages in order, none before its
    job committed, and no two within 1/rate seconds of each other."""
    floor = 0.0
    for times in queued.values():
        last = -1e9
        for at in sorted(times):
            last = max(at, last + 1.0 / rate)
        floor = max(floor, last)
    return floor


def scenario(args: argparse.Namespace, *, live: bool) -> bool:
    """One run: ``live`` starts the clock with the first job, the sender running alongside (as in the
    scheduler process); otherwise the jobs queue everything first and the clock starts with the sender."""
    db = prepare_database(args.database_url)
    with db.session() as session:
        import_org(session, large_org(args.services))
    fake = RemoteFake(RATE)
    clock = ShiftedClock(JOBS[0][1])
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret="bench", slack_api_url=fake.base_url,
                        database_url=args.database_url)
    rt = build_runtime(settings, clock=clock, database=db)
    sender = OutboxSender(db, sender_client("xoxb-bench", fake.base_url), per_channel_rate=RATE, burst=1, workers=args.workers)
    rt.sender = sender
    db.after_commit[:] = [sender.kick]
    profile = SenderProfile(sender, db) if args.profile else None

    print(f"\n{'live: jobs and sender together' if live else 'queued first: the sender alone'} "
          f"({db.engine.dialect.name}, {4 * args.services} managers, sender workers {args.workers})")
    queued: dict[str, list[float]] = defaultdict(list)
    last_id = 0
    started = time.monotonic()
    if live:
        sender.start()
    try:
        for name, at in JOBS:
            job_started = time.monotonic() - started
            clock.set(at)
            outcome = run_job(rt, name, at=at)
            committed = time.monotonic() - started
            with db.session() as session:
                rows = session.execute(select(OutboxMessage.id, OutboxMessage.channel)
                                       .where(OutboxMessage.id > last_id)).all()
            for row_id, channel in rows:
                queued[channel].append(committed if live else 0.0)
                last_id = max(last_id, row_id)
            print(f"  {job_started:6.2f}-{committed:6.2f} s  {name} at {at:%d %b %H:%M}: {len(rows)} queued "
                  f"({outcome.status})")
        if not live:
            started = time.monotonic()
            sender.start()
        cpu_before = cpu_seconds() if not live else 0.0
        deadline = time.monotonic() + args.timeout
        while sender.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sender.stop()
    sender_cpu = cpu_seconds() - cpu_before
    posts, problems, fake_cpu = fake.finish()

    expected = sum(len(v) for v in queued.values())
    delivered = [p for p in posts if p[1]]
    ids = Counter(int(p[2]) for p in delivered if p[2] is not None)
    with db.session() as session:
        all_ids = set(session.scalars(select(OutboxMessage.id)))
        failed = session.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.status == "failed")) or 0
    db.dispose()
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    missing = len(all_ids - set(ids))
    rate_limited = sum(1 for p in posts if p[0] == 429)
    per_channel = Counter(len(v) for v in queued.values())
    total = max(p[3] for p in delivered) - started if delivered else float("nan")
    first_sent = min(p[3] for p in delivered) - started if delivered else float("nan")
    rate_floor = (max(per_channel) - 1) / RATE
    sched_floor = schedule_floor(queued, RATE)

    print(f"  messages: {expected} queued ({', '.join(f'{n} channels x {k}' for k, n in per_channel.items())}), "
          f"{len(delivered)} delivered, {rate_limited} answered 429, {failed} failed, "
          f"{len(problems)} Slack problems")
    print(f"  duplicates: {duplicates}   missing: {missing}")
    print(f"  first delivery {first_sent:.2f} s, last delivery {total:.2f} s after the clock started")
    rounds: dict[int, float] = defaultdict(float)  # the k-th message of every channel: when the last arrived
    seen: Counter[str] = Counter()
    for p in sorted(delivered, key=lambda p: p[3]):
        seen[p[4]] += 1
        rounds[seen[p[4]]] = max(rounds[seen[p[4]]], p[3] - started)
    by_channel: dict[str, list[float]] = defaultdict(list)
    for p in sorted(delivered, key=lambda p: p[3]):
        by_channel[p[4]].append(p[3])
    gaps = sorted(b - a for times in by_channel.values() for a, b in zip(times, times[1:], strict=False))
    if gaps:
        print(f"  gap between a channel's messages: min {gaps[0]:.3f} s, median {gaps[len(gaps) // 2]:.3f} s, "
              f"max {gaps[-1]:.3f} s")
    print("  every channel's message k delivered by: " + ", ".join(f"k={k} {t:.2f} s" for k, t in sorted(rounds.items())))
    print(f"  rate-limit floor {rate_floor:.2f} s -> ratio {total / rate_floor:.2f}x (goal {GOAL}x)")
    if live:
        print(f"  schedule floor   {sched_floor:.2f} s -> ratio {total / sched_floor:.2f}x "
              f"(the jobs committed their last messages at {max(t for v in queued.values() for t in v):.2f} s)")
    if not live:
        print(f"  CPU per message: sender {1000 * sender_cpu / max(1, len(posts)):.2f} ms (this process), fake "
              f"Slack {1000 * fake_cpu / max(1, len(posts)):.2f} ms (its process, start-up included); "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if profile is not None:
        print("\n".join("  " + line for line in profile.report(len(delivered))))
    for problem in problems[:5]:
        print(f"  Slack problem: {problem}")
    return duplicates == 0 and missing == 0 and failed == 0 and not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=250, help="services of 1 SM + 3 TMs (default 250)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--workers", type=int, default=8, help="the sender's worker threads (its default: 8)")
    parser.add_argument("--mode", choices=("live", "queued", "both"), default="both",
                        help="live: time from the first job; queued: the sender alone; both (default)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up waiting after this many seconds")
    parser.add_argument("--profile", action="store_true", help="time the sender's steps and count statements")
    args = parser.parse_args()
    logging.getLogger("bot.core.outbox").setLevel(logging.ERROR)  # 429s are counted, not logged one by one
    modes = {"live": [True], "queued": [False], "both": [True, False]}[args.mode]
    tune_interpreter()  # as the scheduler and web processes do once started
    ok = [scenario(args, live=live) for live in modes]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
