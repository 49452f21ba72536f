"""The council's own settings as every part of the bot reads them: its policy and its calendar.

One way to read them: both rows in one statement, once per transaction (a request asks for the
policy and the calendar), never kept across sessions, so a changed setting is seen by the next
request. The parsed policy and the bank-holiday table are cached by their content."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.core import settings
from bot.core.calendar import WorkingCalendar
from bot.core.policy import Policy
from storage.models import OrgSetting

DEFAULT_TIMEZONE = settings.DEFAULT_TIMEZONE
_DEFAULT_POLICY = Policy()
_SETTINGS = "qmf.org_settings"
"""session.info key of the settings rows read for the session's current transaction."""
_SETTINGS_QUERY = select(OrgSetting.key, OrgSetting.value).where(
    OrgSetting.key.in_(("bank_holidays", "policy")))


@lru_cache(maxsize=32)
def _policy_from(raw_json: str) -> Policy:
    """Policies are frozen; parsing one per request would be wasted work on the ack path."""
    return Policy.model_validate(json.loads(raw_json))


@lru_cache(maxsize=32)
def _calendar(tz: str, extra: tuple[str, ...], start_month: int) -> WorkingCalendar:
    """Building the bank-holiday table is slow; a calendar never changes for the same inputs."""
    return WorkingCalendar(tz, extra_holidays=[date.fromisoformat(d) for d in extra], year_start_month=start_month)


def _org_settings(session: Session) -> dict[str, Any]:
    cached: dict[str, Any] | None = session.info.get(_SETTINGS)
    if cached is None:
        cached = {key: value for key, value in session.execute(_SETTINGS_QUERY)}
        session.info[_SETTINGS] = cached
    return cached


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_org_settings(session: Session, *_args: Any) -> None:
    """A flush may have written the settings, and a new transaction may see someone else's change."""
    session.info.pop(_SETTINGS, None)


def policy_of(session: Session) -> Policy:
    """The council's policy (org file ``settings:``), or the defaults."""
    rows = _org_settings(session)
    found: Policy | None = rows.get("policy:parsed")
    if found is None:
        raw = rows.get("policy")
        found = _policy_from(json.dumps(raw, sort_keys=True)) if raw else _DEFAULT_POLICY
        rows["policy:parsed"] = found
    return found


@lru_cache(maxsize=1)
def council_timezone() -> str:
    """The council's one timezone: QMF_TIMEZONE (default Europe/London), read once per process.

    The org file's ``timezone:`` is not a second source: it is stored for ``org export`` only.
    The runtime passes its own settings' value to ``calendar_of``; this is for code without one."""
    try:
        return settings.load_settings().qmf_timezone
    except settings.SettingsError:
        return DEFAULT_TIMEZONE  # the process's own settings check names the bad variable


def calendar_of(session: Session, timezone: str | None = None) -> WorkingCalendar:
    """The council's working calendar: its timezone (QMF_TIMEZONE: the runtime's settings when
    given, else the environment's), bank holidays and first month of the year."""
    rows = _org_settings(session)
    start_month = (rows.get("policy") or {}).get("year_start_month", 4)
    tz = timezone or council_timezone()
    return _calendar(tz, tuple(rows.get("bank_holidays") or ()), start_month)
