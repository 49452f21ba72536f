"""Learning themes: collation in the database, suppression, splitting, drafts, digest, exports."""

from __future__ import annotations

import argparse
import csv
import io
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.blocks import SECTION_LIMIT
from bot.core.calendar import WorkingCalendar
from bot.core.directory import import_org
from bot.core.orgfile import load_org_file
from bot.core.policy import Policy
from bot.core.privacy import SmallCounts
from bot.themes.collation import POINTS_PER_THEME, collate
from bot.themes.content import arrow, build_content, chart_data, chart_png, line_id
from bot.themes.jobs import review_quarter
from bot.themes.messages import edit_modal, post_messages
from bot.themes.service import key_messages_problem
from bot.themes.todo import digest_lines, todo_for
from bot.themes.types import GOOD_POINTS, IMPROVE_THEMES, Collation, Point, ThemeCount
from storage.models import (
    Action,
    LearningAudit,
    LearningRound,
    OrgSetting,
    Person,
    Proposal,
    Service,
    ThemeTag,
)
from storage.models.themes import ThemeDraft

Q1 = "2026-27Q1"
Q4_LAST_YEAR = "2025-26Q4"
TODAY = date(2026, 6, 20)

RISK = "Risk and safety"
ASSESS = "Assessment and analysis"
VOICE = "Voice and lived experience of the child"
MULTI = "Multi-agency working"


# ---------------------------------------------------------------------------------------------
# factories (also used by the flow tests)


_counter = {"n": 0}


def seed_audit(session: Session, *, quarter: str, service_key: str, improve: Sequence[str] = (),
               good: Sequence[str] = (), reflection: Sequence[str] = (), needed: str | None = None,
               good_practice: str | None = None, wider: str | None = None, status: str = "recorded",
               case_ref: str | None = None) -> LearningAudit:
    """A recorded learning audit with its theme tags, written straight to the database."""
    _counter["n"] += 1
    n = _counter["n"]
    service = session.scalar(select(Service).where(Service.key == service_key))
    assert service is not None
    team = service.teams[n % len(service.teams)]
    holder = team.members[n % len(team.members)].person_id
    other = session.scalar(select(Service).where(Service.key != service_key).order_by(Service.position))
    assert other is not None
    ref = case_ref or f"{service_key.upper()[:3]}-{10000 + n}"
    proposal = Proposal(quarter=quarter, case_ref=ref, live_ref=ref, service_id=service.id, team_id=team.id,
                        case_holder_id=holder, team_manager_id=team.team_manager_id,
                        proposed_by_id=team.team_manager_id, reason="Lots of learning in this case",
                        status="allocated")
    session.add(proposal)
    session.flush()
    audit = LearningAudit(
        quarter=quarter, proposal_id=proposal.id, auditor_id=other.service_manager_id, case_ref=ref,
        service_id=service.id, team_id=team.id, case_holder_id=holder, team_manager_id=team.team_manager_id,
        status=status, recorded_at=datetime(2026, 6, 1, tzinfo=UTC) if status == "recorded" else None,
        outcomes="Outcomes improved for the family", needed_to_improve=needed, good_practice=good_practice,
        wider_learning=wider, improve_themes=list(improve), good_practice_themes=list(good),
    )
    session.add(audit)
    session.flush()
    for theme in improve:
        session.add(ThemeTag(quarter=quarter, service_id=service.id, audit_id=audit.id, source="audit",
                             kind="improve", theme=theme))
    for theme in good:
        session.add(ThemeTag(quarter=quarter, service_id=service.id, audit_id=audit.id, source="audit",
                             kind="good", theme=theme))
    for theme in reflection:
        session.add(ThemeTag(quarter=quarter, service_id=service.id, audit_id=audit.id, source="reflection",
                             kind="improve", theme=theme))
    session.flush()
    return audit


