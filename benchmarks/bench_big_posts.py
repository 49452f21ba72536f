"""Oversized posts: four concurrent unsigned 150 MB POSTs to a real `qmf-bot serve` on loopback.

Each body is streamed from a generator (the benchmark never holds one in memory); two declare their
Content-Length and two are sent chunked (no length), the two ways a body can be too big. Prints each
answer, how many bytes the client got to send before the server refused it, the time taken, and
the resident memory (VmRSS from /proc) of the `qmf-bot serve` process before, at its peak while the
posts are in flight (sampled every 10 ms) and after. Exits 1 if the peak passes ``--limit-mb``.

    python benchmarks/bench_big_posts.py [--size-mb 150] [--posts 4] [--limit-mb 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app.sandbox.fake_slack import FakeSlack  # noqa: E402
from bot.app.sandbox.harness import SAMPLE_ORG  # noqa: E402

CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=150)
    parser.add_argument("--posts", type=int, default=4)
    parser.add_argument("--limit-mb", type=float, default=200)
    args = parser.parse_args()
    size = args.size_mb * CHUNK
    block = b"0" * CHUNK

    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        port = free_port()
        env = os.environ | {"SLACK_BOT_TOKEN": "xoxb-fake-token", "SLACK_SIGNING_SECRET": "bench-secret",
                            "SLACK_API_URL": fake.base_url, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'big.db'}",
                            "QMF_ORG_FILE": str(SAMPLE_ORG)}
        proc = subprocess.Popen([sys.executable, "-m", "bot.app.cli", "serve", "--port", str(port)], env=env,
                                cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(url, proc)
            before = rss_mb(proc.pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_mb(proc.pid))
                    done.wait(0.01)

            results: list[tuple[str, int | str, int, float]] = []
            go = threading.Barrier(args.posts)

            def post(chunked: bool) -> None:
                sent = 0

                def body() -> Iterator[bytes]:
                    nonlocal sent
                    for _ in range(size // CHUNK):
                        sent += CHUNK
                        yield block

                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                if not chunked:
                    headers["Content-Length"] = str(size)
                go.wait()
                started = time.monotonic()
                try:
                    with httpx.Client(timeout=120) as client:
                        status: int | str = client.post(url + "/slack/events", content=body(),
                                                        headers=headers).status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                results.append(("chunked" if chunked else "Content-Length", status, sent,
                                time.monotonic() - started))

            sampler = threading.Thread(target=sample)
            sampler.start()
            threads = [threading.Thread(target=post, args=(i % 2 == 1,)) for i in range(args.posts)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            done.set()
            sampler.join()
            after = rss_mb(proc.pid)
        finally:
            proc.terminate()
            out = proc.communicate(timeout=10)[0].decode()

    print(f"{args.posts} concurrent unsigned POSTs of {args.size_mb} MB each to qmf-bot serve (pid {proc.pid})")
    for kind, status, sent, took in sorted(results, key=lambda r: r[0]):
        print(f"  {kind:<15} -> {status}  client sent {sent / CHUNK:6.1f} MB before the refusal, {took:.2f} s")
    print(f"RSS before {before:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB "
          f"(growth {after - before:+.1f} MB; limit {args.limit_mb:g} MB)")
    log_lines = [line for line in out.splitlines() if line.strip()]
    print(f"server log: {len(log_lines)} line(s), traceback: {'yes' if 'Traceback' in out else 'no'}")
    for line in log_lines:
        print(f"  {line}")
    ok = peak < args.limit_mb and all(status == 413 for _, status, _, _ in results)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
