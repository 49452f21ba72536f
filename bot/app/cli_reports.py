"""The command line's reports and imports (`qmf-bot report themes|sample|year`, `qmf-bot cases import`):
the shell's side, which reads the arguments and the settings, opens the database and prints; each
feature's report module does the work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import cast

from sqlalchemy.orm import Session

from bot.app.cli_common import CliError, database, load
from bot.core import audit
from bot.core.calendar import Quarter, WorkingCalendar
from bot.core.council import calendar_of, policy_of
from bot.core.policy import Policy
from bot.core.privacy import SmallCounts
from bot.core.year import build_year, xlsx_bytes
from bot.core.year import render_csv as year_csv
from bot.core.year import render_markdown as year_markdown
from bot.sampling.draw_run import explain
from bot.sampling.register import import_register_file, slack_email_lookup
from bot.sampling.report import pick_draw, render_csv, render_markdown, write_text
from bot.sampling.report import write_xlsx as write_sample_xlsx
from bot.sampling.results import build_report
from bot.themes.report import collations_for, report_csv, report_markdown
from bot.themes.report import write_xlsx as write_themes_xlsx


@contextmanager
def _council() -> Iterator[tuple[Session, WorkingCalendar, Policy, datetime]]:
    """A report's reading of the database: one session, the council's calendar (in the deployment's
    timezone) and policy, and now; the database let go afterwards, whatever happens."""
    from bot.core.runtime import system_clock

    settings = load()
    db = database(settings)
    try:
        with db.session() as session:
            yield session, calendar_of(session, settings.qmf_timezone), policy_of(session), system_clock()
    finally:
        db.dispose()


def report_themes(args: argparse.Namespace) -> int:
    """`qmf-bot report themes --quarter Q [--service KEY] --format md|csv|xlsx [--output FILE]`."""
    fmt = getattr(args, "format", "md") or "md"
    output = getattr(args, "output", None)
    if fmt == "xlsx" and not output:
        raise CliError("an xlsx report needs --output FILE.xlsx")
    with _council() as (session, calendar, policy, now):
        if getattr(args, "quarter", None):
            try:
                quarter = Quarter.parse(args.quarter, policy.year_start_month)
            except ValueError as exc:
                raise CliError(str(exc)) from None
        else:
            quarter = calendar.quarter(now)
        try:
            collations = collations_for(session, quarter, getattr(args, "service", None), calendar.today(now))
        except LookupError as exc:
            raise CliError(str(exc)) from None
        shown = SmallCounts(policy.suppression_threshold, suppress=True)
        audit.record(session, "cli", "export", "learning_themes", quarter.key,
                     service=getattr(args, "service", None) or "all", format=fmt)
        if fmt == "xlsx":
            write_themes_xlsx(Path(cast(str, output)), collations, shown)  # xlsx without --output refused above
            text = None
        elif fmt == "csv":
            text = report_csv(collations, shown)
        else:
            text = report_markdown(collations, shown)
    if text is None:
        print(f"Learning themes for {quarter.label} written to {output}.")
    elif output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"Learning themes for {quarter.label} written to {output}.")
    else:
        sys.stdout.write(text)
    return 0


def report_sample(args: argparse.Namespace) -> int:
    """`qmf-bot report sample --quarter Q [--format md|csv|xlsx] [--output F] [--explain]`."""

    fmt = getattr(args, "format", "md") or "md"
    output = Path(args.output) if getattr(args, "output", None) else None
    if fmt == "xlsx" and output is None and not getattr(args, "explain", False):
        raise CliError("--format xlsx needs --output FILE.xlsx")
    with _council() as (session, calendar, policy, now):
        try:
            row = pick_draw(session, getattr(args, "quarter", None), policy, calendar.quarter(now).key)
        except LookupError as exc:
            raise CliError(str(exc)) from None
        service = getattr(args, "service", None)
        if service and service != row.service.key:
            raise CliError(f"the {row.quarter} random sample is of {row.service.key}, not {service}")
        if getattr(args, "explain", False):
            text = explain(row)
            audit.record(session, "cli", "view", "sample_draw", row.quarter, what="explanation")
            write_text(text + "\n", output)
            return 0
        report = build_report(session, row, policy=policy)
        audit.record(session, "cli", "export", "sample_report", row.quarter, format=fmt,
                     output=str(output) if output else "stdout")
        if fmt == "xlsx":
            assert output is not None
            write_sample_xlsx(report, output)
            print(f"Random sample report for {report.quarter.label} written to {output}.")
        elif fmt == "csv":
            write_text(render_csv(report), output)
        else:
            write_text(render_markdown(report), output)
    return 0


def report_year(args: argparse.Namespace) -> int:
    """`qmf-bot report year [--format md|csv|xlsx] [--output FILE]`: the last four quarters for the Board,
    gathered from every feature's year tables (``FEATURES.year_sources()``), small counts withheld."""
    from bot.app.features import FEATURES

    fmt = getattr(args, "format", "md") or "md"
    output = Path(args.output) if getattr(args, "output", None) else None
    if fmt == "xlsx" and output is None:
        raise CliError("an xlsx report needs --output FILE.xlsx")
    with _council() as (session, calendar, policy, now):
        report = build_year(session, FEATURES.year_sources(), calendar.quarter(now), calendar.today(now),
                            policy.suppression_threshold)
        audit.record(session, "cli", "export", "year_report", report.quarters[-1].key, format=fmt,
                     output=str(output) if output else "stdout")
        if fmt == "xlsx":
            assert output is not None  # refused above
            output.write_bytes(xlsx_bytes(report))
            print(f"The year ({report.label}) written to {output}.")
        elif fmt == "csv":
            write_text(year_csv(report), output)
        else:
            write_text(year_markdown(report), output)
    return 0


def cases_import(args: argparse.Namespace) -> int:
    """`qmf-bot cases import FILE [--skip-bad]`: 0 when the register was imported, 1 when not."""

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"case register {path} not found")
    settings = load()
    lookup = (slack_email_lookup(settings.slack_bot_token, settings.slack_api_url)
              if settings.slack_bot_token else None)
    db = database(settings)
    session = db.sessions()
    try:
        policy = policy_of(session)
        try:  # streamed from the file: a large register is never held in memory whole
            result = import_register_file(session, path, policy=policy, skip_bad=bool(args.skip_bad),
                                          lookup_email=lookup, actor="cli", source=str(path))
        except UnicodeDecodeError:
            raise CliError(f"{path} is not UTF-8 text; save the register as CSV (UTF-8)") from None
        if result.imported:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()
        db.dispose()
    print(result.summary())
    return 0 if result.imported else 1
