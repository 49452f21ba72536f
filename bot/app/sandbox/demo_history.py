"""The demo's year before: the three quarters before 2026-27 Q1, played quietly through the real app.

A service with two learning audits a quarter never has enough for counts in one quarter; its post
adds the last four quarters, which usually do. So the demo's council has been using QMF Bot since
July 2025: in each earlier quarter the proposals job opens the round, each Team Manager proposes a
case through Slack, the allocation job allocates them and each auditor records their audit through
Slack. Nothing is narrated beyond a short summary; what each person saw is in their people/ file.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from bot.app.sandbox.narrator import LONDON, Narrator, scene
from bot.app.sandbox.render import render_blocks

EARLIER = ("2025-26Q2", "2025-26Q3", "2025-26Q4")
HISTORY_SEED = 2025
DRIFT = "Timeliness, drift and delay"
VOICE = "Voice and lived experience of the child"

# Each Team Manager proposes one case of their team a quarter: two a service, eight in all, so each
# of the four Service Managers is allocated two from outside their own service.
TEAMS = (("U0TM1", "CIC", "Children in Care — CiC North", "U0P1"),
         ("U0TM2", "CIC", "Children in Care — CiC South", "U0P4"),
         ("U0TM3", "CP", "Child Protection — CP East", "U0P6"),
         ("U0TM4", "CP", "Child Protection — CP West", "U0P9"),
         ("U0TM5", "CIN", "Child in Need — CiN Central", "U0P11"),
         ("U0TM6", "CIN", "Child in Need — CiN Outreach", "U0P14"),
         ("U0TM7", "FD", "Front Door/MASH — MASH", "U0P16"),
         ("U0TM8", "FD", "Front Door/MASH — Assessment", "U0P19"))

RECORD = {
    "Outcomes and the difference made for the child and family": "The plan held and the child is settled.",
    "Direct service-user feedback: what was said": "The family said the worker kept them informed.",
    "Who gave the feedback, or why there was none": "A parent, by phone.",
    "Impact on the worker": "Reassured that the direct work was noticed.",
    "What would have been needed to improve the case?": "Reviews on time, so the plan did not drift.",
    "Good practice to share": "The child's own words recorded at every visit.",
    "Wider learning for the service": "Put review dates in the plan itself.",
    "Themes: areas to improve": [DRIFT],
    "Themes: good practice": [VOICE],
}


def _at(day: Any, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=LONDON)


def _newest_dm_with(n: Narrator, user: str, button: str, containing: str) -> dict[str, Any]:
    for message in reversed(n.bot.fake.dms(user)):
        seen = render_blocks(message.get("blocks") or [], message.get("text"))
        if containing in seen and f"[Button: {button}" in seen:
            return message
    raise LookupError(f"{user} has no DM with {button!r} about {containing!r}")


def _play_quarter(n: Narrator, key: str, number: int) -> int:
    """One earlier quarter's learning audits, proposed and recorded through Slack; how many recorded."""
    from sqlalchemy import select

    from bot.core.calendar import Quarter
    from bot.learning_audits.rounds import round_dates
    from storage.models import LearningAudit

    bot, slack = n.bot, n.bot.slack
    with bot.rt.db.session() as session:
        calendar, policy = bot.rt.calendar(session), bot.rt.policy(session)
        dates = round_dates(calendar, policy, Quarter.parse(key, policy.year_start_month))
        allocate_on = calendar.next_working_day(dates.deadline, include_today=False)
        record_on = calendar.add_working_days(allocate_on, 10)
    bot.run_job("open-proposals", at=_at(dates.opens))
    bot.set_time(_at(dates.opens, 11))
    for i, (manager, prefix, team, holder) in enumerate(TEAMS):
        slack.click(manager, "Propose a case", message=_newest_dm_with(n, manager, "Propose a case", ""))
        reply = slack.submit(manager, {
            "Case reference": f"{prefix}-1{number}{i:03d}", "Case holder": holder,
            "Why would this case give most learning?": f"A case in {team.split(' — ')[1]} with learning to share."})
        if reply.errors:
            raise RuntimeError(f"the demo's history proposal for {key} was refused: {reply.errors}")
    bot.run_job("allocate-learning-audits", at=_at(allocate_on), seed=HISTORY_SEED)
    bot.set_time(_at(record_on, 14))
    with bot.rt.db.session() as session:
        audits = [(a.auditor.slack_id, a.case_ref) for a in session.scalars(
            select(LearningAudit).where(LearningAudit.quarter == key).order_by(LearningAudit.id))]
    for auditor, case_ref in audits:
        slack.click(auditor, f"Record learning audit for {case_ref}",
                    message=_newest_dm_with(n, auditor, "Record learning audit", case_ref))
        reply = slack.submit(auditor, RECORD)
        if reply.errors:
            raise RuntimeError(f"the demo's history audit of {case_ref} was refused: {reply.errors}")
    n.collect(set())
    return len(audits)


@scene
def the_year_before(n: Narrator) -> None:
    n.chapter(
        "The year before: three quarters of learning audits",
        "The council has used QMF Bot since July 2025. In each of the three quarters before this one, "
        "every Team Manager proposed a case, the bot allocated them and the Service Managers recorded "
        "their learning audits, all through Slack as the next chapters show for 2026-27 Q1. Those "
        "quarters are played here without narration (what each person saw is in their own file "
        "under people/): they are why this quarter's learning-themes posts can add the last four "
        "quarters, with counts and a chart, where one quarter alone is too small to count.")
    recorded = [_play_quarter(n, key, number) for number, key in enumerate(EARLIER, 1)]
    n.note("Learning audits recorded: " + ", ".join(
        f"{key[:7]} {key[7:]}: {count}" for key, count in zip(EARLIER, recorded, strict=True))
        + f". Each raised *{DRIFT}* to improve and *{VOICE}* as good practice.")
    n.bot.set_time(datetime(2026, 3, 30, 9, 0, tzinfo=LONDON))
