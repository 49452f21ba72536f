"""The org directory: divisions, services, teams, people and their roles, channels, forums."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    slack_id: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    away_from: Mapped[date | None]  # None with an away_until: away from whenever until then
    away_until: Mapped[date | None]

    roles: Mapped[list[PersonRole]] = relationship(back_populates="person", cascade="all, delete-orphan")


class PersonRole(Base):
    """Roles that are not implied by the structure (SM, TM, DLT and practitioner are)."""

    __tablename__ = "person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))

    person: Mapped[Person] = relationship(back_populates="roles")


class Division(Base):
    __tablename__ = "divisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)

    leaders: Mapped[list[DivisionLeader]] = relationship(cascade="all, delete-orphan")


class DivisionLeader(Base):
    __tablename__ = "division_leaders"
    __table_args__ = (UniqueConstraint("division_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    person: Mapped[Person] = relationship()


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id"), index=True)
    service_manager_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    division: Mapped[Division] = relationship()
    service_manager: Mapped[Person] = relationship()
    teams: Mapped[list[Team]] = relationship(back_populates="service", order_by="Team.position")


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    team_manager_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    service: Mapped[Service] = relationship(back_populates="teams")
    team_manager: Mapped[Person] = relationship()
    members: Mapped[list[TeamMember]] = relationship(cascade="all, delete-orphan", order_by="TeamMember.position")


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    person: Mapped[Person] = relationship()


class OrgChannel(Base):
    """Named channels from the org file (quality_improvement, continuous_improvement_board, ...)."""

    __tablename__ = "org_channels"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))


class Forum(Base):
    __tablename__ = "forums"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class OrgSetting(Base):
    """Organisation-wide values from the org file: its name, timezone, policy, extra holidays."""

    __tablename__ = "org_settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class CibMeeting(Base):
    """A pre-scheduled Continuous Improvement Board meeting."""

    __tablename__ = "cib_meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    meets_on: Mapped[date] = mapped_column(unique=True)
    source: Mapped[str] = mapped_column(String(20), default="org-file")
