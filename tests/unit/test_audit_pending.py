"""bot.core.audit.record on PostgreSQL holds its entry for the transaction's next statement (the
outbox's insert carries it): it must still be written by a query or a commit, and never after a
rollback. On SQLite it is written at once; the same assertions hold on both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core import audit, outbox
from storage.db import Database
from storage.models import AuditLogEntry, OutboxMessage


def entries(db: Database) -> list[tuple[str, str | None]]:
    with db.session() as session:
        return [(e.action, e.entity_id) for e in session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id))]


def test_an_entry_then_a_message_are_both_stored_once(db: Database) -> None:
    with db.session() as session:
        audit.record(session, "U0TM1", "create", "proposal", 7, case_ref="CIC-1")
        assert outbox.enqueue(session, channel="U0TM1", text="Thank you", dedupe_key="proposal:7:created")
    assert entries(db) == [("create", "7")]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        row = session.scalar(select(AuditLogEntry))
        assert row is not None and row.detail == {"case_ref": "CIC-1"} and row.actor == "U0TM1"


def test_a_query_after_an_entry_sees_it_and_a_commit_alone_writes_it(db: Database) -> None:
    with db.session() as session:
        audit.record(session, "U0QI1", "view", "report", 1)
        assert session.scalar(select(func.count()).select_from(AuditLogEntry)) == 1
        audit.record(session, "U0QI1", "export", "report", 2)
    assert entries(db) == [("view", "1"), ("export", "2")]


def test_a_rolled_back_entry_is_never_written(db: Database) -> None:
    class Refused(Exception):
        pass

    try:
        with db.session() as session:
            audit.record(session, "U0TM1", "create", "proposal", 8)
            raise Refused
    except Refused:
        pass
    with db.session() as session:
        outbox.enqueue(session, channel="U0TM1", text="later")
    assert entries(db) == []
