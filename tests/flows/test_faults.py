"""Faults in the middle of a quarter, driven end to end through the running app.

Slack down for a while, the database restarting, the scheduler killed mid-job, two schedulers at
once, Slack re-delivering an event, a double-clicked submit. After each: nothing lost (every queued
message delivered), nothing duplicated (each outbox row delivered once, each job's period done once)
and each person's DMs in the order they were queued. The fault windows are seconds so the suite
stays quick; the outbox's back-off and the run-once rules do not depend on how long a fault lasts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from bot.actions import service as actions
from bot.app.sandbox.driver import Reply, SlackDriver
from bot.app.sandbox.harness import SIGNING_SECRET, LocalBot
from schedules.jobs import JobOutcome, _lock_key, run_job
from storage.models import (
    Action,
    AuditLogEntry,
    HomeView,
    JobRun,
    LearningAudit,
    OutboxMessage,
    Person,
    Proposal,
    Service,
    SlackEvent,
    Team,
)
from tests.conftest import PG_URL, london

MANAGERS = [f"U0SM{i}" for i in range(1, 5)] + [f"U0TM{i}" for i in range(1, 9)]
QUARTER = "2026-27Q1"
OPENING = london(2026, 4, 1, 9, 0)
REMINDER_DAY = london(2026, 4, 15, 9, 30)  # two working days before the 17 April proposal deadline
REASON = "Why would this case give most learning?"
# Who proposes in the quarter slices, with a case reference and its case holder.
PROPOSERS = {"U0TM1": ("CIC-10001", "U0P1"), "U0SM2": ("CP-20002", "U0P6"), "U0TM5": ("CIN-30003", "U0P11")}
OUTAGE_SECONDS = 3.0  # back-off is 0.5 s, 1 s, 2 s...: the fourth try is the first after the outage

needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL only: SQLite has no server connections to kill (set TEST_DATABASE_URL)")


# ---------------------------------------------------------------------------------------------
# driving the app


def quiet_driver(bot: LocalBot) -> SlackDriver:
    """A driver that waits for the app's listeners but not for the outbox, so messages can wait."""
    return SlackDriver(bot.url, SIGNING_SECRET, bot.fake, wait_idle=bot.rt.executor.wait_idle)


def run_now(bot: LocalBot, name: str, at: datetime) -> JobOutcome:
    """Run a job as the scheduler does, without waiting for its messages to be sent."""
    bot.set_time(at)
    return run_job(bot.rt, name, at=at)


def open_form(driver: SlackDriver, fake: Any, user: str) -> dict[str, Any]:
    driver.command(user, "/propose-case")
    view = fake.latest_view(user)
    assert view is not None and view["title"]["text"] == "Propose a case", f"no proposal form opened for {user}"
    return view


def submit_form(driver: SlackDriver, user: str, view: dict[str, Any] | None = None) -> Reply:
    case_ref, holder = PROPOSERS[user]
    return driver.submit(user, {"Case reference": case_ref, "Case holder": holder,
                                REASON: "The plan changed course after a strong multi-agency meeting."}, view=view)


def propose(driver: SlackDriver, fake: Any, user: str) -> None:
    open_form(driver, fake, user)
    reply = submit_form(driver, user)
    assert reply.errors == {}, reply.errors


# ---------------------------------------------------------------------------------------------
# what was stored and what Slack saw


def count(bot: LocalBot, model: Any, *where: Any) -> int:
    with bot.rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def kind_of(dedupe_key: str | None) -> str:
    return (dedupe_key or "").split(":")[0]


