"""`qmf-bot demo` plays the whole quarter offline and leaves a transcript a manager can read."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app.sandbox import demo


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    return demo.run_demo(out), out


def test_the_demo_finishes_cleanly_with_every_chapter_in_the_transcript(demo_out) -> None:  # noqa: ANN001
    code, out = demo_out
    assert code == 0  # run_demo answers 1 when the local Slack would have refused anything
    transcript = (out / "transcript.md").read_text(encoding="utf-8")
    chapters = [line[3:] for line in transcript.splitlines() if line.startswith("## ")]
    contents = transcript.split("## ")[0]
    assert all(f"{i}. {c}" in contents for i, c in enumerate(chapters, 1))
    for words in ("Getting started", "managers propose cases", "independent allocation",
                  "the audit record", "Action plans", "Learning themes", "Random sampling audits",
                  "Continuous Improvement Board", "The quarter's reports"):
        assert any(words in c for c in chapters), f"no chapter about {words!r}: {chapters}"
    for happened in ("Scheduled job `open-proposals`", "Scheduled job `allocate-learning-audits`",
                     "Scheduled job `draw-random-sample`", "Scheduled job `cib-digest`",
                     "This looks like a postcode", "was already proposed", "You withdrew *CIC-20509*",
                     "Add an action", "Mark done", "is overdue", "# CIB digest"):
        assert happened in transcript, happened


def test_each_service_manager_has_their_own_file_of_what_they_saw(demo_out) -> None:  # noqa: ANN001
    _, out = demo_out
    for sm in ("U0SM1", "U0SM2", "U0SM3", "U0SM4"):
        seen = (out / "people" / f"{sm}.md").read_text(encoding="utf-8")
        assert "# Learning audit:" in seen  # each was allocated cases, even where the transcript is quiet
        assert "Learning themes to review" in seen


def test_the_quarters_reports_are_written(demo_out) -> None:  # noqa: ANN001
    _, out = demo_out
    reports = out / "reports"
    assert "# Random sample 2026-27 Q1" in (reports / "sample-2026-27Q1.md").read_text(encoding="utf-8")
    assert "Learning themes" in (reports / "themes-2026-27Q1.md").read_text(encoding="utf-8")
    book = load_workbook(reports / "sample-2026-27Q1.xlsx")
    assert sum(row[1] for row in book["Grades"].iter_rows(min_row=2, values_only=True)) == 10
    assert sorted(p.suffix for p in out.glob("*.png")) == [".png", ".png"]  # the two charts
