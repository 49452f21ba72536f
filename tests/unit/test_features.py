"""The feature registry (bot.app.features): everything a feature plugs in is listed once, and
nothing is left out silently."""

from __future__ import annotations

import pkgutil

import pytest

import handlers
from bot.app.features import FEATURES
from bot.core.features import Feature, Features
from bot.core.jobs import JobSpec, every_quarter


def test_every_listener_module_is_registered() -> None:
    """A new module under handlers/ that the registry forgot would never answer Slack."""
    shared = {"handlers.common"}
    modules = {f"handlers.{m.name}" for m in pkgutil.iter_modules(handlers.__path__)} - shared
    registered = {register.__module__ for register in FEATURES.listeners()}
    assert registered == modules


def test_the_contracts_jobs_and_the_reminders_are_all_there() -> None:
    assert set(FEATURES.jobs()) == {"open-proposals", "allocate-learning-audits", "draw-random-sample",
                                    "send-reminders", "post-learning-themes", "cib-digest", "purge-old-records",
                                    "list-cover-needed"}
    labels = [label for label, _ in FEATURES.reminders()]
    assert labels == ["proposals", "learning audits", "actions", "random sampling", "learning visits",
                      "themed audits", "learning themes"]
    assert len(FEATURES.todo_sources()) == 9
    assert [len(FEATURES.digest(section)) for section in ("themes", "sample")] == [1, 1]


def test_two_jobs_with_one_name_are_refused() -> None:
    spec = JobSpec(name="twice", description="", cron={}, period=every_quarter, run=lambda ctx: "")
    with pytest.raises(ValueError, match="twice"):
        Features((Feature("a", jobs=(spec,)), Feature("b", jobs=(spec,)))).jobs()
