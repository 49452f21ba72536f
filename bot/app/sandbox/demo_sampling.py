"""The random sample in the demo: the draw, blind grades, moderation and the findings."""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import Any

from bot.app.sandbox import demo_learning  # noqa: F401  (the learning audits play first)
from bot.app.sandbox.demo_play import QUARTER, REPO_CASES_CSV, SAMPLE_SEED, TEAM_MANAGERS, VOICE, Play
from bot.app.sandbox.narrator import Narrator, london, scene
from bot.app.sandbox.render import buttons, render_blocks

# =============================================================================================
# c. a random sample


def _register_csv() -> str:
    """The case register the sample is drawn from: the repository's test register, else one like it."""
    if REPO_CASES_CSV.exists():
        return REPO_CASES_CSV.read_text(encoding="utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["case_ref", "service", "team", "case_holder", "team_manager", "reviewing_officer",
                     "status"])
    teams = {"cic": [("cic-north", "U0TM1", [1, 2, 3]), ("cic-south", "U0TM2", [4, 5])],
             "cp": [("cp-east", "U0TM3", [6, 7, 8]), ("cp-west", "U0TM4", [9, 10])],
             "cin": [("cin-central", "U0TM5", [11, 12, 13]), ("cin-outreach", "U0TM6", [14, 15])],
             "fd": [("fd-mash", "U0TM7", [16, 17, 18]), ("fd-assessment", "U0TM8", [19, 20])]}
    for number, (service, service_teams) in enumerate(teams.items(), 1):
        for i in range(15):
            team, manager, workers = service_teams[i % 2]
            writer.writerow([f"{service.upper()}-{number}{i + 1:03d}", service, team,
                             f"U0P{workers[i % len(workers)]}", manager, "", "open"])
    return out.getvalue()


