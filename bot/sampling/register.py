"""The case register: the open cases random sampling draws from, loaded from a CSV export.

The register is the council's case-management system's list of open cases, by reference only.
Each import is the register as it stands: rows are upserted by case reference, and a case that
was open but is no longer in the file is marked closed so it cannot be drawn. A file with bad rows
changes nothing unless the person asks for the good rows to go in (``--skip-bad``): a half-loaded
register would silently bias the draw.

People are named by Slack user id, or by email address when a Slack token is available to look
the address up (``users.lookupByEmail``); offline, only Slack ids can be used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import audit
from bot.core.policy import Policy
from storage.models import Person, Service, Team, utcnow
from storage.models.sampling import CaseRegisterEntry

COLUMNS = ("case_ref", "service", "team", "case_holder", "team_manager", "reviewing_officer", "status")
REQUIRED = ("case_ref", "service", "team", "case_holder", "team_manager")
STATUSES = ("open", "closed")

EmailLookup = Callable[[str], str | None]
"""Email address -> Slack user id (None if Slack does not know it)."""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    unreadable: bool = False  # the file cannot be read from here on: nothing is imported, even with --skip-bad

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class _Row:
    line: int
    case_ref: str
    service_id: int
    team_id: int
    case_holder_id: int
    team_manager_id: int
    reviewing_officer_id: int | None
    status: str


@dataclass
class ImportResult:
    errors: list[RowError] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0
    skipped: int = 0
    imported: bool = False

    def summary(self) -> str:
        if not self.imported and any(e.unreadable for e in self.errors):
            lines = ["Nothing imported: the file cannot be read as CSV past the line below; fix it and import again."]
        elif not self.imported:
            lines = [f"Nothing imported: {len(self.errors)} bad row(s). Fix them, or use --skip-bad to "
                     "import the good rows only."]
        else:
            lines = [f"Case register imported: {self.added} added, {self.updated} updated, "
                     f"{self.unchanged} unchanged, {self.closed} closed (no longer in the file)"
                     + (f", {self.skipped} bad row(s) skipped." if self.skipped else ".")]
        lines += [str(e) for e in self.errors]
        return "\n".join(lines)


class _People:
    """Resolves a CSV person cell to a Person id, by Slack id or (if possible) by email."""

    def __init__(self, session: Session, lookup_email: EmailLookup | None) -> None:
        self.by_slack = {p.slack_id: p for p in session.scalars(select(Person).where(Person.active))}
        self.lookup_email = lookup_email
        self._email_cache: dict[str, str | None] = {}

    def resolve(self, value: str, column: str) -> tuple[int | None, str | None]:
        value = value.strip()
        if "@" in value:
            if self.lookup_email is None:
                return None, (f"{column} {value!r} is an email address, which needs SLACK_BOT_TOKEN to look "
                              "up; give the Slack user id (e.g. U0123ABCD) instead")
            key = value.lower()
            if key not in self._email_cache:
                self._email_cache[key] = self.lookup_email(value)
            slack_id = self._email_cache[key]
            if slack_id is None:
                return None, f"{column} {value!r}: Slack has no user with that email address"
        else:
            slack_id = value
        person = self.by_slack.get(slack_id)
        if person is None:
            return None, f"{column} {value!r} is not in the QMF directory (add them to the org file first)"
        return person.id, None


def _check_header(fieldnames: Sequence[str] | None) -> str | None:
    if not fieldnames:
        return "the file is empty; the first line must name the columns: " + ", ".join(COLUMNS)
    names = [(f or "").strip().lower() for f in fieldnames]
    missing = [c for c in REQUIRED if c not in names]
    unknown = [n for n in names if n and n not in COLUMNS]
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(unknown))
    if problems:
        return "; ".join(problems) + ". The columns are: " + ", ".join(COLUMNS)
    return None


def parse_register(session: Session, text: str, *, policy: Policy,
                   lookup_email: EmailLookup | None = None) -> tuple[list[_Row], list[RowError]]:
    """Check every row against the org directory; errors carry the file's line numbers."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header_problem = _check_header(reader.fieldnames)
    if header_problem:
        return [], [RowError(1, header_problem)]
    reader.fieldnames = [(f or "").strip().lower() for f in reader.fieldnames or []]
    services = {s.key: s for s in session.scalars(select(Service).where(Service.active))}
    teams = {t.key: t for t in session.scalars(select(Team).where(Team.active))}
    people = _People(session, lookup_email)
    rows: list[_Row] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a cell over the csv module's field limit (128 KiB)
            reason = str(exc)
            if "field larger" in reason:
                reason = f"a cell is too long ({reason}); a register cell is a reference, a key or an id"
            errors.append(RowError(reader.reader.line_num, f"{reason}; the rest of the file was not read",
                                   unreadable=True))
            break
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in record.items() if k is not None}
        if not any(cells.values()):
            continue  # a blank line
        if None in record:
            errors.append(RowError(line, f"{len(record[None])} more cell(s) than there are columns"))  # type: ignore[index]
            continue
        problems: list[str] = []
        if any("\x00" in v for v in cells.values()):
            errors.append(RowError(line, "the row contains a NUL byte; export the register again as CSV text"))
            continue
        ref = cells.get("case_ref", "")
        for column in REQUIRED:
            if not cells.get(column):
                problems.append(f"{column} is empty")
        if ref and not policy.case_reference_ok(ref):
            problems.append(f"case_ref {ref!r} does not look like a case reference "
                            f"(e.g. {policy.case_reference_example})")
        if ref in first_line:
            problems.append(f"case_ref {ref} is already on line {first_line[ref]}")
        service = services.get(cells.get("service", "")) if cells.get("service") else None
        if cells.get("service") and service is None:
            problems.append(f"service {cells['service']!r} is not a service key in the org file "
                            f"(known: {', '.join(sorted(services))})")
        team = teams.get(cells.get("team", "")) if cells.get("team") else None
        if cells.get("team") and team is None:
            problems.append(f"team {cells['team']!r} is not a team key in the org file")
        elif team is not None and service is not None and team.service_id != service.id:
            problems.append(f"team {team.key} is not in service {service.key}")
        ids: dict[str, int | None] = {}
        for column in ("case_holder", "team_manager", "reviewing_officer"):
            if not cells.get(column):
                ids[column] = None
                continue
            person_id, problem = people.resolve(cells[column], column)
            ids[column] = person_id
            if problem:
                problems.append(problem)
        status = (cells.get("status") or "open").lower()
        if status not in STATUSES:
            problems.append(f"status {cells.get('status')!r} must be open or closed")
        if ref and ref not in first_line:
            first_line[ref] = line
        if problems:
            errors.append(RowError(line, "; ".join(problems)))
            continue
        assert service is not None and team is not None
        rows.append(_Row(line, ref, service.id, team.id, ids["case_holder"] or 0, ids["team_manager"] or 0,
                         ids["reviewing_officer"], status))
    return rows, errors