def delivered_once_in_order(bot: LocalBot, fake: Any) -> dict[str, list[str]]:
    """Check every outbox row reached Slack exactly once, each channel's in queue order; return, per
    channel, the kinds of message (the dedupe key's first part) in the order they arrived."""
    with bot.rt.db.session() as session:
        rows = {r.id: r for r in session.scalars(select(OutboxMessage))}
    assert {r.status for r in rows.values()} <= {"sent"}, [(r.id, r.status, r.last_error) for r in rows.values()]
    arrived: list[int] = []
    for call in fake.calls("chat.postMessage"):
        if not call.ok:
            continue
        metadata = call.args.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        arrived.append(int(metadata["event_payload"]["outbox_id"]))
    repeated = {i: n for i, n in Counter(arrived).items() if n > 1}
    assert repeated == {}, f"outbox messages delivered more than once: {repeated}"
    assert sorted(arrived) == sorted(rows), "some queued messages never arrived"
    per_channel: dict[str, list[int]] = {}
    for row_id in arrived:
        per_channel.setdefault(rows[row_id].channel, []).append(row_id)
    for channel, ids in per_channel.items():
        assert ids == sorted(ids), f"{channel} got its messages out of order: {ids}"
        if channel.startswith("U"):
            assert len(fake.dms(channel)) == len(ids), channel
    return {channel: [kind_of(rows[i].dedupe_key) for i in ids] for channel, ids in per_channel.items()}


def assert_quarter_dms(kinds: dict[str, list[str]], proposers: set[str]) -> None:
    """Every manager was asked once, then got either their proposal's receipt or one reminder."""
    for manager in MANAGERS:
        follow_up = "proposal" if manager in proposers else "proposal-reminder"
        assert kinds.get(manager) == ["open-proposals", follow_up], manager


# ---------------------------------------------------------------------------------------------
# the database from outside the app


def sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite:///")


def monitor_engine(database_url: str) -> Engine:
    return create_engine(database_url, isolation_level="AUTOCOMMIT", pool_size=2)


def backends_waiting(monitor: Engine, locktype: str | None = None) -> int:
    """Connections to this database waiting for a lock (other than the one asking)."""
    query = ("SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
             "WHERE NOT l.granted AND a.datname = current_database() AND l.pid <> pg_backend_pid()")
    if locktype:
        query += " AND l.locktype = :locktype"
    with monitor.connect() as conn:
        return int(conn.execute(text(query), {"locktype": locktype}).scalar() or 0)


def own_client_ports(server_port: int) -> set[int]:
    """Local ports of this process's TCP connections to the database server (Linux /proc)."""
    inodes: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def kill_own_postgres_connections(database_url: str) -> int:
    """What a database restart does to the bot: every connection it holds is cut.

    Only this process's connections are terminated, so other users of the same server (or of a
    shared test database) are not disturbed.
    """
    if not Path("/proc/self/net/tcp").exists():
        pytest.skip("needs Linux /proc to find this process's own database connections")
    ports = own_client_ports(make_url(database_url).port or 5432)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            killed = conn.execute(
                text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                     "AND client_port = ANY(:ports)"),
                {"ports": sorted(ports)},
            ).scalar()
    finally:
        engine.dispose()
    return int(killed or 0)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# `qmf-bot jobs run` in its own process, as an operator or a second scheduler starts it

# `python -m bot.cli` with the SQL statement log on, so a test can see where the process has got to.
LAUNCH = ("import logging, runpy; logging.getLogger('sqlalchemy.engine').setLevel(logging.INFO); "
          "runpy.run_module('bot.app.cli', run_name='__main__', alter_sys=True)")


