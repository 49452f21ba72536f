"""The demo's last scenes: a themed audit and a learning visit reaching the Continuous Improvement
Board, App Home, and the quarter's reports."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import func, select

from bot.app.cli_reports import report_sample, report_themes
from bot.app.sandbox import demo_sampling  # noqa: F401  (the random sample plays first)
from bot.app.sandbox.demo_play import DRIFT, QUARTER, Play
from bot.app.sandbox.narrator import Narrator, london, scene

# =============================================================================================
# d. themed audits, learning visits and the Board


@scene
def themed_audit_and_learning_visit(n: Narrator) -> None:
    p = Play(n)
    slack, fake = p.slack, p.fake
    n.chapter(
        "Themed audits, learning visits and the Continuous Improvement Board",
        "Themed audits test a theory about practice across a sample of cases, commissioned by a board or "
        "the Divisional Leadership Team; learning visits send independent senior managers to a service "
        "where there is a need or a risk. Both report to the Continuous Improvement Board (CIB), whose "
        "digest also carries each service's learning themes and the random-sample headlines.")
    n.bot.set_time(london(2026, 7, 1, 10, 0))
    p.act("U0DLT1", "types `/qmf commission themed`",
          lambda: slack.command("U0DLT1", "/qmf", "commission themed"))
    p.submit("U0DLT1", "commissions the themed audit", {
        "Theme": "Management oversight of drift in plans",
        "The theory to test": "Plans drift where supervision does not review the plan's actions each month.",
        "Commissioned by": "Divisional Leadership Team",
        "Improvement-plan priority it serves": "Timely, purposeful plans",
        "Sampling focus": "Child in need plans open more than six months",
        "Sample size (cases)": 2, "Case references in the sample": "CIN-10001\nCIN-10002",
        "Auditors": ["U0SM1", "U0QI1"], "Service-user views": ["Seek service-user views for this theme"],
        "Workshop date": date(2026, 7, 7), "CIB meeting it reports to": "Wed 15 Jul 2026"})
    p.quietly(lambda: slack.close_modal("U0DLT1"))
    p.act("U0SM1", "presses *Record findings* for CIN-10001", lambda: slack.click("U0SM1", "Record findings"))
    p.submit("U0SM1", "records the findings", {
        "What you found, tested against the theory": "Supervision records the plan but not its progress.",
        "Evidence": "No supervision in six months reviewed the plan's actions.",
        "Service-user views": "The parent said the plan was not explained.",
        "Themes": ["Management oversight and supervision", DRIFT]})
    p.act("U0DLT1", "types `/qmf commission visit`",
          lambda: slack.command("U0DLT1", "/qmf", "commission visit"))
    visit = {
        "Service to visit": "Children in Care",
        "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
        "Date of the visit": date(2026, 7, 2), "Visitors": ["U0SEN1", "U0SM2"], "Lead reviewer": "U0SEN1",
        "Planned activities": ["Observation of practice", "Focus groups"],
        "Preparation notes": "Read the stability dashboard.",
        "Performance information": "Placement moves per child up from 0.4 to 0.7."}
    p.submit("U0DLT1", "commissions a learning visit to Children in Care", visit,
             only={"U0DLT1", "U0SEN1", "U0QI1"})
    p.quietly(lambda: slack.close_modal("U0DLT1"))
    n.bot.set_time(london(2026, 7, 2, 16, 0))
    p.act("U0SEN1", "presses *Record visit feedback* after the visit",
          lambda: slack.click("U0SEN1", "Record visit feedback"))
    p.act("U0SEN1", "presses *Add an action*",
          lambda: slack.click("U0SEN1", "Add an action", view=fake.latest_view("U0SEN1")))
    p.submit("U0SEN1", "adds an action", {
        "Owner": "U0SM1", "Due date": date(2026, 9, 30),
        "What needs to happen": "A stability meeting after every second placement move."})
    p.submit("U0SEN1", "sends the feedback and plan", {
        "Direct feedback given to the service": "Warm, child-focused practice; moves are not reviewed.",
        "Improvement plan summary": "Review every second placement move."})
    n.job("send-reminders", london(2026, 7, 3, 9, 30), only={"U0SM1", "U0QI1"})
    n.note("Before the workshop, the collated findings go to the auditors.")
    n.bot.set_time(london(2026, 7, 7, 15, 0))
    p.act("U0DLT1", "presses *Record moderated findings* at the workshop",
          lambda: slack.click("U0DLT1", "Record moderated findings"))
    p.submit("U0DLT1", "records the moderated findings", {
        "Moderated findings": "Plans drift where supervision does not review their actions.",
        "Recommendations": "Add a plan-review prompt to the supervision template."})
    n.job("cib-digest", london(2026, 7, 10, 8, 30))
    n.job("cib-digest", london(2026, 7, 13, 8, 30))
    n.note("The second run finds the digest already sent: the Board gets one digest per meeting.")


# =============================================================================================
# the quarter's reports


@contextlib.contextmanager
def _database_env(url: str) -> Iterator[None]:
    """The report commands read DATABASE_URL, as at a terminal; point it at the demo's database."""
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def _run_cli(fn: Callable[[argparse.Namespace], int], **args: Any) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = fn(argparse.Namespace(**args))
    if code != 0:
        raise RuntimeError(f"{fn.__name__} exited {code}: {out.getvalue()}")
    return out.getvalue().strip()


