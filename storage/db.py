"""Engine, sessions and the schema check, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, exc, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.deadline import DatabaseUnavailable, Limits, Watchdog, current, limited

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


_HELD: ContextVar[dict[int, Connection] | None] = ContextVar("qmf_held_connections", default=None)
"""Within ``one_connection()``: each Database's one connection for the request, by ``id``."""


@contextmanager
def one_connection() -> Iterator[None]:
    """Within this, each Database's sessions and ``autocommit()`` share one pooled connection,
    checked out at its first use and returned at the end: a Slack request checks out (and pings,
    and has its time limits set) once, however many units of work it does. Sessions opened one
    after another each still begin and commit their own transaction on it."""
    held: dict[int, Connection] = {}
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)
        for connection in held.values():
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - a broken connection is dropped by the pool; the answer stands
                log.warning("could not return a request's database connection", exc_info=True)


def _mid_transaction(connection: Connection) -> bool:
    """The driver's own view: its connection is inside a transaction (or cannot say)."""
    try:
        driver = connection.connection.dbapi_connection
    except Exception:  # noqa: BLE001 - an invalidated connection: treat it as unsafe
        return True
    if driver is None:
        return True
    info = getattr(driver, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        from psycopg.pq import TransactionStatus

        return bool(info.transaction_status != TransactionStatus.IDLE)
    return bool(getattr(driver, "in_transaction", False))  # sqlite3


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


POOL_TIMEOUT = 1.0
"""Seconds a request waits for a pooled connection when all are in use: they only all are when the
database has stalled, and then waiting longer only holds the thread."""
BUSY_TIMEOUT = 2.0
"""Seconds SQLite waits for another connection's write lock (it was 30: a locked database then held
the person for 30 s). A request's own limits shorten it further (``storage.deadline``)."""
CONNECT_TIMEOUT = 2
"""Seconds to open a PostgreSQL connection (libpq's minimum); a request waits only its own limits."""
JOB_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000
"""PostgreSQL's limit on one statement outside a request (jobs, imports, migrations): every statement
here takes milliseconds, so ten minutes only ends one that is wedged."""
IDLE_IN_TRANSACTION_MS = 60 * 1000
"""The server ends a transaction left idle this long, so one abandoned by a cut or a killed process
never holds its locks for long."""
SERVER_MARGIN = 0.2
"""A request's server-side statement and lock timeouts (SQLite: its wait for a lock) end this much
before its own limit, so a slow but live database reports a clean error before the watchdog has to
cut the connection and open the breaker."""


def _postgres_connect_args() -> dict[str, Any]:
    return {
        "connect_timeout": CONNECT_TIMEOUT,
        # A peer that vanished (a dropped network, a frozen host) is found within about 25 s, not hours.
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
        "tcp_user_timeout": 15000,
        "options": f"-c statement_timeout={JOB_STATEMENT_TIMEOUT_MS} "
                   f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
    }


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT},
                               pool_timeout=POOL_TIMEOUT)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            cursor.close()

        return engine
    # No pool_pre_ping: the check-out listener (``_guard``) pings, inside the request's time limits.
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_use_lifo=True,
                         pool_recycle=1800, pool_timeout=POOL_TIMEOUT, connect_args=_postgres_connect_args())


def _shut_socket(dbapi_connection: Any) -> None:
    """Cut a PostgreSQL connection from another thread: a read blocked on it returns at once."""
    sock = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()


def _interrupt(dbapi_connection: Any) -> None:
    dbapi_connection.interrupt()


_CONNECTING = ThreadPoolExecutor(max_workers=8, thread_name_prefix="qmf-db-connect")
"""Opens PostgreSQL connections for requests, so a request stops waiting at its own limit (libpq's
connect timeout is 2 s at least); the connection, when it comes, is closed."""


