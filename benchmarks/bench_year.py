"""A year: four quarters for a council of 1,000 managers and 5,000 practitioners, end to end.

The real app is served over HTTP by uvicorn exactly as ``qmf-bot serve`` builds it
(``create_app`` + ``create_web_app``, via the sandbox's ``LocalBot``), in this process so that its
clock can be moved; people's actions are Slack-signed requests from the sandbox's driver; the
scheduler's jobs run as the scheduler runs them (``schedules.jobs.run_job``) at their cron times
on every weekday of the year (02:00, 08:00, 08:30, 09:00, 09:30), each job whose work was done run a
second time at once (a second scheduler, or a restart) to show it does nothing twice. The outbox
sender runs in its background thread against a local fake Slack.

Each quarter: ``open-proposals`` asks all 1,000 managers; a sample of Team Managers (``--proposers``,
default 150) propose a case through the modal; ``send-reminders`` reminds the rest;
``allocate-learning-audits`` allocates; the auditors of a sample (``--recorders``, default 100)
record their learning audits through the modal; ``post-learning-themes`` posts the themes and a
Q&I person asks ``/qmf themes all``; Q&I chooses next quarter's random-sample service
(``/qmf sample service``) and ``draw-random-sample`` draws it; a DLT member commissions a learning
visit through its modal. The random sample drawn at the quarter's start is graded: for each drawn case
(up to ``--graders``, default 10) its Q&I auditor and its Practice Consultant each record their blind
sample audit through the modal, then one of the pair records the moderated grade, and the next
morning's ``send-reminders`` sends the case holders and team managers their findings. The council's
Continuous Improvement Board meets once a quarter (the org file's ``cib_meetings``), so ``cib-digest``
posts the Board's digest before each meeting. People's actions are a sample: 1,000 managers each proposing and
recording every quarter would be 8,000 modal round trips, the same code paths as these.

Checks at each quarter's end: every job_runs row once per (job, period), no outbox dedupe key
twice, no outbox message delivered twice (the fake counts posts by outbox id), the outbox drained
(nothing pending or failed), no Slack problems; every drawn case graded up to ``--graders`` has two
sample audits and one moderation, no findings DM delivered twice (by channel and words) and no case's
findings told to a person twice (the audit log's ``sample_findings`` entries); ``cib-digest`` ran once
for each meeting of the quarter and its digest was posted to the Board's channel once. Resident memory (VmRSS of this process, which
serves the app, runs the jobs and the sender) is read after a garbage collection at each
quarter's end; the goal is growth under 10% from the first quarter's end to the last. The fake
Slack's own record of the quarter is cleared at each quarter's end so that it is not counted as
the app's memory.

    python benchmarks/bench_year.py [--quick] [--database-url URL]

The default database is PostgreSQL ``qmf_bench2`` on 127.0.0.1 (created if missing, emptied each run).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.app.sandbox.demo_history import RECORD  # noqa: E402
from bot.app.sandbox.fake_slack import FakeSlack  # noqa: E402
from bot.app.sandbox.harness import LocalBot  # noqa: E402
from bot.app.sandbox.render import buttons, render_blocks  # noqa: E402
from bot.core.directory import import_org  # noqa: E402
from bot.core.grades import Grade  # noqa: E402
from bot.core.orgfile import Division, Forum, OrgFile, People, Service, Team  # noqa: E402
from bot.core.policy import Policy  # noqa: E402
from bot.sampling.register import import_register  # noqa: E402
from bot.sampling.service import latest_draw  # noqa: E402
from bot.sampling.types import AGREED_SECTION_PREFIX, SECTION_PREFIX  # noqa: E402
from schedules.jobs import run_job  # noqa: E402
from storage.models import AuditLogEntry, JobRun, LearningAudit, OutboxMessage  # noqa: E402
from storage.models.sampling import SampleAudit, SampleModeration  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_fanout import prepare_database  # noqa: E402

LONDON = ZoneInfo("Europe/London")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench2"
QUARTERS = [(date(2026, 4, 1), date(2026, 6, 30)), (date(2026, 7, 1), date(2026, 9, 30)),
            (date(2026, 10, 1), date(2026, 12, 31)), (date(2027, 1, 1), date(2027, 3, 31))]
TICKS = [(2, 0), (8, 0), (8, 30), (9, 0), (9, 30)]  # the jobs' cron times
QI, DLT = "U0QI1", "U0DLT1"
GOAL_RSS = 0.10
CIB_MEETINGS = [date(2026, 5, 20), date(2026, 8, 19), date(2026, 11, 18), date(2027, 2, 17)]  # a quarter's 2nd month
DIGEST_WORDS = "Continuous Improvement Board digest for"
FINDINGS_HEADER = "Random sample findings"
SAMPLE_AUDIT = {  # the blind audit's answers (tests/flows/test_sampling_flow.py's AUDIT_ANSWERS)
    "Discussions held": ["Case holder", "Team manager"],
    "Strengths": "Clear plan reviewed monthly; the child's views are recorded at each visit.",
    "Areas for improvement": "Supervision notes do not show how risk was weighed.",
    "Themes": ["Management oversight and supervision", "Voice and lived experience of the child"],
    "Why this grade?": "Most of the work is timely and purposeful, with gaps in oversight.",
}
GRADE_WEIGHTS = {Grade.OUTSTANDING: 1, Grade.GOOD: 5, Grade.REQUIRES_IMPROVEMENT: 3, Grade.INADEQUATE: 1}


def big_org(services: int, practitioners: int) -> OrgFile:
    """``services`` services of a Service Manager and 3 teams (4 managers a service), ``practitioners``
    spread over the teams; four divisions, each with its leadership team and channel, as in
    sample_org.yaml."""
    divisions = [Division(name=f"Division {d}", leadership_team=[f"U0DLT{d}"], channel=f"C0DLT{d}")
                 for d in range(1, 5)]
    teams = services * 3
    per_team = [practitioners // teams + (1 if t < practitioners % teams else 0) for t in range(teams)]
    out: list[Service] = []
    p = 0
    for i in range(services):
        team_list = []
        for j in range(3):
            t = 3 * i + j
            team_list.append(Team(key=f"s{i:03d}-t{j}", name=f"Team {i:03d}-{j}", team_manager=f"U{i:03d}TM{j}",
                                  practitioners=[f"U{p + k:05d}P" for k in range(per_team[t])]))
            p += per_team[t]
        out.append(Service(key=f"s{i:03d}", name=f"Service {i:03d}", division=divisions[i % 4].name,
                           service_manager=f"U{i:03d}SM", channel=f"C{i:03d}SVC", teams=team_list))
    return OrgFile(
        organisation="Benchmark Council Children & Families",
        channels={"quality_improvement": "C0QI", "continuous_improvement_board": "C0CIB"},
        divisions=divisions, services=out,
        people=People(quality_improvement=[QI, "U0QI2"], practice_consultants=["U0PC1", "U0PC2"],
                      senior_managers=["U0SEN1", "U0SEN2"], admins=["U0ADM1"], board_leads=["U0BRD1"]),
        forums=[Forum(name="Leadership Meeting", channel="C0LEAD")], cib_meetings=CIB_MEETINGS,
    )


def register_csv(org: OrgFile, per_team: int = 4) -> str:
    """Open cases for the random sample: ``per_team`` a team, held by the team's practitioners."""
    rows = ["case_ref,service,team,case_holder,team_manager,reviewing_officer,status"]
    n = 0
    for service in org.services:
        for team in service.teams:
            for k in range(per_team):
                n += 1
                holder = team.practitioners[k % len(team.practitioners)]
                rows.append(f"REG-{n:06d},{service.key},{team.key},{holder},{team.team_manager},,open")
    return "\n".join(rows) + "\n"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def header_text(message: dict[str, Any]) -> str:
    return next(((b.get("text") or {}).get("text", "") for b in message.get("blocks") or []
                 if b.get("type") == "header"), "")


