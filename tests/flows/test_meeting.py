"""The learning-audit meeting through signed requests: the auditor chooses a time in a modal, the
group DM gets it with an .ics invitation (parsed back here), bad days are refused inline, a changed
time updates the same invitation, the group DM is reminded the working day before, and the record
says when the meeting happened."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.app.sandbox.render import render_blocks
from storage.models import AuditLogEntry
from tests.conftest import london
from tests.flows.test_learning_audits_flow import case as case  # noqa: F401 - the allocated case fixture
from tests.flows.test_learning_audits_flow import dm_about, stored

MEETING = {"Meeting date": date(2026, 5, 5), "Start time": "10:00", "Length": "1 hour",
           "Where": "Room 2, Civic Centre"}


def parse_ics(content: bytes) -> dict[str, str]:
    """The VEVENT's properties (name with parameters -> unescaped value), after RFC 5545 unfolding."""
    text = content.decode()
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    event = lines[lines.index("BEGIN:VEVENT") + 1: lines.index("END:VEVENT")]
    out: dict[str, str] = {}
    for line in event:
        name, _, value = line.partition(":")
        out[name] = value.replace("\\,", ",").replace("\\;", ";").replace("\\n", "\n").replace("\\\\", "\\")
    assert lines[0] == "BEGIN:VCALENDAR" and "END:VCALENDAR" in lines and "TZID:Europe/London" in lines
    return out


def ics_files(fake, channel: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [f for f in fake.files if f["channel_id"] == channel and f["filename"].endswith(".ics")]


def open_meeting(slack, fake, case) -> dict[str, Any]:  # noqa: ANN001, F811
    slack.click(case.auditor, f"Set up meeting for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Set up meeting"))
    view = fake.latest_view(case.auditor)
    assert view is not None and view["title"]["text"] == "Meeting"
    return view


def test_choosing_a_time_sends_the_group_dm_an_invitation_and_a_change_updates_it(bot, slack, fake, case):  # noqa: F811
    open_meeting(slack, fake, case)
    reply = slack.submit(case.auditor, MEETING)
    assert reply.errors == {} and fake.latest_view(case.auditor) is None
    [opened] = fake.calls("conversations.open")
    assert set(str(opened.args["users"]).split(",")) == {case.auditor, case.manager, case.holder}
    row = stored(bot, case)
    channel = row.meeting_channel
    assert channel and row.meeting_at == london(2026, 5, 5, 10) and row.meeting_minutes == 60
    posts = [render_blocks(m["blocks"], m["text"]) for m in fake.messages(channel) if m["text"]]
    assert len(posts) == 2 and "meet in person" in posts[0]
    assert "Tue 5 May 2026, 10:00 to 11:00" in posts[1] and "Room 2, Civic Centre" in posts[1]
    [first] = ics_files(fake, channel)
    event = parse_ics(first["content"])
    assert event["DTSTART;TZID=Europe/London"] == "20260505T100000"
    assert event["DTEND;TZID=Europe/London"] == "20260505T110000"
    assert event["LOCATION"] == "Room 2, Civic Centre" and event["SEQUENCE"] == "1"
    assert event["SUMMARY"] == f"Learning audit meeting: {case.case_ref}"
    invite = first["content"].decode()
    assert not any(p in invite for p in (case.auditor, case.manager, case.holder))
    with bot.rt.db.session() as session:
        logged = session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity == "learning_audit")).all()
        assert any("2026-05-05" in json.dumps(e.detail) for e in logged)

    moved = open_meeting(slack, fake, case)
    assert "2026-05-05" in json.dumps(moved["blocks"])  # the time set, to change
    assert slack.submit(case.auditor, {"Meeting date": date(2026, 5, 6), "Start time": "14:30"}).errors == {}
    assert len(fake.calls("conversations.open")) == 1
    posts = [render_blocks(m["blocks"], m["text"]) for m in fake.messages(channel) if m["text"]]
    assert len(posts) == 3 and "moved" in posts[2] and "Wed 6 May 2026, 14:30 to 15:30" in posts[2]
    second = parse_ics(ics_files(fake, channel)[1]["content"])
    assert second["UID"] == event["UID"] and second["SEQUENCE"] == "2"
    assert second["DTSTART;TZID=Europe/London"] == "20260506T143000"

    open_meeting(slack, fake, case)
    assert slack.submit(case.auditor, {}).errors == {}  # the same time again tells nobody twice
    assert len([m for m in fake.messages(channel) if m["text"]]) == 3 and len(ics_files(fake, channel)) == 2
    assert fake.problems == []


def test_a_weekend_a_bank_holiday_a_past_day_or_an_address_is_refused_inline(bot, slack, fake, case):  # noqa: F811
    bot.set_time(london(2026, 4, 20, 9))
    open_meeting(slack, fake, case)
    for values, block, words in (
        ({**MEETING, "Meeting date": date(2026, 4, 25)}, "meeting-date", "not a working day"),
        ({**MEETING, "Meeting date": date(2026, 5, 4)}, "meeting-date", "not a working day"),
        ({**MEETING, "Meeting date": date(2026, 4, 17)}, "meeting-date", "has passed"),
        ({**MEETING, "Meeting date": date(2026, 4, 20), "Start time": "08:30"}, "meeting-start", "has passed"),
        ({**MEETING, "Where": "12 Acacia Road, SW1A 1AA"}, "meeting-place", "postcode"),
    ):
        reply = slack.submit(case.auditor, values)
        assert words in reply.errors.get(block, ""), (values, reply.errors)
    assert fake.calls("conversations.open") == []
    assert stored(bot, case).meeting_at is None and stored(bot, case).meeting_channel is None
    assert fake.problems == []


def test_the_group_dm_is_reminded_on_the_working_day_before(bot, slack, fake, case):  # noqa: F811
    open_meeting(slack, fake, case)
    assert slack.submit(case.auditor, MEETING).errors == {}
    channel = stored(bot, case).meeting_channel

    def reminders() -> list[str]:
        return [m["text"] for m in fake.messages(channel) if m["text"].startswith("Reminder")]

    bot.run_job("send-reminders", at=london(2026, 4, 30, 9, 30))
    assert reminders() == []
    # Tue 5 May: Mon 4 May is the early May bank holiday, so the working day before is Fri 1 May
    bot.run_job("send-reminders", at=london(2026, 5, 1, 9, 30))
    bot.run_job("send-reminders", at=london(2026, 5, 1, 15, 0))
    assert reminders() == [f"Reminder: the learning audit meeting for case {case.case_ref} is "
                           "Tue 5 May 2026, 10:00 to 11:00."]
    assert fake.problems == []


def test_the_record_shows_when_the_meeting_was_held(bot, slack, fake, case):  # noqa: F811
    slack.click(case.auditor, f"Record learning audit for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"))
    assert "no time was set" in render_blocks(fake.latest_view(case.auditor)["blocks"])
    open_meeting(slack, fake, case)
    assert slack.submit(case.auditor, MEETING).errors == {}
    slack.click(case.auditor, f"Record learning audit for {case.case_ref}",
                message=dm_about(fake, case.auditor, case.case_ref, "Record learning audit"))
    assert "Meeting held on* Tue 5 May 2026" in render_blocks(fake.latest_view(case.auditor)["blocks"])
    assert fake.problems == []
