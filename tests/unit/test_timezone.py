"""One source for the council's timezone: QMF_TIMEZONE. The org file's ``timezone:`` is kept for
export but never decides a date or a deadline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.core import council
from bot.core.settings import DEFAULT_TIMEZONE, load_settings
from storage.models import OrgSetting


@pytest.fixture
def fresh_timezone() -> Iterator[None]:
    council.council_timezone.cache_clear()
    yield
    council.council_timezone.cache_clear()


def test_qmf_timezone_wins_over_the_org_file(db, monkeypatch, fresh_timezone):
    monkeypatch.setenv("QMF_TIMEZONE", "Asia/Tokyo")
    with db.session() as session:
        session.merge(OrgSetting(key="timezone", value="America/New_York"))
    with db.session() as session:
        assert str(council.calendar_of(session).tz) == "Asia/Tokyo"
        assert str(council.calendar_of(session, "Europe/Paris").tz) == "Europe/Paris", "the runtime's settings"


def test_the_default_is_europe_london_whatever_the_org_file_says(db, monkeypatch, fresh_timezone):
    monkeypatch.delenv("QMF_TIMEZONE", raising=False)
    with db.session() as session:
        session.merge(OrgSetting(key="timezone", value="America/New_York"))
    with db.session() as session:
        assert str(council.calendar_of(session).tz) == DEFAULT_TIMEZONE == "Europe/London"
    assert council.DEFAULT_TIMEZONE == load_settings().qmf_timezone == DEFAULT_TIMEZONE


def test_a_bad_qmf_timezone_is_refused_by_the_settings_not_guessed(monkeypatch, fresh_timezone):
    monkeypatch.setenv("QMF_TIMEZONE", "Mars/Olympus")
    assert council.council_timezone() == DEFAULT_TIMEZONE  # the calendar still works ...
    with pytest.raises(Exception, match="QMF_TIMEZONE is not a known timezone"):
        load_settings()  # ... and every command stops on the one clear line first
