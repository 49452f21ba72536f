"""The audit log: who created, viewed in detail, edited or exported what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from storage.models import AuditLogEntry, utcnow

_INSERT = insert(AuditLogEntry)
_PENDING = "qmf_audit_pending"
"""session.info key: an entry recorded on PostgreSQL and not yet written (see ``record``)."""


def record(session: Session, actor: str, action: str, entity: str, entity_id: object | None = None,
           **detail: Any) -> None:
    """Write one entry in the caller's transaction (it commits or rolls back with the work).

    A plain insert on the session's connection: nothing reads the entry back in the same unit of
    work, and the ORM's flush of it cost more than the insert on every request that changes data.

    On PostgreSQL the entry is held until the transaction's next statement: the outbox's next
    message carries it in the same statement (``take_pending``: one round trip for both, as a
    create usually records and then confirms); any other query through the session, or the commit,
    writes it first. A rollback drops it with the rest of the work.
    """
    values = {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "detail": detail or None,
    }
    write_pending(session)
    if session.get_bind().dialect.name == "postgresql":
        session.info[_PENDING] = values
        return
    session.connection().execute(_INSERT, values)


def take_pending(session: Session) -> dict[str, Any] | None:
    """The entry held for the next statement, now the caller's to write (``bot.core.outbox``)."""
    return session.info.pop(_PENDING, None)  # type: ignore[no-any-return]


def write_pending(session: Session) -> None:
    values = session.info.pop(_PENDING, None)
    if values is not None:
        session.connection().execute(_INSERT, values)


@event.listens_for(Session, "do_orm_execute")
def _before_a_query(state: Any) -> None:  # noqa: ANN401 - sqlalchemy's ORMExecuteState
    write_pending(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:  # noqa: ANN401
    session.info.pop(_PENDING, None)
