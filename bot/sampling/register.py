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

import contextlib
import csv
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.core import audit
from bot.core.policy import Policy
from storage.models import Person, Service, Team, utcnow
from storage.models.sampling import CaseRegisterEntry

COLUMNS = ("case_ref", "service", "team", "case_holder", "team_manager", "reviewing_officer", "status")
REQUIRED = ("case_ref", "service", "team", "case_holder", "team_manager")
STATUSES = ("open", "closed")
BATCH = 1000  # rows written (and looked up) per statement: bounded memory, few round trips
ERRORS_LISTED = 1000  # bad rows listed by line; the rest are counted

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
    bad_rows: int = 0  # every bad row; ``errors`` lists the first ERRORS_LISTED of them
    imported: bool = False

    def summary(self) -> str:
        if not self.imported and any(e.unreadable for e in self.errors):
            lines = ["Nothing imported: the file cannot be read as CSV past the line below; fix it and import again."]
        elif not self.imported:
            lines = [f"Nothing imported: {self.bad_rows or len(self.errors)} bad row(s). Fix them, or use "
                     "--skip-bad to import the good rows only."]
        else:
            lines = [f"Case register imported: {self.added} added, {self.updated} updated, "
                     f"{self.unchanged} unchanged, {self.closed} closed (no longer in the file)"
                     + (f", {self.skipped} bad row(s) skipped." if self.skipped else ".")]
        lines += [str(e) for e in self.errors]
        if self.bad_rows > len(self.errors):
            lines.append(f"... and {self.bad_rows - len(self.errors)} more bad row(s), not listed.")
        return "\n".join(lines)


class _People:
    """Resolves a CSV person cell to a Person id, by Slack id or (if possible) by email.

    Holds ids only (one dictionary built once, not ORM objects): a register names the same few
    hundred people on every one of its rows."""

    def __init__(self, session: Session, lookup_email: EmailLookup | None) -> None:
        self.by_slack: dict[str, int] = dict(
            session.execute(select(Person.slack_id, Person.id).where(Person.active)).all()
        )
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
        person_id = self.by_slack.get(slack_id)
        if person_id is None:
            return None, f"{column} {value!r} is not in the QMF directory (add them to the org file first)"
        return person_id, None


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


class _Checker:
    """Checks one row at a time against the org directory, looked up once per import.

    ``first_line`` (case reference -> the first line it is on) is the only thing that grows with the
    file: it finds duplicates, and after the import it is the set of cases still in the register.
    Both passes over the file use the same checker, so the second sees exactly what the first did.
    """

    def __init__(self, session: Session, policy: Policy, lookup_email: EmailLookup | None) -> None:
        self.policy = policy
        self.services: dict[str, int] = dict(
            session.execute(select(Service.key, Service.id).where(Service.active)).all()
        )
        self.teams: dict[str, tuple[int, int]] = {
            key: (team_id, service_id) for key, team_id, service_id in
            session.execute(select(Team.key, Team.id, Team.service_id).where(Team.active))
        }
        self.people = _People(session, lookup_email)
        self.first_line: dict[str, int] = {}

    def check(self, line: int, record: dict[str | None, Any]) -> _Row | RowError | None:
        """The row, its error, or None for a blank line."""
        cells = {k: (v or "").strip() for k, v in record.items() if isinstance(k, str)}
        if not any(cells.values()):
            return None
        ref = cells.get("case_ref", "")
        earlier = self.first_line.setdefault(ref, line) if ref else line
        if None in record:
            return RowError(line, f"{len(record[None])} more cell(s) than there are columns")
        if any("\x00" in v for v in cells.values()):
            return RowError(line, "the row contains a NUL byte; export the register again as CSV text")
        problems = [f"{column} is empty" for column in REQUIRED if not cells.get(column)]
        if ref and not self.policy.case_reference_ok(ref):
            problems.append(f"case_ref {ref!r} does not look like a case reference "
                            f"(e.g. {self.policy.case_reference_example})")
        if earlier != line:
            problems.append(f"case_ref {ref} is already on line {earlier}")
        service_id = self.services.get(cells["service"]) if cells.get("service") else None
        if cells.get("service") and service_id is None:
            problems.append(f"service {cells['service']!r} is not a service key in the org file "
                            f"(known: {', '.join(sorted(self.services))})")
        team = self.teams.get(cells["team"]) if cells.get("team") else None
        if cells.get("team") and team is None:
            problems.append(f"team {cells['team']!r} is not a team key in the org file")
        elif team is not None and service_id is not None and team[1] != service_id:
            problems.append(f"team {cells['team']} is not in service {cells['service']}")
        ids: dict[str, int | None] = {}
        for column in ("case_holder", "team_manager", "reviewing_officer"):
            ids[column] = None
            if cells.get(column):
                ids[column], problem = self.people.resolve(cells[column], column)
                if problem:
                    problems.append(problem)
        status = (cells.get("status") or "open").lower()
        if status not in STATUSES:
            problems.append(f"status {cells.get('status')!r} must be open or closed")
        if problems:
            return RowError(line, "; ".join(problems))
        assert service_id is not None and team is not None
        return _Row(line, ref, service_id, team[0], ids["case_holder"] or 0, ids["team_manager"] or 0,
                    ids["reviewing_officer"], status)


