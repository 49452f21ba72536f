"""A proposal's submission: `qmf-bot serve` against its floor, in the same run, on PostgreSQL.

The floor (benchmarks/bare_bolt_store.py) is a bare slack_bolt App under uvicorn with bolt's own
ASGI adapter that stores the same submission, the same columns into the same ``proposals`` table,
with one INSERT and a COMMIT, and acks. QMF Bot validates (directory, case-reference pattern,
privacy guard, duplicates), checks permission, stores the proposal with its audit-log entry and
queued confirmation, and commits before it acks; its outbox sender posts the confirmations to the
local Slack during the run, as in production.

Both are driven with signed view submissions of the proposal modal (each a new view id and hash
and a new case reference), in two loads, floor and app alternating phase by phase:

- closed loop: 16 users, each sending its next submission as soon as the last is answered;
- open loop: 50 submissions a second (Poisson arrivals), timed from the moment each was due.

It prints the load average at the start (this machine is shared), p50/p95/p99 of the ack for each,
and the ratios (goal: p99 within 1.25x the floor).

    python benchmarks/bench_submit.py [--seconds 20] [--rounds 1] [--users 16] [--rate 50] [--quick]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench1]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_load import free_port, percentile, prepare_database, wait_up  # noqa: E402

from bot.app.sandbox.driver import SlackDriver  # noqa: E402
from bot.app.sandbox.fake_slack import FakeSlack  # noqa: E402
from bot.app.sandbox.harness import SAMPLE_ORG  # noqa: E402

SECRET = "bench-signing-secret"
USERS = [f"U0SM{i}" for i in range(1, 5)] + [f"U0TM{i}" for i in range(1, 9)] + [f"U0QI{i}" for i in range(1, 5)]
REASON = "Why would this case give most learning?"
NUMBERS = itertools.count(1)  # a new view id, hash and case reference for every submission, in both apps
FLOOR, QMF = "floor (bare bolt + INSERT)", "qmf-bot serve"


def templates(url: str, fake: FakeSlack) -> dict[str, dict[str, Any]]:
    """Each user's filled-in proposal modal, as the real app opened it, ready to submit."""
    out: dict[str, dict[str, Any]] = {}
    for user in USERS:
        driver = SlackDriver(url, SECRET, fake)
        driver.command(user, "/propose-case")
        waited = time.monotonic() + 10
        while fake.latest_view(user) is None:  # the modal opens after the ack
            if time.monotonic() > waited:
                raise SystemExit(f"no proposal modal opened for {user}")
            time.sleep(0.01)
        captured: dict[str, Any] = {}
        driver._interaction = lambda payload, what, _into=captured, **kw: _into.update(payload)  # type: ignore[method-assign]
        driver.submit(user, {"Case reference": "CIC-1", "Service and team": "cic-north", "Team manager": "U0TM1",
                             "Case holder": "U0P1", REASON: "Strong multi-agency practice to learn from."})
        out[user] = captured
    return out


class Sender:
    """Signs and posts one submission; a refusal fails the run loudly."""

    def __init__(self, url: str, payloads: dict[str, dict[str, Any]]) -> None:
        self.url = url + "/slack/events"
        self.payloads = payloads
        self.local = threading.local()
        self.errors: list[str] = []

    def send(self, user: str) -> None:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(timeout=10)
        n = next(NUMBERS)
        payload = dict(self.payloads[user])
        view = dict(payload["view"], id=f"VB{n:09d}", hash=f"{n}.bench")
        state = json.loads(json.dumps(view["state"]))
        for element in state["values"]["proposal-case-ref"].values():
            element["value"] = f"CIC-{200000 + n}"
        view["state"] = state
        payload["view"] = view
        body = urlencode({"payload": json.dumps(payload)})
        stamp = str(int(time.time()))
        digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": f"v0={digest}"}
        resp = client.post(self.url, content=body.encode(), headers=headers)
        if resp.status_code != 200 or "errors" in resp.text:
            self.errors.append(f"{resp.status_code} {resp.text[:200]}")


