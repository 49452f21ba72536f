"""`qmf-bot demo` plays the whole quarter offline and leaves a transcript a manager can read."""

from __future__ import annotations

import re
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
                  "Continuous Improvement Board", "The quarter's reports",
                  "a Service Manager away, their audits reassigned by Q&I", "amends a recorded learning audit"):
        assert any(words in c for c in chapters), f"no chapter about {words!r}: {chapters}"
    for happened in ("Scheduled job `open-proposals`", "Scheduled job `allocate-learning-audits`",
                     "Scheduled job `draw-random-sample`", "Scheduled job `cib-digest`",
                     "This looks like a postcode", "was already proposed", "You withdrew *CIC-20509*",
                     "Add an action", "Mark done", "is overdue", "# CIB digest",
                     # issue 16: someone away, their audit reassigned (after a refusal), an amendment
                     "types `/qmf away 2026-05-26 2026-06-12`", "# Work needing cover", "is not independent of",
                     "has moved to <@", "=== Amend learning audit ===", "amended the learning audit of",
                     # issue 17: a Q&I lead gets the sample report in Slack; the sectioned grading
                     "U0QI1 types `/qmf report sample`", "**File in the DM of U0QI1",
                     "Voice and lived experience of the child: <static_select: Choose a grade:",
                     "Overall grade: <static_select", "Grades by section of practice"):
        assert happened in transcript, happened


def test_each_service_manager_has_their_own_file_of_what_they_saw(demo_out) -> None:  # noqa: ANN001
    _, out = demo_out
    transcript = (out / "transcript.md").read_text(encoding="utf-8")
    away = re.findall(r"^### (U0SM\d) .* types `/qmf away ", transcript, flags=re.MULTILINE)
    assert len(away) == 1, away  # the cover scene: one Service Manager goes on leave
    for sm in ("U0SM1", "U0SM2", "U0SM3", "U0SM4"):
        seen = (out / "people" / f"{sm}.md").read_text(encoding="utf-8")
        assert "# Learning audit:" in seen  # each was allocated cases, even where the transcript is quiet
        # the themes drafts go out while the one on leave is away: they are not prompted, Q&I post
        assert ("Learning themes to review" in seen) == (sm != away[0]), sm


def test_the_quarters_reports_are_written(demo_out) -> None:  # noqa: ANN001
    _, out = demo_out
    reports = out / "reports"
    assert "# Random sample 2026-27 Q1" in (reports / "sample-2026-27Q1.md").read_text(encoding="utf-8")
    assert "Learning themes" in (reports / "themes-2026-27Q1.md").read_text(encoding="utf-8")
    book = load_workbook(reports / "sample-2026-27Q1.xlsx")
    assert sum(row[1] for row in book["Grades"].iter_rows(min_row=2, values_only=True)) == 10
    charts = sorted(p.name for p in out.glob("*.png"))
    assert any("random-sample" in c for c in charts), charts  # the sample's grades
    assert len([c for c in charts if "learning-themes" in c]) >= 4, charts  # each service's last four quarters


def shown_to(transcript: str) -> list[tuple[str, str]]:
    """(heading, what was shown) for each thing the transcript quotes: "**DM to ...**" then "> ..."."""
    out = []
    for chunk in transcript.split("\n**")[1:]:
        heading, _, rest = chunk.partition("**")
        quoted = [line[2:] for line in rest.strip().splitlines() if line.startswith(">")]
        out.append((heading, "\n".join(quoted)))
    return out


def test_the_transcript_shows_the_learning_reaching_the_people_who_learn_from_it(demo_out) -> None:  # noqa: ANN001
    """Issue #15's "Must show": a practitioner receiving their random-sample findings, a team manager
    receiving one combined message, and a service post with ranked themes and the rolling view."""
    _, out = demo_out
    seen = shown_to((out / "transcript.md").read_text(encoding="utf-8"))

    findings = [body for heading, body in seen if re.match(r"DM to U0P\d+ \(social worker", heading)
                and "Random sample findings" in body]
    assert findings, "no practitioner is shown their random-sample findings"
    assert all(w in findings[0] for w in ("your case", "agreed", "What was strong", "What to develop")), findings[0]

    combined = [body for heading, body in seen if re.match(r"DM to U0TM\d \(Team Manager", heading)
                and len(set(re.findall(r"\bCIC-1\d{3}\b", body))) >= 2]
    assert combined, "no team manager is shown one message naming several drawn cases"

    posts = [body for heading, body in seen if heading.startswith("Post in channel C0CIC")
             and "# Learning themes: Children in Care" in body]
    assert posts, "no learning-themes post in Children in Care's channel"
    post = posts[0]
    assert "Areas to improve: most raised first" in post and "1. *" in post  # ranked, without a column of counts
    rolling = post[post.index("The last four quarters"):]
    assert re.search(r"To improve: \*[^*]+\*: \d+", rolling), rolling  # counted over the year
    assert any(heading.startswith("File in channel C0CIC") for heading, _ in seen)  # and charted
