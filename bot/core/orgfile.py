"""The org directory file (YAML) <-> pydantic models, with no database and no Slack.

The file is edited by a council admin, not a developer, so every problem is reported at once,
in plain English, with the line it is on. To get line numbers we compose the YAML into nodes
ourselves (keeping each node's mark), build plain data from them while recording the line of
every path, and translate pydantic's error ``loc`` paths back to those lines.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NamedTuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.core.orgfile_away import Away
from bot.core.policy import Policy

__all__ = [
    "Division",
    "Forum",
    "Key",
    "OrgFile",
    "OrgFileError",
    "People",
    "Service",
    "SlackChannelId",
    "SlackUserId",
    "Team",
    "load_org_file",
    "parse_org_text",
]

USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

# Tells OrgFile's cross-checks to stand aside: parse_org_text runs them on the raw data itself, so
# that they are reported (with lines) even when some field is also wrong.
_FROM_YAML = "qmf_org_file_from_yaml"

Path_ = tuple[str | int, ...]


class OrgFileError(Exception):
    """Everything wrong with an org file, each problem one line a council admin can act on."""

    def __init__(self, problems: Sequence[str], source: str = "<org file>") -> None:
        self.problems: list[str] = list(problems)
        self.source = source
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def _slack_user_id(value: str) -> str:
    if not USER_ID_RE.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a Slack user id; expected one like U0SM1 "
            "(a capital U or W followed by capital letters and digits)"
        )
    return value


def _slack_channel_id(value: str) -> str:
    if not CHANNEL_ID_RE.fullmatch(value):
        hint = " Use the channel's id, not its name." if value.startswith("#") else ""
        raise ValueError(
            f"'{value}' is not a Slack channel id; expected one like C0CIC "
            f"(a capital C or G followed by capital letters and digits).{hint}"
        )
    return value


def _key(value: str) -> str:
    if not KEY_RE.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a valid key; a key is short and lowercase, made of letters a-z, "
            "digits and hyphens, at most 40 characters, like cic-north"
        )
    return value


SlackUserId = Annotated[str, AfterValidator(_slack_user_id)]
SlackChannelId = Annotated[str, AfterValidator(_slack_channel_id)]
Key = Annotated[str, AfterValidator(_key)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Division(_Strict):
    name: Text
    leadership_team: list[SlackUserId] = []
    channel: SlackChannelId | None = None


class Team(_Strict):
    key: Key
    name: Text
    team_manager: SlackUserId
    practitioners: list[SlackUserId] = []


class Service(_Strict):
    key: Key
    name: Text
    division: Text
    service_manager: SlackUserId
    channel: SlackChannelId | None = None
    teams: list[Team] = []


class People(_Strict):
    """Roles that sit outside the service/team tree."""

    quality_improvement: list[SlackUserId] = []
    practice_consultants: list[SlackUserId] = []
    senior_managers: list[SlackUserId] = []
    reviewing_officers: list[SlackUserId] = []
    admins: list[SlackUserId] = []
    board_leads: list[SlackUserId] = []  # may commission themed audits for a board
    away: dict[SlackUserId, Away] = {}  # time away booked ahead: {U0SM2: {from: ..., to: ...}}


class Forum(_Strict):
    name: Text
    channel: SlackChannelId


class OrgFile(_Strict):
    organisation: Text
    timezone: str = "Europe/London"
    channels: dict[str, SlackChannelId] = {}
    divisions: list[Division] = []
    services: list[Service] = []
    people: People = Field(default_factory=People)
    forums: list[Forum] = []
    cib_meetings: list[date] = []
    bank_holidays: list[date] = []
    settings: Policy | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a timezone we know; use a name like Europe/London") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> OrgFile:
        # Built in Python (not from YAML): still refuse an inconsistent directory.
        if info.context and info.context.get(_FROM_YAML):
            return self
        data = self.model_dump()
        clashes = _cross_problems(data)
        if clashes:
            raise ValueError("; ".join(_clash_text(clash, data, {}) for clash in clashes))
        return self

    def all_people(self) -> set[str]:
        """Everyone named anywhere, e.g. to look up names or check who may use the bot."""
        found: set[str] = set()
        for division in self.divisions:
            found.update(division.leadership_team)
        for service in self.services:
            found.add(service.service_manager)
            for team in service.teams:
                found.add(team.team_manager)
                found.update(team.practitioners)
        for field in People.model_fields.keys() - {"away"}:
            found.update(getattr(self.people, field))
        return found


# --------------------------------------------------------------------------- cross-field checks


def _items(data: Any, key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


class _Clash(NamedTuple):
    """A cross-field problem; ``first`` is where the clashing value first appeared, if any."""

    path: Path_
    message: str
    first: Path_ | None = None


def _cross_problems(data: Any) -> list[_Clash]:
    """Checks that need more than one field, run on raw data so they work even when it is half wrong."""
    problems: list[_Clash] = []

    def unique(entries: Iterable[tuple[Path_, Any]], what: str) -> None:
        first: dict[str, Path_] = {}
        for path, value in entries:
            if not isinstance(value, str):
                continue
            if value in first:
                problems.append(_Clash(path, f"the {what} '{value}' is used twice", first[value]))
            else:
                first[value] = path

    divisions = _items(data, "divisions")
    services = _items(data, "services")
    unique(((("divisions", i, "name"), d.get("name")) for i, d in divisions), "division name")
    unique(((("forums", i, "name"), f.get("name")) for i, f in _items(data, "forums")), "forum name")
    unique(((("services", i, "key"), s.get("key")) for i, s in services), "service key")
    unique(
        (
            (("services", i, "teams", j, "key"), t.get("key"))
            for i, s in services
            for j, t in _items(s, "teams")
        ),
        "team key",
    )
    division_names = list(dict.fromkeys(d["name"] for _, d in divisions if isinstance(d.get("name"), str)))
    for i, service in services:
        division = service.get("division")
        if isinstance(division, str) and division.strip() not in division_names:
            listed = ", ".join(f"'{n}'" for n in division_names) or "none are listed"
            problems.append(
                _Clash(
                    ("services", i, "division"),
                    f"the division '{division}' is not listed under divisions: ({listed}); "
                    "add it there or fix the spelling",
                )
            )
    return problems


# --------------------------------------------------------------------------- YAML -> data with lines


class _Raw:
    """Plain data built from YAML nodes, remembering the line of every path."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[Path_, int] = {}
        self.problems: list[tuple[int, Path_, str]] = []
        self.unreadable: set[Path_] = set()  # already reported; pydantic would only add "is empty"
        self._active: set[int] = set()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if id(node) in self._active:
            self.problems.append((_line(node), path, "refers to itself through a YAML alias"))
            self.unreadable.add(path)
            return None
        self._active.add(id(node))
        try:
            return self._build(node, path)
        finally:
            self._active.discard(id(node))

    def _build(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append((_line(key_node), path, "a key must be a plain word"))
                    continue
                key = str(key_node.value)
                line = _line(key_node)
                if key in seen:
                    self.problems.append(
                        (line, path, f"'{key}' appears twice (first on line {seen[key]}); keep one")
                    )
                seen.setdefault(key, line)
                self.lines[(*path, key)] = line
                value = self.build(value_node, (*path, key))
                # An empty "key:" means "nothing here": a missing required value is then reported
                # as missing, and an empty optional section is simply absent.
                if value is None:
                    result.pop(key, None)
                else:
                    result[key] = value
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, child in enumerate(node.value):
                self.lines[(*path, index)] = _line(child)
                items.append(self.build(child, (*path, index)))
            return items
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            self.problems.append((_line(node), path, f"'{node.value}' cannot be read ({_first_line(exc)})"))
            self.unreadable.add(path)
            return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "problem", None) or str(exc)
    return str(text).splitlines()[0] if text else type(exc).__name__


