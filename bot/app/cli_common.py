"""What every command of the command line shares: its error, the settings and the database."""

from __future__ import annotations

from bot.core.settings import Settings, load_settings
from storage.db import Database


class CliError(Exception):
    """A failure with one clear line for the person at the terminal."""


def load() -> Settings:
    return load_settings()


def database(settings: Settings, *, ensure: bool = True) -> Database:
    db = Database(settings.database_url)
    if ensure:
        db.ensure_schema()
    return db
