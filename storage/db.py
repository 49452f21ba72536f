"""Engine, sessions and the schema check, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaError(Exception):
    """The database schema is not the one this code expects; the message names the fix."""


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


POOL_SIZE = 20
"""Connections a process keeps open once it has needed them. A connection past these is opened for
one unit of work and closed after it, and opening one (a new PostgreSQL backend) costs several
milliseconds: with 10 kept, a burst of more than 10 requests at once paid that on every request
over 10. 20 covers the listener threads' usual concurrency and the outbox sender; what two serve
workers and the scheduler keep (60) stays inside PostgreSQL's default of 100 connections."""
POOL_OVERFLOW = 15
"""Short-lived connections allowed past ``POOL_SIZE`` in a burst (up to the 32 listener threads)."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_use_lifo=True,
                         pool_pre_ping=True, pool_recycle=1800)


class Database:
    """One per process: the engine, the session factory and the after-commit hooks.

    Sessions are opened and committed in one place, ``session()``: a request, a job or a CLI
    command is one unit of work. Hooks run after a commit (the outbox sender is kicked there).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.after_commit: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        for hook in list(self.after_commit):
            hook()

    def head_revision(self) -> str | None:
        """The code's schema revision(s), joined with '+' if feature branches are not merged yet."""
        heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
        return "+".join(heads) or None

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            heads = sorted(MigrationContext.configure(connection).get_current_heads())
        return "+".join(heads) or None

    def is_empty(self) -> bool:
        with self.engine.connect() as connection:
            return not inspect(connection).get_table_names()

    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate to head; returns (before, after) revisions."""
        with self._lock:
            before = self.current_revision()
            config = alembic_config(self.engine)
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")
            return before, self.current_revision()

    def ensure_schema(self) -> None:
        """Create a new SQLite database; refuse to run on an old schema anywhere."""
        current = self.current_revision()
        head = self.head_revision()
        if current == head:
            return
        if current is None and self.is_sqlite and self.is_empty():
            self.upgrade()
            return
        if current is None:
            raise SchemaError(
                "The database has no QMF Bot schema yet: run `qmf-bot db upgrade` to create it."
            )
        raise SchemaError(
            f"The database schema is at revision {current} but this version needs {head}: "
            "run `qmf-bot db upgrade`."
        )

    def ping(self) -> dict[str, str]:
        """The database's state for /healthz."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = self.current_revision()
        except Exception as exc:  # noqa: BLE001 - any failure is "down" for a health check
            return {"database": "unreachable", "error": type(exc).__name__}
        head = self.head_revision()
        return {
            "database": "ok",
            "dialect": self.engine.dialect.name,
            "schema": "current" if current == head else f"outdated ({current} < {head})",
        }

    def dispose(self) -> None:
        self.engine.dispose()
