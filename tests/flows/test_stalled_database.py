"""A stalled or locked database never hangs the bot (issue #14 item 6).

PostgreSQL is stalled for real: the app talks to it through a loopback proxy that, frozen, forwards
nothing but keeps every socket open (tests/stall_proxy.py). These are deadline tests: they assert the
bounds Slack and the platform give (a submission answered inside 3 s, /healthz inside 1 s), nothing
tighter. Each checks what was stored after the stall ended, because "not saved" must stay true.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.app.sandbox.driver import Reply, SlackDriver
from bot.app.sandbox.harness import SAMPLE_ORG, SIGNING_SECRET, LocalBot
from handlers.common import DATABASE_NOT_ANSWERING, NOT_SAVED
from storage.models import Proposal
from tests.conftest import PG_URL, assert_channels_carry_no_case_detail, london
from tests.stall_proxy import StallProxy, write_lock

REASON = "Why would this case give most learning?"
SLACK_GIVES_UP = 3.0
HEALTH_PROBE_GIVES_UP = 1.0
needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL only: stalls a server through a proxy (set TEST_DATABASE_URL)")


@pytest.fixture
def stalled(database_url: str) -> Iterator[tuple[LocalBot, StallProxy]]:
    """The running bot talking to PostgreSQL through a proxy the test can freeze."""
    url = PG_URL or ""
    from sqlalchemy.engine import make_url

    server = make_url(url)
    proxy = StallProxy(server.host or "127.0.0.1", server.port or 5432)
    try:
        with LocalBot(proxy.url_for(database_url), start=london(2026, 4, 1, 9, 0)) as local:
            local.import_org(SAMPLE_ORG)
            yield local, proxy
            proxy.thaw()
            local.rt.wait_idle()
            assert_channels_carry_no_case_detail(local)
    finally:
        proxy.close()


def impatient(bot: LocalBot) -> SlackDriver:
    """A driver that does not wait for listeners still stuck after their answer, and gives up on the
    app after 5 s (a hang fails the test instead of blocking it)."""
    return SlackDriver(bot.url, SIGNING_SECRET, bot.fake, timeout=5.0)


def open_form(bot: LocalBot, user: str = "U0TM1") -> None:
    outcome = bot.run_job("open-proposals", at=london(2026, 4, 1, 9))
    assert outcome.status == "done", outcome.line()
    bot.slack.command(user, "/propose-case")
    assert bot.fake.latest_view(user) is not None


def submit(driver: SlackDriver, user: str = "U0TM1") -> tuple[Reply, float]:
    started = time.monotonic()
    reply = driver.submit(user, {"Case reference": "CIC-10234", "Case holder": "U0P1",
                                 REASON: "Strong multi-agency work and a plan that changed course."})
    return reply, time.monotonic() - started


def proposals(bot: LocalBot) -> int:
    with bot.rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Proposal)) or 0


def healthz(bot: LocalBot) -> tuple[int, dict, float]:
    started = time.monotonic()
    resp = httpx.get(bot.url + "/healthz", timeout=5.0)
    return resp.status_code, resp.json(), time.monotonic() - started


def wait_until_answering(bot: LocalBot, within: float = 20.0) -> None:
    """Until /healthz is 200 again: the stall is over and the breaker has let a probe through."""
    give_up = time.monotonic() + within
    while healthz(bot)[0] != 200:
        assert time.monotonic() < give_up, "the bot did not recover after the database came back"
        time.sleep(0.2)
    bot.rt.wait_idle()


@needs_postgres
def test_a_submit_on_a_stalled_database_says_not_saved_in_time_and_nothing_is_saved_later(stalled):
    bot, proxy = stalled
    open_form(bot)
    with proxy.frozen():
        reply, took = submit(impatient(bot))
        assert took < SLACK_GIVES_UP, f"answered after {took:.1f}s"
        assert list(reply.errors.values()) == [NOT_SAVED]
    wait_until_answering(bot)
    time.sleep(1.0)  # whatever the proxy held back has reached the server by now
    assert proposals(bot) == 0, "the proposal the person was told was not saved was stored later"

    reply, _ = submit(bot.slack)  # the same form, as the person left it: same view id and hash
    assert reply.errors == {}
    assert proposals(bot) == 1
    assert bot.fake.problems == []


@needs_postgres
def test_healthz_says_503_within_a_second_while_the_database_is_stalled(stalled):
    bot, proxy = stalled
    assert healthz(bot)[0] == 200
    with proxy.frozen():
        answers: list[tuple[int, dict, float]] = []
        first = threading.Thread(target=lambda: answers.append(healthz(bot)))
        first.start()
        time.sleep(0.3)
        answers.append(healthz(bot))  # while the first ping is still out
        first.join()
        for status, state, took in answers:
            assert status == 503 and state["database"] == "not answering", state
            assert took < HEALTH_PROBE_GIVES_UP, f"/healthz answered after {took:.1f}s"
    wait_until_answering(bot)


@needs_postgres
def test_help_still_answers_while_forty_whoami_wait_on_a_stalled_database(stalled):
    bot, proxy = stalled
    users = [f"U0TM{i}" for i in range(1, 9)] + [f"U0SM{i}" for i in range(1, 5)]
    replies: list[Reply] = []
    with proxy.frozen():
        drivers = [impatient(bot) for _ in range(40)]
        threads = [threading.Thread(target=lambda d=d, u=users[i % len(users)]: replies.append(
            d.command(u, "/qmf", "whoami"))) for i, d in enumerate(drivers)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # the forty are in, and stuck on the database
        started = time.monotonic()
        help_reply = impatient(bot).command("U0SM1", "/qmf", "help")
        took = time.monotonic() - started
        assert took < SLACK_GIVES_UP, f"/qmf help answered after {took:.1f}s"
        assert "Commands" in (help_reply.text or "")
        for thread in threads:
            thread.join()
        bot.rt.executor.wait_idle(10)
    assert len(replies) == 40 and all(r.status == 200 for r in replies)
    told = [r.text for r in replies]
    assert told.count(DATABASE_NOT_ANSWERING) == 40, set(told)
    wait_until_answering(bot)


def test_a_submit_while_the_database_is_locked_says_not_saved_in_time_and_saves_nothing(bot, database_url):
    open_form(bot)
    with write_lock(database_url):
        reply, took = submit(impatient(bot))
        assert took < SLACK_GIVES_UP, f"answered after {took:.1f}s"
        assert list(reply.errors.values()) == [NOT_SAVED]
    bot.rt.wait_idle()
    assert proposals(bot) == 0
    reply, _ = submit(bot.slack)
    assert reply.errors == {}
    assert proposals(bot) == 1


def test_work_that_overruns_the_deadline_is_not_committed(bot, monkeypatch):
    from handlers import proposals as listener

    real = listener.proposals.save_proposal

    def slow(*args, **kwargs):  # the save is done, but too late to be committed
        result = real(*args, **kwargs)
        time.sleep(2.4)
        return result

    open_form(bot)
    monkeypatch.setattr(listener.proposals, "save_proposal", slow)
    reply, took = submit(impatient(bot))
    assert took < SLACK_GIVES_UP, f"answered after {took:.1f}s"
    assert list(reply.errors.values()) == [NOT_SAVED]
    bot.rt.wait_idle()
    assert proposals(bot) == 0
    monkeypatch.setattr(listener.proposals, "save_proposal", real)
    reply, _ = submit(bot.slack)  # the claim the late attempt left is taken over at once
    assert reply.errors == {}
    assert proposals(bot) == 1
