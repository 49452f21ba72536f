"""Deployment settings: exactly the environment variables in CONTRACTS.md.

Everything a council decides about how it runs the framework lives in the org file's
``settings:`` (see ``bot.core.policy``); this module holds only what differs between deployments.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_DEFAULT_API_URL = "https://slack.com/api/"

Need = Literal["serve", "socket", "scheduler", "offline"]

_HOW_TO_FIX = {
    "SLACK_BOT_TOKEN": "set it to the app's bot token (starts with xoxb-), from the Slack app's OAuth page",
    "SLACK_SIGNING_SECRET": "set it to the signing secret on the Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "set it to an app-level token (starts with xapp-) with the connections:write scope",
    "SLACK_API_URL": "set it to an http(s) URL such as https://slack.com/api/, or unset it",
    "DATABASE_URL": "set it to a SQLAlchemy URL such as sqlite:///qmf.db or postgresql+psycopg://user@host/db",
    "QMF_ORG_FILE": "set it to the path of an org file (YAML), or unset it",
    "QMF_TIMEZONE": "set it to an IANA timezone such as Europe/London",
}


class SettingsError(Exception):
    """One line naming the variable and what to do; the CLI prints it without a traceback."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = SLACK_DEFAULT_API_URL
    database_url: str = "sqlite:///qmf.db"
    qmf_org_file: str | None = None
    qmf_timezone: str = "Europe/London"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        if not value.startswith(("sqlite", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("qmf_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known timezone") from exc
        return value

    def require(self, need: Need) -> Settings:
        """Check the variables a mode needs, so a missing one stops the program before it starts."""
        wanted = {
            "serve": ("slack_bot_token", "slack_signing_secret"),
            "socket": ("slack_bot_token", "slack_app_token"),
            "scheduler": ("slack_bot_token",),
            "offline": (),
        }[need]
        for field in wanted:
            if not getattr(self, field):
                name = field.upper()
                raise SettingsError(f"{name} is not set: {_HOW_TO_FIX[name]}.")
        return self


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and .env); a bad value becomes one SettingsError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
        message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
        raise SettingsError(f"{name} {message}: {_HOW_TO_FIX.get(name, 'fix it')}.") from None
