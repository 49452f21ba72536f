"""Sections of practice (issue 17 item 4): the council's setting and the per-section rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.grades import Grade
from bot.core.policy import DEFAULT_PRACTICE_SECTIONS, Policy
from bot.sampling.sections import STALE_FORM, far_apart, flag_text, loaded, pairs_of, parse_section_grades
from bot.sampling.types import SectionPair, section_block_id

G = Grade


def test_the_default_sections_are_the_common_audit_tool_ones():
    assert Policy().practice_sections == DEFAULT_PRACTICE_SECTIONS
    assert len(DEFAULT_PRACTICE_SECTIONS) == 7
    assert "Voice and lived experience of the child" in DEFAULT_PRACTICE_SECTIONS


def test_a_council_sets_its_own_sections_and_spaces_are_tidied():
    policy = Policy(practice_sections=("  Child's   voice ", "Planning"))
    assert policy.practice_sections == ("Child's voice", "Planning")


@pytest.mark.parametrize(("sections", "words"), [
    ((), "1 to 12"),
    (tuple(f"Section {n}" for n in range(13)), "1 to 12"),
    (("Recording", "  "), "empty"),
    (("Recording", "recording"), "more than once"),
    (("x" * 151,), "longer than 150"),
])
def test_sections_must_be_one_to_twelve_unique_and_non_empty(sections, words):
    with pytest.raises(ValidationError, match=words):
        Policy(practice_sections=sections)


def test_twelve_sections_are_allowed():
    assert len(Policy(practice_sections=tuple(f"Section {n}" for n in range(12))).practice_sections) == 12


def test_block_ids_are_stable_per_section_and_differ_between_sections_and_agreed():
    assert section_block_id("Recording") == section_block_id("Recording")
    assert section_block_id("Recording") != section_block_id("Planning and review")
    assert section_block_id("Recording") != section_block_id("Recording", agreed=True)
    assert len(section_block_id("x" * 150, agreed=True)) < 255


def test_each_section_needs_a_grade_and_a_missing_one_is_named_under_its_own_box():
    sections = ("Recording", "Planning and review")
    values = {section_block_id("Recording"): "2", section_block_id("Planning and review"): None}
    grades, errors, stale = parse_section_grades(values, sections)
    assert grades == {"Recording": G.GOOD} and not stale
    assert errors == {section_block_id("Planning and review"): "Choose a grade for Planning and review."}
    _, errors, _ = parse_section_grades({section_block_id("Recording", agreed=True): "9"}, ["Recording"], agreed=True)
    assert errors == {section_block_id("Recording", agreed=True): "Choose the grade you agreed for Recording."}


def test_a_form_opened_before_the_council_changed_its_sections_is_stale():
    _, errors, stale = parse_section_grades({section_block_id("Recording"): "2"}, ("Recording", "New section"))
    assert stale and errors == {}
    assert "changed" in STALE_FORM


def test_two_grades_apart_in_a_section_flags_it_by_name_one_apart_does_not():
    pairs = pairs_of({"Recording": 1, "Planning": 2, "Voice": 4}, {"Recording": 3, "Planning": 3, "Voice": 4})
    assert [p.section for p in far_apart(pairs)] == ["Recording"]
    assert flag_text(None, pairs) == "section grades two or more apart: Recording (Outstanding vs Requires " \
                                     "improvement to be good)"
    assert flag_text(None, pairs_of({"Recording": 2}, {"Recording": 3})) is None


def test_the_overall_rule_is_kept_and_the_section_flag_is_added_to_it():
    pairs = pairs_of({"Recording": 1}, {"Recording": 4})
    text = flag_text("crosses Good / Requires improvement (Good vs Requires improvement to be good)", pairs)
    assert text is not None
    assert text.startswith("crosses Good / Requires improvement") and "Recording (Outstanding vs Inadequate)" in text
    assert flag_text("grades differ by 2 grades", ()) == "grades differ by 2 grades"


def test_an_audit_recorded_before_sections_is_not_graded_by_section():
    pairs = pairs_of(None, {"Recording": 2})
    assert pairs == (SectionPair("Recording", None, G.GOOD),)
    assert pairs[0].agreed is None and far_apart(pairs) == []
    assert loaded({"Recording": "x", "Voice": 3}) == {"Voice": G.REQUIRES_IMPROVEMENT}


def test_matching_blind_grades_are_the_prefilled_agreed_grade():
    [same, differ] = pairs_of({"A": 2, "B": 2}, {"A": 2, "B": 3})
    assert same.agreed is G.GOOD and differ.agreed is None