def _prefix(path: Path_, data: Any) -> str:
    return f"{_render_path(path, data)}: " if path else ""


def _label(item: Any) -> str | None:
    if isinstance(item, Mapping):
        for field in ("key", "name"):
            if isinstance(item.get(field), str):
                return str(item[field])
    return None


def _render_path(path: Path_, data: Any) -> str:
    """``services[0] 'cic' teams[1] 'cic-south' practitioners[2]``: indices plus the item's own name."""
    out = ""
    node = data
    labelled = False
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = _label(node)
            if label is not None:
                out += f" '{label}'"
                labelled = True
                continue
        else:
            out += ("" if not out else " " if labelled else ".") + part
            node = node.get(part) if isinstance(node, Mapping) else None
        labelled = False
    return out or "the file"


# --------------------------------------------------------------------------- pydantic errors -> English

_NOUNS: dict[type[BaseModel], str] = {
    OrgFile: "the file",
    Division: "a division",
    Team: "a team",
    Service: "a service",
    People: "people",
    Away: "a person's time away",
    Forum: "a forum",
    Policy: "settings",
}

_MISSING: dict[tuple[type[BaseModel], str], str] = {
    (OrgFile, "organisation"): "the file needs an 'organisation:' line with the organisation's name",
    (Team, "team_manager"): "a team needs a team_manager (a Slack user id like U0TM1)",
    (Team, "key"): "a team needs a key (short and lowercase, like cic-north)",
    (Service, "key"): "a service needs a key (short and lowercase, like cic)",
    (Service, "service_manager"): "a service needs a service_manager (a Slack user id like U0SM1)",
    (Service, "division"): "a service needs a division (the name of one of the divisions under divisions:)",
    (Forum, "channel"): "a forum needs a channel (a Slack channel id like C0LEAD)",
}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def _model_at(path: Path_) -> type[BaseModel] | None:
    """Which model a path points into, so messages can list that model's allowed keys."""
    annotation: Any = OrgFile
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(part, int) or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            args = typing.get_args(annotation)
            if not args:
                return None
            annotation = args[-1]
        else:
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _describe(error: Mapping[str, Any]) -> tuple[Path_, Path_, str]:
    """One pydantic error as (path whose line to give, path to name, plain message)."""
    loc: Path_ = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
    kind = error["type"]
    value = error.get("input")
    if kind == "missing" and loc and isinstance(loc[-1], str):
        parent, field = loc[:-1], loc[-1]
        model = _model_at(parent)
        message = _MISSING.get((model, field)) if model else None
        if message is None:
            message = f"{_NOUNS.get(model, 'this') if model else 'this'} needs a {field}"
        return loc, parent, message
    if kind == "extra_forbidden" and loc:
        parent, field = loc[:-1], str(loc[-1])
        model = _model_at(parent)
        allowed = ", ".join(f.alias or n for n, f in model.model_fields.items()) if model else ""
        place = (
            "at the top of the file" if not parent else f"in {_NOUNS.get(model, 'this') if model else 'this'}"
        )
        return (
            loc,
            parent,
            (
                f"'{field}' is not something we know {place}; check the spelling"
                + (f" (allowed: {allowed})" if allowed else "")
            ),
        )
    if value is None:
        return loc, loc, "is empty; give a value or remove the line"
    if kind == "value_error":
        return loc, loc, str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "string_type":
        return (
            loc,
            loc,
            f"should be text, not {value!r}; if it is meant as text, put it in quotes, like '{value}'",
        )
    if kind == "string_too_short":
        return loc, loc, "should not be empty"
    if kind == "list_type":
        return loc, loc, "should be a list, like [U0P1, U0P2] or one '- item' per line"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, loc, "should be a set of 'name: value' lines, not a single value or a list"
    if kind.startswith("date") or kind.startswith("datetime"):
        return loc, loc, f"'{value}' should be a date like 2027-01-20"
    message = str(error["msg"])
    message = message[len("Input ") :] if message.startswith("Input ") else message
    return loc, loc, message[:1].lower() + message[1:]