def seed_standard_quarter(session: Session) -> dict[str, dict[str, int]]:
    """Children in Care: 8 audits in Q1 (Risk 7, Assessment 3, Voice good 6, Multi-agency good 2),
    5 audits in the quarter before (Risk 5, Assessment 4, Voice good 1). Child Protection: 2 audits."""
    for i in range(8):
        improve = [RISK] if i < 7 else []
        if i in (0, 1, 7):
            improve.append(ASSESS)
        good = [VOICE] if i < 6 else []
        if i in (6, 7):
            good.append(MULTI)
        seed_audit(session, quarter=Q1, service_key="cic", improve=improve, good=good,
                   reflection=[RISK] if i < 2 else [],
                   needed=f"Earlier safety planning with partners, point {'abcdefgh'[i]}",
                   good_practice=f"Direct work that captured the child's wishes, example {'abcdefgh'[i]}",
                   wider=f"Share the safety planning approach across teams, idea {'abcdefgh'[i]}")
    for i in range(5):
        improve = [RISK]
        if i < 4:
            improve.append(ASSESS)
        seed_audit(session, quarter=Q4_LAST_YEAR, service_key="cic", improve=improve,
                   good=[VOICE] if i == 0 else [], needed="Clearer analysis of risk")
    for _ in range(2):
        seed_audit(session, quarter=Q1, service_key="cp", improve=[RISK], good=[VOICE],
                   needed="Chronology kept up to date", good_practice="Strong partnership meetings")
    # not recorded yet: must not count
    seed_audit(session, quarter=Q1, service_key="cic", improve=[RISK, ASSESS], status="allocated",
               needed="Not yet recorded text")
    session.flush()
    return {"improve": {RISK: 7, ASSESS: 3}, "good": {VOICE: 6, MULTI: 2}}


@pytest.fixture
def session(db):  # type: ignore[no-untyped-def]
    s = db.sessions()
    import_org(s, load_org_file(SAMPLE_ORG))
    s.flush()
    yield s
    s.rollback()
    s.close()


def service_id(session: Session, key: str) -> int:
    found = session.scalar(select(Service.id).where(Service.key == key))
    assert found is not None
    return found


def counts_of(col: Collation, kind: str) -> dict[str, int]:
    return {c.theme: c.count for c in col.counts(kind) if c.count}


def set_policy(session: Session, **changes: Any) -> None:
    row = session.get(OrgSetting, "policy")
    policy = Policy.model_validate(row.value) if row else Policy()
    value = policy.model_copy(update=changes).model_dump(mode="json")
    if row is None:
        session.add(OrgSetting(key="policy", value=value))
    else:
        row.value = value
    session.flush()


# ---------------------------------------------------------------------------------------------
# collation


def test_theme_counts_are_recorded_audits_raising_each_theme_counted_once(session):
    expected = seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=service_id(session, "cic"), today=TODAY)
    assert col.audits_recorded == 8
    assert counts_of(col, "improve") == expected["improve"]  # reflection tags on the same audit count once
    assert counts_of(col, "good") == expected["good"]
    assert [c.theme for c in col.improve][:2] == [RISK, ASSESS]  # most raised first


def test_change_against_last_quarter_and_the_average_of_the_last_four(session):
    seed_standard_quarter(session)
    cic = service_id(session, "cic")
    # two quarters back: 3 audits, Risk raised in 1
    for i in range(3):
        seed_audit(session, quarter="2025-26Q3", service_key="cic", improve=[RISK] if i == 0 else [ASSESS])
    col = collate(session, quarter=Q1, service_id=cic, today=TODAY)
    risk = next(c for c in col.improve if c.theme == RISK)
    assess = next(c for c in col.improve if c.theme == ASSESS)
    assert (risk.count, risk.previous, risk.direction) == (7, 5, "up")
    assert (assess.count, assess.previous, assess.direction) == (3, 4, "down")
    # average over the earlier quarters that had audits (Q4: 5, Q3: 1), not over empty ones
    assert risk.average_last_four == pytest.approx(3.0)
    assert assess.average_last_four == pytest.approx(3.0)
    voice = next(c for c in col.good if c.theme == VOICE)
    assert (voice.count, voice.previous, voice.direction) == (6, 1, "up")


def test_no_direction_when_nothing_was_recorded_last_quarter(session):
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK])
    col = collate(session, quarter=Q1, service_id=service_id(session, "cin"), today=TODAY)
    assert col.improve[0].previous is None and col.improve[0].direction is None


def test_across_services_adds_the_services_up_and_lists_audits_by_service(session):
    seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=None, today=TODAY)
    assert col.audits_recorded == 10
    assert counts_of(col, "improve")[RISK] == 9
    assert counts_of(col, "good")[VOICE] == 8
    assert dict(col.by_service) == {"Children in Care": 8, "Child Protection": 2}
    assert col.scope_name == "all services"


