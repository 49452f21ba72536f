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
DEFAULT_TIMEZONE = "Europe/London"
"""QMF_TIMEZONE's default. QMF_TIMEZONE is the council's one timezone: the scheduler's crons, working
days, deadlines and dates in messages all use it; an org file's ``timezone:`` key is kept for export
but never used (see ``bot.core.council.council_timezone``)."""

Need = Literal["serve", "socket", "scheduler", "offline"]

_HOW_TO_FIX = {
    "SLACK_BOT_TOKEN": "set it to the app's bot token (starts with xoxb-), from the Slack app's OAuth page",
    "SLACK_SIGNING_SECRET": "set it to the signing secret on the Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "set it to an app-level token (starts with xapp-) with the connections:write scope",
    "SLACK_API_URL": "set it to an http(s) URL such as https://slack.com/api/, or unset it",
    "DATABASE_URL": "set it to a SQLAlchemy URL such as sqlite:///qmf.db or postgresql+psycopg://user@host/db",
    "QMF_ORG_FILE": "set it to the path of an org file (YAML), or unset it",
    "QMF_TIMEZONE": "set it to an IANA timezone such as Europe/London",
    "QMF_LOG_FORMAT": "set it to text (the default) or json (one JSON object per line), or unset it",
    "QMF_HEALTH_OUTBOX_STUCK": "set it to a number of seconds above 0, such as 600, or unset it",
    "QMF_HEALTH_JOB_GRACE": "set it to a number of seconds above 0, such as 3600, or unset it",
    "SENTRY_DSN": "set it to the DSN from your Sentry project's Client Keys page (https://...), or unset it",
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
    qmf_timezone: str = DEFAULT_TIMEZONE
    qmf_log_format: Literal["text", "json"] = "text"
    qmf_health_outbox_stuck: float = 600.0
    qmf_health_job_grace: float = 3600.0
    sentry_dsn: str | None = None

    @field_validator("qmf_log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("text", "json"):
            return value.strip().lower()
        if value is None or value == "":
            return "text"
        raise ValueError("must be text or json")

    @field_validator("qmf_health_outbox_stuck", "qmf_health_job_grace")
    @classmethod
    def _seconds(cls, value: float) -> float:
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError("must be a number of seconds above 0")
        return value

    @field_validator("sentry_dsn", mode="before")
    @classmethod
    def _sentry_dsn(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ValueError("must be a Sentry DSN URL")
        return value

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
