"""The qmf-bot command line (CONTRACTS.md): serve, socket, scheduler, db, org, cases, jobs, report, demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import cli_reports
from bot.app.cli_common import CliError
from bot.app.cli_common import database as _database
from bot.app.cli_common import load as _settings
from bot.core.logcontext import log_context
from bot.core.settings import Settings, SettingsError
from storage.db import Database, SchemaError

log = logging.getLogger("qmf")

DESCRIPTION = "QMF Bot: runs a council's Children & Families Quality Management Framework in Slack."


def _logging(verbose: bool = False) -> None:
    """Plain lines, or JSON lines when QMF_LOG_FORMAT=json; Sentry when SENTRY_DSN is set (bot.app.logs)."""
    from bot.app.logs import configure_logging

    configure_logging(verbose)


def _runtime(settings: Settings, *, ensure: bool = True):  # type: ignore[no-untyped-def]
    from bot.app.runtime import build_runtime

    rt = build_runtime(settings, database=_database(settings, ensure=ensure))
    if settings.qmf_org_file:
        _import_org_file(rt.db, settings.qmf_org_file, dry_run=False, quiet=True)
    return rt


def _import_org_file(db: Database, path: str, *, dry_run: bool, quiet: bool = False) -> str:
    from bot.core.directory import import_org
    from bot.core.orgfile import OrgFileError, load_org_file

    try:
        org = load_org_file(path)
    except FileNotFoundError:
        raise CliError(f"org file {path} not found") from None
    except OrgFileError as exc:
        raise CliError(f"{path} was not imported; nothing changed:\n{exc}") from None
    session = db.sessions()
    try:
        report = import_org(session, org)
        if dry_run:
            session.rollback()
        else:
            from bot.core import audit

            audit.record(session, "cli", "import", "org", path, changes=len(report.changes))
            _list_cover_needed(session)  # leavers' open work, to Q&I
            session.commit()
    finally:
        session.close()
    summary = report.summary()
    if quiet:
        log.info("org file %s: %s", path, summary.splitlines()[0])
    return ("Dry run, nothing changed. " if dry_run else "") + summary


def _list_cover_needed(session: Any) -> None:
    from datetime import UTC

    from bot.app.features import FEATURES
    from bot.core.council import calendar_of
    from bot.cover.service import tell_qi

    tell_qi(session, calendar_of(session).today(datetime.now(UTC)), FEATURES.work_kinds())


# ---------------------------------------------------------------------------------------------
# commands


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings().require("serve")
    _runtime(settings).db.dispose()  # check the schema and load QMF_ORG_FILE once, before any worker
    workers = args.workers or int(os.environ.get("WEB_CONCURRENCY", "1"))
    # JSON lines: uvicorn's own loggers go through the root's formatter instead of its plain handlers.
    logs: dict[str, Any] = {"log_config": None} if settings.qmf_log_format == "json" else {}
    uvicorn.run("bot.app.web:serve_from_environment", factory=True, host=args.host, port=args.port,
                workers=workers, log_level="warning", access_log=False, timeout_keep_alive=30, **logs)
    return 0


def cmd_socket(args: argparse.Namespace) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app.factory import create_app
    from bot.core.runtime import tune_interpreter

    settings = _settings().require("socket")
    rt = _runtime(settings)
    app = create_app(settings, runtime=rt, answered_by_web=False)
    tune_interpreter()
    rt.sender.start()
    try:
        SocketModeHandler(app, settings.slack_app_token).start()
    finally:
        rt.sender.stop()
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from bot.core.runtime import tune_interpreter
    from schedules.scheduler import run_scheduler

    settings = _settings().require("scheduler")
    rt = _runtime(settings)
    tune_interpreter()
    run_scheduler(rt)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    db = _database(_settings(), ensure=False)
    before, after = db.upgrade()
    print(f"Database at {after} (was {before or 'empty'}).")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    db = _database(_settings(), ensure=False)
    current, head = db.current_revision(), db.head_revision()
    print(f"Database at {current or 'empty'}; this version needs {head}.")
    return 0 if current == head else 1


def next_revision_id(versions: Path) -> str:
    """The next migration number: one more than the highest four-digit revision in ``versions``."""
    numbers = [int(p.name[:4]) for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py")]
    return f"{max(numbers, default=0) + 1:04d}"


def cmd_db_revision(args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.script import ScriptDirectory

    import storage.db

    message = " ".join(args.message.split())
    if not message or '"""' in message or "\\" in message or len(message) > 200:
        raise CliError('-m needs a one-line description of up to 200 characters, without \\ or """, '
                       'such as -m "Add a reason to cover requests"')
    config = storage.db.alembic_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) > 1:
        raise CliError(f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}): "
                       "merge them into one before adding another")
    rev_id = next_revision_id(storage.db.MIGRATIONS / "versions")
    script = command.revision(config, message=message, rev_id=rev_id)
    path = getattr(script, "path", None)
    print(f"New migration {rev_id} (after {heads[0] if heads else 'none'}) written to {path}; "
          "fill in upgrade() and downgrade(), then run `qmf-bot db upgrade`.")
    return 0


