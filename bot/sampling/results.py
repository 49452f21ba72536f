"""The quarter's results: figures from moderated cases only, the report posted to the Q&I channel
once the last case is moderated, ``/qmf sample report``, and the CIB digest's headline.

Counts and anonymised notes only reach a channel; the case table (``SampleReport.cases``) is for
Q&I's exports, and even there a blind grade shows only once both auditors have submitted.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import audit, directory, outbox
from bot.core.charts import alt_text
from bot.core.council import council_timezone, policy_of
from bot.core.errors import NotFound, NotPermitted
from bot.core.grade_trend import enqueue_trend_chart
from bot.core.grades import Grade, sample_stats
from bot.core.policy import Policy
from bot.core.privacy import SmallCounts, redacted
from bot.core.roles import Channel, Role
from bot.sampling import report_messages
from bot.sampling import sections as practice
from bot.sampling.service import audits_of, draw_for, latest_draw, quarter_of
from bot.sampling.types import CaseRow, ReportView, SampleReport, SectionFigures
from storage.models.sampling import SampledCase, SampleDraw, SampleFlag

log = logging.getLogger(__name__)

REPORT_ROLES = (Role.QUALITY_IMPROVEMENT, Role.DLT)


def build_report(session: Session, row: SampleDraw, *, policy: Policy) -> SampleReport:
    """Figures from moderated cases only: an unmoderated case has no grade of record, and counting a
    half-finished pair would show one auditor's grade before the other has submitted."""
    results: list[tuple[Grade | None, Grade | None, Grade | None]] = []
    themes: Counter[str] = Counter()
    studies: list[str] = []
    rows: list[CaseRow] = []
    flagged = corrected = not_by_section = 0
    by_section: dict[str, SectionFigures] = {
        name: SectionFigures(section=name, by_grade={}, pairs=0, matched=0) for name in policy.practice_sections}
    flags = {(f.case_id, f.kind) for f in session.scalars(
        select(SampleFlag).join(SampledCase).where(SampledCase.draw_id == row.id))}
    for case in row.cases:
        audits = audits_of(case)
        qi, pc = audits.get("qi"), audits.get("pc")
        mod = case.moderation
        both = qi is not None and pc is not None  # a lone blind grade is never shown, even to Q&I
        rows.append(CaseRow(
            case_ref=case.case_ref, team=case.team.name, qi=case.qi.slack_id,
            qi_grade=Grade(qi.grade) if both and qi else None, pc=case.pc.slack_id,
            pc_grade=Grade(pc.grade) if both and pc else None,
            agreed=Grade(mod.agreed_grade) if mod else None, moderation_reason=mod.reason if mod else None,
            corrected_from=Grade(mod.corrections[0].from_grade) if mod and mod.corrections else None,
        ))
        if mod is None or qi is None or pc is None:
            continue
        results.append((Grade(qi.grade), Grade(pc.grade), Grade(mod.agreed_grade)))
        themes.update(set(qi.themes or []) | set(pc.themes or []))
        studies += [redacted(a.case_study_note, policy) for a in (qi, pc) if a.case_study and a.case_study_note]
        flagged += (case.id, "disagreement") in flags
        agreed_sections = practice.loaded(mod.section_grades)
        if not agreed_sections:
            not_by_section += 1  # recorded before sections of practice
        for name, grade in agreed_sections.items():
            figures = by_section.setdefault(name, SectionFigures(section=name, by_grade={}, pairs=0, matched=0))
            figures.by_grade[grade] = figures.by_grade.get(grade, 0) + 1
        for pair in practice.pairs_of(qi.section_grades, pc.section_grades):
            if pair.qi is not None and pair.pc is not None:
                figures = by_section.setdefault(pair.section,
                                                SectionFigures(section=pair.section, by_grade={}, pairs=0, matched=0))
                figures.pairs += 1
                figures.matched += pair.qi == pair.pc
        corrected += bool(mod.corrections)
    stats = sample_stats(results)
    quarter = quarter_of(row.quarter, policy)
    view = ReportView(
        quarter_label=quarter.label, service=row.service.name, total_cases=len(row.cases), moderated=stats.moderated,
        by_grade=dict(stats.by_grade), pct_good_or_better=stats.pct_good_or_better,
        pct_inadequate=stats.pct_inadequate, pairs=stats.pairs, exact_agreement_pct=stats.exact_agreement_pct,
        within_one_pct=stats.within_one_pct, moved_up=stats.moderated_up, moved_down=stats.moderated_down,
        moved_same=stats.moderated_same, themes=sorted(themes.items(), key=lambda kv: (-kv[1], kv[0])),
        case_studies=studies, flags=flagged, corrected=corrected, not_by_section=not_by_section,
        sections=[f for f in by_section.values() if f.section in policy.practice_sections or f.by_grade or f.pairs],
    )
    complete = bool(row.cases) and all(c.moderation is not None for c in row.cases)
    return SampleReport(quarter=quarter, view=view, cases=rows, complete=complete)