@scene
def app_home(n: Narrator) -> None:
    n.chapter("App Home: what is yours to do now",
              "Everyone who opens the bot's Home tab sees what is theirs to do, in order of due date, with "
              "the button for each, and what is coming; Q&I and admins also see the quarter's progress "
              "across services and buttons to start the quarter's work early.")
    n.bot.set_time(london(2026, 5, 11, 9, 0))
    slack = n.bot.slack
    for who in ("U0P4", "U0TM1", "U0QI1"):
        n.act(who, "opens QMF Bot's Home tab", partial(slack.open_home, who), only={who})
    n.act("U0QI1", "presses *Draw the random sample now*, not knowing it was drawn in April",
          lambda: slack.click("U0QI1", "Draw the random sample now", home=True), only={"U0QI1"})


@scene
def quarter_reports(n: Narrator) -> None:

    n.chapter("The quarter's reports",
              "Reports come where people look: `/qmf report sample`, `/qmf report themes` and `/qmf report year` "
              "(Excel unless csv or md is asked for) send the file to the asker's DM, for those allowed to see "
              "it, and App Home has the same as buttons. Every export is in the audit log. An operator gets "
              "the same files at a terminal; here they are written to demo-out/reports/.")
    n.bot.set_time(london(2026, 7, 14, 10, 0))
    slack = n.bot.slack
    n.act("U0QI1", "types `/qmf report sample`",
          lambda: slack.command("U0QI1", "/qmf", f"report sample {QUARTER}"), only={"U0QI1"})
    n.act("U0DLT1", "types `/qmf report year md`",
          lambda: slack.command("U0DLT1", "/qmf", "report year md"), only={"U0DLT1"})
    n.act("U0P4", "tries `/qmf report sample` too",
          lambda: slack.command("U0P4", "/qmf", "report sample"), only={"U0P4"})
    folder = n.reports
    written: list[str] = []
    with _database_env(n.bot.database_url):
        for fmt in ("md", "xlsx"):
            target = folder / f"themes-{QUARTER}.{fmt}"
            _run_cli(report_themes, quarter=QUARTER, service=None, format=fmt, output=str(target))
            written.append(f"`qmf-bot report themes --quarter {QUARTER} --format {fmt}` "
                           f"-> reports/{target.name}")
        for fmt in ("md", "xlsx"):
            target = folder / f"sample-{QUARTER}.{fmt}"
            _run_cli(report_sample, quarter=QUARTER, service=None, format=fmt, output=str(target),
                     explain=False)
            written.append(f"`qmf-bot report sample --quarter {QUARTER} --format {fmt}` "
                           f"-> reports/{target.name}")
        target = folder / f"sample-{QUARTER}-explained.txt"
        _run_cli(report_sample, quarter=QUARTER, service=None, format="md", output=str(target), explain=True)
        written.append(f"`qmf-bot report sample --quarter {QUARTER} --explain` -> reports/{target.name}")
    n.note("\n".join(f"- {line}" for line in written))
    # the top of each, up to the case-level detail (the sample's case list is for Q&I only)
    for name, stop in ((f"sample-{QUARTER}.md", "## Sampled cases"),
                       (f"themes-{QUARTER}.md", "## Good practice")):
        path = folder / name
        if path.exists():
            n.step(f"reports/{name}")
            shown = path.read_text("utf-8").split(stop)[0].strip().splitlines()
            n.note("\n".join("> " + line if line else ">" for line in shown) + "\n>\n> ...")
    counts = _counts(n.bot)
    n.note(f"In all, the quarter's records: {counts['proposals']} proposals, {counts['learning audits']} "
           f"learning audits, {counts['actions']} actions, {counts['sampled cases']} randomly sampled cases, "
           "and what each person saw is in people/.")


def _counts(bot: Any) -> dict[str, int]:
    """How much the quarter produced (for the closing line)."""
    from storage.models import Action, LearningAudit, Proposal
    from storage.models.sampling import SampledCase

    with bot.rt.db.session() as session:
        return {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in (("proposals", Proposal), ("learning audits", LearningAudit),
                                    ("actions", Action), ("sampled cases", SampledCase))}