def _checked_rows(stream: TextIO, checker: _Checker) -> Iterator[_Row | RowError]:
    """Each non-blank row of the file, checked, read as the file is read (never the whole file)."""
    reader = csv.DictReader(stream)
    header_problem = _check_header(reader.fieldnames)
    if header_problem:
        yield RowError(1, header_problem)
        return
    reader.fieldnames = [(f or "").strip().lower() for f in reader.fieldnames or []]
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's field limit (128 KiB)
            reason = str(exc)
            if "field larger" in reason:
                reason = f"a cell is too long ({reason}); a register cell is a reference, a key or an id"
            yield RowError(reader.reader.line_num, f"{reason}; the rest of the file was not read", unreadable=True)
            return
        checked = checker.check(reader.line_num, record)
        if checked is not None:
            yield checked


def parse_register(session: Session, text: str, *, policy: Policy,
                   lookup_email: EmailLookup | None = None) -> tuple[list[_Row], list[RowError]]:
    """Check every row against the org directory; errors carry the file's line numbers (small files)."""
    checker = _Checker(session, policy, lookup_email)
    rows: list[_Row] = []
    errors: list[RowError] = []
    for item in _checked_rows(io.StringIO(text.lstrip("\ufeff")), checker):
        (errors if isinstance(item, RowError) else rows).append(item)  # type: ignore[arg-type]
    return rows, errors


def import_register(session: Session, text: str, *, policy: Policy, skip_bad: bool = False,
                    lookup_email: EmailLookup | None = None, actor: str = "cli",
                    source: str = "") -> ImportResult:
    """Upsert the register given as text in the caller's transaction (see ``import_register_file``)."""
    return _import(session, lambda: contextlib.nullcontext(io.StringIO(text.lstrip("\ufeff"))), policy=policy,
                   skip_bad=skip_bad, lookup_email=lookup_email, actor=actor, source=source)


def import_register_file(session: Session, path: str | os.PathLike[str], *, policy: Policy,
                         skip_bad: bool = False, lookup_email: EmailLookup | None = None, actor: str = "cli",
                         source: str = "") -> ImportResult:
    """Upsert the register in a UTF-8 CSV file in the caller's transaction, in bounded memory.

    A council's register can hold hundreds of thousands of cases. The file is read twice, a
    batch of rows at a time: first to check every row (bad rows change nothing unless
    ``skip_bad``), then to write. Raises UnicodeDecodeError if the file is not UTF-8.
    """
    return _import(session, lambda: open(path, encoding="utf-8-sig", newline=""), policy=policy,
                   skip_bad=skip_bad, lookup_email=lookup_email, actor=actor, source=source or str(path))


