"""Slack listeners only: each flow's module has one register(app, rt), called once here."""

from __future__ import annotations

from slack_bolt import App

from bot.runtime import Runtime


def register_all(app: App, rt: Runtime) -> None:
    from handlers import commands

    for module in (commands,):
        module.register(app, rt)
