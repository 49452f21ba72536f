"""All models, imported here so Alembic and the app see one metadata."""

# Feature models, imported by name so that Alembic and the app see one metadata.
from storage.models import commissions as commissions  # noqa: E402,F401
from storage.models import sampling as sampling  # noqa: E402,F401
from storage.models import themes as themes  # noqa: E402,F401
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
from storage.models.ops import (
    AuditLogEntry,
    CoverNotice,
    HomeView,
    JobRun,
    OutboxMessage,
    SlackEvent,
    ViewSubmission,
)

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
    "CoverNotice",
    "Division",
    "DivisionLeader",
    "Forum",
    "HomeView",
    "JobRun",
    "SlackEvent",
    "OrgChannel",
    "OrgSetting",
    "OutboxMessage",
    "Person",
    "PersonRole",
    "Service",
    "Team",
    "TeamMember",
    "UtcDateTime",
    "ViewSubmission",
    "utcnow",
]
