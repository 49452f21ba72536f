"""The App Home view keeps to Slack's limits however much there is to show, and says what it left out."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from bot.core.blocks import SECTION_LIMIT
from bot.core.calendar import WorkingCalendar
from bot.core.todo import Todo
from bot.home.messages import MAX_BLOCKS, home_view, job_answer
from bot.home.service import HOME_JOBS, HomeContent, ServiceProgress

QUARTER = WorkingCalendar("Europe/London").quarter(datetime(2026, 4, 1, 9, tzinfo=UTC))


def content(services: int, todos: int = 0) -> HomeContent:
    return HomeContent(
        slack_id="U0QI1", known=True, quarter=QUARTER,
        todos=[Todo(date(2026, 5, 1), "action", f"Action {n}", "Mark done", "action-done", str(n))
               for n in range(todos)],
        coming=["Proposals close soon."],
        progress=[ServiceProgress(f"Locality Service {n:04d} & Early Help", n % 7, 2, 1, n % 2)
                  for n in range(services)],
        jobs=dict(HOME_JOBS),
    )


def texts(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


def test_every_service_is_listed_in_sections_within_slacks_limit():
    view = home_view(content(200, todos=30)).to_dict()
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert all(len(t) <= SECTION_LIMIT for t in texts(view))
    listed = re.findall(r"Locality Service (\d{4})", json.dumps(view))
    assert [int(n) for n in listed] == list(range(200))
    assert "more services are not shown" not in json.dumps(view)


def test_more_services_than_home_can_hold_are_counted_not_dropped_silently():
    view = home_view(content(4000, todos=30)).to_dict()
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert all(len(t) <= SECTION_LIMIT for t in texts(view))
    shown = len(re.findall(r"Locality Service \d{4}", json.dumps(view)))
    note = re.search(r"(\d+) more services are not shown here", json.dumps(view))
    assert note is not None and shown + int(note.group(1)) == 4000
    labels = [e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "Refresh" in labels and "Open proposals now" in labels and "Next page" in labels


def test_a_job_that_is_not_due_says_why_with_a_readable_date():
    """Home answers with the reason the job gave, its ISO dates written as people write them."""
    answer = job_answer(HOME_JOBS["draw-random-sample"], "not-due",
                        "the random sample for 2026-27 Q1 is drawn on 2026-04-01")
    assert answer.startswith("Not done yet: The random sample for 2026-27 Q1 is drawn on Wed 1 Apr 2026.")
    assert "2026-04-01" not in answer