def _close_when_done(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        with suppress(Exception):  # it is being thrown away
            future.result().close()


def _timeouts_ms(limits: Limits | None) -> tuple[int, int]:
    """(statement_timeout, lock_timeout) for a connection checked out now, in milliseconds."""
    if limits is None:
        return JOB_STATEMENT_TIMEOUT_MS, 0
    allowed = max(int((limits.remaining() - SERVER_MARGIN) * 10) * 100, 100)
    return allowed, allowed


def _is_disconnect(error: BaseException) -> bool:
    import psycopg

    return isinstance(error, psycopg.OperationalError) and not isinstance(error, psycopg.errors.QueryCanceled)


def _guard(engine: Engine, watchdog: Watchdog) -> None:
    """Put every database call a request makes under its time limits (``storage.deadline``)."""
    dialect = engine.dialect
    postgres = dialect.name == "postgresql"

    def connection_of(cursor: Any) -> Any:
        return cursor.connection

    for name, conn_of in (("do_execute", connection_of), ("do_executemany", connection_of),
                          ("do_execute_no_params", connection_of), ("do_commit", None), ("do_rollback", None)):
        original = getattr(dialect, name)
        what = name.removeprefix("do_").removesuffix("_no_params").removesuffix("many")

        def guarded(first: Any, *args: Any, _original: Any = original, _what: str = what,
                    _conn_of: Any = conn_of, **kwargs: Any) -> Any:
            connection = _conn_of(first) if _conn_of else first
            if hasattr(connection, "dbapi_connection"):  # the pool's reset hands in its wrapper
                connection = connection.dbapi_connection
            return watchdog.run(_what, connection, lambda: _original(first, *args, **kwargs))

        setattr(dialect, name, guarded)

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["qmf_fresh"] = True

    if postgres:
        @event.listens_for(engine, "do_connect")
        def _connect_in_time(dialect_: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            limits = current()
            if limits is None:
                return None
            remaining = limits.remaining()
            if remaining <= 0:
                raise DatabaseUnavailable("the request's time ran out before connecting")
            probe = watchdog.breaker.admit()
            future = _CONNECTING.submit(dialect_.connect, *cargs, **cparams)
            try:
                connection = future.result(timeout=remaining)
            except FutureTimeout:
                future.add_done_callback(_close_when_done)
                watchdog.breaker.trip()
                log.warning("gave up opening a database connection after %.1fs", remaining)
                raise DatabaseUnavailable("the database did not accept a connection in time") from None
            except BaseException:
                watchdog.breaker.finished(probe, ok=False)
                raise
            watchdog.breaker.finished(probe, ok=True)
            return connection

    @event.listens_for(engine, "checkout")
    def _ready(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Ping (what pool_pre_ping did) and set the holder's limits, in the one round trip."""
        limits = current()
        fresh = record.info.pop("qmf_fresh", False)
        if not postgres:
            if limits is not None:
                wait = min(limits.remaining() - SERVER_MARGIN, BUSY_TIMEOUT)
                if wait <= 0:
                    raise DatabaseUnavailable("the request's time ran out before using the database")
                dbapi_connection.execute(f"PRAGMA busy_timeout={max(int(wait * 1000), 1)}")
                record.info["qmf_busy"] = True
            elif record.info.pop("qmf_busy", False):
                dbapi_connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            return
        wanted = _timeouts_ms(limits)
        if fresh and limits is None:
            record.info["qmf_timeouts"] = wanted
            return

        def ping() -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            try:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, false), "
                                   "set_config('lock_timeout', %s, false)", (str(wanted[0]), str(wanted[1])))
            finally:
                if not dbapi_connection.closed:
                    dbapi_connection.autocommit = autocommit

        try:
            watchdog.run("ping", dbapi_connection, ping)
        except DatabaseUnavailable:
            raise
        except Exception as error:
            if _is_disconnect(error):  # a restarted server: reconnect, as pool_pre_ping did
                raise exc.InvalidatePoolError() from error
            raise
        record.info["qmf_timeouts"] = wanted

    @event.listens_for(engine, "handle_error")
    def _name_the_stall(context: Any) -> BaseException | None:
        error = context.original_exception
        if isinstance(error, DatabaseUnavailable):
            if error.cut and postgres:  # the socket is shut: never hand this connection out again
                context.is_disconnect = True
                context.invalidate_pool_on_disconnect = False
            return None
        if current() is None:
            return None
        reason = _timed_out(error, postgres)
        return DatabaseUnavailable(reason) if reason else None


def _timed_out(error: BaseException, postgres: bool) -> str | None:
    """Words for a database error that means "not in time", for a request; None for any other."""
    if postgres:
        import psycopg

        if isinstance(error, psycopg.errors.QueryCanceled):
            return "the database did not finish a statement in time"
        if isinstance(error, psycopg.errors.LockNotAvailable):
            return "the data was locked by other work for too long"
        if isinstance(error, psycopg.errors.ConnectionTimeout):
            return "the database did not accept a connection in time"
        return None
    text_ = str(error).lower()
    if "locked" in text_ or "busy" in text_ or "interrupted" in text_:
        return "the database was locked by other work for too long"
    return None


class Database:
    """One per process: the engine, the session factory and the after-commit hooks.

    Sessions are opened and committed in one place, ``session()``: a request, a job or a CLI
    command is one unit of work. Hooks run after a commit (the outbox sender is kicked there).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.watchdog = Watchdog(_shut_socket if self.engine.dialect.name == "postgresql" else _interrupt)
        _guard(self.engine, self.watchdog)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.after_commit: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _held(self) -> Connection | None:
        """The request's connection (``one_connection``), checked out on first use; None outside one."""
        held = _HELD.get()
        if held is None:
            return None
        connection = held.get(id(self))
        if connection is not None and connection.invalidated:  # cut by the watchdog: never reused
            with suppress(Exception):
                connection.close()
            connection = None
        if connection is None or connection.closed:
            connection = held[id(self)] = self.engine.connect()
        return connection

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection on which each statement commits as the server runs it: no BEGIN or COMMIT
        round trips, for a single statement that needs no transaction of its own."""
        connection = self._held()
        if connection is None or connection.in_transaction() or _mid_transaction(connection):
            # outside a request, or inside a session's unit of work: a connection of its own
            # (switching the request's to autocommit would commit what it holds)
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own:
                yield own
            return
        before = connection.get_execution_options().get("isolation_level")
        connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield connection
        finally:
            if not connection.closed and not connection.invalidated:
                # ends SQLAlchemy's record of the autobegun transaction; in autocommit the driver sends nothing
                connection.rollback()
                connection.execution_options(
                    isolation_level=before or self.engine.dialect.default_isolation_level)

    def _let_go_of_held(self, connection: Connection) -> None:
        """A held connection whose rollback failed may still hold the request's uncommitted work:
        close it (the server discards that work) and check out a fresh one if more is done."""
        held = _HELD.get()
        if held is not None and held.get(id(self)) is connection:
            del held[id(self)]
        with suppress(Exception):
            connection.invalidate()
        with suppress(Exception):
            connection.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        connection = self._held()
        if connection is not None and connection.in_transaction():
            connection = None  # a unit of work inside another: its own connection and transaction, as ever
        session = self.sessions() if connection is None else self.sessions(bind=connection)
        try:
            yield session
            session.commit()
        except BaseException:
            try:
                session.rollback()
            except BaseException:
                if connection is not None:
                    self._let_go_of_held(connection)
                raise
            raise
        finally:
            session.close()
        for hook in list(self.after_commit):
            hook()

    def head_revision(self) -> str | None:
        """The code's schema revision(s), joined with '+' if feature branches are not merged yet."""
        return _code_heads()

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

    def ping(self, within: float | None = None) -> dict[str, str]:
        """The database's state for /healthz; ``within`` seconds at most, if given."""
        import time

        limits = Limits(ack_by=time.monotonic() + within, call_limit=within) if within else None
        try:
            with limited(limits), self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                heads = sorted(MigrationContext.configure(connection).get_current_heads())
            current = "+".join(heads) or None
        except DatabaseUnavailable:
            return {"database": "not answering"}
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


@cache
def _code_heads() -> str | None:
    """The migrations shipped with this code never change while it runs: read them once."""
    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    return "+".join(heads) or None
