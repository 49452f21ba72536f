"""The random sample's findings reach the people who learn from them (#15 item 1, and item 6's "one
message per person"): the case holder and team manager hear of the draw once, then the agreed grade and
what the auditors found; the IRO / CP co-ordinator is named; the Service Manager gets the report; and
an Inadequate case comes back to its team manager as one to re-visit in the next learning-audit round."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot.core.grades import Grade
from bot.learning_audits.proposal_jobs import cases_to_revisit
from bot.sampling.service import latest_draw, slack_id_of
from storage.models import Action, LearningAudit, Person, Proposal
from storage.models.sampling import SampledCase
from tests.conftest import london
from tests.flows.test_sampling_flow import (
    _grades_plan,
    buttons,
    draw_now,
    import_cases,
    message_text,
    moderate,
    section_answers,
    submit_audit,
)

SEED = 20260401
RAW_ID = re.compile(r"(?<!<@)\b[UW]0[A-Z0-9]+\b")


def drawn(bot: Any) -> list[dict[str, Any]]:
    """Every case of the latest draw with its people."""
    with bot.rt.db.session() as session:
        row = latest_draw(session)
        assert row is not None
        return [{"id": c.id, "ref": c.case_ref, "qi": c.pair.qi.slack_id, "pc": c.pair.pc.slack_id,
                 "holder": slack_id_of(session, c.case_holder_id), "tm": c.team_manager.slack_id,
                 "iro": slack_id_of(session, c.reviewing_officer_id), "sm": c.service.service_manager.slack_id}
                for c in row.cases]


def draw_cic(bot: Any, slack: Any) -> list[dict[str, Any]]:
    """Q&I choose Children in Care (the service whose register names IROs), then the job draws it."""
    bot.set_time(london(2026, 4, 1, 8, 0))
    assert "Children in Care" in (slack.command("U0QI1", "/qmf", "sample service cic").text or "")
    draw_now(bot, seed=SEED)
    return drawn(bot)


def audit(slack: Any, fake: Any, user: str, case_id: int, grade: Grade, *, strengths: str, improve: str,
          feedback: str | None, rationale: str) -> None:
    dm = next(m for m in reversed(fake.dms(user)) if ("Record sample audit", str(case_id)) in buttons(m))
    slack.click(user, "Record sample audit", message=dm, value=str(case_id))
    values: dict[str, Any] = {"Discussions held": ["Case holder", "Team manager"], "Strengths": strengths,
                              "Areas for improvement": improve, "Overall grade": grade.label,
                              "Why this grade?": rationale}
    if feedback is not None:
        values["Service-user feedback"] = feedback
    values.update(section_answers(fake.latest_view(user) or {}))
    assert slack.submit(user, values).errors == {}
    slack.close_modal(user)


def forged(user: str, value: str) -> dict[str, Any]:
    """A "Talk it through" button as a hostile client could send it, with any value."""
    return {"channel": f"D{user}", "ts": "1.000001", "blocks": [{"type": "actions", "block_id": "x", "elements": [
        {"type": "button", "action_id": "sample-talk-it-through", "value": value,
         "text": {"type": "plain_text", "text": "Talk it through"}}]}]}


def findings_dm(fake: Any, person: str, ref: str) -> dict[str, Any]:
    found = [m for m in fake.dms(person) if "Random sample findings" in message_text(m) and
             f"*{ref}*" in message_text(m)]
    assert len(found) == 1, f"{person} got {len(found)} findings messages for {ref}"
    return found[0]


def morning(bot: Any, day: int) -> None:
    """The daily reminders run, which sends the findings of cases moderated since."""
    assert bot.run_job("send-reminders", at=london(2026, 4, day, 9, 30)).status == "done"


def test_each_case_holder_and_team_manager_hears_of_the_draw_once_and_the_pair_is_told_who_to_talk_to(
        bot, slack, fake):
    import_cases(bot)
    cases = draw_cic(bot, slack)
    assert any(c["iro"] for c in cases), "the seed should draw a case with an IRO"
    for role in ("tm", "holder"):
        for person in {c[role] for c in cases}:
            theirs = [c for c in cases if person in (c["tm"], c["holder"])]
            told = [m for m in fake.dms(person) if "drawn at random for the 2026-27 Q1" in message_text(m)]
            assert len(told) == 1, f"{person} got {len(told)} messages about the draw, not one"
            text = message_text(told[0])
            for c in theirs:
                assert c["ref"] in text and f"<@{c['qi']}>" in text and f"<@{c['pc']}>" in text
                assert ("which you hold" if c["holder"] == person else f"held by <@{c['holder']}>") in text
            assert f"<@{person}>" not in text, "the reader is not named to themselves"
            assert not RAW_ID.search(text), text
    assert len({c["tm"] for c in cases}) < len(cases), "a team manager has several cases: one message for all"
    # the pair are told who to talk to, the IRO / CP co-ordinator by name
    for c in cases:
        for auditor in (c["qi"], c["pc"]):
            line = next(b["text"]["text"] for m in fake.dms(auditor) for b in m.get("blocks") or []
                        if b.get("type") == "section" and f"*{c['ref']}*" in (b.get("text") or {}).get("text", ""))
            assert f"case holder <@{c['holder']}>" in line and f"team manager <@{c['tm']}>" in line
            assert (f"IRO / CP co-ordinator <@{c['iro']}>" in line) == bool(c["iro"])
    assert fake.problems == []


def test_once_moderated_the_case_holder_and_team_manager_get_the_findings_strengths_first(bot, slack, fake):
    import_cases(bot)
    cases = draw_cic(bot, slack)
    c = next(c for c in cases if c["iro"])
    audit(slack, fake, c["qi"], c["id"], Grade.OUTSTANDING, strengths="Direct work with the young person is "
          "creative and regular.", improve="Chronology is two months behind.", feedback=None,
          rationale="Exceptional relationship-based work throughout.")
    audit(slack, fake, c["pc"], c["id"], Grade.GOOD, strengths="Plans are reviewed with the carers monthly.",
          improve="Supervision records do not show the reasoning.",
          feedback="The young person said their worker always comes back when she says she will.",
          rationale="Solid practice, some recording gaps.")
    before = {p: len(fake.dms(p)) for p in (c["holder"], c["tm"])}
    assert moderate(slack, fake, c["pc"], c["id"], Grade.GOOD).errors == {}
    assert all(len(fake.dms(p)) == before[p] for p in before), "not urgent: the findings wait for the morning"
    morning(bot, 2)
    for person in (c["holder"], c["tm"]):
        assert len(fake.dms(person)) == before[person] + 1, "one message each the next morning"
        dm = findings_dm(fake, person, c["ref"])
        text = message_text(dm)
        assert "The grade they agreed is *Good*" in text
        strong, develop, said = (text.index(s) for s in ("What was strong", "What to develop",
                                                           "What the child or family said"))
        assert strong < develop < said, "strengths first"
        assert text.index("creative and regular") < develop and text.index("reviewed with the carers") < develop
        assert develop < text.index("Chronology is two months behind") < said
        assert said < text.index("always comes back when she says she will")
        # only the agreed grade: neither blind grade nor the auditors' reasons for them
        assert "Outstanding" not in text and "Exceptional relationship-based" not in text
        assert "Solid practice" not in text
        assert f"<@{c['iro']}>" in text and "IRO / CP co-ordinator" in text
        assert f"<@{person}>" not in text and not RAW_ID.search(text)
        assert (f"Talk {c['ref']} through", str(c["id"])) in buttons(dm)
    assert "your case" in message_text(findings_dm(fake, c["holder"], c["ref"]))
    assert f"held by <@{c['holder']}>" in message_text(findings_dm(fake, c["tm"], c["ref"]))

    # "Talk it through": both auditors are asked to get in touch, once; the holder is told who
    dm = findings_dm(fake, c["holder"], c["ref"])
    reply = slack.click(c["holder"], f"Talk {c['ref']} through", message=dm, value=str(c["id"]))
    assert f"I have asked <@{c['qi']}> and <@{c['pc']}>" in (reply.text or "")
    for auditor in (c["qi"], c["pc"]):
        asks = [m for m in fake.dms(auditor) if "would like to talk through" in message_text(m)]
        assert len(asks) == 1 and f"<@{c['holder']}>, the case holder of *{c['ref']}*" in message_text(asks[0])
    again = slack.click(c["holder"], f"Talk {c['ref']} through", message=dm, value=str(c["id"]))
    assert "already asked" in (again.text or "")
    assert sum("would like to talk through" in message_text(m) for m in fake.dms(c["qi"])) == 1
    # somebody else's forged button, and one for a case not yet moderated, are refused in words
    stranger = "U0P3" if c["holder"] != "U0P3" else "U0P2"
    outsider = slack.click(stranger, "Talk it through", message=forged(stranger, str(c["id"])))
    assert "Only the case holder and team manager" in (outsider.text or "")
    other = next(o for o in cases if o["id"] != c["id"])
    early = slack.click(other["tm"], "Talk it through", message=forged(other["tm"], str(other["id"])))
    assert "have not agreed a grade" in (early.text or "")
    garbage = slack.click(c["holder"], "Talk it through", message=forged(c["holder"], "not-a-case"))
    assert "can't find that sampled case" in (garbage.text or "")
    assert fake.problems == []


def test_cases_moderated_together_reach_each_person_as_one_message_the_next_morning(bot, slack, fake):
    """Item 6: a pair moderating several cases of one team in a sitting gives their team manager one
    message the next morning, not one per case; each case keeps its own "Talk ... through" button."""
    import_cases(bot)
    cases = draw_cic(bot, slack)
    tm = max({c["tm"] for c in cases}, key=lambda t: sum(c["tm"] == t for c in cases))
    theirs = [c for c in cases if c["tm"] == tm]
    assert len(theirs) >= 2, "the seed should give a team manager several cases"
    for c in theirs:
        submit_audit(slack, fake, c["qi"], c["id"], Grade.GOOD, feedback=None)
        submit_audit(slack, fake, c["pc"], c["id"], Grade.REQUIRES_IMPROVEMENT)
        assert moderate(slack, fake, c["qi"], c["id"], Grade.GOOD).errors == {}
    before = len(fake.dms(tm))
    morning(bot, 2)
    new = fake.dms(tm)[before:]
    assert len(new) == 1, "one findings message for all the team manager's moderated cases"
    text = message_text(new[0])
    for c in theirs:
        assert f"*{c['ref']}*" in text and f"held by <@{c['holder']}>" in text
        assert (f"Talk {c['ref']} through", str(c["id"])) in buttons(new[0])
    assert f"<@{tm}>" not in text and not RAW_ID.search(text)
    for holder in {c["holder"] for c in theirs}:
        mine = [m for m in fake.dms(holder) if "Random sample findings" in message_text(m)]
        assert len(mine) == 1 and "your case" in message_text(mine[0])
    # the button of the second case in the combined message asks that case's auditors
    c = theirs[-1]
    reply = slack.click(tm, f"Talk {c['ref']} through", message=new[0], value=str(c["id"]))
    assert f"I have asked <@{c['qi']}> and <@{c['pc']}>" in (reply.text or "")
    # told once: the next morning brings nothing more
    before = len(fake.dms(tm))
    morning(bot, 7)
    assert [m for m in fake.dms(tm)[before:] if "Random sample findings" in message_text(m)] == []
    assert fake.problems == []


def test_an_agreed_inadequate_reaches_the_team_manager_as_one_message_with_the_plan(bot, slack, fake):
    import_cases(bot)
    cases = draw_cic(bot, slack)
    c = cases[0]
    submit_audit(slack, fake, c["qi"], c["id"], Grade.INADEQUATE, feedback=None)
    submit_audit(slack, fake, c["pc"], c["id"], Grade.REQUIRES_IMPROVEMENT)
    before = {p: len(fake.dms(p)) for p in (c["holder"], c["tm"])}
    moderate(slack, fake, c["qi"], c["id"], Grade.INADEQUATE)
    # one message for the team manager: the alert, the findings and the plan's action with its "Mark done"
    # (not the action plan's own "You have a new action" as a second DM at the same moment)
    news = fake.dms(c["tm"])[before[c["tm"]]:]
    assert len(news) == 1, "\n".join(m.get("text") for m in news)
    tm_text = message_text(news[0])
    assert "For your attention at once" in tm_text and "You have an action to agree an improvement plan" in tm_text
    assert "What was strong" in tm_text and "You have a new action" not in tm_text
    with bot.rt.db.session() as session:
        action = session.scalar(select(Action).where(Action.source_kind == "random_sample",
                                                     Action.source_id == c["id"]))
        assert action is not None and action.status == "open"
    assert ("Mark done", str(action.id)) in buttons(news[0])
    slack.click(c["tm"], "Mark done", message=news[0], value=str(action.id))
    with bot.rt.db.session() as session:
        assert session.get(Action, action.id).status == "done"
    updated = fake.message(news[0]["channel"], news[0]["ts"])
    assert ("Mark done", str(action.id)) not in buttons(updated)  # the findings stay, the button becomes who and when
    assert "Done on" in message_text(updated) and "What was strong" in message_text(updated)
    assert (f"Talk {c['ref']} through", str(c["id"])) in buttons(updated)
    holder_text = message_text(fake.dms(c["holder"])[-1])
    assert f"<@{c['tm']}> will agree an improvement plan" in holder_text
    assert "For your attention at once" not in holder_text
    sm_alert = [m for m in fake.dms(c["sm"]) if (m.get("text") or "").startswith(f"Inadequate grade: {c['ref']}")
                and "the moderated grade for" in message_text(m)]
    assert len(sm_alert) == 1  # the Service Manager still has the alert at once
    assert fake.problems == []


def test_the_sampled_services_manager_gets_the_report_when_it_is_published(bot, slack, fake):
    import_cases(bot)
    cases = draw_cic(bot, slack)
    sm = cases[0]["sm"]
    plan = _grades_plan()
    for n, (c, (a, b, agreed)) in enumerate(zip(cases, plan, strict=True)):
        submit_audit(slack, fake, c["qi"], c["id"], a, feedback=None)
        submit_audit(slack, fake, c["pc"], c["id"], b)
        if n < len(cases) - 1:
            moderate(slack, fake, c["qi"], c["id"], agreed)
    assert not [m for m in fake.dms(sm) if "random sample report" in (m.get("text") or "")]
    moderate(slack, fake, cases[-1]["qi"], cases[-1]["id"], plan[-1][2])
    reports = [m for m in fake.dms(sm) if (m.get("text") or "").startswith("Your service's random sample report")]
    assert len(reports) == 1
    text = message_text(reports[0])
    assert "random sample of *Children in Care* is complete" in text and "10 of 10 sampled case(s) moderated" in text
    assert not any(c["ref"] in text for c in cases) and not RAW_ID.search(text)
    assert len(reports[0]["blocks"]) <= 50
    assert fake.problems == []


def test_a_case_moderated_inadequate_is_suggested_to_its_team_manager_in_the_next_learning_round(bot, slack, fake):
    import_cases(bot)
    cases = draw_cic(bot, slack)
    c = cases[0]
    submit_audit(slack, fake, c["qi"], c["id"], Grade.INADEQUATE, feedback=None)
    submit_audit(slack, fake, c["pc"], c["id"], Grade.INADEQUATE)
    moderate(slack, fake, c["qi"], c["id"], Grade.INADEQUATE)
    other = next(o for o in cases if o["tm"] != c["tm"])
    assert bot.run_job("open-proposals", at=london(2026, 7, 1, 9, 0)).status == "done"

    def invitation(person: str) -> str:
        found = [m for m in fake.dms(person) if "Learning audits for 2026-27 Q2" in (m.get("text") or "")]
        assert len(found) == 1
        return message_text(found[0])

    text = invitation(c["tm"])
    assert f"*{c['ref']}* (2026-27 Q1 random sample)" in text and "re-visit cases once they have been judged" in text
    assert text.index(c["ref"]) < text.index("Case references only"), "the suggestion sits above the button"
    assert c["ref"] not in invitation(other["tm"]) and c["ref"] not in invitation(c["sm"])
    assert fake.problems == []


def test_a_case_already_re_audited_or_proposed_is_not_suggested_again(bot, slack, fake):
    import_cases(bot)
    cases = draw_cic(bot, slack)
    c = cases[0]
    submit_audit(slack, fake, c["qi"], c["id"], Grade.INADEQUATE, feedback=None)
    submit_audit(slack, fake, c["pc"], c["id"], Grade.INADEQUATE)
    moderate(slack, fake, c["qi"], c["id"], Grade.INADEQUATE)
    with bot.rt.db.session() as session:
        calendar = bot.rt.calendar(session)
        q1, q2 = calendar.quarter(london(2026, 4, 2)), calendar.quarter(london(2026, 7, 2))
        tm = session.scalar(select(Person).where(Person.slack_id == c["tm"]))
        assert [r.case_ref for r in cases_to_revisit(session, tm, q1, 4)] == [], "not in the same quarter"
        assert [r.case_ref for r in cases_to_revisit(session, tm, q2, 4)] == [c["ref"]]
        case = session.get(SampledCase, c["id"])
        proposal = Proposal(quarter=q2.key, case_ref=c["ref"], live_ref=c["ref"], service_id=case.service_id,
                            team_id=case.team_id, case_holder_id=case.case_holder_id, team_manager_id=tm.id,
                            proposed_by_id=tm.id, reason="A re-visit after an Inadequate sample.",
                            previously_inadequate=True)
        session.add(proposal)
        session.flush()
        assert cases_to_revisit(session, tm, q2, 4) == [], "already proposed this quarter"
        proposal.live_ref = None
        proposal.status = "allocated"
        session.add(LearningAudit(quarter=q2.key, proposal_id=proposal.id, auditor_id=tm.id, case_ref=c["ref"],
                                  service_id=case.service_id, team_id=case.team_id,
                                  case_holder_id=case.case_holder_id, team_manager_id=tm.id,
                                  allocated_at=london(2026, 7, 20, 9, 0)))
        session.flush()
        q3 = calendar.quarter(london(2026, 10, 2))
        assert cases_to_revisit(session, tm, q3, 4) == [], "re-audited since the Inadequate grade"
        session.rollback()