def _import(session: Session, opener: Callable[[], ContextManager[TextIO]], *, policy: Policy, skip_bad: bool,
            lookup_email: EmailLookup | None, actor: str, source: str) -> ImportResult:
    checker = _Checker(session, policy, lookup_email)
    result = ImportResult()
    unreadable = False
    with opener() as stream:  # pass 1: check every row; keep only the errors worth showing
        for item in _checked_rows(stream, checker):
            if isinstance(item, RowError):
                result.bad_rows += 1
                unreadable = unreadable or item.unreadable
                if len(result.errors) < ERRORS_LISTED or item.unreadable:
                    result.errors.append(item)
    if result.bad_rows and (not skip_bad or unreadable):
        return result
    result.skipped = result.bad_rows
    now = utcnow()
    batch: list[_Row] = []
    checker.first_line.clear()  # pass 2 finds the same duplicates again, in the same order
    with opener() as stream:  # pass 2: write the good rows, a batch at a time
        for item in _checked_rows(stream, checker):
            if isinstance(item, _Row):
                batch.append(item)
                if len(batch) >= BATCH:
                    _write(session, batch, now, result)
                    batch = []
    _write(session, batch, now, result)
    # a case on a bad row is still in the register: its reference is in first_line too, so it stays open
    result.closed = _close_missing(session, checker.first_line, now)
    result.imported = True
    audit.record(session, actor, "import", "case_register", source or None, added=result.added,
                 updated=result.updated, closed=result.closed, skipped=result.skipped)
    return result


_REGISTER = cast(Table, CaseRegisterEntry.__table__)
_FIELDS = ("service_id", "team_id", "case_holder_id", "team_manager_id", "reviewing_officer_id", "status")
_UPDATE = (
    update(_REGISTER)
    .where(_REGISTER.c.case_ref == bindparam("ref"))
    .values({**{f: bindparam(f"new_{f}") for f in _FIELDS}, "updated_at": bindparam("new_updated_at")})
)


def _write(session: Session, batch: list[_Row], now: datetime, result: ImportResult) -> None:
    """Insert the new cases and update the changed ones of a batch, with plain executemany statements."""
    if not batch:
        return
    connection = session.connection()
    stored = {
        row[0]: tuple(row[1:]) for row in connection.execute(
            select(_REGISTER.c.case_ref, *(_REGISTER.c[f] for f in _FIELDS))
            .where(_REGISTER.c.case_ref.in_([r.case_ref for r in batch]))
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in batch:
        values = (row.service_id, row.team_id, row.case_holder_id, row.team_manager_id,
                  row.reviewing_officer_id, row.status)
        old = stored.get(row.case_ref)
        if old is None:
            inserts.append({"case_ref": row.case_ref, "imported_at": now, "updated_at": now,
                            **dict(zip(_FIELDS, values, strict=True))})
        elif old != values:
            updates.append({"ref": row.case_ref, "new_updated_at": now,
                            **{f"new_{f}": v for f, v in zip(_FIELDS, values, strict=True)}})
        else:
            result.unchanged += 1
    if inserts:
        connection.execute(insert(_REGISTER), inserts)
    if updates:
        connection.execute(_UPDATE, updates)
    result.added += len(inserts)
    result.updated += len(updates)


def _close_missing(session: Session, in_file: dict[str, int], now: datetime) -> int:
    """Close every open case whose reference is not in the file; returns how many."""
    connection = session.connection()
    gone: list[int] = []
    open_cases = connection.execute(  # streamed (a server-side cursor on PostgreSQL), not fetched whole
        select(_REGISTER.c.id, _REGISTER.c.case_ref).where(_REGISTER.c.status != "closed")
        .execution_options(yield_per=BATCH)
    )
    for part in open_cases.partitions():
        gone.extend(entry_id for entry_id, ref in part if ref not in in_file)
    for start in range(0, len(gone), BATCH):
        connection.execute(
            update(_REGISTER).where(_REGISTER.c.id.in_(gone[start:start + BATCH]))
            .values(status="closed", updated_at=now)
        )
    return len(gone)


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
