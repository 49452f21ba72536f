"""Load: `qmf-bot serve` on PostgreSQL against a bare bolt app, in the same run.

16 concurrent users send signed slash commands and modal submissions (2,000 requests per app by
default): `/qmf help`, `/propose-case` (opens the proposal modal) and the modal's submission
(validated and stored by QMF Bot; acked by the bare app). Reports p50/p99 ack latency and
modal-open latency (request sent -> views.open reaching Slack), their ratio to the bare app,
and the resident memory of the `qmf-bot serve` process after the run.

Each app is driven twice (``--think`` changes this): with no pause between a user's requests, a
saturation test whose latencies measure throughput, and with a pause of 300 ms on average
(exponential, the same pauses for both apps), about 50 requests a second in all.

    python benchmarks/bench_load.py [--requests 2000] [--users 16] [--think S ...] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app.sandbox.driver import SlackDriver  # noqa: E402
from bot.app.sandbox.fake_slack import FakeSlack  # noqa: E402
from bot.app.sandbox.harness import SAMPLE_ORG  # noqa: E402

SECRET = "bench-signing-secret"
USERS = [f"U0SM{i}" for i in range(1, 5)] + [f"U0TM{i}" for i in range(1, 9)] + \
        [f"U0QI{i}" for i in range(1, 5)]
REASON = "Why would this case give most learning?"
CASE_NUMBERS = itertools.count(1)  # unique case references across the warm-up and the measured run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            httpx.post(url + "/slack/events", content=b"", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def prepare_database(url: str) -> None:
    import psycopg

    from storage.db import Database

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    from sqlalchemy import text

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade()
    db.dispose()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000


def drive(url: str, fake: FakeSlack, requests: int, users: int, qmf: bool,
          think: float = 0.0) -> dict[str, list[float]]:
    acks: list[float] = []
    opens: list[float] = []
    lock = threading.Lock()
    counter = CASE_NUMBERS
    budget = itertools.count(1)

    errors: list[str] = []
    by_step: dict[str, list[float]] = {}

    def worker(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - a failed request must fail the benchmark, loudly
            errors.append(f"user {USERS[index % len(USERS)]}: {exc!r}")

    def work(index: int) -> None:
        user = USERS[index % len(USERS)]
        driver = SlackDriver(url, SECRET, fake)
        driver.ack_deadline = 3.0
        pause = random.Random(index)  # the same think times for both apps
        while True:
            for step in ("help", "open", "submit"):
                if next(budget) > requests:
                    return
                if think:
                    time.sleep(pause.expovariate(1.0 / think))
                started = time.monotonic()
                if step == "help":
                    reply = driver.command(user, "/qmf", "help")
                    took = time.monotonic() - started
                elif step == "open":
                    before = fake.top_view_id(user)
                    reply = driver.command(user, "/propose-case")
                    took = time.monotonic() - started
                    while fake.top_view_id(user) in (before, None):  # a cheap look, no copy
                        if time.monotonic() - started > 10:
                            raise SystemExit(f"no modal opened for {user}")
                        time.sleep(0.001)
                    # when Slack received views.open, not when this thread noticed it
                    opened = fake.opened_at(str(fake.top_view_id(user)))
                    with lock:
                        opens.append((opened or time.monotonic()) - started)
                else:
                    n = next(counter)
                    values = ({"Case reference": f"CIC-{100000 + n}", "Service and team": "cic-north",
                               "Case holder": "U0P1", REASON: "Strong multi-agency practice to learn from."}
                              if qmf else {"Case reference": f"CIC-{100000 + n}"})
                    reply = driver.submit(user, values)
                    took = time.monotonic() - started
                    if reply.status != 200 or reply.errors:
                        raise SystemExit(f"submission refused: {reply.status} {reply.body[:200]}")
                if reply.status != 200:
                    raise SystemExit(f"{step} answered {reply.status}")
                with lock:
                    acks.append(took)
                    by_step.setdefault(step, []).append(took)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(users)]
    # The driver's own garbage collections (up to 100 ms here) would stall its 16 users and be
    # counted as the app's latency, whichever app it is driving: collect before, not during.
    gc.collect()
    gc.disable()
    cpu_before = time.process_time()
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.enable()
    if errors:
        raise SystemExit("requests failed:\n" + "\n".join(errors[:10]))
    if len(acks) != requests:
        raise SystemExit(f"only {len(acks)} of {requests} requests were answered")
    return {"acks": acks, "opens": opens, "seconds": [time.monotonic() - started],
            "driver_cpu": [time.process_time() - cpu_before], **by_step}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench_load"))
    parser.add_argument("--think", type=float, action="append",
                        help="mean pause in seconds between a user's requests (exponential); repeat for several "
                             "runs; default: 0 (saturation) and 0.3")
    args = parser.parse_args()
    thinks = args.think if args.think else [0.0, 0.3]
    prepare_database(args.database_url)
    results = {}
    # The stand-in checks messages' Block Kit for the tests; here it would only add its own CPU time to
    # the driver's process. Views are still checked (strict: a bad one fails the run), but the modal is
    # timed from when views.open arrived, before that check.
    with FakeSlack(check_blocks=False) as fake:
        env = os.environ | {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
                            "SLACK_API_URL": fake.base_url, "DATABASE_URL": args.database_url,
                            "QMF_ORG_FILE": str(SAMPLE_ORG)}
        qmf_port, bare_port = free_port(), free_port()
        qmf = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "serve", "--port", str(qmf_port), "--workers", os.environ.get("BENCH_WORKERS", "1")], env=env,
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        bare = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bare_app.py"), str(bare_port), SECRET,
                                 fake.base_url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_up(f"http://127.0.0.1:{qmf_port}", qmf)
            wait_up(f"http://127.0.0.1:{bare_port}", bare)
            if os.environ.get("BENCH_PROFILE"):
                subprocess.Popen(["py-spy", "record", "-o", os.environ["BENCH_PROFILE"], "-d", "60", "-f",
                                  "raw", "-p", str(qmf.pid), "--nonblocking"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, port, is_qmf in (("bare bolt app", bare_port, False), ("qmf-bot serve", qmf_port, True)):
                drive(f"http://127.0.0.1:{port}", fake, 60, args.users, is_qmf)  # warm up
                for think in thinks:
                    results[(think, name)] = drive(f"http://127.0.0.1:{port}", fake, args.requests, args.users,
                                                   is_qmf, think)
            memory = rss_mb(qmf.pid)
        finally:
            qmf.terminate()
            bare.terminate()
            qmf.wait(10)
            bare.wait(10)
    for think in thinks:
        report(args, think, {name: r for (t, name), r in results.items() if t == think})
    print(f"qmf-bot serve resident memory after the run: {memory:.0f} MB")
    return 0


def report(args: argparse.Namespace, think: float, results: dict[str, dict[str, list[float]]]) -> None:
    pace = ("no pause between requests (saturation: the figures measure throughput)" if not think else
            f"each pausing {think * 1000:.0f} ms on average between requests")
    print(f"{args.requests} requests per app from {args.users} concurrent users, {pace} (PostgreSQL):")
    for name, r in results.items():
        print(f"  {name:14} ack p50 {percentile(r['acks'], 50):6.1f} ms  p99 {percentile(r['acks'], 99):6.1f} ms"
              f"  max {max(r['acks']) * 1000:6.1f} ms | modal open p50 {percentile(r['opens'], 50):6.1f} ms"
              f"  p99 {percentile(r['opens'], 99):6.1f} ms | {len(r['acks']) / r['seconds'][0]:.0f} req/s"
              f" | driver and fake Slack: {100 * r['driver_cpu'][0] / r['seconds'][0]:.0f}% of a core")
        print("    ack p50/p99 by request: " + ", ".join(
            f"{step} {percentile(r[step], 50):.0f}/{percentile(r[step], 99):.0f} ms"
            for step in ("help", "open", "submit") if step in r))
    q, b = results["qmf-bot serve"], results["bare bolt app"]
    print(f"  ratio qmf/bare: ack p99 {percentile(q['acks'], 99) / percentile(b['acks'], 99):.2f}x, "
          f"modal open p99 {percentile(q['opens'], 99) / percentile(b['opens'], 99):.2f}x "
          f"(median ack {statistics.median(q['acks']) / statistics.median(b['acks']):.2f}x)")



if __name__ == "__main__":
    sys.exit(main())
