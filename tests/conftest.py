"""Fixtures: a fresh migrated database per test (SQLite, or PostgreSQL when TEST_DATABASE_URL
is set), and ``slack``: the real app over HTTP with the local Slack stand-in."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.app.sandbox.harness import SAMPLE_ORG, LocalBot
from storage.db import Database
from storage.models import Base

LONDON = ZoneInfo("Europe/London")
PG_URL = os.environ.get("TEST_DATABASE_URL")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run; each test gets a copy (SQLite) or emptied tables (PostgreSQL)."""
    if PG_URL:
        db = Database(PG_URL)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.upgrade()
        db.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return str(path)


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> str:
    if PG_URL:
        db = Database(PG_URL)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.dispose()
        return PG_URL
    target = tmp_path / "qmf.db"
    shutil.copy(_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def bot(database_url: str) -> Iterator[LocalBot]:
    """The running bot with the sample organisation, at 09:00 on the first day of 2026-27 Q1."""
    with LocalBot(database_url, start=london(2026, 4, 1, 9, 0)) as local:
        local.import_org(SAMPLE_ORG)
        yield local
        assert_channels_carry_no_case_detail(local)


@pytest.fixture
def slack(bot: LocalBot):  # type: ignore[no-untyped-def]
    return bot.slack


@pytest.fixture
def fake(bot: LocalBot):  # type: ignore[no-untyped-def]
    return bot.fake


CASE_REF = re.compile(r"\b[A-Z]{2,5}-?\d{3,10}\b")
PERSON = re.compile(r"<@[UW][A-Z0-9]+>|\bU0[A-Z0-9]+\b")


def assert_channels_carry_no_case_detail(local: LocalBot) -> None:
    """Privacy, checked after every flow: nothing the bot posted in a channel (as opposed to a DM or
    the auditor's group DM) names a case or a person."""
    for message in local.fake.messages():
        if not message["channel"].startswith("C") or message["channel"] == "C0GENERAL":
            continue
        words = json.dumps([message.get("text"), message.get("blocks")])
        assert not CASE_REF.search(words), f"a case reference reached {message['channel']}: {words[:300]}"
        assert not PERSON.search(words), f"a person reached {message['channel']}: {words[:300]}"
    for upload in local.fake.files:
        assert not CASE_REF.search(str(upload.get("initial_comment") or "") + str(upload.get("title") or ""))
