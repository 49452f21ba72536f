"""The audit log: who created, viewed in detail, edited or exported what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from storage.models import AuditLogEntry, utcnow


def record(session: Session, actor: str, action: str, entity: str, entity_id: object | None = None,
           **detail: Any) -> None:
    """Write one entry in the caller's transaction (it commits or rolls back with the work)."""
    session.add(
        AuditLogEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail or None,
        )
    )
