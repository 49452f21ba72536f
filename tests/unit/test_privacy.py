"""The free-text guard: identifiers are refused, ordinary audit writing is not."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.core.privacy import Finding, find_identifiers, free_text_problem

TODAY = date(2026, 11, 26)

DOB = "date of birth"
NHS = "NHS number"
POSTCODE = "postcode"
PHONE = "phone number"
EMAIL = "email address"


# (text, the findings expected as (kind, match) pairs, in reading order)
POSITIVES = [
    # dates of birth, introduced as such (even when recent)
    ("DOB 03/04/2015", [(DOB, "03/04/2015")]),
    ("D.O.B: 3.4.2015, attends Year 6", [(DOB, "3.4.2015")]),
    ("dob:3-4-2015", [(DOB, "3-4-2015")]),
    ("Date of birth 3 March 2015", [(DOB, "3 March 2015")]),
    ("baby born on 01/11/2026 and discharged home", [(DOB, "01/11/2026")]),
    ("born on the 3rd of March 2015", [(DOB, "3rd of March 2015")]),
    ("born March 2015", [(DOB, "March 2015")]),
    ("DOB 05/2015", [(DOB, "05/2015")]),
    # full dates more than a year old
    ("Sibling's birthday is 14/02/2019", [(DOB, "14/02/2019")]),
    ("seen on 3 Mar 2015 by the GP", [(DOB, "3 Mar 2015")]),
    ("March 3rd 2015", [(DOB, "March 3rd 2015")]),
    ("Sept 3, 2014", [(DOB, "Sept 3, 2014")]),
    ("2015-03-03", [(DOB, "2015-03-03")]),
    ("12/25/2014", [(DOB, "12/25/2014")]),
    ("01/06/15", [(DOB, "01/06/15")]),
    # NHS numbers with a valid check digit
    ("NHS no 943 476 5919", [(NHS, "943 476 5919")]),
    ("9434765919", [(NHS, "9434765919")]),
    ("nhs: 943-476-5919.", [(NHS, "943-476-5919")]),
    # postcodes
    ("Family moved to M1 1AE last month", [(POSTCODE, "M1 1AE")]),
    ("lives near b338th", [(POSTCODE, "b338th")]),
    ("SW1A 1AA", [(POSTCODE, "SW1A 1AA")]),
    ("sw1a1aa", [(POSTCODE, "sw1a1aa")]),
    ("new address in LS6 2QL", [(POSTCODE, "LS6 2QL")]),
    # phone numbers
    ("mum's mobile 07700 900123", [(PHONE, "07700 900123")]),
    ("call +44 7700 900123", [(PHONE, "+44 7700 900123")]),
    ("+44 (0)7700 900 123", [(PHONE, "+44 (0)7700 900 123")]),
    ("school office (0161) 496 0000", [(PHONE, "(0161) 496 0000")]),
    ("020 7946 0000", [(PHONE, "020 7946 0000")]),
    ("tel 01632-960-983", [(PHONE, "01632-960-983")]),
    ("mob:07700900123", [(PHONE, "07700900123")]),
    ("rang 07700 900123 2 times", [(PHONE, "07700 900123")]),
    # email addresses
    ("emailed dad at j.bloggs77@example.org", [(EMAIL, "j.bloggs77@example.org")]),
    # several at once, reported in reading order
    (
        "DOB 3/4/2015, M1 1AE, 07700 900123, nhs 943 476 5919",
        [(DOB, "3/4/2015"), (POSTCODE, "M1 1AE"), (PHONE, "07700 900123"), (NHS, "943 476 5919")],
    ),
]

NEGATIVES = [
    "Visited 4 times since the review on 3/11/2026; mum said the plan was clearer",
    "12 visits this quarter, child seen alone on 9 of them",
    "Audited in 2026-27 Q1 (Apr-Jun 2026); follow-up in Q3 2026",
    "Case CIC-10234 stepped down to CIN in July 2025",
    "Strategy meeting on 02/10/2026 with police and health at 10:30",
    "Core group met 14 Oct 2026 and again on 25.11.2026",
    "Next review due 15/01/2027",
    "Scored 7/10 on the wellbeing scale; attendance 92.5%",
    "Key Stage 2, Year 6, KS2 SATs in May",
    "Born into a large family; parents separated in 2019",
    "Room E1 3rd floor, then the M6 to the placement",
    "Plan reviewed 3 times in 2025/26",
    "Scores 01 02 03 04 05 over the term",
    "Invalid check digit 943 476 5918 is not an NHS number",
    "Ref 2026/0001234 and CP-9434765919",
    "Quarter 2026-27Q1, 2026-27 Q4 and 2027-28 Q1 compared",
    "The PLO letter was sent 30 days after the ICPC",
    "",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_identifying_text_is_found(text, expected):
    assert find_identifiers(text, today=TODAY) == [Finding(kind, match) for kind, match in expected]


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_audit_writing_is_not_flagged(text):
    assert find_identifiers(text, today=TODAY) == []
    assert free_text_problem(text, "What went well", today=TODAY) is None


def test_the_table_is_big_enough_to_mean_something():
    assert len(POSITIVES) + len(NEGATIVES) >= 25


# --- dates: recent events are fine, old full dates are not --------------------------------


def test_a_date_just_inside_a_year_is_an_event_and_just_outside_is_a_possible_birthday():
    inside = TODAY - timedelta(days=365)
    outside = TODAY - timedelta(days=366)
    assert find_identifiers(f"review on {inside:%d/%m/%Y}", today=TODAY) == []
    assert find_identifiers(f"review on {outside:%d/%m/%Y}", today=TODAY) == [
        Finding(DOB, f"{outside:%d/%m/%Y}")
    ]


def test_the_same_date_is_judged_against_the_day_given():
    text = "seen on 3/11/2025"
    assert find_identifiers(text, today=date(2026, 6, 1)) == []
    assert find_identifiers(text, today=date(2027, 6, 1)) == [Finding(DOB, "3/11/2025")]


def test_today_defaults_to_the_real_date():
    long_ago = "seen on 3/11/1999"
    assert find_identifiers(long_ago) == [Finding(DOB, "3/11/1999")]
    assert find_identifiers(f"seen on {date.today():%d/%m/%Y}") == []


def test_future_dates_are_plans_not_birthdays():
    assert find_identifiers("review booked for 3 March 2027", today=TODAY) == []


def test_an_impossible_date_is_not_a_date():
    assert find_identifiers("31/02/2015", today=TODAY) == []


def test_month_and_year_alone_are_only_flagged_when_introduced_as_a_birth_date():
    assert find_identifiers("placement started March 2015", today=TODAY) == []
    assert find_identifiers("D.O.B. March 2015", today=TODAY) == [Finding(DOB, "March 2015")]


# --- the modal message ---------------------------------------------------------------------


def test_the_message_names_the_kind_and_quotes_a_postcode():
    message = free_text_problem("They live at SW1A 1AA now", "Family context", today=TODAY)
    assert message == (
        'This looks like a postcode ("SW1A 1AA"). '
        'No names or identifying details in "Family context": please remove it.'
    )


def test_the_message_without_a_label_matches_the_house_wording():
    message = free_text_problem("SW1A 1AA", "", today=TODAY)
    assert message == (
        'This looks like a postcode ("SW1A 1AA"). No names or identifying details: please remove it.'
    )


def test_an_nhs_number_is_never_echoed_back_in_full():
    message = free_text_problem("nhs 943 476 5919", "Notes", today=TODAY)
    assert message is not None
    assert "an NHS number" in message
    assert "9434765919" not in message.replace(" ", "")
    assert "476" not in message
    assert '"*** *** **19"' in message


@pytest.mark.parametrize("phone", ["07700 900123", "+44 7700 900123", "(0161) 496 0000", "07700900123"])
def test_a_phone_number_is_masked_to_its_last_two_characters(phone):
    message = free_text_problem(f"ring {phone}", "Notes", today=TODAY)
    assert message is not None
    digits = "".join(ch for ch in phone if ch.isdigit())
    shown = "".join(ch for ch in message if ch.isdigit())
    assert shown == digits[-2:]
    assert "a phone number" in message


def test_two_kinds_are_both_named_and_the_ask_is_plural():
    message = free_text_problem("DOB 3/4/2015 at M1 1AE", "Notes", today=TODAY)
    assert message is not None
    assert 'a date of birth ("3/4/2015")' in message
    assert 'a postcode ("M1 1AE")' in message
    assert message.endswith("please remove them.")


def test_more_than_two_kinds_say_there_is_more():
    message = free_text_problem("DOB 3/4/2015, M1 1AE, jo@example.org", "Notes", today=TODAY)
    assert message is not None
    assert "and other identifying details" in message
    assert "jo@example.org" not in message


def test_a_question_as_label_reads_naturally():
    message = free_text_problem("M1 1AE", "What made the difference?", today=TODAY)
    assert message is not None
    assert 'in "What made the difference":' in message