def test_learning_points_are_grouped_under_their_most_raised_theme_and_shown_once(session):
    seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=service_id(session, "cic"), today=TODAY)
    texts = [p.text for p in col.improve_points]
    assert len(texts) == len(set(texts)) == 8
    by_theme = {p.text: p.theme for p in col.improve_points}
    # audit 0 raised Risk and Assessment: listed under Risk (raised more often), never twice
    assert by_theme["Earlier safety planning with partners, point a"] == RISK
    assert by_theme["Earlier safety planning with partners, point h"] == ASSESS
    assert "Not yet recorded text" not in texts
    assert len(col.good_points) == 8 and len(col.wider_learning) == 8


def test_points_per_theme_are_limited_by_the_database(session):
    for i in range(13):
        seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed=f"Point number {i} about risk")
    seed_audit(session, quarter=Q1, service_key="cin", improve=[], needed="A point with no theme")
    col = collate(session, quarter=Q1, service_id=service_id(session, "cin"), today=TODAY)
    risk_points = [p for p in col.improve_points if p.theme == RISK]
    assert len(risk_points) == POINTS_PER_THEME
    assert [p.text for p in col.improve_points if p.theme is None] == ["A point with no theme"]
    assert counts_of(col, "improve")[RISK] == 13  # counts are not limited


def test_points_with_a_case_reference_a_person_or_a_postcode_are_withheld(session):
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed="Follow up CIN-20001 sooner")
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed="Ask U0P11 to lead next time")
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed="Visit at SW1A 1AA was late")
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed="Record the plan in writing",
               case_ref="OLD7777")
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed="Mentioned OLD7777 by its ref")
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], needed="Plan with <@U0TM5> early")
    col = collate(session, quarter=Q1, service_id=service_id(session, "cin"), today=TODAY)
    assert [p.text for p in col.improve_points] == ["Record the plan in writing"]
    assert col.withheld == 5


def test_action_states_are_counted_for_the_service_and_quarter(session):
    audit = seed_audit(session, quarter=Q1, service_key="cic", improve=[RISK])
    owner = session.scalar(select(Person.id).where(Person.slack_id == "U0P1"))
    cic = service_id(session, "cic")
    rows = [("open", TODAY + timedelta(days=3)), ("open", TODAY - timedelta(days=1)), ("done", TODAY),
            ("open", TODAY - timedelta(days=9))]
    for status, due in rows:
        session.add(Action(source_kind="learning_audit", source_id=audit.id, service_id=cic, quarter=Q1,
                           owner_id=owner, description="Update the chronology", due_on=due, status=status))
    session.add(Action(source_kind="random_sample", source_id=1, service_id=cic, quarter=Q1, owner_id=owner,
                       description="Not a learning audit action", due_on=TODAY, status="open"))
    session.flush()
    col = collate(session, quarter=Q1, service_id=cic, today=TODAY)
    assert col.actions == {"open": 3, "done": 1, "overdue": 2}


# ---------------------------------------------------------------------------------------------
# what a channel sees


def test_channel_content_shows_counts_under_the_threshold_as_fewer_than_five(session):
    seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=service_id(session, "cic"), today=TODAY)
    content = build_content(col, Policy(), suppress=True)
    lines = {line.label: line.text for line in content.lines}
    assert lines[f"Improve: {RISK}"].startswith(f"• *{RISK}*: 7 ▲ (last quarter 5")
    # 3 against 4: both hidden, so no arrow either (it would tell which small number is bigger)
    assert lines[f"Improve: {ASSESS}"] == (f"• *{ASSESS}*: fewer than 5 (last quarter fewer than 5, "
                                          "average of the last four quarters fewer than 5)")
    assert lines[f"Good practice: {MULTI}"] == f"• *{MULTI}*: fewer than 5 (last quarter none, average of the last four quarters none)"
    assert "3" not in lines[f"Improve: {ASSESS}"] and "4" not in lines[f"Improve: {ASSESS}"]
    exact = build_content(col, Policy(), suppress=False)
    assert {line.label: line.text for line in exact.lines}[f"Improve: {ASSESS}"].startswith(
        f"• *{ASSESS}*: 3 ▼ (last quarter 4")


def test_direction_is_hidden_when_both_quarters_are_suppressed():
    shown = SmallCounts(5, suppress=True)
    assert arrow(ThemeCount("improve", RISK, 3, 1, None), shown) == ""
    assert arrow(ThemeCount("improve", RISK, 3, 8, None), shown) == "▼"
    assert arrow(ThemeCount("improve", RISK, 3, 1, None), SmallCounts(5, suppress=False)) == "▲"


