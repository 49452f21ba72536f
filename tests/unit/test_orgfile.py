"""The org file: what a council admin writes, and what they are told when it is wrong."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

import bot
from bot.core.orgfile import (
    Division,
    OrgFile,
    OrgFileError,
    People,
    Service,
    Team,
    load_org_file,
    parse_org_text,
)
from bot.core.orgfile_export import dump_org_file
from bot.core.policy import Policy
from tests.shared_docs import shared_file

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
EXAMPLE = (DATA / "contracts_example.yaml").read_text(encoding="utf-8")
SAMPLE = Path(bot.__file__).parent / "app" / "sandbox" / "sample_org.yaml"


def line_of(text: str, needle: str, occurrence: int = 1, whole: bool = False) -> int:
    """The 1-based line of the n-th line containing needle, so tests do not hard-code line numbers.

    ``whole`` matches the line's content without indentation or comment, so "- key: cic" does
    not also find "- key: cic-north".
    """
    hits = [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if (line.split("#")[0].strip() == needle if whole else needle in line)
    ]
    assert len(hits) >= occurrence, f"{needle!r} not in the test text"
    return hits[occurrence - 1]


def problems_of(text: str) -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        parse_org_text(text)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# ------------------------------------------------------------------ the example in CONTRACTS.md


def test_contracts_example_parses_into_the_directory() -> None:
    org = parse_org_text(EXAMPLE)

    assert org.organisation == "Example Council Children & Families"
    assert org.timezone == "Europe/London"
    assert org.channels == {"quality_improvement": "C0QI", "continuous_improvement_board": "C0CIB"}
    assert org.divisions[0].name == "Children's Social Care"
    assert org.divisions[0].leadership_team == ["U0DLT1", "U0DLT2"]
    service = org.services[0]
    assert (service.key, service.division, service.service_manager, service.channel) == (
        "cic",
        "Children's Social Care",
        "U0SM1",
        "C0CIC",
    )
    assert service.teams == [
        Team(key="cic-north", name="CiC North", team_manager="U0TM1", practitioners=["U0P1", "U0P2"])
    ]
    assert org.people.reviewing_officers == ["U0IRO1"]
    assert org.people.board_leads == []
    assert [(f.name, f.channel) for f in org.forums] == [("Leadership Meeting", "C0LEAD")]
    assert org.settings is None


def test_the_example_in_the_shared_contracts_doc_still_parses() -> None:
    contracts = shared_file("CONTRACTS.md")
    section = contracts.read_text(encoding="utf-8").split("## Org file (YAML)", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    assert parse_org_text(block.group(1)) == parse_org_text(EXAMPLE)


def test_contracts_example_round_trips_through_dump() -> None:
    org = parse_org_text(EXAMPLE)
    assert parse_org_text(dump_org_file(org)) == org


def test_dump_writes_the_contracts_shape_and_key_order() -> None:
    text = dump_org_file(parse_org_text(EXAMPLE))

    top_level = [line.split(":")[0] for line in text.splitlines() if re.match(r"^[a-z_]+:", line)]
    assert top_level == ["organisation", "timezone", "channels", "divisions", "services", "people", "forums"]
    assert "    leadership_team: [U0DLT1, U0DLT2]\n" in text
    assert "        practitioners: [U0P1, U0P2]\n" in text
    assert "  - key: cic\n    name: Children in Care\n" in text
    assert "board_leads" not in text  # empty optional lists are left out


def test_dump_leaves_out_empty_optional_sections() -> None:
    org = OrgFile(organisation="Tiny Council")
    text = dump_org_file(org)

    for section in ("channels", "divisions", "services", "people", "forums", "cib_meetings", "settings"):
        assert f"{section}:" not in text
    assert parse_org_text(text) == org


def test_round_trip_keeps_dates_board_leads_and_changed_settings() -> None:
    org = parse_org_text(EXAMPLE).model_copy(
        update={
            "people": People(admins=["U0ADM1"], board_leads=["U0BRD1"]),
            "cib_meetings": [date(2027, 1, 20), date(2027, 4, 21)],
            "bank_holidays": [date(2026, 12, 25)],
            "settings": Policy(learning_audits_per_manager=3, learning_themes=("Risk", "Voice of the child")),
        }
    )
    text = dump_org_file(org)

    assert "learning_audits_per_manager: 3" in text
    assert "suppression_threshold" not in text  # defaults stay implicit
    assert parse_org_text(text) == org


def test_all_people_finds_everyone_once_in_any_role() -> None:
    org = parse_org_text(EXAMPLE.replace("admins: [U0ADM1]", "admins: [U0ADM1, U0SM1]"))

    people = org.all_people()

    assert {"U0DLT1", "U0DLT2", "U0SM1", "U0TM1", "U0P1", "U0P2", "U0IRO1", "U0ADM1"} <= people
    assert {"U0QI1", "U0PC5", "U0SEN3"} <= people
    assert len(people) == 2 + 1 + 1 + 2 + 5 + 5 + 3 + 1 + 1


# ------------------------------------------------------------------ each kind of mistake, with its line


def test_team_without_team_manager_is_reported_at_the_team_in_plain_english() -> None:
    text = EXAMPLE.replace("        team_manager: U0TM1\n", "")

    assert only_problem(text) == (
        f"line {line_of(text, '- key: cic-north')}: services[0] 'cic' teams[0] 'cic-north': "
        "a team needs a team_manager (a Slack user id like U0TM1)"
    )


def test_empty_team_manager_line_is_reported_as_missing_on_that_line() -> None:
    text = EXAMPLE.replace("team_manager: U0TM1", "team_manager:")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'team_manager:')}: ")
    assert "a team needs a team_manager" in problem


def test_unknown_top_level_key_names_its_line_and_the_allowed_keys() -> None:
    text = EXAMPLE.replace("channels:", "chanels:")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'chanels:')}: 'chanels' is not something we know")
    assert "channels" in problem.split("allowed:")[1]


def test_unknown_key_inside_a_team_names_the_team() -> None:
    text = EXAMPLE.replace("        name: CiC North\n", "        name: CiC North\n        manager: U0TM9\n")

    problem = only_problem(text)

    assert problem.startswith(
        f"line {line_of(text, 'manager: U0TM9')}: services[0] 'cic' teams[0] 'cic-north': "
    )
    assert "'manager' is not something we know in a team" in problem


def test_unknown_setting_is_an_error_with_its_line() -> None:
    text = EXAMPLE + "settings:\n  learning_audits_per_manager: 3\n  audits_per_manager: 2\n"

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, '  audits_per_manager')}: settings: 'audits_per_manager'")


def test_out_of_range_setting_names_the_setting() -> None:
    text = EXAMPLE + "settings:\n  learning_audits_per_manager: 0\n"

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'learning_audits_per_manager')}: settings.")
    assert "greater than or equal to 1" in problem


def test_yaml_syntax_error_gives_the_line_of_the_mistake() -> None:
    text = EXAMPLE.replace("practitioners: [U0P1, U0P2]", "practitioners: [U0P1, U0P2")

    problem = only_problem(text)

    assert re.match(r"line (\d+): this is not valid YAML", problem)
    assert int(problem.split()[1].rstrip(":")) >= line_of(text, "practitioners: [U0P1, U0P2")


def test_bad_indentation_is_a_yaml_error_with_a_line() -> None:
    text = EXAMPLE.replace("    service_manager: U0SM1", "   service_manager: U0SM1")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'service_manager: U0SM1')}: this is not valid YAML")


def test_duplicate_yaml_key_names_both_lines() -> None:
    text = EXAMPLE.replace(
        "    service_manager: U0SM1\n", "    service_manager: U0SM1\n    service_manager: U0SM7\n"
    )

    assert only_problem(text) == (
        f"line {line_of(text, 'U0SM7')}: services[0] 'cic': 'service_manager' appears twice "
        f"(first on line {line_of(text, 'U0SM1')}); keep one"
    )


def test_person_who_is_not_a_slack_user_id_is_named_with_the_expected_form() -> None:
    text = EXAMPLE.replace("[U0P1, U0P2]", "[U0P1, Jo Bloggs]")

    assert only_problem(text) == (
        f"line {line_of(text, 'Jo Bloggs')}: services[0] 'cic' teams[0] 'cic-north' practitioners[1]: "
        "'Jo Bloggs' is not a Slack user id; expected one like U0SM1 "
        "(a capital U or W followed by capital letters and digits)"
    )


def test_lowercase_user_id_in_people_is_refused() -> None:
    text = EXAMPLE.replace("admins: [U0ADM1]", "admins: [u0adm1]")

    problem = only_problem(text)

    assert problem.startswith(
        f"line {line_of(text, 'u0adm1')}: people.admins[0]: 'u0adm1' is not a Slack user id"
    )


def test_channel_name_instead_of_channel_id_is_explained() -> None:
    text = EXAMPLE.replace("channel: C0CIC", "channel: '#children-in-care'")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, '#children-in-care')}: services[0] 'cic' channel: ")
    assert "not a Slack channel id" in problem
    assert "id, not its name" in problem


def test_bad_channel_id_in_channels_section_names_the_channel() -> None:
    text = EXAMPLE.replace("quality_improvement: C0QI\n", "quality_improvement: QI-channel\n")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'QI-channel')}: channels.quality_improvement: ")


@pytest.mark.parametrize("bad_key", ["CIC", "cic north", "-cic", "c" * 41, "cic_north"])
def test_service_key_must_be_short_and_lowercase(bad_key: str) -> None:
    text = EXAMPLE.replace("  - key: cic  ", f"  - key: '{bad_key}'  ")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, bad_key)}: services[0] '{bad_key}' key: ")
    assert "is not a valid key" in problem


def test_team_key_must_be_lowercase() -> None:
    text = EXAMPLE.replace("key: cic-north", "key: CiC-North")

    problem = only_problem(text)

    assert problem.startswith(
        f"line {line_of(text, 'CiC-North')}: services[0] 'cic' teams[0] 'CiC-North' key: "
    )


def _second_service(key: str, team_key: str, division: str = "Children's Social Care") -> str:
    return (
        f"  - key: {key}\n"
        "    name: Another service\n"
        f"    division: {division}\n"
        "    service_manager: U0SM2\n"
        "    teams:\n"
        f"      - key: {team_key}\n"
        "        name: Another team\n"
        "        team_manager: U0TM2\n"
    )


def _with_second_service(service_yaml: str) -> str:
    return EXAMPLE.replace("people:\n", service_yaml + "people:\n")


def test_service_keys_must_be_unique() -> None:
    text = _with_second_service(_second_service("cic", "cp-east"))

    assert only_problem(text) == (
        f"line {line_of(text, '- key: cic', 2, whole=True)}: services[1] 'cic' key: the service key 'cic' is used twice "
        f"(first at services[0] 'cic', line {line_of(text, '- key: cic', whole=True)})"
    )


def test_team_keys_must_be_unique_across_the_whole_file() -> None:
    text = _with_second_service(_second_service("cp", "cic-north"))

    problem = only_problem(text)

    assert problem.startswith(
        f"line {line_of(text, '- key: cic-north', 2)}: services[1] 'cp' teams[0] 'cic-north' key: "
        "the team key 'cic-north' is used twice"
    )
    assert (
        f"first at services[0] 'cic' teams[0] 'cic-north', line {line_of(text, '- key: cic-north')}"
        in problem
    )


def test_service_in_an_unlisted_division_is_refused() -> None:
    text = _with_second_service(_second_service("cp", "cp-east", division="Early Help"))

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'division: Early Help')}: services[1] 'cp' division: ")
    assert "'Early Help' is not listed under divisions:" in problem
    assert "'Children's Social Care'" in problem


def test_duplicate_division_names_are_refused() -> None:
    text = EXAMPLE.replace("services:\n", "  - name: Children's Social Care\nservices:\n")

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, '- name: Children', 2)}: divisions[1]")
    assert "the division name 'Children's Social Care' is used twice" in problem


def test_duplicate_forum_names_are_refused() -> None:
    text = EXAMPLE + "  - name: Leadership Meeting\n    channel: C0LEAD2\n"

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, 'C0LEAD2') - 1}: forums[1] 'Leadership Meeting' name: ")
    assert "used twice" in problem


def test_unknown_timezone_is_refused_with_an_example() -> None:
    text = EXAMPLE.replace("timezone: Europe/London", "timezone: London")

    assert only_problem(text) == (
        f"line {line_of(text, 'timezone')}: timezone: 'London' is not a timezone we know; "
        "use a name like Europe/London"
    )


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_file_is_refused(text: str) -> None:
    assert only_problem(text).startswith("line 1: the org file is empty")


def test_a_list_instead_of_a_mapping_is_refused() -> None:
    assert "should be a set of 'name: value' lines" in only_problem("- organisation: X\n")


def test_missing_organisation_is_named() -> None:
    assert "needs an 'organisation:' line" in only_problem("timezone: Europe/London\n")


def test_impossible_date_names_its_line() -> None:
    text = EXAMPLE + "cib_meetings:\n  - 2027-01-20\n  - 2027-02-30\n"

    problem = only_problem(text)

    assert problem.startswith(f"line {line_of(text, '2027-02-30')}: cib_meetings[1]: '2027-02-30'")


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = (DATA / "many_problems.yaml").read_text(encoding="utf-8")

    problems = problems_of(text)

    lines = [int(p.split(":")[0].removeprefix("line ")) for p in problems]
    assert lines == sorted(lines)
    expected = {
        line_of(text, "Europe/Londn"): "not a timezone",
        line_of(text, "chanels:"): "'chanels' is not something we know",
        line_of(text, "dlt-two"): "'dlt-two' is not a Slack user id",
        line_of(text, "- name: Children's", 2): "division name 'Children's Social Care' is used twice",
        line_of(text, "division: Childrens"): "'Childrens Social Care' is not listed",
        line_of(text, "#children-in-care"): "not a Slack channel id",
        line_of(text, "- key: cic-north"): "a team needs a team_manager",
        line_of(text, "key: CiC South"): "is not a valid key",
        line_of(text, "- key: cic", 2, whole=True): "service key 'cic' is used twice",
        line_of(text, "- key: cic-north", 2): "team key 'cic-north' is used twice",
        line_of(text, "- name: Leadership", 2): "forum name 'Leadership Meeting' is used twice",
    }
    assert len(problems) == len(expected)
    for line, words in expected.items():
        assert any(p.startswith(f"line {line}: ") and words in p for p in problems), (line, words, problems)


def test_orgfile_built_in_python_still_refuses_clashing_keys() -> None:
    team = Team(key="north", name="North", team_manager="U0TM1")
    service = Service(key="a", name="A", division="D", service_manager="U0SM1", teams=[team, team])

    with pytest.raises(ValidationError, match="team key 'north' is used twice"):
        OrgFile(organisation="X", divisions=[Division(name="D")], services=[service])


def test_load_org_file_reports_a_missing_file_as_an_org_file_error(tmp_path: Path) -> None:
    with pytest.raises(OrgFileError, match="cannot read the org file"):
        load_org_file(tmp_path / "nowhere.yaml")


def test_load_org_file_reads_from_disk() -> None:
    assert load_org_file(DATA / "contracts_example.yaml") == parse_org_text(EXAMPLE)


# ------------------------------------------------------------------ the sample organisation


def test_sample_org_has_four_services_of_two_teams_in_one_division() -> None:
    org = load_org_file(SAMPLE)

    assert org.organisation == "Example Council Children & Families"
    assert [(d.name, d.leadership_team, d.channel) for d in org.divisions] == [
        ("Children's Social Care", ["U0DLT1", "U0DLT2"], "C0DLT")
    ]
    assert [(s.key, s.service_manager, s.channel, [t.key for t in s.teams]) for s in org.services] == [
        ("cic", "U0SM1", "C0CIC", ["cic-north", "cic-south"]),
        ("cp", "U0SM2", "C0CP", ["cp-east", "cp-west"]),
        ("cin", "U0SM3", "C0CIN", ["cin-central", "cin-outreach"]),
        ("fd", "U0SM4", "C0FD", ["fd-mash", "fd-assessment"]),
    ]
    managers = [t.team_manager for s in org.services for t in s.teams]
    assert managers == [f"U0TM{n}" for n in range(1, 9)]


def test_sample_org_practitioners_are_each_in_exactly_one_team_of_two_or_three() -> None:
    org = load_org_file(SAMPLE)
    teams = [t for s in org.services for t in s.teams]

    assert all(2 <= len(t.practitioners) <= 3 for t in teams)
    everyone = [p for t in teams for p in t.practitioners]
    assert sorted(everyone) == sorted(f"U0P{n}" for n in range(1, 21))


def test_sample_org_has_the_central_roles_forums_and_cib_dates() -> None:
    org = load_org_file(SAMPLE)

    assert org.people.quality_improvement == [f"U0QI{n}" for n in range(1, 6)]
    assert org.people.practice_consultants == [f"U0PC{n}" for n in range(1, 6)]
    assert org.people.senior_managers == ["U0SEN1", "U0SEN2", "U0SEN3"]
    assert (org.people.reviewing_officers, org.people.admins, org.people.board_leads) == (
        ["U0IRO1"],
        ["U0ADM1"],
        ["U0BRD1"],
    )
    assert org.channels == {"quality_improvement": "C0QI", "continuous_improvement_board": "C0CIB"}
    assert [(f.name, f.channel) for f in org.forums] == [
        ("Leadership Meeting", "C0LEAD"),
        ("Strategy Day", "C0STRAT"),
        ("Team Meetings", "C0TEAMS"),
    ]
    assert date(2027, 1, 20) in org.cib_meetings
    assert any(date(2026, 4, 1) <= d < date(2027, 4, 1) for d in org.cib_meetings)
    assert any(date(2027, 4, 1) <= d < date(2028, 4, 1) for d in org.cib_meetings)


def test_sample_org_round_trips_through_dump() -> None:
    org = load_org_file(SAMPLE)
    assert parse_org_text(dump_org_file(org)) == org


# ------------------------------------------------------------------ hostile files (issue 14 item 8)

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))
    + "organisation: *i\n"
)


def test_yaml_aliases_are_refused_naming_the_line_before_anything_is_expanded() -> None:
    assert len(BILLION_LAUGHS.encode()) < 600
    problem = only_problem(BILLION_LAUGHS)
    assert problem.startswith(f"line {line_of(BILLION_LAUGHS, 'b: &b')}: ")
    assert "alias" in problem and "*a" in problem


def test_a_single_alias_in_a_real_org_file_is_refused_too() -> None:
    text = EXAMPLE.replace("timezone: Europe/London", "timezone: &tz Europe/London\nzone: *tz")
    problem = only_problem(text)
    assert problem.startswith(f"line {line_of(text, 'zone: *tz')}: ") and "*tz" in problem


def test_a_nul_byte_is_refused_naming_its_line() -> None:
    text = EXAMPLE.replace("timezone: Europe/London", "timezone: Europe/Lon\x00don")
    problem = only_problem(text)
    assert problem.startswith(f"line {line_of(text, 'timezone')}: ") and "NUL" in problem


@pytest.mark.parametrize("opener", ["[", "- ", "{a: "])
def test_nesting_twenty_thousand_deep_is_refused_naming_the_line(opener: str) -> None:
    text = "organisation: X\nteams:\n  " + opener * 20_000 + "x\n"
    problem = only_problem(text)
    assert problem.startswith("line ") and "nested" in problem


# ------------------------------------------------------------------ time away booked in the file

AWAY = EXAMPLE.replace("  admins: [U0ADM1]\n",
                       "  admins: [U0ADM1]\n  away:\n    U0SM1: {from: 2026-08-03, to: 2026-08-14}\n")


def test_people_may_carry_time_away_which_names_nobody_new() -> None:
    org = parse_org_text(AWAY)
    away = org.people.away["U0SM1"]
    assert (away.starts, away.to) == (date(2026, 8, 3), date(2026, 8, 14))
    assert org.all_people() == parse_org_text(EXAMPLE).all_people()


def test_time_away_that_ends_before_it_starts_is_refused_on_its_line() -> None:
    text = AWAY.replace("{from: 2026-08-03, to: 2026-08-14}", "{from: 2026-08-14, to: 2026-08-03}")
    assert only_problem(text) == (
        f"line {line_of(text, 'U0SM1: {from')}: people.away.U0SM1: time away ends (2026-08-03) before it "
        "starts (2026-08-14); give 'from' the first day and 'to' the last")


def test_an_unknown_key_in_time_away_lists_from_and_to() -> None:
    text = AWAY.replace("to: 2026-08-14}", "to: 2026-08-14, why: leave}")
    assert only_problem(text).endswith("(allowed: from, to)")


def test_time_away_in_the_file_is_imported_and_left_alone_when_absent(db) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from bot.core.directory import import_org, is_available
    from storage.models import Person

    session = db.sessions()
    import_org(session, parse_org_text(AWAY))
    sm2 = session.scalar(select(Person).where(Person.slack_id == "U0SM1"))
    assert (sm2.away_from, sm2.away_until) == (date(2026, 8, 3), date(2026, 8, 14))
    assert is_available(sm2, date(2026, 8, 2)) and not is_available(sm2, date(2026, 8, 3))
    assert not is_available(sm2, date(2026, 8, 14)) and is_available(sm2, date(2026, 8, 15))
    import_org(session, parse_org_text(EXAMPLE))  # a file without `away:` keeps what Slack set
    assert sm2.away_until == date(2026, 8, 14)
    session.rollback()
    session.close()
