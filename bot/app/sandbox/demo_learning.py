"""Learning audits in the demo: proposals, allocation, cover while a Service Manager is away, the
meetings, reflections and records, a correction, action plans and the quarter's learning themes."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from bot.app.sandbox import demo_history  # noqa: F401  (its scene, the year before, plays first)
from bot.app.sandbox.demo_play import (
    ALLOCATION_SEED,
    AUDIT_LABELS,
    FLAGS,
    INADEQUATE,
    LOTS,
    QUARTER,
    QUARTER_LABEL,
    QUIET_PROPOSALS,
    REASON,
    REFLECTION_LABELS,
    REVISIT,
    STORIES,
    TEAM_LABEL,
    Audit,
    Play,
    Proposed,
)
from bot.app.sandbox.narrator import Narrator, london, scene

# =============================================================================================
# a. learning audits


def _propose_quietly(p: Play, item: Proposed) -> None:
    """A manager presses the button in their DM, picks the team if it is not their own, and proposes."""
    p.slack.click(item.proposer, "Propose a case", message=p.dm_with(item.proposer, "Propose a case"))
    if not item.proposer.startswith("U0TM"):
        p.slack.select(item.proposer, "Service and team", TEAM_LABEL[item.team])
    values: dict[str, Any] = {"Case reference": item.case_ref, "Case holder": item.holder,
                              REASON: item.reason}
    if item.flags:
        values[FLAGS] = list(item.flags)
    reply = p.slack.submit(item.proposer, values)
    if reply.errors:
        raise RuntimeError(f"the demo's proposal of {item.case_ref} was refused: {reply.errors}")


@scene
def learning_audit_proposals(n: Narrator) -> None:
    p = Play(n)
    n.chapter(
        f"Learning audits, {QUARTER_LABEL}: managers propose cases",
        "Learning audits are the heart of the Quality Management Framework. Each quarter every Service "
        "Manager audits two cases from outside their own service, meeting the case holder and team manager "
        "for a strengths-based conversation about the difference made for the child and family. It is "
        "*not* performance management: the point is to learn what helps children, and to share it. It "
        "starts with Service and Team Managers proposing the cases that would give most learning.\n\n"
        "Who is who: four services (Children in Care, Child Protection, Child in Need, Front Door/MASH), "
        "each with a Service Manager (U0SM1-4) and two Team Managers (U0TM1-8); social workers U0P1-20; "
        "Quality & Improvement (Q&I) U0QI1-5; Practice Consultants U0PC1-5; the Divisional Leadership "
        "Team U0DLT1-2. People appear by their Slack ids; cases only ever by their case reference.")
    n.job("open-proposals", london(2026, 4, 1, 9, 0), only={"U0TM1"})
    n.note("All 12 Service and Team Managers got this invitation; U0TM1's is shown.")

    n.bot.set_time(london(2026, 4, 1, 10, 15))
    p.act("U0TM1", "presses *Propose a case* in the DM",
          lambda: p.slack.click("U0TM1", "Propose a case", message=p.dm_with("U0TM1", "Propose a case")))
    p.submit("U0TM1", "fills in the form, mentioning where the family lives, and presses *Propose*", {
        "Case reference": "CIC-20411", "Case holder": "U0P1",
        REASON: "The family moved to SW1A 1AA and the plan was rebuilt with the new school.",
        FLAGS: [INADEQUATE]})
    p.submit("U0TM1", "takes the postcode out and presses *Propose* again", {
        REASON: "A move of school meant rebuilding the plan; the child's voice led it."})

    n.bot.set_time(london(2026, 4, 1, 14, 0))
    p.act("U0SM2", "types `/propose-case`", lambda: p.slack.command("U0SM2", "/propose-case"))
    p.submit("U0SM2", "types a family name where the case reference goes", {
        "Case reference": "Smith family", "Case holder": "U0P7",
        REASON: "Strong partnership with the school nurse; good learning on neglect."})
    p.submit("U0SM2", "puts in the case reference from the case-management system",
             {"Case reference": "cp-31188"})

    n.bot.set_time(london(2026, 4, 2, 11, 0))
    p.act("U0SM1", "types `/qmf propose`", lambda: p.slack.command("U0SM1", "/qmf", "propose"))
    p.act("U0SM1", "chooses the team that holds the case (the team manager follows the team)",
          lambda: p.slack.select("U0SM1", "Service and team", TEAM_LABEL["cic-south"]))
    p.submit("U0SM1", "proposes a case that U0TM1 has already proposed", {
        "Case reference": "CIC-20411", "Case holder": "U0P5",
        REASON: "We audited this case last year; a re-visit would show what changed.", FLAGS: [REVISIT]})
    p.submit("U0SM1", "corrects it to the case they meant", {"Case reference": "CIC-20533"})

    n.step("Over the next week, ten more proposals come in the same way")
    n.bot.set_time(london(2026, 4, 7, 10, 0))  # after the Easter bank holidays
    for item in QUIET_PROPOSALS:
        _propose_quietly(p, item)
    n.collect(set())
    rows = ["| Case | Team | Proposed by | Flags |", "|---|---|---|---|"]
    rows += [f"| {i.case_ref} | {TEAM_LABEL[i.team]} | {i.proposer} | {'; '.join(i.flags) or '-'} |"
             for i in QUIET_PROPOSALS]
    n.note("\n".join(rows))

    n.bot.set_time(london(2026, 4, 8, 9, 40))
    p.quietly(lambda: _propose_quietly(p, Proposed("U0TM2", "CIC-20509", "cic-south", "U0P5",
                                                   "Long-standing case with new progress.")))
    n.note("U0TM2 also proposed CIC-20509, then heard the case is closing this month.")
    p.act("U0TM2", "types `/qmf proposals`", lambda: p.slack.command("U0TM2", "/qmf", "proposals"))
    listing = p.fake.ephemerals("U0TM2")[-1]
    p.act("U0TM2", "presses *Withdraw* beside CIC-20509",
          lambda: p.slack.click("U0TM2", "Withdraw", message=listing, value=str(p.proposal_id("CIC-20509"))))

    n.bot.set_time(london(2026, 4, 9, 15, 0))
    p.act("U0TM3", "types `/qmf proposals`", lambda: p.slack.command("U0TM3", "/qmf", "proposals"))
    listing = p.fake.ephemerals("U0TM3")[-1]
    p.act("U0TM3", "presses *Edit* beside CP-31007",
          lambda: p.slack.click("U0TM3", "Edit", message=listing, value=str(p.proposal_id("CP-31007"))))
    p.submit("U0TM3", "ticks a flag and presses *Save*", {FLAGS: [LOTS]})


@scene
def learning_audit_allocation(n: Narrator) -> None:
    p = Play(n)
    n.chapter(
        "Learning audits: a reminder, then independent allocation",
        "Two working days before the deadline, anyone who has not proposed gets one reminder (never on a "
        "day off, never twice). After the deadline the bot gives each Service Manager two cases they are "
        "entirely independent of: not their service, not a team they manage, not a case they proposed or "
        "hold. It solves this as an assignment problem, preferring flagged cases and spreading each "
        "service's cases across auditors, and records its seed so the plan can be replayed and explained.")
    n.job("send-reminders", london(2026, 4, 15, 9, 30))
    n.bot.set_time(london(2026, 4, 15, 11, 0))
    p.act("U0TM6", "presses *Propose a case* in the reminder",
          lambda: p.slack.click("U0TM6", "Propose a case", message=p.dm_with("U0TM6", "Propose a case")))
    p.submit("U0TM6", "proposes a case", {
        "Case reference": "CIN-40355", "Case holder": "U0P15",
        REASON: "Persistent outreach got a teenager back into school."})
    n.job("send-reminders", london(2026, 4, 16, 9, 30))
    n.note("Nobody else is reminded: everyone has proposed, and each reminder is sent once per person.")

    n.job("allocate-learning-audits", london(2026, 4, 20, 9, 0), only=set(), seed=ALLOCATION_SEED)
    audits = p.audits()
    rows = ["The plan as stored: every Service Manager has exactly two cases, none from their own service "
            "or proposed by them.", "", "| Auditor | Case | Service | Case holder | Team manager |",
            "|---|---|---|---|---|"]
    rows += [f"| {a.auditor} | {a.case_ref} | {a.service} | {a.holder} | {a.manager} |" for a in audits]
    n.note("\n".join(rows))
    first = audits[0]
    n.note(f"Each auditor, case holder and team manager was told by DM. For {first.case_ref}:")
    p.show(first.auditor, p.dm_with(first.auditor, "Set up meeting", first.case_ref))
    p.show(first.holder, p.dm_with(first.holder, "Start reflection", first.case_ref))
    p.show(first.manager, p.dm_saying(first.manager, first.case_ref))
    from storage.models import LearningRound

    with p.bot.rt.db.session() as session:
        learning_round = session.get(LearningRound, QUARTER)
        if learning_round is None:
            raise LookupError(f"no learning round for {QUARTER}")
        explanation = learning_round.allocation_explanation or ""
    n.note("Why the other proposals were not allocated (what `qmf-bot jobs run allocate-learning-audits "
           "--dry-run` explains):\n\n```\n" + explanation.strip() + "\n```")


QI_LEAD = "U0QI1"
AWAY_FROM, AWAY_TO = date(2026, 5, 26), date(2026, 6, 12)


def _service_manager_of(p: Play, audit: Audit) -> str:
    from storage.models import LearningAudit

    with p.bot.rt.db.session() as session:
        found = session.get(LearningAudit, audit.id)
        if found is None:
            raise LookupError(f"no learning audit {audit.id}")
        return str(found.service.service_manager.slack_id)


def _who_may_take(p: Play, audit: Audit, exclude: set[str]) -> str:
    """The first Service Manager the learning audit's own rule lets take it over (the modal checks
    again): the scene picks as a Q&I lead would, knowing who is independent."""
    from bot.core.work import Move, problem
    from bot.learning_audits.cover import LEARNING_AUDIT_WORK as KIND

    with p.bot.rt.db.session() as session:
        work = KIND.find(session, audit.id, "")
        if work is None:
            raise LookupError(f"learning audit {audit.id} is not open")
        move = Move(session=session, today=p.bot.rt.calendar(session).today(p.bot.rt.now()),
                    calendar=p.bot.rt.calendar(session), policy=p.bot.rt.policy(session), actor=QI_LEAD)
        for candidate in (f"U0SM{i}" for i in range(1, 5)):
            if candidate not in exclude and problem(KIND, move, work, candidate) is None:
                return candidate
    raise LookupError(f"no Service Manager may take over {audit.case_ref}")


@scene
def cover_while_away(n: Narrator) -> None:
    p = Play(n)
    audits = p.audits()
    away = audits[-1].auditor
    theirs = [a for a in audits if a.auditor == away]
    n.chapter(
        "Cover: a Service Manager away, their audits reassigned by Q&I",
        "People go on leave. Anyone types `/qmf away FROM TO` (Q&I and admins can do it for someone); while "
        "away they get no prompts or reminders. Work that falls due while its holder is away, whose holder has "
        "left, or whose case has closed is listed to Quality & Improvement by DM (never in a channel: it names "
        "people), with a button to reassign it. The independence rule is checked again for the new person.")
    n.bot.set_time(london(2026, 4, 20, 14, 0))
    p.act(away, f"will be on leave when their audits fall due, and types `/qmf away {AWAY_FROM} {AWAY_TO}`",
          lambda: p.slack.command(away, "/qmf", f"away {AWAY_FROM} {AWAY_TO}"), only={away, QI_LEAD})
    n.note("Each of the five Q&I people gets the same list.")
    listing = p.dm_saying(QI_LEAD, "Work needing cover")
    first = theirs[0]
    p.act(QI_LEAD, f"presses *Reassign learning audit of {first.case_ref}*",
          lambda: p.slack.click(QI_LEAD, f"Reassign learning audit of {first.case_ref}", message=listing))
    own = _service_manager_of(p, first)
    p.submit(QI_LEAD, f"first picks {n.name(own)} and presses *Reassign*", {"New person": own})
    cover = _who_may_take(p, first, {away, own})
    p.submit(QI_LEAD, f"picks {n.name(cover)} instead and presses *Reassign*", {"New person": cover})
    for other in theirs[1:]:
        def move(other: Audit = other) -> Any:
            p.slack.click(QI_LEAD, f"Reassign learning audit of {other.case_ref}", message=listing)
            return p.slack.submit(QI_LEAD, {"New person": _who_may_take(p, other, {away, cover})})
        p.quietly(move)
    n.note(f"Q&I reassign {away}'s other audit the same way. Reminders now go to the new auditors; {away} "
           "gets none while away, and App Home shows their dates.")


def _reflection(story: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = dict(zip(REFLECTION_LABELS, story["reflection"], strict=True))
    values["Themes that went well in this case"] = story["reflection_good"]
    values["Themes to develop"] = story["reflection_develop"]
    return values


def _audit_record(story: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = dict(zip(AUDIT_LABELS, story["audit"], strict=True))
    values["Themes: areas to improve"] = story["improve"]
    values["Themes: good practice"] = story["good"]
    return values


def _reflect(p: Play, a: Audit, story: dict[str, Any]) -> None:
    p.slack.click(a.holder, f"Start reflection for {a.case_ref}",
                  message=p.dm_with(a.holder, "Start reflection", a.case_ref))
    reply = p.slack.submit(a.holder, _reflection(story))
    if reply.errors:
        raise RuntimeError(f"the demo's reflection on {a.case_ref} was refused: {reply.errors}")


def _record(p: Play, a: Audit, story: dict[str, Any], action: tuple[str, date, str] | None) -> None:
    p.slack.click(a.auditor, f"Record learning audit for {a.case_ref}",
                  message=p.dm_with(a.auditor, "Record learning audit", a.case_ref))
    form = p.fake.latest_view(a.auditor)
    if action is not None:
        p.slack.click(a.auditor, "Add an action", view=form)
        owner, due, what = action
        p.slack.submit(a.auditor, {"Owner": owner, "Due date": due, "What needs to happen": what})
    reply = p.slack.submit(a.auditor, _audit_record(story))
    if reply.errors:
        raise RuntimeError(f"the demo's audit of {a.case_ref} was refused: {reply.errors}")


@scene
def learning_audit_meetings_and_records(n: Narrator) -> None:
    p = Play(n)
    audits = p.audits()
    first, second, third = audits[0], audits[2], audits[4]  # three different auditors
    n.chapter(
        "Learning audits: the meeting, the reflection and the audit record",
        "The auditor meets the case holder and team manager in person. Before the meeting the case holder "
        "reflects on their own work; afterwards the auditor records the learning (there is no grade "
        "anywhere in a learning audit) and any individual actions, each with an owner and a due date. The "
        "case holder and team manager then get the learning, not the whole record.")
    n.bot.set_time(london(2026, 4, 21, 10, 0))
    p.act(first.auditor, f"presses *Set up meeting* for {first.case_ref}",
          lambda: p.slack.click(first.auditor, f"Set up meeting for {first.case_ref}",
                                message=p.dm_with(first.auditor, "Set up meeting", first.case_ref)))
    p.submit(first.auditor, "chooses a day and time and presses *Send invitation*",
             {"Meeting date": date(2026, 5, 6), "Start time": "10:00", "Length": "1 hour",
              "Where": "Meeting room 2"})
    for a in audits[1:]:
        def set_up(a: Audit = a) -> Any:
            p.slack.click(a.auditor, f"Set up meeting for {a.case_ref}",
                          message=p.dm_with(a.auditor, "Set up meeting", a.case_ref))
            return p.slack.submit(a.auditor, {"Meeting date": date(2026, 5, 7), "Start time": "14:00"})
        p.quietly(set_up)
    n.note("The other auditors set up their meetings the same way.")

    n.bot.set_time(london(2026, 4, 22, 14, 0))
    p.act(first.holder, f"presses *Start reflection* for {first.case_ref}",
          lambda: p.slack.click(first.holder, f"Start reflection for {first.case_ref}",
                                message=p.dm_with(first.holder, "Start reflection", first.case_ref)))
    p.submit(first.holder, "writes their reflection and presses *Save reflection*", _reflection(STORIES[0]))
    n.bot.set_time(london(2026, 4, 24, 11, 0))
    for a, story in zip(audits[1:], STORIES[1:], strict=True):
        p.quietly(partial(_reflect, p, a, story))
    n.note("The other seven case holders write their reflections before their meetings.")

    n.bot.set_time(london(2026, 5, 11, 14, 0))
    p.act(first.auditor, f"meets them, then presses *Record learning audit* for {first.case_ref}",
          lambda: p.slack.click(first.auditor, f"Record learning audit for {first.case_ref}",
                                message=p.dm_with(first.auditor, "Record learning audit", first.case_ref)))
    form = p.fake.latest_view(first.auditor)
    p.act(first.auditor, "presses *Add an action* (a second modal opens on top)",
          lambda: p.slack.click(first.auditor, "Add an action", view=form))
    p.submit(first.auditor, "adds an individual action and presses *Add*", {
        "Owner": first.holder, "Due date": date(2026, 6, 5),
        "What needs to happen": "Update the chronology after each review meeting."})
    p.submit(first.auditor, "completes the record and presses *Record audit*", _audit_record(STORIES[0]))

    n.bot.set_time(london(2026, 5, 12, 15, 0))
    n.step(f"{n.name(second.auditor)} records the audit of {second.case_ref}, with an action for "
           f"{second.holder} due Fri 29 May")
    p.quietly(lambda: _record(p, second, STORIES[2], (second.holder, date(2026, 5, 29),
                                                      "Book the health assessment that is overdue.")))
    n.bot.set_time(london(2026, 5, 13, 10, 0))
    plan_review = (third.manager, date(2026, 6, 12), "Add a plan-review prompt to the supervision notes.")
    for i, a in enumerate(audits[1:], 1):
        if a != second:
            action = plan_review if a == third else None
            p.quietly(partial(_record, p, a, STORIES[i], action))
    n.note(f"The other audits are recorded by Fri 15 May; {third.auditor} adds an action for "
           f"{third.manager} on {third.case_ref}. All {len(audits)} audits of the quarter are now recorded.")


@scene
def a_correction(n: Narrator) -> None:
    p = Play(n)
    first = p.audits()[0]
    n.chapter(
        "Corrections: an auditor amends a recorded learning audit",
        "Records need correcting sometimes. For 10 working days after recording (the council sets the window) "
        "the author of a learning audit, a reflection or a visit's feedback can press *Amend*, on their "
        "confirmation or on App Home. The form opens with their answers; the previous version is kept in the "
        "audit log, and whoever received the learning is told what changed. Nothing is posted to a channel again.")
    n.bot.set_time(london(2026, 5, 14, 9, 30))
    receipt = p.dm_with(first.auditor, "Amend", first.case_ref)
    p.act(first.auditor, f"presses *Amend* on the confirmation for {first.case_ref}",
          lambda: p.slack.click(first.auditor, "Amend", message=receipt))
    p.submit(first.auditor, "adds to the wider learning and presses *Save amendment*", {
        "Wider learning for the service":
            STORIES[0]["audit"][-1] + " Share the template at the next practice forum."})


@scene
def action_plans(n: Narrator) -> None:
    p = Play(n)
    audits = p.audits()
    first, second, third = audits[0], audits[2], audits[4]
    n.chapter(
        "Action plans: done, reminded, escalated",
        "Each action's owner has a DM with *Mark done*. The daily `send-reminders` job reminds owners "
        "before and on the due date, and tells the owner's team manager once when an action is overdue. "
        "`/qmf actions` lists a person's open actions.")
    n.bot.set_time(london(2026, 5, 20, 12, 0))
    p.act(third.manager, f"presses *Mark done* on the action from {third.case_ref}",
          lambda: p.slack.click(third.manager, "Mark done", message=p.dm_with(third.manager, "Mark done")))
    n.job("send-reminders", london(2026, 6, 3, 9, 30), only={first.holder, second.manager})
    n.note(f"{first.holder}'s action is due on Friday, so they are reminded; {second.holder}'s was due on "
           f"29 May and is still open, so their team manager {second.manager} is told.")
    n.bot.set_time(london(2026, 6, 3, 11, 0))
    p.act(first.holder, "types `/qmf actions`", lambda: p.slack.command(first.holder, "/qmf", "actions"))
    p.act(first.holder, "presses *Mark done* in the list",
          lambda: p.slack.click(first.holder, "Mark done", message=p.fake.ephemerals(first.holder)[-1]))


# =============================================================================================
# b. learning themes


@scene
def learning_themes(n: Narrator) -> None:

    p = Play(n)
    n.chapter(
        "Learning themes for the quarter",
        "The main output of learning audits is \"an analysis of the collective themes of learning to be "
        "shared within service, including what would have been needed to improve cases and what good "
        "practice could be shared\". Three working days after the audits are due, each Service Manager "
        "gets a draft to review and post to their service's channel. Nothing identifying reaches a "
        "channel, and no count under 5 is shown: with two audits a service, a quarter is too small "
        "to count, so its themes are ranked, most raised first, and the last four quarters (the year "
        "before, added up) are counted beside them, with a chart.")
    review, escalate = _themes_days(p)
    n.job("post-learning-themes", london(review.year, review.month, review.day, 9, 30), only={"U0SM1"})
    n.bot.set_time(london(review.year, review.month, review.day, 11, 0))
    draft = p.dm_saying("U0SM1", "Learning themes to review")
    p.act("U0SM1", "presses *Edit*", lambda: p.slack.click("U0SM1", "Edit", message=draft))
    p.submit("U0SM1", "writes the key messages and presses *Save*", {
        "Key messages": "Keep the child's voice at the centre of every plan.\n"
                        "Bring partners in early: plans drift when they join late."})
    p.act("U0SM1", "presses *Post to channel*",
          lambda: p.slack.click("U0SM1", "Post to channel", message=draft))
    for manager in ("U0SM2", "U0SM3"):
        def post(m: str = manager) -> Any:
            return p.slack.click(m, "Post to channel", message=p.dm_saying(m, "Learning themes to review"))
        p.quietly(post)
    n.note("U0SM2 and U0SM3 post theirs too. U0SM4 is busy and leaves the Front Door/MASH draft waiting; "
           "after five working days Q&I are told.")
    n.job("send-reminders", london(escalate.year, escalate.month, escalate.day, 9, 30), only={"U0QI1"})
    n.bot.set_time(london(escalate.year, escalate.month, escalate.day, 10, 0))
    p.act("U0QI1", "posts the waiting draft for Front Door/MASH",
          lambda: p.slack.click("U0QI1", "Post to channel", message=p.dm_saying("U0QI1", "Front Door")))
    p.act("U0SM1", "types `/qmf themes` to see the exact counts, just for them",
          lambda: p.slack.command("U0SM1", "/qmf", "themes"))
    p.act("U0QI1", "shares the learning of all four services with the Leadership Meeting",
          lambda: p.slack.command("U0QI1", "/qmf", f'share themes all {QUARTER} "Leadership Meeting"'))


def _themes_days(p: Play) -> tuple[date, date]:
    """The day the drafts are due (audits due + the review days) and the day Q&I hear of a waiting one."""
    from storage.models import LearningRound

    with p.bot.rt.db.session() as session:
        calendar, policy = p.bot.rt.calendar(session), p.bot.rt.policy(session)
        learning_round = session.get(LearningRound, QUARTER)
        if learning_round is None or learning_round.audits_due is None:
            raise LookupError(f"no audits due date for {QUARTER}")
        due = learning_round.audits_due
        review = calendar.add_working_days(due, policy.themes_review_working_days)
        return review, calendar.add_working_days(review, policy.themes_escalate_working_days)