def _long_collation(points: int, words: int) -> Collation:
    text = " ".join(f"word{i}" for i in range(words))
    improve = [Point(RISK if i % 2 else ASSESS, f"P{i}: {text}") for i in range(points)]
    good = [Point(VOICE, f"G{i}: {text}") for i in range(points)]
    from bot.core.calendar import Quarter

    return Collation(
        quarter=Quarter(2026, 1), service_id=1, scope_name="Children in Care", audits_recorded=40,
        audits_previous=30, improve=[ThemeCount("improve", RISK, 30, 20, 22.0),
                                     ThemeCount("improve", ASSESS, 10, 12, 9.5)],
        good=[ThemeCount("good", VOICE, 25, 20, None)], improve_points=improve, good_points=good,
        wider_learning=[f"W{i}: {text}" for i in range(10)], actions={"open": 9, "done": 6, "overdue": 0},
    )


def test_long_learning_is_split_into_messages_within_slack_limits_without_losing_or_cutting_words():
    col = _long_collation(points=60, words=220)
    content = build_content(col, Policy(), suppress=True)
    messages = post_messages(content)
    assert len(messages) > 1
    sections: list[str] = []
    for _, blocks in messages:
        assert len(blocks) <= 50
        for block in blocks:
            data = block.to_dict()
            if data["type"] == "section":
                assert len(data["text"]["text"]) <= SECTION_LIMIT
                sections.append(data["text"]["text"])
    joined = " ".join(" ".join(sections).split())
    for line in content.lines:
        assert " ".join(line.text.split()) in joined  # every line, whole and in order of words
    words = set(joined.split())
    for i in range(220):
        assert f"word{i}" in words  # never cut mid-word
    assert "continued" in messages[1][0]


def test_one_huge_section_is_split_at_word_boundaries_too():
    col = _long_collation(points=1, words=1500)  # one point of ~11,000 characters
    messages = post_messages(build_content(col, Policy(), suppress=True))
    texts = [b.to_dict()["text"]["text"] for _, blocks in messages for b in blocks if b.type == "section"]
    assert all(len(t) <= SECTION_LIMIT for t in texts)
    words = " ".join(texts).split()
    assert [w for w in words if w.startswith("word")][:1500] == [f"word{i}" for i in range(1500)]


def test_dropped_lines_are_left_out_of_the_post_and_the_chart(session):
    seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=service_id(session, "cic"), today=TODAY)
    risk_id = line_id(IMPROVE_THEMES, None, RISK)
    point = col.good_points[0]
    point_id = line_id(GOOD_POINTS, point.theme, point.text)
    draft = ThemeDraft(quarter=Q1, service_id=col.service_id, key_messages="Our headline",
                       dropped_lines=[risk_id, point_id])
    content = build_content(col, Policy(), suppress=True, draft=draft)
    text = " ".join(b.to_dict().get("text", {}).get("text", "") for _, blocks in post_messages(content)
                    for b in blocks if b.type == "section")
    assert "Our headline" in text
    assert f"*{RISK}*" not in text and point.text not in text
    assert content.chart is not None and all(RISK not in c for c in content.chart.categories)


def test_chart_leaves_out_themes_suppressed_in_both_quarters_and_zeroes_a_suppressed_count(session):
    seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=service_id(session, "cic"), today=TODAY)
    chart = chart_data(col, Policy(), suppress=True)
    assert chart is not None
    data = dict(zip(chart.categories, zip(chart.this_quarter, chart.last_quarter, strict=True), strict=True))
    assert data == {f"To improve: {RISK}": (7, 5), f"Good practice: {VOICE} *": (6, 0)}
    assert "not shown" in chart.caption
    exact = chart_data(col, Policy(), suppress=False)
    assert exact is not None and len(exact.categories) == 4
    png = chart_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_edit_modal_offers_every_line_in_groups_of_at_most_ten(session):
    col = _long_collation(points=25, words=5)
    content = build_content(col, Policy(), suppress=True)
    view = edit_modal(7, content).to_dict()
    assert len(view["blocks"]) <= 100
    offered = [o["value"] for b in view["blocks"] if b.get("block_id", "").startswith("themes-drop")
               for o in b["element"]["options"]]
    assert sorted(offered) == sorted(line.id for line in content.lines)
    assert all(len(b["element"]["options"]) <= 10 for b in view["blocks"]
               if b.get("block_id", "").startswith("themes-drop"))


