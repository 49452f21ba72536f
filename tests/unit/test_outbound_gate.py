"""The outbound gate (bot.core.privacy.outbound): whatever people type, no case reference and no
Slack control sequence reaches a channel, a digest or a report. Proved with generated text built
from references, separators and look-alike characters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.policy import Policy
from bot.core.privacy import case_refs_in, normalise, outbound, shared_text_problem

POLICY = Policy()
DASHES = ["-", "", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d"]
INVISIBLE = ["", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u2066", "\u00ad"]
SEPARATORS = [" ", "/", "_", ",", ".", "\n", "(", ")", ":", ";", "", "&"]
CONTROLS = ["<!channel>", "<!here>", "<@U0SM1>", "<#C0CIB>", "<https://evil.example|click here>",
            "<http://x.example>", "<!subteam^S123>"]

refs = st.builds(
    lambda letters, dash, hide, digits: (letters + hide + dash + hide + digits, digits),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=5),
    st.sampled_from(DASHES), st.sampled_from(INVISIBLE),
    st.text("0123456789", min_size=3, max_size=8),
)
words = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
pieces = st.lists(st.one_of(refs, words.map(lambda w: (w, None)), st.sampled_from(SEPARATORS).map(lambda s: (s, None)),
                            st.sampled_from(CONTROLS).map(lambda c: (c, None))), min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(pieces)
def test_no_reference_and_no_control_sequence_survives(parts: list[tuple[str, str | None]]) -> None:
    text = "".join(p for p, _ in parts)
    out = outbound(text, POLICY)
    for _, digits in parts:
        if digits is not None:
            assert digits not in out, (text, out)
    for opener in ("<!", "<@", "<#", "<http"):
        assert opener not in out
    assert "<" not in out and ">" not in out
    assert "U0SM1" not in out  # a person's id never reaches a channel


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(words, st.sampled_from([" ", ", ", ". ", "\n"])), max_size=20))
def test_ordinary_words_pass_unchanged(parts: list[str]) -> None:
    text = "".join(parts)
    assert outbound(text, POLICY) == normalise(text)


def test_the_disguises_from_the_issue_are_caught() -> None:
    for disguised in ("CIN-10001/CIN-10002", "CIN-10001_notes", "CIN\u201110001", "CIN\u201310001",
                      "CIN-\u200b10001", "Case CIC-1005 shows"):
        assert case_refs_in(disguised, POLICY), disguised
        assert "1000" not in outbound(disguised, POLICY)


def test_quarters_years_and_counts_are_not_references() -> None:
    for ordinary in ("12 visits in 2026-27 Q1", "Year 2 at school", "3 of 10 cases, 60% good", "Q3 2026"):
        assert case_refs_in(ordinary, POLICY) == []


def test_a_shared_field_refuses_a_case_reference_as_it_is_typed() -> None:
    problem = shared_text_problem("Plans drift in CIN\u201110001", "Moderated findings", POLICY)
    assert problem and "CIN-10001" in problem and "Moderated findings" in problem
    assert shared_text_problem("Plans drift where supervision is thin", "Moderated findings", POLICY) is None
