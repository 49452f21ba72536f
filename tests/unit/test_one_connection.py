"""A request's one database connection (storage.db.one_connection): its units of work share one
checked-out connection, each still its own transaction; work that failed is never committed by what
comes after it on the same connection; autocommit statements commit alone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from storage.db import Database, one_connection
from storage.models import ViewSubmission, utcnow
from tests.conftest import PG_URL


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(ViewSubmission)) or 0)


def _claim(view_id: str) -> Any:
    return insert(ViewSubmission).values(view_id=view_id, view_hash="h", status="pending", created_at=utcnow())


def _checkouts(db: Database) -> list[int]:
    seen: list[int] = []
    event.listen(db.engine.pool, "checkout", lambda *_a: seen.append(1))
    return seen


def test_the_units_of_work_of_a_request_share_one_checked_out_connection(db: Database) -> None:
    seen = _checkouts(db)
    with one_connection():
        with db.session() as session:
            session.execute(_claim("V1"))
        with db.autocommit() as connection:
            connection.execute(_claim("V2"))
        with db.session() as session:
            session.execute(_claim("V3"))
    assert len(seen) == 1
    assert _count(db) == 3
    seen.clear()
    with db.session() as session:  # outside a request: a check-out per session, as before
        session.execute(_claim("V4"))
    with db.session() as session:
        session.execute(_claim("V5"))
    assert len(seen) == 2


def test_work_that_raised_is_rolled_back_and_the_next_unit_starts_clean(db: Database) -> None:
    with one_connection():
        with pytest.raises(RuntimeError), db.session() as session:
            session.execute(_claim("V1"))
            raise RuntimeError("the work failed")
        with db.autocommit() as connection:
            connection.execute(_claim("V2"))
    with db.session() as session:
        assert list(session.scalars(select(ViewSubmission.view_id))) == ["V2"]


def test_a_failed_rollback_lets_go_of_the_connection_so_nothing_after_commits_the_work(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled database can refuse the rollback too; the connection still holding the work is then
    closed (the server discards the work), never reused for the claim's autocommit statement."""
    dialect = db.engine.dialect
    real = dialect.do_rollback
    stalled = {"now": True}

    def refused(dbapi_connection: Any) -> None:
        if stalled["now"]:
            raise ConnectionError("the database did not answer the rollback")
        real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_rollback", refused)
    with one_connection():
        with pytest.raises(ConnectionError), db.session() as session:
            session.execute(_claim("V1"))
            raise RuntimeError("the work ran out of time")
        stalled["now"] = False
        with db.autocommit() as connection:
            connection.execute(_claim("V2"))
    monkeypatch.setattr(dialect, "do_rollback", real)
    with db.session() as session:
        assert list(session.scalars(select(ViewSubmission.view_id))) == ["V2"]


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite's one writer makes the second connection wait")
def test_autocommit_inside_an_open_unit_of_work_uses_a_connection_of_its_own(db: Database) -> None:
    with one_connection(), pytest.raises(RuntimeError), db.session() as session:
        session.execute(_claim("V1"))
        with db.autocommit() as connection:
            connection.execute(_claim("V2"))
        raise RuntimeError("the work failed after the claim")
    with db.session() as session:
        assert list(session.scalars(select(ViewSubmission.view_id))) == ["V2"]


def test_a_unit_of_work_inside_another_keeps_its_own_transaction(db: Database) -> None:
    """As outside a request: the inner one failing rolls back only itself; the outer one commits."""
    with one_connection(), db.session() as outer:
        outer.execute(_claim("V1"))
        with pytest.raises(RuntimeError), db.session() as inner:
            inner.execute(select(func.count()).select_from(ViewSubmission))
            raise RuntimeError("the inner work failed")
        outer.execute(_claim("V2"))
    with db.session() as session:
        assert sorted(session.scalars(select(ViewSubmission.view_id))) == ["V1", "V2"]