def test_key_messages_with_a_case_reference_or_postcode_are_refused(session):
    assert key_messages_problem(session, "Learn from CIC-10234 please", TODAY)
    assert key_messages_problem(session, "The family at SW1A 1AA", TODAY)
    assert key_messages_problem(session, "Safety plans need partners in the room", TODAY) is None


# ---------------------------------------------------------------------------------------------
# job timing, drafts, App Home, digest


def test_the_review_quarter_is_the_latest_round_whose_review_date_has_arrived(session):
    calendar = WorkingCalendar()
    session.add(LearningRound(quarter="2025-26Q4", deadline=date(2026, 1, 16), audits_due=date(2026, 3, 13)))
    session.add(LearningRound(quarter=Q1, deadline=date(2026, 4, 15), audits_due=date(2026, 6, 12)))
    session.flush()
    policy = Policy()  # 3 working days after the audits are due
    assert review_quarter(session, calendar, policy, date(2026, 6, 16)).key == "2025-26Q4"
    assert review_quarter(session, calendar, policy, date(2026, 6, 17)).key == Q1
    assert review_quarter(session, calendar, policy, date(2026, 3, 13)) is None


def test_todo_shows_the_service_manager_their_draft(session):
    seed_standard_quarter(session)
    draft = ThemeDraft(quarter=Q1, service_id=service_id(session, "cic"), status="draft",
                       created_at=datetime(2026, 6, 17, 8, tzinfo=UTC))
    session.add(draft)
    session.flush()
    todos = todo_for(session, "U0SM1", TODAY)
    assert len(todos) == 1 and "Children in Care" in todos[0].text
    assert todos[0].action_id == "themes-edit" and todos[0].value == str(draft.id)
    assert todos[0].due == date(2026, 6, 24)  # 5 working days on
    assert todo_for(session, "U0SM2", TODAY) == []
    assert todo_for(session, "U0QI1", TODAY) == []  # not escalated yet
    draft.escalated_at = datetime(2026, 6, 24, 9, tzinfo=UTC)
    assert len(todo_for(session, "U0QI1", TODAY)) == 1
    draft.status = "posted"
    assert todo_for(session, "U0SM1", TODAY) == []


def test_digest_lines_list_posted_services_top_themes_suppressed_and_added_up(session):
    seed_standard_quarter(session)
    posted = datetime(2026, 6, 18, 10, tzinfo=UTC)
    for key in ("cic", "cp"):
        session.add(ThemeDraft(quarter=Q1, service_id=service_id(session, key), status="posted", posted_at=posted,
                               posted_by="U0SM1", channel="C0X"))
    session.add(ThemeDraft(quarter=Q1, service_id=service_id(session, "cin"), status="draft"))
    session.flush()
    lines = digest_lines(session, date(2026, 6, 1), date(2026, 6, 30))
    assert lines[0].startswith("*Children in Care* (2026-27 Q1)")
    assert f"{RISK} (7 ▲)" in lines[0] and f"{ASSESS} (fewer than 5" in lines[0]
    # every count of Child Protection's would be withheld: its themes are ranked, without numbers
    assert lines[1] == (f"*Child Protection* (2026-27 Q1): to improve, most raised first: {RISK}; "
                        f"good practice, most raised first: {VOICE}")
    assert lines[2].startswith("*Across these services*") and f"{RISK} (9)" in lines[2]
    assert not re.search(r"\(\s*[1-4]\b", " ".join(lines))
    assert digest_lines(session, date(2026, 6, 19), date(2026, 6, 30)) == []


# ---------------------------------------------------------------------------------------------
# exports


def _export(monkeypatch, database_url: str, tmp_path: Path, fmt: str, service: str | None) -> Path:
    from bot.app.cli_reports import report_themes as cli_themes

    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / f"themes.{fmt}"
    args = argparse.Namespace(quarter=Q1, service=service, format=fmt, output=str(out))
    assert cli_themes(args) == 0
    return out


@pytest.fixture
def seeded_url(db, database_url):  # type: ignore[no-untyped-def]
    with db.session() as s:
        import_org(s, load_org_file(SAMPLE_ORG))
        s.flush()
        seed_standard_quarter(s)
    return database_url