# --------------------------------------------------------------------------- public API


MAX_DEPTH = 40
"""How deeply an org file may nest (it needs 6 levels); deeper is refused before it is built."""


def _refuse_hostile(text: str, source: str) -> None:
    """Refuse, with one line naming where, what an org file never needs and a loader must not build:
    characters YAML cannot hold (a NUL byte), aliases (nested aliases expand to gigabytes: "billion
    laughs") and nesting deeper than MAX_DEPTH (which overflows the stack). Runs on YAML's events,
    which are read one at a time, before any node or value is built."""
    for position, char in enumerate(text):
        if char == "\x00" or (char < " " and char not in "\t\n\r") or char in "\x7f\ufffe\uffff":
            line = text.count("\n", 0, position) + 1
            name = "a NUL byte" if char == "\x00" else f"the control character {char!r}"
            raise OrgFileError([f"line {line}: {name} is not allowed in an org file; remove it"], source)
    loader = yaml.SafeLoader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                raise OrgFileError(
                    [f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed in an org "
                     "file; write the value out in full"], source)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise OrgFileError(
                        [f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep; "
                         "an org file needs a few"], source)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # not valid YAML: the parse below names the line
    finally:
        loader.dispose()


def parse_org_text(text: str, source: str = "<org file>") -> OrgFile:
    """Parse and check an org file's text; raises OrgFileError listing every problem with its line."""
    _refuse_hostile(text, source)
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            problem = exc.problem or exc.context or "unreadable"
            raise OrgFileError(
                [f"line {line}: this is not valid YAML ({problem}); check the indentation and punctuation"],
                source,
            ) from exc
        except yaml.YAMLError as exc:
            raise OrgFileError([f"line 1: this is not valid YAML ({_first_line(exc)})"], source) from exc

        if root is None:
            raise OrgFileError(
                [
                    "line 1: the org file is empty; it should start with 'organisation: <your organisation's name>'"
                ],
                source,
            )
        if not isinstance(root, yaml.MappingNode):
            raise OrgFileError(
                [
                    f"line {_line(root)}: the file should be a set of 'name: value' lines, "
                    "starting with 'organisation:'"
                ],
                source,
            )
        raw = _Raw(loader)
        data = raw.build(root, ())
    finally:
        loader.dispose()

    found = [(line, _prefix(path, data) + message) for line, path, message in raw.problems]

    def at(line_path: Path_, path: Path_, message: str) -> None:
        line = 1
        for end in range(len(line_path), -1, -1):
            if line_path[:end] in raw.lines:
                line = raw.lines[line_path[:end]]
                break
        found.append((line, _prefix(path, data) + message))

    org: OrgFile | None = None
    try:
        org = OrgFile.model_validate(data, context={_FROM_YAML: True})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            line_path, path, message = _describe(error)
            if not any(line_path[: len(bad)] == bad for bad in raw.unreadable):
                at(line_path, path, message)
    for clash in _cross_problems(data):
        at(clash.path, clash.path, _clash_text(clash, data, raw.lines, with_path=False))

    if found or org is None:
        problems: list[str] = []
        for line, message in sorted(found, key=lambda item: item[0]):
            text_line = f"line {line}: {message}"
            if text_line not in problems:
                problems.append(text_line)
        raise OrgFileError(problems, source)
    return org


def _clash_text(clash: _Clash, data: Any, lines: Mapping[Path_, int], with_path: bool = True) -> str:
    message = clash.message
    if clash.first is not None:
        first = clash.first[:-1]  # the item, not its key field
        line = lines.get(clash.first)
        message += f" (first at {_render_path(first, data)}" + (f", line {line})" if line else ")")
    return _prefix(clash.path, data) + message if with_path else message


def load_org_file(path: str | Path) -> OrgFile:
    """Read an org file from disk; unreadable files are OrgFileErrors too, so the CLI has one case."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise OrgFileError([f"cannot read the org file {source}: {exc.strerror or exc}"], source) from exc
    except UnicodeDecodeError as exc:
        raise OrgFileError([f"the org file {source} is not UTF-8 text; save it as UTF-8"], source) from exc
    return parse_org_text(text, source)
