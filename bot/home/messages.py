"""The App Home view: paged so it never passes Slack's 100-block limit, never cut silently."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from slack_sdk.models.blocks import Block, ImageBlock
from slack_sdk.models.views import View

from bot.core.blocks import actions, button, context, divider, escape, header, section, split_text
from bot.core.formatting import day
from bot.core.formatting import due as slack_date
from bot.home.service import HomeContent, HomeJob

MAX_BLOCKS = 100
TODOS_PER_PAGE = 25  # two blocks each: 50 blocks, leaving room for the rest
REPORT_BLOCKS = 4  # the reports' divider, heading, buttons and note
REPORT_LABELS = {
    "sample": "Random-sample report (xlsx)",
    "themes": "Learning themes report (xlsx)",
    "year": "Year report (xlsx)",
}


class HomeIds(StrEnum):
    PAGE = "home-page"
    RUN_JOB = "home-run-job"
    REPORT = "home-report"  # + "-sample" | "-themes" | "-year": handlers.reports answers them
    REFRESH = "home-refresh"


def home_view(content: HomeContent, page: int = 0) -> View:
    blocks: list[Block] = [header("Your QMF")]
    if not content.known:
        blocks.append(section(
            "You are not in the QMF directory yet, so there is nothing here for you. "
            "Ask a QMF admin to add you to the QMF directory."))
        return View(type="home", blocks=blocks)
    if content.away:
        blocks.append(section(f":palm_tree: {content.away}"))
        blocks.append(context("While you are away you get no prompts or reminders from QMF Bot. Type "
                              "`/qmf away off` to end it early."))
    total = len(content.todos)
    pages = max(1, -(-total // TODOS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = content.todos[page * TODOS_PER_PAGE:(page + 1) * TODOS_PER_PAGE]
    blocks.append(section(f"*To do now* ({total})" if total else "*To do now*\nNothing is waiting for you. :tada:"))
    for todo in shown:
        due = f" · due {slack_date(todo.due)}" if todo.due and "due " not in todo.text else ""
        blocks.append(section(f"{todo.text}{due}",
                              accessory=button(todo.button_label, todo.action_id, todo.value or None)))
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(button("Previous page", f"{HomeIds.PAGE}-prev", str(page - 1)))
        if page < pages - 1:
            nav.append(button("Next page", f"{HomeIds.PAGE}-next", str(page + 1)))
        blocks.append(context(f"Page {page + 1} of {pages}: {total} things to do, in order of due date."))
        blocks.append(actions(*nav))
    blocks.append(divider())
    blocks.append(section(f"*Coming up in {content.quarter.label}* ({content.quarter.months_label})\n"
                          + "\n".join(f"• {line}" for line in content.coming)))
    if content.progress is not None:
        blocks.append(divider())
        rows = [f"*{escape(p.service)}*: {p.proposals} proposed · {p.allocated} allocated · {p.recorded} recorded"
                + (f" · :warning: {p.overdue} overdue" if p.overdue else "") for p in content.progress]
        chunks = split_text(f"*Progress across services, {content.quarter.label}*\n" + "\n".join(rows))
        job_rows = -(-len(content.jobs) // 5)
        # what must still follow: the job buttons and their note, a note of services left out, Refresh
        room = (MAX_BLOCKS - len(blocks) - job_rows - (1 if content.jobs else 0) - 2
                - (REPORT_BLOCKS if content.reports else 0) - (1 if content.picture else 0))
        shown_chunks = chunks[:room]
        blocks.extend(section(chunk) for chunk in shown_chunks)
        if content.picture is not None:  # the figures above as a picture, uploaded by the outbox sender
            blocks.append(ImageBlock(alt_text=content.picture.alt_text, title=content.picture.title,
                                     slack_file={"id": content.picture.file_id}, block_id="home-progress-picture"))
        if len(shown_chunks) < len(chunks):
            listed = sum(chunk.count("\n") + 1 for chunk in shown_chunks) - 1  # the heading is a line
            left = len(rows) - listed
            blocks.append(context(f"{left} more services are not shown here: Slack allows only {MAX_BLOCKS} "
                                  f"blocks on Home."))
        if content.jobs:
            job_buttons = [button(job.label, f"{HomeIds.RUN_JOB}-{name}", name) for name, job in content.jobs.items()]
            for start in range(0, len(job_buttons), 5):
                blocks.append(actions(*job_buttons[start:start + 5]))
            blocks.append(context("Each of these happens by itself on its day; pressing one early does it "
                                  "once, never twice."))
    if content.reports:
        blocks.append(divider())
        blocks.append(section("*Reports*"))
        blocks.append(actions(*(button(REPORT_LABELS[kind], f"{HomeIds.REPORT}-{kind}", kind)
                                for kind in content.reports)))
        blocks.append(context("Each arrives as a file in your DM with QMF Bot. `/qmf report sample|themes|year "
                              "csv` (or `md`) gives the same as CSV or Markdown."))
    blocks.append(actions(button("Refresh", HomeIds.REFRESH, str(page))))
    assert len(blocks) <= MAX_BLOCKS
    return View(type="home", blocks=blocks)


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def job_answer(job: HomeJob, status: str, why: str) -> str:
    """What the person who pressed a job button on Home is told: what happened and what comes next,
    in a sentence rather than the job's log line. ``status`` and ``why`` are the runner's outcome
    (``why`` is only read when it was not time yet: the reason, in the job's own words)."""
    if status == "done":
        return f"{job.done} {job.then}"
    if status == "already-done":
        return f"Nothing new to do: that was already done, so nobody was sent anything twice. {job.then}"
    if status == "not-due":
        reason = _ISO_DATE.sub(lambda m: day(date(int(m[1]), int(m[2]), int(m[3]))), why.strip().rstrip("."))
        reason = reason[:1].upper() + reason[1:] if reason else "It is not due yet"
        return f"Not done yet: {reason}. It happens by itself when it is due; there is nothing you need to do."
    return f"Nothing was changed. {job.then}"