def grade_chart_spec(view: ReportView) -> dict[str, Any]:
    counts = [view.by_grade.get(g, 0) for g in Grade]
    return {"categories": [g.label for g in Grade],
            "series": {"Agreed grade": counts},
            "chart_title": f"Random sample {view.quarter_label}: {view.service}", "xlabel": "Cases",
            "horizontal": False,
            "alt_text": alt_text(f"agreed grades in the random sample of {view.service}, {view.quarter_label} "
                                 "(cases at each grade)", [g.label for g in Grade], {"Agreed grade": counts})}


def grade_chart(view: ReportView) -> bytes:
    from bot.core.charts import bar_chart_png

    spec = grade_chart_spec(view)
    return bar_chart_png(spec["categories"], spec["series"], title=spec["chart_title"], xlabel=spec["xlabel"],
                         horizontal=False)


def maybe_post_report(session: Session, row: SampleDraw, *, policy: Policy, now: datetime) -> bool:
    """Post the report to the Q&I channel once, when the quarter's last case has been moderated, and
    send it to the sampled service's Service Manager."""
    session.refresh(row)
    if row.report_posted_at is not None:
        return False
    report = build_report(session, row, policy=policy)
    if not report.complete:
        return False
    channel = directory.channel_for(session, Channel.QUALITY_IMPROVEMENT)
    if not channel:
        log.warning("random sample %s is complete but there is no quality_improvement channel", row.quarter)
        return False
    shown = SmallCounts(policy.suppression_threshold)  # a channel and a manager: small counts withheld
    text, message = report_messages.report_blocks(report.view, final=True, shown=shown)
    outbox.enqueue(session, channel=channel, text=text, blocks=message, dedupe_key=f"sample-report:{row.quarter}")
    outbox.enqueue_chart(session, channel=channel, file_name=f"random-sample-{row.quarter}-grades.png",
                         title=f"Random sample {report.quarter.label}: grades", **grade_chart_spec(report.view),
                         dedupe_key=f"sample-report-chart:{row.quarter}")
    enqueue_trend_chart(session, channel=channel, last=report.quarter, shown=shown,
                        key=f"sample-report-trend:{row.quarter}")
    manager = row.service.service_manager
    if manager is not None and manager.active:  # the sampled service's own manager gets the report too
        text, message = report_messages.service_report_message(report.view, shown)
        outbox.enqueue(session, channel=manager.slack_id, text=text, blocks=message,
                       dedupe_key=f"sample-report-sm:{row.quarter}")
        audit.record(session, "system", "export", "sample_report", row.quarter, channel=manager.slack_id)
    row.report_posted_at = now
    audit.record(session, "system", "export", "sample_report", row.quarter, channel=channel)
    return True


def report_for(session: Session, *, actor: str, quarter_key: str | None, policy: Policy) -> SampleReport:
    """`/qmf sample report`: Q&I and DLT only; the same figures as the channel post (moderated cases)."""
    me = directory.who(session, actor)
    if not me.has(*REPORT_ROLES):
        raise NotPermitted("The random sample report is for Quality & Improvement and the Divisional "
                           "Leadership Team.")
    if quarter_key:
        try:
            key = quarter_of(quarter_key, policy).key
        except ValueError as exc:
            raise NotFound(str(exc)) from None
        row = draw_for(session, key)
    else:
        row = latest_draw(session)
    if row is None:
        raise NotFound("There is no random sample for that quarter yet." if quarter_key
                       else "No random sample has been drawn yet.")
    audit.record(session, actor, "view", "sample_report", row.quarter)
    return build_report(session, row, policy=policy)



def _local_day(session: Session, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(session.info.get("timezone") or council_timezone())).date()


def digest_lines(session: Session, since: date, until: date) -> list[str]:
    """Headlines for the CIB digest: samples drawn or moderated in the window. Counts only, no case refs."""
    policy = policy_of(session)
    lines: list[str] = []
    for row in session.scalars(select(SampleDraw).order_by(SampleDraw.quarter_index)):
        drawn = since <= _local_day(session, row.drawn_at) <= until
        moderated = any(c.moderation is not None and since <= _local_day(session, c.moderation.moderated_at) <= until
                        for c in row.cases)
        if not (drawn or moderated):
            continue
        v = build_report(session, row, policy=policy).view
        shown = SmallCounts(policy.suppression_threshold)  # the Board's channel: the one small-count rule
        line = (f"Random sample {v.quarter_label} ({v.service}): {shown.count(v.moderated) if v.moderated else 0} of "
                f"{shown.count(v.total_cases)} case(s) moderated")
        if v.moderated:
            good = shown.share(sum(n for g, n in v.by_grade.items() if g.good_or_better), v.moderated)
            bad = shown.share(v.by_grade.get(Grade.INADEQUATE, 0), v.moderated)
            exact = shown.share(round(v.exact_agreement_pct * v.pairs / 100), v.pairs)
            parts = [f"{good} good or better" if good else "", f"{bad} inadequate" if bad else "",
                     f"blind grades agreed exactly in {exact}" if exact else ""]
            line += "".join(f"; {p}" for p in parts if p)
            inadequate = v.by_grade.get(Grade.INADEQUATE, 0)
            if inadequate:
                line += f"; {shown.count(inadequate)} Inadequate, each with an improvement-plan action"
        lines.append(line + ".")
    return lines

