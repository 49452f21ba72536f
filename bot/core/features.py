"""What a feature plugs into the rest of the bot, as plain data.

The list of features is said once, in the shell (``bot.app.features.FEATURES``), importing each
by name. The runtime carries it, so the parts that gather from every feature (the reminders job,
App Home's to-do list, the Board's digest) ask the runtime, never import other features, and
never look a module up by its name: a feature that is renamed or missing fails at import, loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from bot.core.jobs import JobContext, JobSpec
from bot.core.todo import Todo
from bot.core.work import WorkKind
from bot.core.year import YearSource

TodoSource = Callable[[Session, str, date], list[Todo]]
"""(session, slack_id, today) -> what is that person's to do now."""
ReminderSource = Callable[[JobContext], str]
"""Sends the reminders a feature owes today; returns a one-line summary for the job's log."""
DigestSource = Callable[[Session, date, date], list[str]]
"""(session, since, until) -> aggregated lines for the Continuous Improvement Board's digest."""


@dataclass(frozen=True)
class Feature:
    name: str
    listeners: tuple[Callable[[Any, Any], None], ...] = ()
    """``register(app, rt)`` of the feature's handlers modules (wired by the shell only)."""
    jobs: tuple[JobSpec, ...] = ()
    reminders: tuple[tuple[str, ReminderSource], ...] = ()
    """(label, function) pairs, run in order by the daily send-reminders job."""
    todo: tuple[TodoSource, ...] = ()
    digest: tuple[tuple[str, DigestSource], ...] = ()
    """(section, function): the digest's sections, e.g. ("themes", ...), ("sample", ...)."""
    work: tuple[WorkKind, ...] = ()
    """The kinds of open work the feature's people hold, so cover can list and move them."""
    year: tuple[YearSource, ...] = ()
    """The feature's tables in the Board's rolling four-quarter view (``bot.core.year``)."""


@dataclass(frozen=True)
class Features:
    """Every feature, in the order they run and show."""

    all: tuple[Feature, ...] = ()

    def jobs(self) -> dict[str, JobSpec]:
        found: dict[str, JobSpec] = {}
        for feature in self.all:
            for spec in feature.jobs:
                if spec.name in found:
                    raise ValueError(f"two jobs are called {spec.name!r}")
                found[spec.name] = spec
        return found

    def reminders(self) -> list[tuple[str, ReminderSource]]:
        return [pair for feature in self.all for pair in feature.reminders]

    def todo_sources(self) -> list[TodoSource]:
        return [source for feature in self.all for source in feature.todo]

    def digest(self, section: str) -> list[DigestSource]:
        return [fn for feature in self.all for name, fn in feature.digest if name == section]

    def year_sources(self) -> list[YearSource]:
        return [source for feature in self.all for source in feature.year]

    def work_kinds(self) -> dict[str, WorkKind]:
        found: dict[str, WorkKind] = {}
        for feature in self.all:
            for kind in feature.work:
                if kind.kind in found:
                    raise ValueError(f"two kinds of work are called {kind.kind!r}")
                found[kind.kind] = kind
        return found

    def listeners(self) -> Sequence[Callable[[Any, Any], None]]:
        return [register for feature in self.all for register in feature.listeners]
