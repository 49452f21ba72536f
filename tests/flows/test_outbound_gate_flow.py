"""Issue 14, items 1 and 2, through signed requests: people's text reaches the Board's channel
through the one outbound gate (mrkdwn escaped, case references never), and a field that can be
shared refuses a disguised case reference as it is typed."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.core.grades import Grade
from storage.models.commissions import CibItem
from storage.models.sampling import SampleAudit
from tests.conftest import london
from tests.flows.test_commissions_flow import commission_themed_audit, digests, dms_saying
from tests.flows.test_sampling_flow import draw_now, import_cases, pair_cases, submit_audit

HOSTILE = "<!channel> see <https://evil.example/?d=1|the plan> & ask <@U0SM2> in <#C0CIC>"


def _moderate(bot, slack, fake, findings: str):  # noqa: ANN001, ANN202
    commission_themed_audit(slack, fake)
    [mine] = dms_saying(fake, "U0DLT1", "You commissioned the themed audit")
    bot.set_time(london(2026, 6, 10, 15, 0))
    slack.click("U0DLT1", "Record moderated findings", message=mine)
    return slack.submit("U0DLT1", {"Moderated findings": findings,
                                   "Recommendations": "Add a plan-review prompt to the supervision template."})


def test_mentions_and_links_typed_by_people_reach_the_boards_channel_as_plain_text(bot, slack, fake):
    reply = _moderate(bot, slack, fake, "Plans drift. " + HOSTILE)
    assert reply.errors == {}
    bot.run_job("cib-digest", at=london(2026, 7, 10, 8, 30))
    [digest] = digests(fake)
    raw = json.dumps([digest.get("text"), digest.get("blocks")])
    for opener in ("<!channel", "<https://evil", "<@U0SM2", "<#C0CIC"):
        assert opener not in raw, opener
    assert "&lt;!channel&gt;" in raw and "&amp; ask" in raw  # shown as typed, not acted on
    assert "U0SM2" not in raw and "[person]" in raw  # a worker is never named in a channel

    # the chair's decision, in the digest's thread, passes the same gate
    with bot.rt.db.session() as s:
        item = s.scalars(select(CibItem)).one()
    slack.click("U0BRD1", "Record decision", message=digest, value=str(item.id))
    reply = slack.submit("U0BRD1", {"Decisions": "Endorsed <!here> <https://evil.example|read this>"})
    assert reply.errors == {}
    threaded = [m for m in fake.messages(digest["channel"]) if m.get("thread_ts")]
    assert threaded, "the decision is posted in the digest's thread"
    raw = json.dumps([(m.get("text"), m.get("blocks")) for m in threaded])
    assert "<!here" not in raw and "<https://evil" not in raw and "&lt;!here&gt;" in raw
    assert fake.problems == []


def test_disguised_case_references_are_refused_as_they_are_typed(bot, slack, fake):
    for disguised in ("CIN\u201110001 drifted", "CIN\u201310001 drifted", "CIN-\u200b10001 drifted",
                      "see CIN-10001/CIN-10002", "see CIN-10001_notes"):
        reply = _moderate(bot, slack, fake, disguised) if disguised.startswith("CIN\u2011") else slack.submit(
            "U0DLT1", {"Moderated findings": disguised,
                       "Recommendations": "Add a plan-review prompt to the supervision template."})
        assert "case reference" in reply.errors.get("themed-moderated-findings", ""), (disguised, reply.errors)
    with bot.rt.db.session() as s:
        assert s.scalars(select(CibItem)).first() is None  # nothing was queued for the Board


def test_a_case_study_note_naming_the_case_is_refused_and_nothing_is_stored(bot, slack, fake):
    import_cases(bot)
    draw_now(bot)
    (case_id, _, _), _ = pair_cases(bot, "U0QI2")
    reply = submit_audit(slack, fake, "U0QI2", case_id, Grade.GOOD, case_study="Case CIC\u20111005 shows good practice")
    assert "case" in reply.errors.get("sample-case-study-note", "").lower()
    with bot.rt.db.session() as session:
        assert session.scalar(select(SampleAudit).where(SampleAudit.case_id == case_id)) is None
    assert fake.problems == []


def test_a_case_study_note_reaches_the_qi_channels_report_through_the_gate(bot, slack, fake):
    """The random-sample report posts people's case-study notes to the Q&I channel (and the sampled
    service's manager): a worker named by their Slack id or a disguised link never gets there."""
    from tests.flows.test_sampling_flow import _grades_plan, message_text, moderate

    import_cases(bot)
    draw_now(bot)
    with bot.rt.db.session() as session:
        from bot.sampling.service import latest_draw

        cases = [(c.id, c.pair.qi.slack_id, c.pair.pc.slack_id) for c in latest_draw(session).cases]
    for n, ((case_id, qi, pc), (a, b, agreed)) in enumerate(zip(cases, _grades_plan(), strict=True)):
        note = "Direct work with the family, " + HOSTILE if n == 0 else None
        assert submit_audit(slack, fake, qi, case_id, a, feedback=None, case_study=note).errors == {}
        assert submit_audit(slack, fake, pc, case_id, b).errors == {}
        assert moderate(slack, fake, qi, case_id, agreed).errors == {}
    [report] = [m for m in fake.messages("C0QI") if "Case studies" in message_text(m)]
    raw = json.dumps([report.get("text"), report.get("blocks")])
    assert "Direct work with the family" in raw
    for opener in ("<!channel", "<https://evil", "<@U0SM2", "<#C0CIC"):
        assert opener not in raw, opener
    assert "U0SM2" not in raw and "[person]" in raw  # a worker is never named in a channel
    assert fake.problems == []
