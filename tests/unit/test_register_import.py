"""A large case register is imported from the file in batches, never held whole, with the same rules
as a small one: bad rows change nothing unless --skip-bad, a case no longer in the file is closed."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from bot.app.cli_common import CliError
from bot.app.cli_reports import cases_import as cli_import
from bot.app.sandbox.harness import SAMPLE_ORG
from bot.core.council import policy_of
from bot.core.directory import import_org
from bot.core.orgfile import load_org_file
from bot.sampling import register
from bot.sampling.register import import_register, import_register_file
from storage.models.ops import AuditLogEntry as AuditLog
from storage.models.sampling import CaseRegisterEntry

HEADER = "case_ref,service,team,case_holder,team_manager,reviewing_officer,status\n"
GOOD = "cic,cic-north,U0P1,U0TM1,,open"


@pytest.fixture
def org(db):
    with db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
    return db


def write(path: Path, refs: range, extra: str = "") -> Path:
    with path.open("w", newline="") as f:
        f.write(HEADER)
        for i in refs:
            f.write(f"REG-{i:06d},{GOOD}\n")
        f.write(extra)
    return path


def counts(db) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(
            select(CaseRegisterEntry.status, func.count()).group_by(CaseRegisterEntry.status)
        ).all())


def test_a_file_is_written_in_batches_with_a_few_statements_each(org, tmp_path, monkeypatch):
    monkeypatch.setattr(register, "BATCH", 100)
    path = write(tmp_path / "cases.csv", range(1050))
    statements: list[str] = []
    with org.session() as session:
        listen = lambda *a: statements.append(a[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(session.get_bind(), "before_cursor_execute", listen)
        try:
            result = import_register_file(session, path, policy=policy_of(session), source="cases.csv")
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", listen)
        session.commit()
    assert (result.added, result.updated, result.unchanged, result.closed) == (1050, 0, 0, 0)
    assert counts(org) == {"open": 1050}
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO CASE_REGISTER")]
    assert len(inserts) <= 11 * 2  # one executemany per batch of 100 (a driver may split it in two)
    with org.session() as session:
        logged = session.scalars(select(AuditLog).where(AuditLog.entity == "case_register")).all()
        assert [(a.action, a.entity_id, a.detail["added"]) for a in logged] == [("import", "cases.csv", 1050)]


def test_a_reimport_updates_changed_rows_keeps_the_rest_and_closes_what_left(org, tmp_path, monkeypatch):
    monkeypatch.setattr(register, "BATCH", 64)
    with org.session() as session:
        import_register_file(session, write(tmp_path / "a.csv", range(500)), policy=policy_of(session))
        session.commit()
    lines = (tmp_path / "a.csv").read_text().splitlines()
    # drop the first 100 cases, change the team manager of REG-000200, add 20 new ones
    kept = [lines[0]] + lines[101:]
    kept = [ln.replace("REG-000200,cic,cic-north,U0P1,U0TM1", "REG-000200,cic,cic-north,U0P1,U0TM2")
            for ln in kept]
    kept += [f"REG-{i:06d},{GOOD}" for i in range(900, 920)]
    (tmp_path / "b.csv").write_text("\n".join(kept) + "\n")
    with org.session() as session:
        result = import_register_file(session, tmp_path / "b.csv", policy=policy_of(session))
        session.commit()
    assert (result.added, result.updated, result.unchanged, result.closed) == (20, 1, 399, 100)
    assert counts(org) == {"open": 420, "closed": 100}
    with org.session() as session:
        again = import_register_file(session, tmp_path / "b.csv", policy=policy_of(session))
    assert (again.added, again.updated, again.unchanged, again.closed) == (0, 0, 420, 0)


def test_one_bad_row_at_the_end_of_a_large_file_changes_nothing(org, tmp_path, monkeypatch):
    monkeypatch.setattr(register, "BATCH", 50)
    path = write(tmp_path / "cases.csv", range(400), extra=f"REG-000001,{GOOD}\n")  # line 402: a duplicate
    with org.session() as session:
        result = import_register_file(session, path, policy=policy_of(session))
        assert not result.imported
        assert session.scalar(select(func.count()).select_from(CaseRegisterEntry)) == 0
    assert [(e.line, e.message) for e in result.errors] == [(402, "case_ref REG-000001 is already on line 3")]


def test_skip_bad_keeps_the_case_on_a_bad_row_open(org, tmp_path, monkeypatch):
    monkeypatch.setattr(register, "BATCH", 10)
    with org.session() as session:
        import_register_file(session, write(tmp_path / "a.csv", range(30)), policy=policy_of(session))
        session.commit()
    text = HEADER + "".join(f"REG-{i:06d},{GOOD}\n" for i in range(29)) + "REG-000029,nope,cic-north,U0P1,U0TM1,,open\n"
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session), skip_bad=True)
        session.commit()
    assert (result.skipped, result.unchanged, result.closed) == (1, 29, 0)
    assert counts(org) == {"open": 30}


def test_thousands_of_bad_rows_are_counted_and_the_first_ones_listed(org, monkeypatch):
    monkeypatch.setattr(register, "ERRORS_LISTED", 5)
    text = HEADER + "".join(f"REG-{i:06d},nope,cic-north,U0P1,U0TM1,,open\n" for i in range(2000))
    with org.session() as session:
        result = import_register(session, text, policy=policy_of(session))
    assert result.bad_rows == 2000 and [e.line for e in result.errors] == [2, 3, 4, 5, 6]
    assert "Nothing imported: 2000 bad row(s)" in result.summary()
    assert "... and 1995 more bad row(s), not listed." in result.summary()


def test_memory_does_not_grow_with_the_rows_written(org, tmp_path):
    # Python allocations at their peak for 4,000 and for 16,000 rows: a streaming import holds one
    # batch and the set of references (tens of bytes a row), never an object per row (~2 kB a row).
    peaks = []
    for n, db_name in ((4_000, "small"), (16_000, "large")):
        path = write(tmp_path / f"{db_name}.csv", range(n))
        with org.session() as session:
            tracemalloc.start()
            result = import_register_file(session, path, policy=policy_of(session))
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            session.rollback()
        assert result.added == n
    assert peaks[1] - peaks[0] < 12_000 * 300, [p // 1024 for p in peaks]


def test_the_cli_streams_the_file_and_refuses_one_that_is_not_utf8(org, database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    path = write(tmp_path / "cases.csv", range(250))
    assert cli_import(type("Args", (), {"file": str(path), "skip_bad": False})()) == 0
    assert "250 added" in capsys.readouterr().out
    assert counts(org) == {"open": 250}
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + b"REG-000001,cic,cic-north,U0P1,U0TM1,,open\n" * 3000 + b"caf\xe9\n")
    with pytest.raises(CliError, match="is not UTF-8 text"):
        cli_import(type("Args", (), {"file": str(latin), "skip_bad": False})())
    with pytest.raises(CliError, match="not found"):
        cli_import(type("Args", (), {"file": str(tmp_path / "missing.csv"), "skip_bad": False})())
