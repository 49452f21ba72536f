"""The org file written back out (``qmf-bot org export``): YAML in CONTRACTS.md's order and shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from bot.core.orgfile import OrgFile, People

__all__ = ["dump_org_file"]


class _FlowList(list[Any]):
    """A list written on one line, like the ids in CONTRACTS.md's example."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent "- item" under its key, as the example in CONTRACTS.md does.
        return super().increase_indent(flow, False)


_Dumper.add_representer(
    _FlowList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _ids(values: Sequence[str]) -> _FlowList:
    return _FlowList(values)


def dump_org_file(org: OrgFile) -> str:
    """YAML in CONTRACTS.md's order and shape, leaving out what is empty, so that it diffs well."""
    out: dict[str, Any] = {"organisation": org.organisation, "timezone": org.timezone}
    if org.channels:
        out["channels"] = dict(org.channels)
    if org.divisions:
        out["divisions"] = [
            _without_empty({"name": d.name, "leadership_team": _ids(d.leadership_team), "channel": d.channel})
            for d in org.divisions
        ]
    if org.services:
        out["services"] = [
            _without_empty(
                {
                    "key": s.key,
                    "name": s.name,
                    "division": s.division,
                    "service_manager": s.service_manager,
                    "channel": s.channel,
                    "teams": [
                        _without_empty(
                            {
                                "key": t.key,
                                "name": t.name,
                                "team_manager": t.team_manager,
                                "practitioners": _ids(t.practitioners),
                            }
                        )
                        for t in s.teams
                    ],
                }
            )
            for s in org.services
        ]
    people = _without_empty({field: _ids(getattr(org.people, field)) for field in People.model_fields})
    if people:
        out["people"] = people
    if org.forums:
        out["forums"] = [{"name": f.name, "channel": f.channel} for f in org.forums]
    if org.cib_meetings:
        out["cib_meetings"] = list(org.cib_meetings)
    if org.bank_holidays:
        out["bank_holidays"] = list(org.bank_holidays)
    if org.settings is not None:
        out["settings"] = org.settings.model_dump(mode="json", exclude_defaults=True)
    header = "# QMF Bot org directory. People are Slack user ids (U...), channels Slack channel ids (C...).\n"
    body = yaml.dump(
        out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )
    return header + body


def _without_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}
