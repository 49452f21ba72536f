"""Slack listeners only: each flow's module has one register(app, rt), called once here."""

from __future__ import annotations

import importlib
import importlib.util

from slack_bolt import App

from bot.core.runtime import Runtime

FLOWS = (
    "handlers.commands",
    "handlers.proposals",
    "handlers.learning_audits",
    "handlers.actions",
    "handlers.themes",
    "handlers.sampling",
    "handlers.commissions",
    "handlers.home",
)


def register_all(app: App, rt: Runtime) -> None:
    for name in FLOWS:
        if importlib.util.find_spec(name) is None:
            continue  # a flow not built yet
        importlib.import_module(name).register(app, rt)
