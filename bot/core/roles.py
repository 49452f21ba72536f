"""The roles a person can hold, and the org file's named channels, by name. Roles that follow from the directory's structure
(Service Manager, Team Manager, practitioner, DLT member) are worked out by ``directory.who``;
the others are stored as PersonRole rows from the org file's ``people:`` lists."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SERVICE_MANAGER = "service_manager"
    TEAM_MANAGER = "team_manager"
    PRACTITIONER = "practitioner"
    DLT = "dlt"
    QUALITY_IMPROVEMENT = "quality_improvement"
    PRACTICE_CONSULTANT = "practice_consultant"
    SENIOR_MANAGER = "senior_manager"
    REVIEWING_OFFICER = "reviewing_officer"
    ADMIN = "admin"
    BOARD_LEAD = "board_lead"


class Channel(StrEnum):
    """The org file's named channels (``channels:``), besides each service's own."""

    QUALITY_IMPROVEMENT = "quality_improvement"
    BOARD = "continuous_improvement_board"


# org-file `people:` key -> stored role
PEOPLE_ROLES: dict[str, str] = {
    "quality_improvement": Role.QUALITY_IMPROVEMENT,
    "practice_consultants": Role.PRACTICE_CONSULTANT,
    "senior_managers": Role.SENIOR_MANAGER,
    "reviewing_officers": Role.REVIEWING_OFFICER,
    "admins": Role.ADMIN,
    "board_leads": Role.BOARD_LEAD,
}
ROLE_TITLES: dict[str, str] = {
    Role.QUALITY_IMPROVEMENT: "Quality & Improvement",
    Role.PRACTICE_CONSULTANT: "Practice Consultant",
    Role.SENIOR_MANAGER: "Senior manager",
    Role.REVIEWING_OFFICER: "Independent Reviewing Officer / CP Co-ordinator",
    Role.ADMIN: "Admin",
    Role.BOARD_LEAD: "Board lead",
}