class CliJob:
    def __init__(self, database_url: str, name: str, at: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
                            "QMF_ORG_FILE", "TEST_DATABASE_URL")}
        env["DATABASE_URL"] = database_url  # no Slack token: the job only queues its messages
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "jobs", "run", name, "--at", at], env=env,
                                     cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:  # keep reading, or a full pipe would stall the process
            into.append(line)

    def logged(self, fragment: str) -> bool:
        return any(fragment in line for line in list(self.err))

    def wait_for_log(self, fragment: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and not self.logged(fragment):
                raise AssertionError(f"the job ended before {fragment!r}:\n{self.output()}")
            return self.logged(fragment)

        wait_until(seen, f"{fragment!r} in the job's log", timeout)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no clean-up, no rollback from the process itself
        self.proc.wait(timeout=10)

    def finish(self, timeout: float = 120.0) -> str:
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        assert self.proc.returncode == 0, self.output()
        return "".join(self.out)

    def output(self) -> str:
        return "".join(self.out) + "".join(line for line in self.err if "sqlalchemy" not in line)[-4000:]


# ---------------------------------------------------------------------------------------------
# 1. Slack answering 500 for a while


def test_slack_down_mid_quarter_delays_messages_but_loses_and_repeats_none(bot, fake):
    driver = quiet_driver(bot)
    bot.set_time(OPENING)
    forms = {user: open_form(driver, fake, user) for user in PROPOSERS}  # opened before Slack went down
    bot.rt.sender.start()  # the web process's background sender, as in production

    fake.fail_for(OUTAGE_SECONDS, status=500)
    outage_ends = time.monotonic() + OUTAGE_SECONDS
    assert run_now(bot, "open-proposals", OPENING).status == "done"
    for user, form in forms.items():
        reply = submit_form(driver, user, view=form)
        assert reply.errors == {}, reply.errors
        assert fake.latest_view(user) is None  # the modal closed: the proposal is stored
    assert run_now(bot, "send-reminders", REMINDER_DAY).status == "done"
    seen_while_down = sum(len(fake.dms(m)) for m in MANAGERS)
    assert time.monotonic() < outage_ends, "the work took longer than the outage: lengthen OUTAGE_SECONDS"

    # While Slack is down, the work is stored and its messages wait.
    assert seen_while_down == 0
    assert count(bot, Proposal) == 3
    assert count(bot, JobRun) == 2
    assert count(bot, OutboxMessage, OutboxMessage.status != "sent") == 12 + 3 + 9
    assert [c.status for c in fake.calls("chat.postMessage") if not c.ok][:1] == [500]

    assert bot.rt.sender.drain(timeout=30)
    assert_quarter_dms(delivered_once_in_order(bot, fake), set(PROPOSERS))
    assert count(bot, OutboxMessage) == 24
    assert count(bot, JobRun) == 2
    assert fake.problems == []


# ---------------------------------------------------------------------------------------------
# 2. The database restarting


def quarter_slice_with_restarts(bot: LocalBot, slack: SlackDriver, fake: Any, restart: Callable[[], None]) -> None:
    """Open the quarter, take proposals, remind: with the database connections lost between steps."""
    assert bot.run_job("open-proposals", at=OPENING).status == "done"
    propose(slack, fake, "U0TM1")
    restart()
    propose(slack, fake, "U0SM2")  # the first request after the restart
    restart()
    assert bot.run_job("send-reminders", at=REMINDER_DAY).status == "done"
    restart()
    listing = slack.command("U0TM1", "/qmf", "proposals")
    assert "CIC-10001" in (listing.text or "") + json.dumps(fake.ephemerals("U0TM1")[-1:])

    assert count(bot, Proposal) == 2
    assert count(bot, JobRun) == 2
    assert count(bot, OutboxMessage) == 12 + 2 + 10
    assert_quarter_dms(delivered_once_in_order(bot, fake), {"U0TM1", "U0SM2"})
    assert fake.problems == []


@needs_postgres
def test_postgres_cutting_every_connection_mid_quarter_loses_nothing(bot, slack, fake, database_url):
    """The server ends every backend the app's pool holds, as a restart or failover does; the pool
    still holds them, so the next request gets a dead connection unless the pool checks it first
    (``pool_pre_ping``). Each step after a cut must succeed and nothing may be lost or repeated.

    There is no SQLite version: an embedded database has no connections a server could cut, and
    disposing of the engine only closes idle connections cleanly, which proves nothing of this."""
    cuts: list[tuple[int, int]] = []

    def restart() -> None:
        pool = bot.rt.db.engine.pool
        held = pool.checkedin() + pool.checkedout()  # type: ignore[attr-defined]  # a QueuePool
        cuts.append((held, kill_own_postgres_connections(database_url)))
        assert bot.rt.db.engine.pool.checkedin() == held, "the pool must still hold the cut connections"

    quarter_slice_with_restarts(bot, slack, fake, restart)
    # the app really lost every connection it held each time, not just some idle one
    assert len(cuts) == 3 and all(killed == held >= 1 for held, killed in cuts), cuts


# ---------------------------------------------------------------------------------------------
# 3. The scheduler killed mid-job, then started again


def test_a_scheduler_killed_mid_job_leaves_nothing_and_the_rerun_does_the_work_once(bot, fake, database_url,
                                                                                   tmp_path):
    if PG_URL:
        # Hold the last manager's invitation key in an open transaction: the job's insert of that row
        # waits for it, after the job has claimed its period and queued the other invitations.
        monitor = monitor_engine(database_url)
        blocker_engine = create_engine(database_url, poolclass=NullPool)
        blocker = blocker_engine.connect()
        held = blocker.begin()
        blocker.execute(insert(OutboxMessage).values(channel="U0TM8", text="held by the test",
                                                     dedupe_key=f"open-proposals:{QUARTER}:U0TM8"))
        job = CliJob(database_url, "open-proposals", "2026-04-01T09:30", tmp_path)
        wait_until(lambda: backends_waiting(monitor) >= 1 or job.proc.poll() is not None,
                   "the job to wait inside its transaction")
        job.wait_for_log("INSERT INTO job_runs", timeout=5)  # it had claimed the period
        job.wait_for_log("INSERT INTO outbox", timeout=5)  # and queued invitations
        release = held.rollback
    else:
        # SQLite has one writer: hold the write lock, so the job waits at its first write (the claim).
        blocker_db = sqlite3.connect(sqlite_path(database_url), isolation_level=None, timeout=30)
        blocker_db.execute("BEGIN IMMEDIATE")
        job = CliJob(database_url, "open-proposals", "2026-04-01T09:30", tmp_path)
        job.wait_for_log("INSERT INTO job_runs")
        time.sleep(0.3)

        def release() -> None:
            blocker_db.execute("ROLLBACK")
            blocker_db.close()

    assert job.proc.poll() is None, job.output()  # still inside the job
    job.kill()
    release()
    if PG_URL:
        blocker.close()
        blocker_engine.dispose()
        monitor.dispose()

    assert count(bot, JobRun) == 0  # the killed run left no claim and no half-queued messages
    assert count(bot, OutboxMessage) == 0

    again = CliJob(database_url, "open-proposals", "2026-04-01T09:30", tmp_path).finish()
    assert "open-proposals [2026-27Q1]: done." in again and "asked 12 managers" in again, again
    once_more = CliJob(database_url, "open-proposals", "2026-04-01T09:35", tmp_path).finish()
    assert "already-done" in once_more, once_more

    assert count(bot, JobRun) == 1
    assert count(bot, OutboxMessage) == 12
    assert bot.rt.sender.drain(timeout=30)  # the web process sends what the scheduler queued
    kinds = delivered_once_in_order(bot, fake)
    assert {m: kinds.get(m) for m in MANAGERS} == {m: ["open-proposals"] for m in MANAGERS}
    assert fake.problems == []


# ---------------------------------------------------------------------------------------------
# 4. Two schedulers at once


def test_two_schedulers_sending_reminders_at_the_same_moment_remind_each_manager_once(bot, slack, fake,
                                                                                     database_url, tmp_path):
    assert bot.run_job("open-proposals", at=OPENING).status == "done"
    for user in PROPOSERS:
        propose(slack, fake, user)

    # Both processes are held at the same point, then let go together.
    if PG_URL:
        monitor = monitor_engine(database_url)
        holder = monitor.connect()
        holder.execute(select(func.pg_advisory_lock(_lock_key("send-reminders"))))
        jobs = [CliJob(database_url, "send-reminders", "2026-04-15T09:30", tmp_path) for _ in range(2)]
        wait_until(lambda: backends_waiting(monitor, "advisory") == 2, "both schedulers to wait on the job lock")
        holder.execute(select(func.pg_advisory_unlock(_lock_key("send-reminders"))))
        holder.close()
        monitor.dispose()
    else:
        blocker_db = sqlite3.connect(sqlite_path(database_url), isolation_level=None, timeout=30)
        blocker_db.execute("BEGIN IMMEDIATE")
        jobs = [CliJob(database_url, "send-reminders", "2026-04-15T09:30", tmp_path) for _ in range(2)]
        for job in jobs:
            job.wait_for_log("INSERT INTO job_runs")
        blocker_db.execute("ROLLBACK")
        blocker_db.close()
    outputs = [job.finish() for job in jobs]

    statuses = sorted(out.split("]: ", 1)[1].split(".", 1)[0] for out in outputs)
    assert statuses == ["already-done", "done"], outputs
    assert count(bot, JobRun, JobRun.job == "send-reminders") == 1
    reminded = set(MANAGERS) - set(PROPOSERS)
    with bot.rt.db.session() as session:
        reminders = session.scalars(select(OutboxMessage.channel)
                                    .where(OutboxMessage.dedupe_key.like("proposal-reminder:%"))).all()
    assert sorted(reminders) == sorted(reminded)

    assert bot.rt.sender.drain(timeout=30)
    assert_quarter_dms(delivered_once_in_order(bot, fake), set(PROPOSERS))
    assert count(bot, OutboxMessage) == 12 + 3 + 9
    assert fake.problems == []


# ---------------------------------------------------------------------------------------------
# 5. The same event delivered three times


HOME_EVENT = {"type": "app_home_opened", "user": "U0TM1", "channel": "DU0TM1", "tab": "home"}


def home_publishes(fake: Any, user: str) -> int:
    return len([c for c in fake.calls("views.publish") if c.ok and c.args.get("user_id") == user])


def assert_home_published_once(bot: LocalBot, fake: Any) -> None:
    assert home_publishes(fake, "U0TM1") == 1
    assert "To do now" in json.dumps(fake.home("U0TM1"))
    assert count(bot, HomeView) == 1
    assert count(bot, SlackEvent) == 1
    assert count(bot, OutboxMessage) == 0  # nobody was sent an apology for the failed attempt
    assert fake.problems == []


def test_a_retry_after_a_failed_first_delivery_publishes_home_once(bot, slack, fake):
    fake.fail_next(500, count=2, method="views.publish")  # the SDK retries a 500 once: both fail
    assert slack.event(HOME_EVENT, event_id="Ev0FAULT0001").status == 200
    assert fake.home("U0TM1") is None  # the first delivery's work failed
    slack.event(HOME_EVENT, event_id="Ev0FAULT0001", retry_num=1)
    slack.event(HOME_EVENT, event_id="Ev0FAULT0001", retry_num=2)
    assert_home_published_once(bot, fake)


class SlowPublish:
    """Slack taking its time over views.publish, so retries arrive while the first delivery works."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        original = WebClient.views_publish

        def slow(client: WebClient, **kwargs: Any) -> Any:
            self.started.set()
            self.release.wait(10)
            return original(client, **kwargs)

        monkeypatch.setattr(WebClient, "views_publish", slow)


def test_retries_arriving_while_the_first_delivery_works_are_dropped(bot, fake, monkeypatch):
    slow = SlowPublish(monkeypatch)
    driver = SlackDriver(bot.url, SIGNING_SECRET, fake)  # Slack does not wait for the app's work
    assert driver.event(HOME_EVENT, event_id="Ev0FAULT0002").status == 200  # acknowledged at once
    assert slow.started.wait(5)
    for retry in (1, 2):
        assert driver.event(HOME_EVENT, event_id="Ev0FAULT0002", retry_num=retry).status == 200
    slow.release.set()
    bot.rt.wait_idle()
    assert_home_published_once(bot, fake)


def test_a_retry_after_a_slow_first_delivery_failed_publishes_home_once(bot, fake, monkeypatch):
    slow = SlowPublish(monkeypatch)
    driver = SlackDriver(bot.url, SIGNING_SECRET, fake)
    fake.fail_next(500, count=2, method="views.publish")
    driver.event(HOME_EVENT, event_id="Ev0FAULT0003")
    assert slow.started.wait(5)
    driver.event(HOME_EVENT, event_id="Ev0FAULT0003", retry_num=1)  # still working: dropped
    slow.release.set()
    bot.rt.wait_idle()
    assert fake.home("U0TM1") is None  # the first delivery failed after all
    driver.event(HOME_EVENT, event_id="Ev0FAULT0003", retry_num=2)
    bot.rt.wait_idle()
    assert_home_published_once(bot, fake)


# ---------------------------------------------------------------------------------------------
# 6. A double-clicked submit


def twice_at_once(press: Callable[[], Reply]) -> list[Reply]:
    barrier = threading.Barrier(2)
    replies: list[Reply] = []
    failures: list[BaseException] = []

    def go() -> None:
        barrier.wait()
        try:
            replies.append(press())
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    return replies


def test_a_double_clicked_proposal_submit_stores_one_proposal_and_confirms_once(bot, slack, fake):
    assert bot.run_job("open-proposals", at=OPENING).status == "done"
    form = open_form(slack, fake, "U0TM1")
    replies = twice_at_once(lambda: submit_form(slack, "U0TM1", view=form))

    errors = sorted((r.errors for r in replies), key=len)
    assert errors[0] == {}
    assert errors[1] == {} or "You already proposed CIC-10001" in errors[1].get("proposal-case-ref", ""), errors
    assert count(bot, Proposal) == 1
    with bot.rt.db.session() as session:
        created = session.scalars(select(AuditLogEntry.entity_id).where(
            AuditLogEntry.entity == "proposal", AuditLogEntry.action == "create")).all()
    assert len(created) == 1
    kinds = delivered_once_in_order(bot, fake)
    assert kinds["U0TM1"] == ["open-proposals", "proposal"]
    assert count(bot, OutboxMessage) == 13
    assert fake.problems == []


def add_action(bot: LocalBot, *, owner: str = "U0P1", created_by: str = "U0SM2") -> int:
    """An action from a learning audit of CIC-10234, added by its auditor, as the audit flow does."""
    with bot.rt.db.session() as session:
        def person(slack_id: str) -> Person:
            return session.scalars(select(Person).where(Person.slack_id == slack_id)).one()

        service = session.scalars(select(Service).where(Service.key == "cic")).one()
        team = session.scalars(select(Team).where(Team.key == "cic-north")).one()
        holder, manager, auditor = person("U0P1"), person("U0TM1"), person(created_by)
        proposal = Proposal(quarter=QUARTER, case_ref="CIC-10234", live_ref="CIC-10234", service_id=service.id,
                            team_id=team.id, case_holder_id=holder.id, team_manager_id=manager.id,
                            proposed_by_id=manager.id, reason="Drift", status="allocated")
        session.add(proposal)
        session.flush()
        audit = LearningAudit(quarter=QUARTER, proposal_id=proposal.id, auditor_id=auditor.id,
                              case_ref="CIC-10234", service_id=service.id, team_id=team.id,
                              case_holder_id=holder.id, team_manager_id=manager.id)
        session.add(audit)
        session.flush()
        action = actions.add_action(session, source_kind="learning_audit", source_id=audit.id, owner=owner,
                                    description="Update the chronology after the review",
                                    due_on=date(2026, 4, 10), created_by=created_by, service_id=service.id,
                                    quarter=QUARTER, status="open")
        action_id = action.id
    bot.rt.wait_idle()
    return action_id


def test_a_double_clicked_mark_done_tells_the_creator_once(bot, slack, fake):
    action_id = add_action(bot)
    [assigned] = fake.dms("U0P1")
    replies = twice_at_once(lambda: slack.click("U0P1", "Mark done", message=assigned))
    assert [r.status for r in replies] == [200, 200]

    with bot.rt.db.session() as session:
        assert session.get(Action, action_id).status == "done"
        marked = session.scalars(select(AuditLogEntry).where(
            AuditLogEntry.entity == "action", AuditLogEntry.action == "done")).all()
    assert len(marked) == 1
    kinds = delivered_once_in_order(bot, fake)
    assert kinds == {"U0P1": ["action"], "U0SM2": ["action"]}  # assigned to the owner; done to the creator
    [told] = fake.dms("U0SM2")
    assert "<@U0P1> marked done" in told["text"]
    assert len(fake.dms("U0P1")) == 1  # the owner's DM was updated in place, not repeated
    assert "Done on" in json.dumps(fake.dms("U0P1")[0]["blocks"])
    assert count(bot, OutboxMessage) == 2
    assert fake.problems == []
