"""The quarter's random-sample report as words and Block Kit: the figures (``report_lines``), the
message to Q&I's channel and the sampled service's Service Manager (``report_blocks``), with small
counts withheld where it is shared. The files (md, csv, xlsx) are ``bot.sampling.report``'s."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.core.blocks import context, divider, header, section, split_text
from bot.core.grades import Grade
from bot.core.privacy import SmallCounts, escape
from bot.sampling.messages import MESSAGE_BLOCK_LIMIT, TEXT_MAX, quote
from bot.sampling.types import ReportView


def pct_text(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") + "%"


EXACT = SmallCounts(0, suppress=False)  # Q&I's and the DLT's own view: every figure as it is


def _part(pct: float, total: int) -> int:
    """The count behind a percentage of ``total`` (the view keeps percentages of moderated cases)."""
    return round(pct * total / 100)


def report_lines(r: ReportView, shown: SmallCounts = EXACT) -> dict[str, list[str]]:
    """The report as sections of plain lines, shared by Slack, Markdown and the exports. ``shown`` is the
    one small-count rule: where the report reaches a channel or the Service Manager, a count under the
    council's threshold is withheld and a percentage is given only when ``shown.share`` allows it."""
    def pct(value: float, total: int) -> str | None:
        return shown.share(_part(value, total), total) if shown.suppress else pct_text(value)

    def num(n: int) -> str:
        return shown.count(n) if n > 0 else "0"

    headlines = [f"{num(r.moderated)} of {num(r.total_cases)} sampled case(s) moderated."]
    if r.moderated:
        shares = [f"{v} {what}" for v, what in ((pct(r.pct_good_or_better, r.moderated), "good or better"),
                                                 (pct(r.pct_inadequate, r.moderated), "inadequate")) if v]
        if shares:
            headlines += ["; ".join(shares) + "."]
    grades = [f"{g.label}: {num(r.by_grade.get(g, 0))}" for g in Grade]
    agreement: list[str] = ["No case has both blind grades yet."]
    if r.pairs:
        exact, within = pct(r.exact_agreement_pct, r.pairs), pct(r.within_one_pct, r.pairs)
        agreement = ([f"Exact agreement before moderation: {exact} of {num(r.pairs)} case(s)."] if exact
                     else [f"{num(r.pairs)} case(s) have both blind grades: too few to give a share."])
        if within:
            agreement.append(f"Within one grade: {within}.")
    movement = [f"Moderation moved {num(r.moved_up)} case(s) to a better grade, {num(r.moved_down)} "
                f"to a worse grade and left {num(r.moved_same)} in line with the auditors' grades."]
    if r.flags:
        movement.append(f"{num(r.flags)} case(s) flagged for Q&I (grades two apart or across Good / "
                        "Requires improvement, or a section of practice graded two apart).")
    if r.corrected:
        movement.append(f"{num(r.corrected)} agreed grade(s) corrected by Q&I since moderation; the corrected "
                        "grade is counted.")
    themes = [f"{name}: {num(count)}" for name, count in r.themes] or ["No themes recorded."]
    studies = [escape(note) for note in r.case_studies] or ["No case studies offered."]  # people's words
    by_section, section_agreement = section_report_lines(r, shown)
    return {"Headlines": headlines, "Grades (agreed)": grades, "Grades by section of practice (agreed)": by_section,
            "Agreement by section before moderation": section_agreement, "Agreement before moderation": agreement,
            "Moderation": movement, "Themes for further exploration": themes, "Case studies": studies}


def section_report_lines(r: ReportView, shown: SmallCounts = EXACT) -> tuple[list[str], list[str]]:
    """Agreed grades per section of practice, and how often each section's two blind grades matched,
    with the report's one small-count rule."""
    def num(n: int) -> str:
        return shown.count(n) if n > 0 else "0"

    grades: list[str] = []
    agreement: list[str] = []
    for f in r.sections:
        if f.by_grade:
            grades.append(f"{escape(f.section)}: " + ", ".join(f"{g.label} {num(f.by_grade.get(g, 0))}" for g in Grade))
        else:
            grades.append(f"{escape(f.section)}: no moderated case graded yet")
        if not f.pairs:
            agreement.append(f"{escape(f.section)}: no case has both blind grades yet")
        elif shown.suppress:
            share = shown.share(f.matched, f.pairs)
            agreement.append(f"{escape(f.section)}: blind grades matched in {share} of {num(f.pairs)} case(s)" if share
                             else f"{escape(f.section)}: {num(f.pairs)} case(s) with both blind grades, too few to "
                                  "give a share")
        else:
            agreement.append(f"{escape(f.section)}: blind grades matched in {f.matched} of {f.pairs} case(s) "
                             f"({pct_text(100 * f.matched / f.pairs)})")
    if r.not_by_section:
        grades.append(f"{num(r.not_by_section)} moderated case(s) recorded before sections of practice: not graded "
                      "by section.")
    return grades or ["No sections of practice graded yet."], agreement or ["No sections of practice graded yet."]


def report_blocks(r: ReportView, *, final: bool, lead: Block | None = None,
                  shown: SmallCounts = EXACT) -> tuple[str, list[Block]]:
    title = f"Random sample {r.quarter_label}: {r.service}"
    lines = report_lines(r, shown)
    text = f"{title}. " + " ".join(lines["Headlines"])
    blocks: list[Block] = [header(title)] + ([lead] if lead is not None else [])
    if not final:
        blocks.append(context("Only cases with a moderated grade are counted."))
    for name in ("Headlines", "Grades (agreed)", "Grades by section of practice (agreed)",
                 "Agreement by section before moderation", "Agreement before moderation", "Moderation",
                 "Themes for further exploration"):
        bullet = "\n".join(f"• {line}" for line in lines[name])
        for chunk in split_text(f"*{name}*\n{bullet}"):
            blocks.append(section(chunk))
    blocks.append(divider())
    blocks.append(section("*Case studies* (anonymised notes)"))
    room = MESSAGE_BLOCK_LIMIT - len(blocks) - 2
    studies = lines["Case studies"]
    for note in studies[:room]:
        blocks.append(section(quote(note)[:TEXT_MAX]))
    if len(studies) > room:
        blocks.append(context(f"{len(studies) - room} more in the report: `/qmf report sample` sends it to you."))
    blocks.append(context("Counts and anonymised learning only: no case references."))
    return text, blocks



def service_report_message(r: ReportView, shown: SmallCounts) -> tuple[str, list[Block]]:
    """The quarter's report for the sampled service's Service Manager: the same figures as Q&I's."""
    lead = section(f"The {r.quarter_label} random sample of *{r.service}* is complete. Here is the report Q&I "
                   "have: the case holders and team managers have each had the findings for their cases. "
                   "It is worth talking the themes through with your team managers.")
    text, report = report_blocks(r, final=True, lead=lead, shown=shown)
    return f"Your service's random sample report: {text}", report