def test_markdown_export_suppresses_small_counts(seeded_url, tmp_path, monkeypatch):
    text = _export(monkeypatch, seeded_url, tmp_path, "md", "cic").read_text()
    assert "# Learning themes: Children in Care, 2026-27 Q1" in text
    assert f"| {RISK} | 7 | 5 |" in text
    assert f"| {ASSESS} | <5 | <5 |" in text
    assert "CIC-" not in text and "U0" not in text


def test_csv_export_for_all_services_has_each_service_and_suppresses(seeded_url, tmp_path, monkeypatch):
    rows = list(csv.DictReader(io.StringIO(_export(monkeypatch, seeded_url, tmp_path, "csv", None).read_text())))
    services = {r["service"] for r in rows}
    assert services == {"all services", "Children in Care", "Child Protection"}
    risk_all = next(r for r in rows if r["service"] == "all services" and r["theme"] == RISK)
    assert risk_all["this_quarter"] == "9"
    cp = next(r for r in rows if r["service"] == "Child Protection" and r["theme"] == RISK)
    assert cp["this_quarter"] == "<5"
    assert all(not re.fullmatch(r"[1-4]", r["this_quarter"]) for r in rows)


def test_xlsx_export_opens_in_excel_terms(seeded_url, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    book = load_workbook(_export(monkeypatch, seeded_url, tmp_path, "xlsx", "cic"))
    sheet = book["Learning themes"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    risk = next(r for r in rows if r[3] == RISK)
    assert risk[4] == "7" and risk[5] == "5"
    assert next(r for r in rows if r[3] == ASSESS)[4] == "<5"


def test_a_small_service_is_told_fewer_than_five_audits_in_plain_words(session):
    seed_audit(session, quarter=Q1, service_key="cin", improve=[RISK], good=[VOICE])
    col = collate(session, quarter=Q1, service_id=service_id(session, "cin"), today=TODAY)
    content = build_content(col, Policy(), suppress=True)
    assert content.key_messages.startswith("Fewer than 5 learning audits were recorded for Child in Need")
    assert content.intro.startswith("From fewer than 5 learning audits recorded in Apr-Jun 2026")
    exact = build_content(col, Policy(), suppress=False)
    assert exact.key_messages.startswith("1 learning audit was recorded")


def test_audits_by_service_for_a_large_council_are_all_listed_within_slacks_limits(session):
    """The on-demand view across services lists every service, however many, in sections and messages
    within Slack's limits: nothing cut at 3,000 characters."""
    from dataclasses import replace

    from bot.themes.messages import MESSAGE_BLOCKS, collation_messages

    seed_standard_quarter(session)
    col = collate(session, quarter=Q1, service_id=None, today=TODAY)
    many = [(f"Family Safeguarding and Early Help Locality Service {n:04d}", n % 9 + 1) for n in range(3000)]
    col = replace(col, by_service=many)
    messages = collation_messages(col, build_content(col, Policy(), suppress=False))
    listed: list[str] = []
    for _text, blocks in messages:
        assert len(blocks) <= MESSAGE_BLOCKS
        for block in blocks:
            body = block.to_dict()
            if body["type"] == "section":
                assert len(body["text"]["text"]) <= SECTION_LIMIT
                listed += re.findall(r"Locality Service (\d{4})", body["text"]["text"])
    assert [int(n) for n in listed] == list(range(3000))


def test_reports_rank_a_quarter_too_small_to_count_and_add_the_last_four_quarters(session):
    """Reports follow the post's rule: Child Protection's two audits are ranked, not a column of "<5",
    and every theme row carries the last four quarters' count (withheld the same way)."""
    from bot.themes.report import report_markdown, report_rows

    seed_standard_quarter(session)
    cp = collate(session, quarter=Q1, service_id=service_id(session, "cp"), today=TODAY)
    cic = collate(session, quarter=Q1, service_id=service_id(session, "cic"), today=TODAY)
    shown = SmallCounts(5)
    text = report_markdown([cp], shown)
    assert "Too few to count this quarter; most raised first" in text and f"1. {RISK}" in text
    assert "| Theme | This quarter |" not in text  # no table of "<5"s for a quarter this small
    rows = {(r.section, r.theme): r for r in report_rows([cic], shown)}
    assert rows[("theme: area to improve", RISK)].last_four_quarters == "12"  # 7 now and 5 the quarter before
    assert rows[("theme: area to improve", ASSESS)].last_four_quarters == "7"
    assert rows[("theme: good practice", MULTI)].last_four_quarters == "<5"
    assert rows[("learning audits recorded", "")].last_four_quarters == "13"