def newest_dm(fake: FakeSlack, user: str, button: str, containing: str = "") -> dict[str, Any] | None:
    for message in reversed(fake.dms(user)):
        seen = render_blocks(message.get("blocks") or [], message.get("text"))
        if containing in seen and f"[Button: {button}" in seen:
            return message
    return None


class Year:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(2026)
        self.fake = FakeSlack(check_blocks=True)
        self.bot = LocalBot(args.database_url, fake=self.fake, start=datetime(2026, 3, 31, 9, tzinfo=LONDON),
                            migrate=False, background_sender=True)
        self.job_calls: Counter[str] = Counter()
        self.job_done: Counter[str] = Counter()
        self.repeats_that_did_work: list[str] = []
        self.actions: Counter[str] = Counter()
        self.refused: list[str] = []
        self.delivered: Counter[Any] = Counter()
        self.slack_problems: list[str] = []
        self.request_seconds: list[float] = []
        self.graded = 0  # drawn cases the bench asked to be graded (two blind audits and a moderation each)
        self.findings_dms = 0
        self.findings_twice: list[str] = []
        self.digests = 0
        self.digest_problems: list[str] = []

    # -- the scheduler -------------------------------------------------------------------------
    def tick(self, day: date, hour: int, minute: int) -> list[str]:
        at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
        self.bot.set_time(at)
        done = []
        for name, spec in self.bot.rt.features.jobs().items():
            cron = spec.cron or {}
            if cron.get("hour") != hour or cron.get("minute", 0) != minute:
                continue
            if "day" in cron and not (1 <= day.day <= 7):
                continue
            outcome = run_job(self.bot.rt, name, at=at)
            self.job_calls[name] += 1
            if outcome.status == "done":
                self.job_done[name] += 1
                done.append(name)
                again = run_job(self.bot.rt, name, at=at + timedelta(minutes=1))  # a second scheduler
                if again.status == "done":
                    self.repeats_that_did_work.append(f"{name} {outcome.period}")
        return done

    # -- people ----------------------------------------------------------------------------------
    def act(self, what: str, fn: Any) -> Any:
        started = time.perf_counter()
        try:
            reply = fn()
        except Exception as exc:  # noqa: BLE001 - a refused step is counted and reported, not fatal
            self.refused.append(f"{what}: {type(exc).__name__}: {str(exc)[:160]}")
            return None
        self.request_seconds.append(time.perf_counter() - started)
        errors = getattr(reply, "errors", None)
        if errors:
            self.refused.append(f"{what}: {errors}")
            return None
        self.actions[what.split(" ", 1)[0]] += 1
        return reply

    def propose(self, day: date, number: int) -> None:
        slack = self.bot.slack
        self.drain()  # people act hours after a job: its DMs have arrived
        self.bot.set_time(datetime(day.year, day.month, day.day, 11, tzinfo=LONDON))
        services = self.args.services
        chosen = self.rng.sample(range(services * 3), min(self.args.proposers, services * 3))
        org = self.org
        for k, t in enumerate(chosen):
            service, team = org.services[t // 3], org.services[t // 3].teams[t % 3]
            message = newest_dm(self.fake, team.team_manager, "Propose a case")
            if message is None:
                self.refused.append(f"propose: {team.team_manager} has no invitation")
                continue
            if self.act("propose-open", lambda m=message, u=team.team_manager: slack.click(u, "Propose a case",
                                                                                            message=m)) is None:
                continue
            self.act("propose", lambda u=team.team_manager, tm=team, n=k: slack.submit(u, {
                "Case reference": f"BEN-{number}{n:05d}", "Case holder": self.rng.choice(tm.practitioners),
                "Why would this case give most learning?": f"A case in {tm.name} with learning to share."}))
            del service

    def record(self, day: date, quarter_key: str) -> None:
        slack = self.bot.slack
        self.drain()  # people act hours after a job: its DMs have arrived
        self.bot.set_time(datetime(day.year, day.month, day.day, 14, tzinfo=LONDON))
        with self.bot.rt.db.session() as session:
            audits = [(a.auditor.slack_id, a.case_ref) for a in session.scalars(
                select(LearningAudit).where(LearningAudit.quarter == quarter_key).order_by(LearningAudit.id))]
        for auditor, case_ref in audits[: self.args.recorders]:
            message = newest_dm(self.fake, auditor, "Record learning audit", case_ref)
            if message is None:
                self.refused.append(f"record: {auditor} has no allocation DM for {case_ref}")
                continue
            if self.act("record-open", lambda u=auditor, m=message, c=case_ref: slack.click(
                    u, f"Record learning audit for {c}", message=m)) is None:
                continue
            self.act("record", lambda u=auditor: slack.submit(u, RECORD))

    def themes_sample_visit(self, day: date, next_service: str) -> None:
        slack = self.bot.slack
        self.drain()  # people act hours after a job: its DMs have arrived
        self.bot.set_time(datetime(day.year, day.month, day.day, 15, tzinfo=LONDON))
        self.act("themes", lambda: slack.command(QI, "/qmf", "themes all"))
        self.act("sample-service", lambda: slack.command(QI, "/qmf", f"sample service {next_service}"))
        if self.act("visit-open", lambda: slack.command(DLT, "/qmf", "commission visit")) is not None:
            with self.bot.rt.db.session() as session:
                visit_day = self.bot.rt.calendar(session).add_working_days(day, 5)
            self.act("visit", lambda: slack.submit(DLT, {
                "Service to visit": "Service 000",
                "The need or risk behind the visit": "Placement stability has fallen for two quarters.",
                "Date of the visit": visit_day, "Visitors": ["U0SEN1", "U001SM"], "Lead reviewer": "U0SEN1",
                "Planned activities": ["Observation of practice"],
                "Preparation notes": "Read the stability dashboard.",
                "Performance information": "Placement moves per child up from 0.4 to 0.7."}))
            self.act("visit-close", lambda: slack.close_modal(DLT))

    def sample_audit(self, user: str, case_id: int, grade: Grade, feedback: str | None) -> bool:
        """The auditor presses "Record sample audit" on the draw's DM and submits the blind audit."""
        slack, fake = self.bot.slack, self.fake
        dm = next((m for m in reversed(fake.dms(user)) if ("Record sample audit", str(case_id)) in buttons(m)), None)
        if dm is None:
            self.refused.append(f"sample-audit: {user} has no draw DM for case {case_id}")
            return False
        if self.act("audit-open", lambda: slack.click(user, "Record sample audit", message=dm,
                                                      value=str(case_id))) is None:
            return False
        view = fake.latest_view(user) or {}
        if (view.get("title") or {}).get("text") != "Sample audit":
            self.refused.append(f"sample-audit: no audit modal for {user}, case {case_id}")
            return False
        sections = {b["label"]["text"]: grade.label for b in view.get("blocks") or []
                    if str(b.get("block_id", "")).startswith(SECTION_PREFIX)}
        values: dict[str, Any] = dict(SAMPLE_AUDIT, **sections, **{"Overall grade": grade.label})
        if feedback is not None:
            values["Service-user feedback"] = feedback
        if self.act("audit", lambda: slack.submit(user, values)) is None:
            return False
        if fake.latest_view(user) is not None:
            self.act("audit-close", lambda: slack.close_modal(user))  # reads the confirmation, closes it
        return True

    def moderate(self, user: str, case_id: int, grade: Grade) -> None:
        """One of the pair presses "Record moderated grade" on the side-by-side DM and agrees a grade."""
        slack, fake = self.bot.slack, self.fake
        dm = next((m for m in reversed(fake.dms(user)) if ("Record moderated grade", str(case_id)) in buttons(m)),
                  None)
        if dm is None:
            self.refused.append(f"moderate: {user} has no side-by-side DM for case {case_id}")
            return
        if self.act("moderate-open", lambda: slack.click(user, "Record moderated grade", message=dm,
                                                         value=str(case_id))) is None:
            return
        view = fake.latest_view(user) or {}
        if (view.get("title") or {}).get("text") != "Moderated grade":
            self.refused.append(f"moderate: no moderation modal for {user}, case {case_id}")
            return
        agreed = {b["label"]["text"]: grade.label for b in view.get("blocks") or []
                  if str(b.get("block_id", "")).startswith(AGREED_SECTION_PREFIX)
                  and not b["element"].get("initial_option")}
        if self.act("moderate", lambda: slack.submit(user, {
                "Agreed grade": grade.label, **agreed,
                "Reason for the agreed grade": "Agreed after talking through the oversight gaps and the plan."})) \
                is not None and fake.latest_view(user) is not None:
            self.act("moderate-close", lambda: slack.close_modal(user))

    def grade_sample(self, day: date) -> None:
        """The quarter's drawn cases (up to ``--graders``): both auditors' blind audits, then a moderation."""
        self.drain()  # the draw's DMs have arrived
        self.bot.set_time(datetime(day.year, day.month, day.day, 16, tzinfo=LONDON))
        with self.bot.rt.db.session() as session:
            row = latest_draw(session)
            cases = [(c.id, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases] if row else []
        if not cases:
            self.refused.append(f"grade-sample: nothing drawn by {day}")
        cases = cases[: self.args.graders]
        self.graded += len(cases)
        grades, weights = list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values())
        plan: list[tuple[int, str, Grade]] = []
        for case_id, qi, pc in cases:
            a, b = self.rng.choices(grades, weights, k=2)
            if self.sample_audit(qi, case_id, a, None) and self.sample_audit(
                    pc, case_id, b, "Mum said the worker listens and explains what will happen next."):
                plan.append((case_id, self.rng.choice((qi, pc)), self.rng.choice((a, b))))
        self.drain()  # the side-by-side DMs with "Record moderated grade" have arrived
        for case_id, who, agreed in plan:
            self.moderate(who, case_id, agreed)

    # -- checks ------------------------------------------------------------------------------------
    def drain(self) -> tuple[int, int]:
        sender = self.bot.rt.sender
        deadline = time.monotonic() + 300
        while sender.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        with self.bot.rt.db.session() as session:
            waiting = session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.status.in_(("pending", "sending")))) or 0
            failed = session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.status == "failed")) or 0
        return waiting, failed

    def quarter_checks(self, first: date, last: date) -> dict[str, Any]:
        with self.bot.rt.db.session() as session:
            runs = Counter((j, p) for j, p in session.execute(select(JobRun.job, JobRun.period)))
            keys = session.execute(select(OutboxMessage.dedupe_key, func.count()).where(
                OutboxMessage.dedupe_key.is_not(None)).group_by(OutboxMessage.dedupe_key)
                .having(func.count() > 1)).all()
            outbox_rows = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
            audits = session.scalar(select(func.count()).select_from(SampleAudit)) or 0
            moderated = session.scalar(select(func.count()).select_from(SampleModeration)) or 0
            told = Counter((e, (d or {}).get("to")) for e, d in session.execute(
                select(AuditLogEntry.entity_id, AuditLogEntry.detail).where(AuditLogEntry.entity == "sample_findings")))
        # the findings DMs and the Board's digests the fake Slack received this quarter
        findings = Counter((m.get("channel"), m.get("text")) for m in self.fake.messages()
                           if str(m.get("channel", "")).startswith("D") and header_text(m).startswith(FINDINGS_HEADER))
        self.findings_dms += sum(findings.values())
        self.findings_twice += [f"{c}: {t[:60]}" for (c, t), n in findings.items() if n > 1]
        self.findings_twice += [f"case {e} told to {to} {n} times" for (e, to), n in told.items() if n > 1]
        digests = [m for m in self.fake.messages("C0CIB") if str(m.get("text", "")).startswith(DIGEST_WORDS)]
        self.digests += len(digests)
        meetings = [d for d in CIB_MEETINGS if first <= d <= last]
        digest_runs = sorted(p for (j, p) in runs if j == "cib-digest" and first.isoformat() <= p <= last.isoformat())
        if digest_runs != [d.isoformat() for d in meetings] or len(digests) != len(meetings):
            self.digest_problems.append(f"{first:%b %Y}: meetings {[str(d) for d in meetings]}, cib-digest runs "
                                        f"{digest_runs}, digests posted {len(digests)}")
        for call in self.fake.calls("chat.postMessage"):
            if call.ok:
                outbox_id = ((call.args.get("metadata") or {}).get("event_payload") or {}).get("outbox_id")
                self.delivered[outbox_id if outbox_id is not None else f"direct-{id(call)}"] += 1
        self.slack_problems += list(self.fake.problems)
        return {"job_runs": sum(runs.values()), "job_runs_twice": [k for k, n in runs.items() if n > 1],
                "dedupe_keys_twice": len(keys), "outbox_rows": outbox_rows, "audits": audits, "moderated": moderated,
                "findings": sum(findings.values()), "digests": len(digests), "meetings": len(meetings),
                "delivered_twice": sum(1 for k, n in self.delivered.items() if n > 1 and not str(k).startswith("direct"))}

    # -- the year ------------------------------------------------------------------------------------
    def run(self) -> bool:
        args = self.args
        print(f"bench_year: {os.cpu_count()} CPUs, load average at start "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        db = prepare_database(args.database_url)
        self.org = big_org(args.services, args.practitioners)
        with db.session() as session:
            import_org(session, self.org)
        with db.session() as session:  # the case register, as `qmf-bot cases import` loads it
            import_register(session, register_csv(self.org), policy=Policy())
        db.dispose()
        managers = 4 * args.services
        people = sum(len(t.practitioners) for s in self.org.services for t in s.teams)
        print(f"{managers} managers, {people} practitioners, {args.services} services; people's actions: "
              f"{args.proposers} proposals and {args.recorders} recorded audits a quarter, themes, a sample "
              f"service, {args.graders} sampled cases graded and moderated, a visit; CIB meetings "
              f"{', '.join(str(d) for d in CIB_MEETINGS)}")
        self.fake.start()
        self.bot.start()
        self.bot.rt.sender.rate = 1000.0  # the fake is not rate-limiting here: bench_fanout measures pacing
        ok = True
        rss: list[float] = []
        started = time.monotonic()
        try:
            for number, (first, last) in enumerate(QUARTERS[: args.quarters], 1):
                q_started = time.monotonic()
                quarter_key = None
                proposed = recorded = extras = graded = False
                drawn_on: date | None = None
                day = first
                while day <= last:
                    if day.weekday() < 5:
                        for hour, minute in TICKS:
                            for name in self.tick(day, hour, minute):
                                if name == "draw-random-sample" and drawn_on is None:
                                    drawn_on = day
                                if name == "open-proposals" and not proposed:
                                    proposed = True
                                    self.propose(day, number)
                                if name == "allocate-learning-audits":
                                    with self.bot.rt.db.session() as session:
                                        quarter_key = session.scalar(select(JobRun.period).where(
                                            JobRun.job == name).order_by(JobRun.id.desc()).limit(1))
                        if drawn_on and not graded and day >= drawn_on + timedelta(days=7):
                            graded = True  # a week after the draw; the findings go at the next 09:30
                            self.grade_sample(day)
                        if quarter_key and not recorded and day >= self._after(quarter_key, 10):
                            recorded = True
                            self.record(day, quarter_key)
                        if recorded and not extras and day >= self._after(quarter_key, 20):
                            extras = True
                            self.themes_sample_visit(day, f"s{(number * 7) % args.services:03d}")
                    day += timedelta(days=1)
                waiting, failed = self.drain()
                checks = self.quarter_checks(first, last)
                self.fake.clear()  # the fake's record of the quarter is Slack's memory, not the app's
                gc.collect()
                rss.append(rss_mb())
                print(f"\nquarter {number} ({first:%b}-{last:%b %Y}, {time.monotonic() - q_started:.0f} s): "
                      f"jobs done {dict(self.job_done)}")
                print(f"  job_runs {checks['job_runs']} (any (job, period) twice: {checks['job_runs_twice'] or 'no'}; "
                      f"repeat runs that did work: {self.repeats_that_did_work or 'none'}); outbox rows "
                      f"{checks['outbox_rows']}, dedupe keys twice {checks['dedupe_keys_twice']}, delivered "
                      f"twice {checks['delivered_twice']}; outbox at quarter end: {waiting} waiting, {failed} failed")
                print(f"  random sample: {checks['audits']} sample audits recorded and {checks['moderated']} moderated "
                      f"so far (of {self.graded} cases graded: {2 * self.graded} and {self.graded} expected); "
                      f"findings DMs this quarter {checks['findings']} (any twice: {self.findings_twice or 'no'}); "
                      f"CIB meetings {checks['meetings']}, digests posted {checks['digests']}"
                      + (f" PROBLEM {self.digest_problems[-1]}" if self.digest_problems else ""))
                print(f"  people's actions so far: {dict(self.actions)}; refused {len(self.refused)}; "
                      f"RSS {rss[-1]:.0f} MB")
                for line in self.refused[-3:]:
                    print(f"  refused: {line}")
                ok = ok and not checks["job_runs_twice"] and not checks["dedupe_keys_twice"] \
                    and not checks["delivered_twice"] and waiting == 0 and failed == 0 \
                    and not self.repeats_that_did_work and checks["audits"] == 2 * self.graded \
                    and checks["moderated"] == self.graded and not self.findings_twice and not self.digest_problems \
                    and (checks["findings"] > 0 or not self.graded)
        finally:
            self.bot.stop()
            self.fake.stop()
        growth = (rss[-1] - rss[0]) / rss[0] if len(rss) > 1 else 0.0
        times = sorted(self.request_seconds)
        if times:
            print(f"\nsigned requests: {len(times)}, median {1000 * times[len(times) // 2]:.0f} ms, "
                  f"p99 {1000 * times[int(len(times) * 0.99)]:.0f} ms (driver round trip incl. waiting for the "
                  f"app's background work)")
        print(f"resident memory at each quarter's end: {', '.join(f'{m:.0f}' for m in rss)} MB; growth first to "
              f"last {growth:+.1%} (goal under {GOAL_RSS:.0%}); whole year {time.monotonic() - started:.0f} s")
        print(f"random sample: {self.graded} cases graded, {2 * self.graded} blind audits and {self.graded} "
              f"moderations expected; {self.findings_dms} findings DMs, none twice: {not self.findings_twice}; "
              f"CIB digests posted {self.digests} for {sum(1 for d in CIB_MEETINGS if d <= QUARTERS[args.quarters - 1][1])}"
              f" meeting(s); digest problems: {self.digest_problems or 'none'}")
        print(f"Slack problems: {len(self.slack_problems)}" + "".join(f"\n  {p}" for p in self.slack_problems[:5]))
        ok = ok and growth < GOAL_RSS and not self.slack_problems and not self.refused
        print(f"result: {'OK' if ok else 'FAILED'}; refused actions {len(self.refused)}")
        return ok

    def _after(self, quarter_key: str | None, working_days: int) -> date:
        from bot.core.calendar import Quarter
        from bot.learning_audits.rounds import round_dates

        with self.bot.rt.db.session() as session:
            calendar, policy = self.bot.rt.calendar(session), self.bot.rt.policy(session)
            dates = round_dates(calendar, policy, Quarter.parse(str(quarter_key), policy.year_start_month))
            return calendar.add_working_days(dates.deadline, working_days)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=250, help="services of 1 SM + 3 TMs (default 250)")
    parser.add_argument("--practitioners", type=int, default=5000)
    parser.add_argument("--proposers", type=int, default=150, help="Team Managers proposing a quarter")
    parser.add_argument("--recorders", type=int, default=100, help="learning audits recorded a quarter")
    parser.add_argument("--graders", type=int, default=10, help="drawn cases graded and moderated a quarter")
    parser.add_argument("--quarters", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--quick", action="store_true", help="10 services, 2 quarters, few actions")
    args = parser.parse_args()
    if args.quick:
        args.services, args.practitioners, args.proposers, args.recorders, args.quarters = 10, 200, 10, 6, 2
        args.graders = min(args.graders, 4)
    logging.getLogger("bot").setLevel(logging.ERROR)
    return 0 if Year(args).run() else 1


if __name__ == "__main__":
    sys.exit(main())
