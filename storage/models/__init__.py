"""All models, imported here so Alembic and the app see one metadata."""

from storage.models.base import Base, UtcDateTime, utcnow
from storage.models.directory import (
    CibMeeting,
    Division,
    DivisionLeader,
    Forum,
    OrgChannel,
    OrgSetting,
    Person,
    PersonRole,
    Service,
    Team,
    TeamMember,
)
from storage.models.learning import Action, LearningAudit, LearningRound, Proposal, Reflection, ThemeTag
from storage.models.ops import AuditLogEntry, JobRun, OutboxMessage

__all__ = [
    "Action",
    "LearningAudit",
    "LearningRound",
    "Proposal",
    "Reflection",
    "ThemeTag",
    "AuditLogEntry",
    "Base",
    "CibMeeting",
    "Division",
    "DivisionLeader",
    "Forum",
    "JobRun",
    "OrgChannel",
    "OrgSetting",
    "OutboxMessage",
    "Person",
    "PersonRole",
    "Service",
    "Team",
    "TeamMember",
    "UtcDateTime",
    "utcnow",
]
