"""Counting the database work a request does, for the statement-budget tests.

``count_statements(engine)`` counts, on the request's own threads (bolt's listener threads,
named ``qmf-listener``; not the test's thread, which drains the outbox, nor the sender's):

- ``statements``: every SQL statement SQLAlchemy sends (``before_cursor_execute``), including the
  ORM's flushes; a multi-row ``executemany`` counts once per call (one round trip with psycopg's
  pipelined executemany);
- ``transactions``: each BEGIN ... COMMIT/ROLLBACK (SQLAlchemy's ``begin`` event), except on a
  connection in autocommit, which sends neither;
- ``round_trips``: what PostgreSQL would see, statements + one BEGIN and one COMMIT/ROLLBACK per
  transaction (psycopg sends each as its own message) + the check-out ping (``storage.db``'s
  ``set_config`` of the request's time limits, once per connection checked out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

REQUEST_THREADS = "qmf-listener"


@dataclass
class Counted:
    statements: int = 0
    transactions: int = 0
    endings: int = 0
    checkouts: int = 0
    sql: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return self.statements + self.transactions + self.endings + self.checkouts

    def __str__(self) -> str:
        lines = "\n  ".join(s.split("\n")[0][:140] for s in self.sql)
        return (f"{self.statements} statements, {self.transactions} transactions, "
                f"{self.checkouts} check-outs = {self.round_trips} round trips:\n  {lines}")


def _autocommit(conn: Any) -> bool:
    """A connection in autocommit sends no BEGIN or COMMIT (psycopg: none; its commit() is a no-op)."""
    return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def _ours() -> bool:
    return threading.current_thread().name.startswith(REQUEST_THREADS)


@contextmanager
def count_statements(engine: Engine) -> Iterator[Counted]:
    counted = Counted()

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if _ours():
            counted.statements += 1
            counted.sql.append(sql.strip())

    def began(conn: Any) -> None:
        if _ours() and not _autocommit(conn):
            counted.transactions += 1
            counted.sql.append("BEGIN")

    def ended(conn: Any) -> None:
        if _ours() and not _autocommit(conn):
            counted.endings += 1
            counted.sql.append("COMMIT/ROLLBACK")

    def checkout(*_args: Any) -> None:
        if _ours():
            counted.checkouts += 1
            counted.sql.append("(check-out ping)")

    hooks: list[tuple[str, Callable[..., Any]]] = [("before_cursor_execute", statement), ("begin", began), ("commit", ended),
             ("rollback", ended)]
    for name, fn in hooks:
        event.listen(engine, name, fn)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield counted
    finally:
        for name, fn in hooks:
            event.remove(engine, name, fn)
        event.remove(engine.pool, "checkout", checkout)
