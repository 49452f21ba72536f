"""Fan-out: a quarter's opening for 1,000 managers, against a bare keep-alive sender in the same run.

The organisation is 250 services, each with a Service Manager and 3 Team Managers (1,000 managers,
each a DM of its own). The fake Slack runs in its own process (Slack is remote) and answers a
second post to a channel within a second with 429 + Retry-After, as Slack does.

Each round, interleaved in one run against the same fake Slack:

- **real**: ``open-proposals`` for the next quarter runs as the scheduler runs it
  (``schedules.jobs.run_job``), with the app's own ``OutboxSender`` (as ``build_runtime`` makes it:
  8 workers, 1 message a second a channel) draining the outbox in its background thread. Timed
  from the job's start; the job's commit splits it into the job's own time and the sender's.
- **floor**: a bare sender - ``http.client`` with one keep-alive connection per worker, the same
  8 workers and pace rule (one message a channel a second; a 429 waits its Retry-After) - posts
  the same 1,000 DMs (the rows the real round queued: channel, text, blocks, metadata) to the
  same fake. No database, no slack_sdk.

The ratio that the goal (1.1x) is about is the sender's: from the job's commit to the last DM
delivered, over the floor's first post to its last. End to end (the job building and storing
1,000 invitations included) is printed too. Between phases the run waits 1.1 s so the fake's
1-a-second window is clear.

A last round injects 429s (``--inject``, Retry-After 1 s) into both phases: every one must be
retried after its Retry-After and nothing lost or sent twice.

Checks, every round: every manager's DM exactly once (counted by channel in the fake), no
duplicate outbox id, nothing failed, no Slack problem. The CPU seconds of the fake's process and
of this one are printed per phase, so one can see when the fake Slack is the bottleneck on a
small machine.

    python benchmarks/bench_fanout.py [--services 250] [--rounds 3] [--inject 25] [--quick]

The default database is PostgreSQL ``qmf_bench_fanout`` on 127.0.0.1 (created if missing, emptied
each run); ``--database-url sqlite:///path.db`` runs it on SQLite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import queue
import resource
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bot.app.runtime import build_runtime  # noqa: E402
from bot.app.sandbox.fake_slack import FakeSlack  # noqa: E402
from bot.core.directory import import_org  # noqa: E402
from bot.core.orgfile import Division, OrgFile, People, Service, Team  # noqa: E402
from bot.core.outbox import METADATA_EVENT  # noqa: E402
from bot.core.runtime import ShiftedClock, tune_interpreter  # noqa: E402
from bot.core.settings import Settings  # noqa: E402
from schedules.jobs import run_job  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

LONDON = ZoneInfo("Europe/London")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench_fanout"
RATE = 1.0  # messages per second per channel, in the fake and in both senders
GOAL = 1.1
REAL_TOKEN = "xoxb-bench-real"
FLOOR_TOKEN = "xoxb-bench-floor"
# one quarter's opening a round (open-proposals runs once a quarter)
OPENINGS = [datetime(2026, 4, 1, 9, 0, tzinfo=LONDON), datetime(2026, 7, 1, 9, 0, tzinfo=LONDON),
            datetime(2026, 10, 1, 9, 0, tzinfo=LONDON), datetime(2027, 1, 4, 9, 0, tzinfo=LONDON),
            datetime(2027, 4, 1, 9, 0, tzinfo=LONDON), datetime(2027, 7, 1, 9, 0, tzinfo=LONDON)]


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
# the fake Slack, in its own process as Slack is: its checks of every message must not compete with
# the bot for this process's interpreter lock

Post = tuple[int, bool, str | None, str, float, Any]  # status, ok, token, channel, monotonic time, outbox id


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fake_slack_process(rate: float, conn: Any) -> None:
    fake = FakeSlack(channel_rate_per_sec=rate, check_blocks=False).start()  # Block Kit checks: the tests' job
    conn.send(fake.base_url)
    while True:
        command, arg = conn.recv()
        if command == "inject":  # the next ``arg`` chat.postMessage calls answer 429, Retry-After 1 s
            fake.fail_next(429, int(arg), method="chat.postMessage", retry_after=1)
            conn.send(None)
        elif command == "collect":  # every post since the last collect, the problems, CPU used so far
            with fake._lock:  # noqa: SLF001 - the benchmark's own view of the fake
                calls = [c for c in fake._calls if c.method == "chat.postMessage"]  # noqa: SLF001
                fake._calls.clear()  # noqa: SLF001
                problems = list(fake.problems)
                fake.problems.clear()
            posts = [(c.status, c.ok, c.token, str(c.args.get("channel")), c.at,
                      ((c.args.get("metadata") or {}).get("event_payload") or {}).get("outbox_id")) for c in calls]
            conn.send((posts, problems, cpu_seconds()))
        else:
            fake.stop()
            conn.send(None)
            return


class RemoteFake:
    def __init__(self, rate: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=fake_slack_process, args=(rate, child), daemon=True)
        self._proc.start()
        self.base_url: str = self._conn.recv()

    def _ask(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    def inject(self, count: int) -> None:
        self._ask("inject", count)

    def collect(self) -> tuple[list[Post], list[str], float]:
        return self._ask("collect")  # type: ignore[no-any-return]

    def stop(self) -> None:
        self._ask("stop")
        self._proc.join(timeout=10)


# ---------------------------------------------------------------------------------------------
# the floor: a bare keep-alive sender


def bare_send(base_url: str, payloads: list[dict[str, Any]], workers: int, rate: float) -> tuple[float, float]:
    """Post every payload with ``workers`` threads, one keep-alive connection each; a 429 goes back
    in the queue for after its Retry-After, and a channel never gets two posts within 1/rate s.
    Returns (start, end) on the monotonic clock."""
    url = urlsplit(base_url)
    path = url.path.rstrip("/") + "/chat.postMessage"
    todo: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
    for payload in payloads:
        todo.put(payload)
    remaining = [len(payloads)]
    lock = threading.Lock()
    last_post: dict[str, float] = {}
    headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {FLOOR_TOKEN}"}
    done = threading.Event()
    if not payloads:
        done.set()

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
        while True:
            payload = todo.get()
            if payload is None:
                break
            channel = payload["channel"]
            with lock:
                wait = last_post.get(channel, -1e9) + 1.0 / rate - time.monotonic()
                last_post[channel] = time.monotonic() + max(0.0, wait)
            if wait > 0:
                time.sleep(wait)
            conn.request("POST", path, body=json.dumps(payload).encode(), headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status == 429:
                retry = float(response.getheader("Retry-After") or 1)
                threading.Timer(retry, todo.put, (payload,)).start()
                continue
            if response.status != 200 or not json.loads(body).get("ok"):
                raise RuntimeError(f"the fake refused a floor post: {response.status} {body[:200]!r}")
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, name=f"floor-{i}", daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    done.wait(600)
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join(10)
    return started, time.monotonic()


# ---------------------------------------------------------------------------------------------
# the run


@dataclass
class Phase:
    name: str
    wall: float  # the sender's time: from the commit (real) or its start (floor) to the last delivery
    total: float = 0.0  # end to end, the job included (real only)
    job: float = 0.0
    cpu_here: float = 0.0
    cpu_fake: float = 0.0
    posts: int = 0
    answered_429: int = 0
    problems: list[str] = field(default_factory=list)
    ok: bool = True


def check_posts(name: str, posts: list[Post], token: str, channels: list[str]) -> tuple[list[Post], int, list[str]]:
    """Delivered posts of this phase, 429s answered, and what is wrong (every channel exactly once)."""
    mine = [p for p in posts if p[2] == token]
    delivered = [p for p in mine if p[1]]
    answered_429 = sum(1 for p in mine if p[0] == 429)
    wrong: list[str] = []
    by_channel = Counter(p[3] for p in delivered)
    missing = [c for c in channels if by_channel[c] == 0]
    twice = [c for c, n in by_channel.items() if n > 1]
    extra = set(by_channel) - set(channels)
    other = [p for p in mine if not p[1] and p[0] != 429]
    if missing:
        wrong.append(f"{name}: {len(missing)} DMs missing (e.g. {missing[:3]})")
    if twice:
        wrong.append(f"{name}: {len(twice)} channels got their DM more than once (e.g. {twice[:3]})")
    if extra:
        wrong.append(f"{name}: posts to {len(extra)} channels that should get none")
    if other:
        wrong.append(f"{name}: {len(other)} posts refused other than by 429: {other[:2]}")
    return delivered, answered_429, wrong


def run(args: argparse.Namespace) -> bool:
    print(f"bench_fanout: {os.cpu_count()} CPUs, load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    db = prepare_database(args.database_url)
    with db.session() as session:
        import_org(session, large_org(args.services))
    fake = RemoteFake(RATE)
    clock = ShiftedClock(OPENINGS[0])
    settings = Settings(slack_bot_token=REAL_TOKEN, slack_signing_secret="bench", slack_api_url=fake.base_url,
                        database_url=args.database_url)
    rt = build_runtime(settings, clock=clock, database=db)  # its OutboxSender, as the scheduler process has
    sender = rt.sender
    assert sender is not None
    sender.start()
    print(f"{db.engine.dialect.name}, {4 * args.services} managers, sender workers {sender.workers}, "
          f"{RATE:g} message a second a channel; {args.rounds} timed rounds + 1 with {args.inject} 429s injected")
    rounds = args.rounds + (1 if args.inject else 0)
    results: list[tuple[Phase, Phase]] = []
    all_ok = True
    last_id = 0
    try:
        for r in range(rounds):
            injected = args.inject if r == args.rounds else 0
            fake.collect()  # forget earlier rounds
            _, _, fake_cpu0 = fake.collect()
            # -- real: the quarter's opening, the app's sender alongside
            if injected:
                fake.inject(injected)
            at = OPENINGS[r]
            clock.set(at)
            cpu0 = cpu_seconds()
            started = time.monotonic()
            outcome = run_job(rt, "open-proposals", at=at)
            committed = time.monotonic()
            with db.session() as session:
                rows = session.execute(select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.text,
                                              OutboxMessage.blocks).where(OutboxMessage.id > last_id)
                                       .order_by(OutboxMessage.id)).all()
            last_id = max([last_id, *(row[0] for row in rows)])
            channels = [row[1] for row in rows]
            deadline = time.monotonic() + args.timeout
            while sender.pending() and time.monotonic() < deadline:
                time.sleep(0.05)
            cpu1 = cpu_seconds()
            posts, problems, fake_cpu1 = fake.collect()
            delivered, n429, wrong = check_posts("real", posts, REAL_TOKEN, channels)
            with db.session() as session:
                failed = session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.status == "failed")) or 0
            if failed:
                wrong.append(f"real: {failed} outbox messages failed")
            ids = Counter(p[5] for p in delivered)
            if any(n > 1 for n in ids.values()):
                wrong.append("real: an outbox id delivered twice")
            last = max((p[4] for p in delivered), default=committed)
            first = min((p[4] for p in delivered), default=committed) - committed
            real = Phase("real", wall=last - committed, total=last - started, job=committed - started,
                         cpu_here=cpu1 - cpu0, cpu_fake=fake_cpu1 - fake_cpu0, posts=len(posts), answered_429=n429,
                         problems=wrong + problems, ok=not wrong and not problems and len(rows) == 4 * args.services)
            if len(rows) != 4 * args.services:
                real.problems.append(f"real: open-proposals queued {len(rows)} DMs ({outcome.status}: "
                                     f"{outcome.summary})")
            time.sleep(1.1)  # the fake's 1-a-second window, clear for the floor's posts to the same channels
            # -- floor: the same DMs from a bare keep-alive sender
            payloads = [{"channel": channel, "text": body, "blocks": blocks, "unfurl_links": False,
                         "unfurl_media": False,
                         "metadata": {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row_id}}}
                        for row_id, channel, body, blocks in rows]
            _, _, fake_cpu2 = fake.collect()
            if injected:
                fake.inject(injected)
            cpu2 = cpu_seconds()
            floor_start, _ = bare_send(fake.base_url, payloads, sender.workers, RATE)
            cpu3 = cpu_seconds()
            posts, problems, fake_cpu3 = fake.collect()
            delivered, n429f, wrong = check_posts("floor", posts, FLOOR_TOKEN, channels)
            last = max((p[4] for p in delivered), default=floor_start)
            first_floor = min((p[4] for p in delivered), default=floor_start) - floor_start
            floor = Phase("floor", wall=last - floor_start, cpu_here=cpu3 - cpu2, cpu_fake=fake_cpu3 - fake_cpu2,
                          posts=len(posts), answered_429=n429f, problems=wrong + problems, ok=not wrong and not problems)
            results.append((real, floor))
            label = f"round {r + 1} ({at:%d %b %Y}" + (f", {injected} 429s injected into each)" if injected else ")")
            print(f"\n{label}: {len(rows)} DMs queued by open-proposals ({outcome.status})")
            print(f"  real : job {real.job:5.2f} s, then sender {real.wall:5.2f} s (end to end {real.total:5.2f} s); "
                  f"first DM {first:.3f} s after the commit; {real.posts} posts, {real.answered_429} answered 429; "
                  f"CPU this process {real.cpu_here:.2f} s, fake {real.cpu_fake:.2f} s")
            print(f"  floor: bare sender {floor.wall:5.2f} s, first DM {first_floor:.3f} s after its start; {floor.posts} posts, {floor.answered_429} answered 429; "
                  f"CPU this process {floor.cpu_here:.2f} s, fake {floor.cpu_fake:.2f} s")
            print(f"  ratio: sender {real.wall / floor.wall:.2f}x the floor (goal {GOAL}x); end to end "
                  f"{real.total / floor.wall:.2f}x")
            print(f"  every DM once: real {'yes' if not any('DM' in w or 'once' in w for w in real.problems) else 'NO'}, "
                  f"floor {'yes' if floor.ok else 'NO'}")
            for problem in (real.problems + floor.problems)[:6]:
                print(f"  PROBLEM: {problem}")
            all_ok = all_ok and real.ok and floor.ok
            if injected and (real.answered_429 < injected or floor.answered_429 < injected):
                print(f"  PROBLEM: fewer 429s answered than injected ({real.answered_429}, {floor.answered_429})")
                all_ok = False
            time.sleep(1.1)
    finally:
        sender.stop()
        fake.stop()
        db.dispose()

    timed = results[: args.rounds]
    if timed:
        sender_ratios = [real.wall / floor.wall for real, floor in timed]
        e2e = [real.total / floor.wall for real, floor in timed]
        fake_share = [floor.cpu_fake / floor.wall for _, floor in timed]
        print(f"\nsummary over {len(timed)} timed rounds: sender/floor median {statistics.median(sender_ratios):.2f}x "
              f"(each: {', '.join(f'{x:.2f}' for x in sender_ratios)}; goal {GOAL}x), end to end median "
              f"{statistics.median(e2e):.2f}x; floor median {statistics.median(f.wall for _, f in timed):.2f} s, "
              f"sender median {statistics.median(r.wall for r, _ in timed):.2f} s")
        print(f"  the fake Slack's CPU during the floor: {statistics.median(fake_share):.0%} of one core "
              f"({1000 * statistics.median(f.cpu_fake / max(1, f.posts) for _, f in timed):.2f} ms a post); "
              f"the bare sender's {1000 * statistics.median(f.cpu_here / max(1, f.posts) for _, f in timed):.2f} ms "
              f"a post, the app's (job + sender) "
              f"{1000 * statistics.median(r.cpu_here / max(1, r.posts) for r, _ in timed):.2f} ms a post; "
              f"load average now {os.getloadavg()[0]:.2f}")
    print(f"\nresult: {'OK' if all_ok else 'FAILED'} (every DM once in every phase, 429s retried, nothing failed)")
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=250, help="services of 1 SM + 3 TMs (default 250)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, real then floor (default 3)")
    parser.add_argument("--inject", type=int, default=25, help="429s injected into each phase of a last round")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--timeout", type=float, default=300.0, help="give up waiting after this many seconds")
    parser.add_argument("--quick", action="store_true", help="25 services, 1 timed round, 5 429s: under a minute")
    args = parser.parse_args()
    if args.quick:
        args.services, args.rounds, args.inject = 25, 1, 5
    args.rounds = max(0, min(args.rounds, len(OPENINGS) - 1))
    logging.getLogger("bot.core.outbox").setLevel(logging.ERROR)
    logging.getLogger("bot.app.sender").setLevel(logging.ERROR)  # 429s are counted, not logged one by one
    tune_interpreter()  # as the scheduler and web processes do once started
    return 0 if run(args) else 1


if __name__ == "__main__":
    sys.exit(main())