def closed_loop(sender: Sender, users: int, seconds: float) -> list[float]:
    took: list[float] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def user_loop(index: int) -> None:
        user = USERS[index % len(USERS)]
        while time.monotonic() < end:
            started = time.monotonic()
            sender.send(user)
            with lock:
                took.append(time.monotonic() - started)

    threads = [threading.Thread(target=user_loop, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return took


def open_loop(sender: Sender, rate: float, seconds: float, seed: int) -> list[float]:
    took: list[float] = []
    lock = threading.Lock()
    rng = random.Random(seed)  # the same arrivals for both apps

    def one(due: float, user: str) -> None:
        sender.send(user)
        with lock:
            took.append(time.monotonic() - due)  # from when it was due: a late start counts

    with ThreadPoolExecutor(max_workers=64) as pool:
        start = time.monotonic()
        due = start
        for i in itertools.count():
            due += rng.expovariate(rate)
            if due - start > seconds:
                break
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            pool.submit(one, due, USERS[i % len(USERS)])
    return took


def run_phase(kind: str, sender: Sender, args: argparse.Namespace, seed: int) -> list[float]:
    gc.collect()
    gc.disable()  # the driver's collections would be counted as the app's latency
    try:
        if kind == "closed":
            result = closed_loop(sender, args.users, args.seconds)
        else:
            result = open_loop(sender, args.rate, args.seconds, seed)
    finally:
        gc.enable()
    if sender.errors:
        raise SystemExit(f"submissions refused ({len(sender.errors)}): {sender.errors[:3]}")
    return result


def quarter_now(url: str) -> str:
    from bot.core.council import calendar_of
    from storage.db import Database

    db = Database(url)
    try:
        with db.session() as session:
            return calendar_of(session, os.environ.get("QMF_TIMEZONE", "Europe/London")).quarter(
                datetime.now(UTC)).key
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=1, help="times each app is measured at each load")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50.0, help="open loop: submissions a second")
    parser.add_argument("--quick", action="store_true", help="3 s phases (a smoke run, under a minute)")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench1"))
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 3.0, 1
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    prepare_database(args.database_url)
    samples: dict[tuple[str, str], list[float]] = {}
    with FakeSlack(check_blocks=False) as fake:
        env = os.environ | {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
                            "SLACK_API_URL": fake.base_url, "DATABASE_URL": args.database_url,
                            "QMF_ORG_FILE": str(SAMPLE_ORG)}
        qmf_port, floor_port = free_port(), free_port()
        qmf = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "serve", "--port", str(qmf_port)], env=env,
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        floor: subprocess.Popen[bytes] | None = None
        try:
            wait_up(f"http://127.0.0.1:{qmf_port}", qmf)
            payloads = templates(f"http://127.0.0.1:{qmf_port}", fake)
            floor = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bare_bolt_store.py"), str(floor_port),
                                      SECRET, fake.base_url, args.database_url, quarter_now(args.database_url)],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            wait_up(f"http://127.0.0.1:{floor_port}", floor)
            senders = {FLOOR: Sender(f"http://127.0.0.1:{floor_port}", payloads),
                       QMF: Sender(f"http://127.0.0.1:{qmf_port}", payloads)}
            for sender in senders.values():  # warm up: connections, caches
                closed_loop(sender, args.users, 1.0)
            for round_ in range(args.rounds):
                for kind in ("closed", "open"):
                    order = [FLOOR, QMF] if round_ % 2 == 0 else [QMF, FLOOR]
                    for name in order:
                        samples.setdefault((kind, name), []).extend(
                            run_phase(kind, senders[name], args, seed=round_))
        finally:
            for proc in (qmf, floor):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
    for kind in ("closed", "open"):
        label = (f"closed loop, {args.users} users" if kind == "closed"
                 else f"open loop, {args.rate:g} submissions a second")
        print(f"{label}, {args.rounds} x {args.seconds:g} s each (PostgreSQL):")
        for name in (FLOOR, QMF):
            took = samples[(kind, name)]
            print(f"  {name:27} n={len(took):5}  p50 {percentile(took, 50):6.1f} ms  p95 {percentile(took, 95):6.1f} ms"
                  f"  p99 {percentile(took, 99):6.1f} ms  ({len(took) / (args.rounds * args.seconds):.0f}/s)")
        q, f = samples[(kind, QMF)], samples[(kind, FLOOR)]
        print("  ratio qmf/floor: " + ", ".join(
            f"p{p} {percentile(q, p) / percentile(f, p):.2f}x" for p in (50, 95, 99)) + " (goal: p99 within 1.25x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