def import_register(session: Session, text: str, *, policy: Policy, skip_bad: bool = False,
                    lookup_email: EmailLookup | None = None, actor: str = "cli",
                    source: str = "") -> ImportResult:
    """Upsert the register in the caller's transaction; returns what changed, or why nothing did."""
    rows, errors = parse_register(session, text, policy=policy, lookup_email=lookup_email)
    result = ImportResult(errors=errors)
    if errors and (not skip_bad or any(e.unreadable for e in errors)):
        return result
    result.skipped = len(errors)
    existing = {e.case_ref: e for e in session.scalars(select(CaseRegisterEntry))}
    in_file = {r.case_ref for r in rows}
    # a case on a bad row is still in the register; do not close it because its row was skipped
    bad_refs = _refs_on_bad_lines(text, {e.line for e in errors})
    now = utcnow()
    for row in rows:
        values = {
            "service_id": row.service_id, "team_id": row.team_id, "case_holder_id": row.case_holder_id,
            "team_manager_id": row.team_manager_id, "reviewing_officer_id": row.reviewing_officer_id,
            "status": row.status,
        }
        entry = existing.get(row.case_ref)
        if entry is None:
            session.add(CaseRegisterEntry(case_ref=row.case_ref, imported_at=now, updated_at=now, **values))
            result.added += 1
        elif any(getattr(entry, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(entry, k, v)
            entry.updated_at = now
            result.updated += 1
        else:
            result.unchanged += 1
    for ref, entry in existing.items():
        if ref not in in_file and ref not in bad_refs and entry.status != "closed":
            entry.status = "closed"
            entry.updated_at = now
            result.closed += 1
    session.flush()
    result.imported = True
    audit.record(session, actor, "import", "case_register", source or None, added=result.added,
                 updated=result.updated, closed=result.closed, skipped=result.skipped)
    return result


def _refs_on_bad_lines(text: str, lines: set[int]) -> set[str]:
    if not lines:
        return set()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    if "case_ref" not in header:
        return set()
    at = header.index("case_ref")
    refs: set[str] = set()
    for record in reader:
        if reader.line_num in lines and len(record) > at:
            refs.add(record[at].strip())
    return refs


def slack_email_lookup(token: str, base_url: str | None = None) -> EmailLookup:
    """users.lookupByEmail, for registers that name people by email (needs users:read.email)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=token, base_url=base_url) if base_url else WebClient(token=token)

    def lookup(email: str) -> str | None:
        try:
            response = client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") == "users_not_found":
                return None
            raise
        user = response.get("user") or {}
        return str(user["id"]) if user.get("id") else None

    return lookup
