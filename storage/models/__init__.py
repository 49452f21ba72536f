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
from storage.models.ops import AuditLogEntry, HomeView, JobRun, OutboxMessage, SlackEvent

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
    "utcnow",
]

# Feature models that live in their own modules register on Base.metadata when imported.
import importlib as _importlib  # noqa: E402
import importlib.util as _importlib_util  # noqa: E402

for _feature in ("storage.models.sampling", "storage.models.commissions", "storage.models.themes"):
    if _importlib_util.find_spec(_feature) is not None:
        _importlib.import_module(_feature)
