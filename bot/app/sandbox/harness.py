"""The whole bot running locally: the real ASGI app under uvicorn on loopback, the local Slack
stand-in, and a driver that sends Slack-signed requests. Used by the tests, the demo and the
benchmarks, so all three exercise exactly what production runs."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from bot.app.factory import create_app
from bot.app.runtime import build_runtime
from bot.app.sandbox.driver import SlackDriver
from bot.app.sandbox.fake_slack import FakeSlack
from bot.core.runtime import Runtime, ShiftedClock
from bot.core.settings import Settings
from storage.db import Database

SIGNING_SECRET = "sandbox-signing-secret"
BOT_TOKEN = "xoxb-sandbox-token"


class LocalBot:
    """Start with ``with LocalBot(database_url) as bot:``; drive with ``bot.slack``."""

    def __init__(self, database_url: str, *, fake: FakeSlack | None = None, start: datetime | None = None,
                 migrate: bool = True, background_sender: bool = False,
                 per_channel_rate: float = 200.0) -> None:
        self.fake = fake or FakeSlack()
        self._own_fake = fake is None
        self.database_url = database_url
        self.clock = ShiftedClock(start)
        self.migrate = migrate
        self.background_sender = background_sender
        # The stand-in does not rate-limit unless asked to, so the tests and the demo do not wait
        # out Slack's 1-a-second pacing; the pacing itself is tested against a limiting fake.
        self.per_channel_rate = per_channel_rate
        self.rt: Runtime
        self.slack: SlackDriver
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalBot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalBot:
        if self._own_fake:
            self.fake.start()
        self.settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=self.fake.base_url,
            database_url=self.database_url,
        )
        db = Database(self.database_url)
        if self.migrate:
            db.ensure_schema() if db.is_sqlite else db.upgrade()
        self.rt = build_runtime(self.settings, clock=self.clock, database=db)
        self.rt.sender.rate = self.per_channel_rate
        app = create_app(self.settings, runtime=self.rt)
        from bot.app.web import create_web_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(create_web_app(app), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the local app did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        if self.background_sender:
            self.rt.sender.start()
        self.slack = SlackDriver(self.url, SIGNING_SECRET, self.fake, wait_idle=self.rt.wait_idle)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.rt.sender.stop()
        self.rt.executor.shutdown(wait=True)
        self.rt.db.dispose()
        if self._own_fake:
            self.fake.stop()

    # -- conveniences ---------------------------------------------------------------------------
    def import_org(self, path: str | Path) -> list[str]:
        from bot.core.directory import import_org
        from bot.core.orgfile import load_org_file

        with self.rt.db.session() as session:
            return import_org(session, load_org_file(path)).changes

    def run_job(self, name: str, at: datetime | None = None, **options: Any) -> Any:
        from schedules.jobs import run_job

        if at is not None:
            self.clock.set(at)
        outcome = run_job(self.rt, name, at=at, options=options)
        self.rt.wait_idle()
        return outcome

    def set_time(self, moment: datetime) -> None:
        self.clock.set(moment)


SAMPLE_ORG = Path(__file__).with_name("sample_org.yaml")
SAMPLE_CASES = Path(__file__).with_name("cases.csv")
