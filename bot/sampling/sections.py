"""Sections of practice: the grade each auditor gives each section the council sets in its org file
(``Policy.practice_sections``), the agreed grade per section, and when two blind grades of a section
are far enough apart for Q&I to look.

The overall grade keeps its own rule (``bot.core.grades.needs_qi_attention``); a section is flagged
when its two blind grades are two or more grades apart, and the flag names the section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.grades import Grade
from bot.sampling.types import SectionPair, section_block_id

SECTION_GAP = 2
"""Two blind grades of a section this many grades apart (or more) flag the case for Q&I."""

STALE_FORM = ("The council's sections of practice have changed since this form was opened. Close it and "
              "open it again to grade the current sections.")


def parse_section_grades(values: Mapping[str, Any], sections: Sequence[str], *,
                         agreed: bool = False) -> tuple[dict[str, Grade], dict[str, str], bool]:
    """The grade chosen for each section; the inline errors (by the section's block id); and whether
    the form lacks a section altogether (opened before the council changed its sections)."""
    grades: dict[str, Grade] = {}
    errors: dict[str, str] = {}
    stale = False
    for section in sections:
        block = section_block_id(section, agreed=agreed)
        if block not in values:
            stale = True
            continue
        try:
            grades[section] = Grade(int(values.get(block) or 0))
        except (TypeError, ValueError):
            errors[block] = (f"Choose the grade you agreed for {section}." if agreed
                             else f"Choose a grade for {section}.")
    return grades, errors, stale


def stored(grades: Mapping[str, Grade]) -> dict[str, int]:
    """What a row keeps: {section: grade value}, in the council's order."""
    return {section: int(grade) for section, grade in grades.items()}


def loaded(raw: Mapping[str, Any] | None) -> dict[str, Grade]:
    """A row's section grades back as grades; an unreadable entry is left out, never guessed."""
    out: dict[str, Grade] = {}
    for section, value in (raw or {}).items():
        try:
            out[str(section)] = Grade(int(value))
        except (TypeError, ValueError):
            continue
    return out


def pairs_of(qi: Mapping[str, Any] | None, pc: Mapping[str, Any] | None) -> tuple[SectionPair, ...]:
    """Each section either auditor graded, with both blind grades (None where one did not)."""
    mine, theirs = loaded(qi), loaded(pc)
    order = list(dict.fromkeys([*mine, *theirs]))
    return tuple(SectionPair(section=s, qi=mine.get(s), pc=theirs.get(s)) for s in order)


def far_apart(pairs: Sequence[SectionPair]) -> list[SectionPair]:
    """The sections whose two blind grades are ``SECTION_GAP`` or more apart."""
    return [p for p in pairs if p.qi is not None and p.pc is not None and abs(int(p.qi) - int(p.pc)) >= SECTION_GAP]


def flag_text(overall: str | None, pairs: Sequence[SectionPair]) -> str | None:
    """The case's flag for Q&I: the overall grade's rule, then every section two or more apart."""
    parts = [overall] if overall else []
    apart = far_apart(pairs)
    if apart:
        named = "; ".join(f"{p.section} ({p.qi.label} vs {p.pc.label})" for p in apart
                          if p.qi is not None and p.pc is not None)
        parts.append(f"section grades two or more apart: {named}")
    return "; ".join(parts) or None
