"""The audit log: who created, viewed in detail, edited or exported what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from storage.models import AuditLogEntry, utcnow

_INSERT = insert(AuditLogEntry)


def record(session: Session, actor: str, action: str, entity: str, entity_id: object | None = None,
           **detail: Any) -> None:
    """Write one entry in the caller's transaction (it commits or rolls back with the work).

    A plain insert on the session's connection: nothing reads the entry back in the same unit of
    work, and the ORM's flush of it cost more than the insert on every request that changes data."""
    session.connection().execute(_INSERT, {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "detail": detail or None,
    })