def cmd_org_import(args: argparse.Namespace) -> int:
    db = _database(_settings())
    print(_import_org_file(db, args.file, dry_run=args.dry_run))
    return 0


def cmd_org_export(args: argparse.Namespace) -> int:
    from bot.core import audit
    from bot.core.directory import directory_loaded, export_org
    from bot.core.orgfile_export import dump_org_file

    db = _database(_settings())
    with db.session() as session:
        if not directory_loaded(session):
            raise CliError("the directory is empty: import an org file first (`qmf-bot org import FILE`)")
        text = dump_org_file(export_org(session))
        audit.record(session, "cli", "export", "org")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Org directory written to {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from bot.app.features import FEATURES

    for spec in sorted(FEATURES.jobs().values(), key=lambda s: s.name):
        when = ", ".join(f"{k}={v}" for k, v in spec.cron.items())
        print(f"{spec.name:28} {when:40} {spec.description}")
    return 0


def _parse_at(text: str | None, tz: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--at {text!r} is not an ISO-8601 time such as 2026-04-01T09:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


def cmd_jobs_run(args: argparse.Namespace) -> int:
    from bot.app.features import FEATURES
    from schedules.jobs import run_job

    if args.name not in FEATURES.jobs():
        raise CliError(f"there is no job called {args.name!r}; `qmf-bot jobs list` shows them all")
    settings = _settings()
    rt = _runtime(settings)
    options = {"seed": args.seed} if args.seed is not None else {}
    with log_context(job=args.name):
        outcome = run_job(rt, args.name, at=_parse_at(args.at, settings.qmf_timezone), dry_run=args.dry_run,
                          options=options)
    print(outcome.line())
    if outcome.status == "done":
        _flush_outbox(rt, settings)
    return 0


def _flush_outbox(rt, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    if not settings.slack_bot_token:
        waiting = rt.sender.pending()
        if waiting:
            print(f"{waiting} message(s) queued; the web or scheduler process will send them.")
        return
    if not rt.sender.drain(timeout=60):
        print(f"{rt.sender.pending()} message(s) still queued; the web or scheduler process will send them.")


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.app.sandbox.demo import run_demo

    logging.getLogger("schedules").setLevel(logging.WARNING)  # the transcript tells the story

    return run_demo(Path(args.out))


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qmf-bot", description=DESCRIPTION,
                                     epilog="Settings come from the environment or a .env file: see README.md.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(parent: argparse._SubParsersAction, name: str, help_text: str,  # type: ignore[type-arg]
            fn: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=fn, command_name=name)
        return p

    p = add(sub, "serve", "Run the HTTP app (POST /slack/events, GET /healthz) under uvicorn", cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes (default $WEB_CONCURRENCY or 1); each also sends the outbox")
    add(sub, "socket", "Run the app in Socket Mode (no public URL needed; needs SLACK_APP_TOKEN)", cmd_socket)
    add(sub, "scheduler", "Run the one process that wakes scheduled jobs", cmd_scheduler)

    db = sub.add_parser("db", help="Database schema: upgrade, current, revision",
                        description="Database schema commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    add(db_sub, "upgrade", "Migrate the database to this version's schema (Alembic head)", cmd_db_upgrade)
    add(db_sub, "current", "Show the database's schema revision and the one this version needs", cmd_db_current)
    p = add(db_sub, "revision", "Write a new, empty Alembic migration into storage/migrations/versions with "
            "the next number (for developers; needs no database)", cmd_db_revision)
    p.add_argument("-m", "--message", required=True, help='what the migration does, e.g. -m "Add a reason to cover"')

    org = sub.add_parser("org", help="The org directory as YAML: import, export",
                         description="The org directory (services, teams, people, channels) as YAML")
    org_sub = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    p = add(org_sub, "import", "Upsert the directory from an org file and print what changed", cmd_org_import)
    p.add_argument("file", help="the org file (YAML)")
    p.add_argument("--dry-run", action="store_true", help="show what would change and change nothing")
    p = add(org_sub, "export", "Print the directory as an org file", cmd_org_export)
    p.add_argument("--output", "-o", help="write to this file instead of standard output")

    cases = sub.add_parser("cases", help="The case register used for random sampling",
                           description="The case register used for random sampling")
    cases_sub = cases.add_subparsers(dest="cases_command", metavar="ACTION", required=True)
    p = add(cases_sub, "import",
            "Load the case register from CSV (case_ref, service, team, case_holder, team_manager, "
            "reviewing_officer, status)", cli_reports.cases_import)
    p.add_argument("file", help="the CSV file")
    p.add_argument("--skip-bad", action="store_true", help="import the good rows and skip bad ones")

    jobs = sub.add_parser("jobs", help="Scheduled jobs: list, run", description="Scheduled jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    add(jobs_sub, "list", "List every scheduled job with its schedule", cmd_jobs_list)
    p = add(jobs_sub, "run", "Run a job now, as if the clock read --at; a period's work is done once",
            cmd_jobs_run)
    p.add_argument("name", help="the job's name (see `jobs list`)")
    p.add_argument("--at", help="ISO-8601 time to run as (council time if no offset), e.g. 2026-04-01T09:00")
    p.add_argument("--dry-run", action="store_true", help="print what the job would do and change nothing")
    p.add_argument("--seed", type=int, help="the random seed for allocate-learning-audits and draw-random-sample "
                   "(default: a new one, recorded), to replay a dry run's plan for real")

    report = sub.add_parser("report", help="Quarter reports: themes, sample, year", description="Quarter reports")
    report_sub = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    for name, help_text, command in (
        ("themes", "Learning themes for a quarter (and service)", cli_reports.report_themes),
        ("sample", "The random-sample report for a quarter", cli_reports.report_sample),
    ):
        p = add(report_sub, name, help_text, command)
        p.add_argument("--quarter", help="the quarter, e.g. 2026-27Q1 (default: the current one)")
        p.add_argument("--service", help="a service key from the org file")
        p.add_argument("--format", choices=["md", "csv", "xlsx"], default="md", help="output format (default md)")
        p.add_argument("--output", "-o", help="write to this file (needed for xlsx)")
        if name == "sample":
            p.add_argument("--explain", action="store_true", help="show the draw's seed, pool and exclusions")
    p = add(report_sub, "year", "The Board's rolling year: the last four quarters' random-sample grades by "
            "service, learning themes and actions (small counts withheld)", cli_reports.report_year)
    p.add_argument("--format", choices=["md", "csv", "xlsx"], default="md", help="output format (default md)")
    p.add_argument("--output", "-o", help="write to this file (needed for xlsx)")

    p = add(sub, "demo", "Play a whole quarter offline against the local Slack stand-in, on SQLite",
            cmd_demo)
    p.add_argument("--out", default="demo-out", help="folder for the transcript and reports (default demo-out)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except (SettingsError, SchemaError, CliError) as exc:
        print(f"qmf-bot: {exc}", file=sys.stderr)
        return 2 if not isinstance(exc, CliError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