def _drawn_for_a_manager(p: Play, refs: list[str]) -> tuple[str, dict[str, Any]]:
    """The team manager told of the most drawn cases, and the one message that told them."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for manager in TEAM_MANAGERS:
        for message in p.fake.dms(manager):
            text = render_blocks(message.get("blocks") or [], message.get("text"))
            named = sum(ref in text for ref in refs)
            if named and (best is None or named > best[0]):
                best = (named, manager, message)
    if best is None:
        raise LookupError("no team manager was told of a drawn case")
    return best[1], best[2]


def _holder_of(p: Play, case_id: int) -> str:
    from bot.sampling.service import slack_id_of
    from storage.models.sampling import SampledCase

    with p.bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert case is not None
        return slack_id_of(session, case.case_holder_id) or ""


def _manager_of(p: Play, case_id: int) -> str:
    from storage.models.sampling import SampledCase

    with p.bot.rt.db.session() as session:
        case = session.get(SampledCase, case_id)
        assert case is not None
        return case.team_manager.slack_id


def _sample_cases(p: Play) -> list[tuple[int, str, str, str]]:
    """(case id, case ref, Q&I auditor, Practice Consultant) of this quarter's sample."""
    from bot.sampling import service as sampling

    with p.bot.rt.db.session() as session:
        row = sampling.draw_for(session, QUARTER)
        assert row is not None
        return sorted((c.id, c.case_ref, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in row.cases)


SAMPLE_ANSWERS = {
    "Discussions held": ["Case holder", "Team manager"],
    "Strengths": "A clear plan reviewed monthly; the child's views are recorded at each visit.",
    "Areas for improvement": "Supervision notes do not show how risk was weighed.",
    "Themes": ["Management oversight and supervision", VOICE],
    "Why this grade?": "Most of the work is timely and purposeful, with gaps in oversight.",
}


def _sample_audit(grade: str, *, pc: bool) -> dict[str, Any]:
    """The blind audit's answers; the Practice Consultant's part is the service-user feedback. Each
    section of practice (the council's default list) is graded; both auditors see the sections
    alike, so moderation finds them filled in and the pair talk about the overall grade."""
    from bot.core.policy import DEFAULT_PRACTICE_SECTIONS

    weaker = {"Management oversight and supervision", "Recording"}
    sections = {s: "Requires improvement to be good" if s in weaker else "Good" for s in DEFAULT_PRACTICE_SECTIONS}
    values: dict[str, Any] = dict(SAMPLE_ANSWERS, **sections, **{"Overall grade": grade})
    if pc:
        values["Service-user feedback"] = "The young person said the worker listens and explains things."
    return values


def _press(p: Play, user: str, label: str, value: int) -> None:
    """Press ``label`` for this case, in the newest DM that has that button for it."""
    dm = next(m for m in reversed(p.fake.dms(user)) if (label, str(value)) in set(buttons(m)))
    p.slack.click(user, label, message=dm, value=str(value))


def _open_sample_audit(p: Play, user: str, case_id: int) -> None:
    _press(p, user, "Record sample audit", case_id)


def _open_moderation(p: Play, user: str, case_id: int) -> None:
    _press(p, user, "Record moderated grade", case_id)


def _close_if_open(p: Play, user: str) -> None:
    if p.fake.latest_view(user) is not None:
        p.slack.close_modal(user)  # the person reads the confirmation and closes it


def _blind_audit(p: Play, user: str, case_id: int, grade: str, pc: bool) -> None:
    _open_sample_audit(p, user, case_id)
    reply = p.slack.submit(user, _sample_audit(grade, pc=pc))
    if reply.errors:
        raise RuntimeError(f"the demo's sample audit of case {case_id} was refused: {reply.errors}")
    _close_if_open(p, user)


def _moderate(p: Play, user: str, case_id: int, grade: str) -> None:
    from bot.sampling.types import AGREED_SECTION_PREFIX

    _open_moderation(p, user, case_id)
    reason = "Agreed after talking the evidence through."
    values: dict[str, Any] = {"Agreed grade": grade, "Reason for the agreed grade": reason}
    view = p.fake.latest_view(user) or {}
    for block in view.get("blocks") or []:  # a section the blind grades differ on: the overall grade
        element = block.get("element") or {}
        if str(block.get("block_id", "")).startswith(AGREED_SECTION_PREFIX) and not element.get("initial_option"):
            values[block["label"]["text"]] = grade
    reply = p.slack.submit(user, values)
    if reply.errors:
        raise RuntimeError(f"the demo's moderation of case {case_id} was refused: {reply.errors}")
    _close_if_open(p, user)


GOOD, RI, OUT, INAD = "Good", "Requires improvement to be good", "Outstanding", "Inadequate"
# (Q&I grade, PC grade, agreed grade): the first for the narrated case, the rest in case order
SAMPLE_PLAN = [(GOOD, RI, GOOD), (GOOD, GOOD, GOOD), (OUT, GOOD, OUT), (RI, RI, RI), (GOOD, GOOD, GOOD),
               (RI, GOOD, RI), (GOOD, OUT, GOOD), (INAD, RI, INAD), (GOOD, GOOD, GOOD), (RI, RI, RI)]


@scene
def random_sample(n: Narrator) -> None:
    from bot.core.council import policy_of
    from bot.sampling.register import import_register

    p = Play(n)
    n.chapter(
        "Random sampling audits",
        "Back to the start of the quarter: alongside the learning audits, Q&I run a random sample. Each "
        "quarter one service is sampled (a different one each time); every Q&I auditor is paired with a "
        "Practice Consultant and gets two cases that neither of them holds or manages. Each of the two "
        "grades the case blind, on the Ofsted scale, then the pair agree a moderated grade; the report "
        "goes to the Q&I channel when the sample is complete.")
    n.bot.set_time(london(2026, 3, 31, 16, 0))
    n.step(f"{n.name('U0ADM1')} runs `qmf-bot cases import cases.csv`")
    with p.bot.rt.db.session() as session:
        result = import_register(session, _register_csv(), policy=policy_of(session), actor="U0ADM1",
                                 source="cases.csv")
    n.note(f"`{result.summary()}`")
    n.job("draw-random-sample", london(2026, 4, 1, 9, 0), only=set(), seed=SAMPLE_SEED)
    cases = _sample_cases(p)
    case_id, case_ref, qi, pc = next(c for c in cases if c[2] == "U0QI1")
    p.show(qi, p.dm_with(qi, "Record sample audit"))
    p.show(pc, p.dm_with(pc, "Record sample audit"))
    n.note("Every Q&I auditor and Practice Consultant got the same, for their own two cases.")
    manager, told = _drawn_for_a_manager(p, [c[1] for c in cases])
    n.note(f"Each case's team manager was told who will be in touch: one message for all their team's "
           f"drawn cases, not one per case. {n.name(manager)}'s:")
    p.show(manager, told)

    n.bot.set_time(london(2026, 4, 20, 10, 0))
    p.act(qi, f"presses *Record sample audit* for {case_ref}", lambda: _open_sample_audit(p, qi, case_id))
    p.submit(qi, "grades the case blind and presses *Submit and lock*", {
        **_sample_audit(SAMPLE_PLAN[0][0], pc=False), "Use as a case study": ["yes"],
        "Case study note (anonymised)": "Monthly plan reviews with the young person kept the plan live."})
    p.quietly(lambda: _close_if_open(p, qi))
    n.bot.set_time(london(2026, 4, 21, 15, 0))
    p.act(pc, f"presses *Record sample audit* for {case_ref}", lambda: _open_sample_audit(p, pc, case_id))
    p.submit(pc, "grades it blind, with what the young person said",
             _sample_audit(SAMPLE_PLAN[0][1], pc=True), only={qi, pc})
    p.quietly(lambda: _close_if_open(p, pc))
    n.note("Neither saw the other's grade until both had submitted; now both see them side by side. The "
           "grades fall either side of Good / Requires improvement, so the other Q&I auditors are told it "
           "needs a Q&I eye.")
    n.bot.set_time(london(2026, 4, 23, 11, 0))
    p.act(qi, "meets the Practice Consultant and presses *Record moderated grade*",
          lambda: _open_moderation(p, qi, case_id))
    p.submit(qi, "records the agreed grade", {
        "Agreed grade": SAMPLE_PLAN[0][2],
        "Reason for the agreed grade": "The plan is purposeful and reviewed; the oversight gap is isolated."})
    p.quietly(lambda: _close_if_open(p, qi))
    holder = _holder_of(p, case_id)
    n.note("The findings are not urgent, so they go with the next morning's messages: one message per person, "
           "whatever was moderated the day before.")
    n.job("send-reminders", london(2026, 4, 24, 9, 30), only={holder})

    n.step("Over May, the five pairs audit and moderate the other nine cases")
    n.bot.set_time(london(2026, 5, 18, 10, 0))
    rest = [c for c in cases if c[0] != case_id]
    plan = dict(zip([c[0] for c in rest], SAMPLE_PLAN[1:], strict=True))  # SAMPLE_PLAN[0] was narrated
    for cid, _ref, q, c_pc in rest:
        for user, grade, is_pc in ((q, plan[cid][0], False), (c_pc, plan[cid][1], True)):
            p.quietly(partial(_blind_audit, p, user, cid, grade, is_pc))
    n.bot.set_time(london(2026, 5, 22, 10, 0))
    last = rest[-1]
    for cid, _ref, q, _pc in rest[:-1]:
        p.quietly(partial(_moderate, p, q, cid, plan[cid][2]))
    n.note("An agreed *Inadequate* grade alerted that case's team manager and Service Manager at once and "
           "opened an improvement action for the team manager.")
    busiest = max(TEAM_MANAGERS, key=lambda m: sum(_manager_of(p, c[0]) == m for c in rest[:-1]))
    n.note("The other findings wait for the next morning: each case holder and team manager gets one message "
           "for all their cases moderated that day.")
    n.job("send-reminders", london(2026, 5, 26, 9, 30), only={busiest})
    n.bot.set_time(london(2026, 5, 29, 10, 0))
    p.act(last[2], f"records the last moderated grade, for {last[1]}",
          lambda: _open_moderation(p, last[2], last[0]))
    p.submit(last[2], "agrees the grade", {
        "Agreed grade": plan[last[0]][2],
        "Reason for the agreed grade": "Agreed after talking the evidence through."})
    p.quietly(lambda: _close_if_open(p, last[2]))


