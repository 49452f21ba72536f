"""How long collating learning themes takes at scale: `python benchmarks/bench_themes.py [--database-url URL]`.

Loads 100,000 recorded learning audits (with about three theme tags each, their proposals and
some actions) across 40 services and 8 quarters into PostgreSQL with bulk inserts, then times
``bot.themes.collation.collate`` for one service-quarter and for all services (median of 5). The goal is
under a second: the counting is a GROUP BY in the database and the learning points are sampled
there with a window function, so the time should not grow with the number of audits in Python.

The data goes into its own schema (``bench_themes``) of the ``qmf_bench`` database, created if
missing, so the benchmark never touches the shared test database or another benchmark's tables.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, make_url, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bot.core.calendar import Quarter  # noqa: E402
from bot.core.policy import DEFAULT_LEARNING_THEMES  # noqa: E402
from bot.themes.collation import collate  # noqa: E402
from bot.themes.types import KINDS, Collation  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Action,
    Division,
    LearningAudit,
    Person,
    Proposal,
    Service,
    Team,
    ThemeTag,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/qmf_bench"
SCHEMA = "bench_themes"
N_AUDITS = 100_000
N_SERVICES = 40
N_QUARTERS = 8
TEAMS_PER_SERVICE = 3
WORKERS_PER_TEAM = 8
RUNS = 5
GOAL_SECONDS = 1.0
CHUNK = 10_000
LAST = Quarter(2026, 1)  # the quarter collated: 2026-27 Q1

IMPROVE = [
    "Earlier safety planning with partners would have reduced drift",
    "A clearer analysis of risk in the assessment",
    "SMART plans reviewed at every core group",
    "Management oversight recorded at key decision points",
    "Chronology kept up to date and used in supervision",
    "The child's wishes and feelings captured in their own words",
]
GOOD = [
    "Direct work that captured the child's voice",
    "Strong relationships with the family built over time",
    "Partnership meetings that shared information quickly",
    "Creative direct work tools used with the young person",
]
WIDER = [
    "Share the safety planning approach across teams",
    "Use the chronology template in every supervision",
    "Invite partners to the first review meeting",
]


def bench_url(given: str | None) -> str:
    """The qmf_bench database on the server named (never the shared test database itself)."""
    base = given or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL
    url = make_url(base)
    if url.database != "qmf_bench" and not given:
        url = url.set(database="qmf_bench")
    return url.render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(database="postgres")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database})
    engine.dispose()
    if found:
        return
    command = ["psql", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
               "-U", parsed.username or "postgres", "-d", "postgres", "-c", f'CREATE DATABASE "{parsed.database}"']
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    try:
        subprocess.run(command, check=True, capture_output=True, env=env)
    except (FileNotFoundError, subprocess.CalledProcessError):
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        engine.dispose()
    print(f"Created database {parsed.database}.")


def database(url: str, *, fresh: bool = True) -> Database:
    """A Database whose connections live in the benchmark's own schema."""
    engine = create_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    if fresh:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    db = Database(url)
    db.engine.dispose()
    db.engine = engine
    db.sessions = sessionmaker(engine, expire_on_commit=False)
    if fresh:
        db.upgrade()
    return db


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start:start + CHUNK]


def load(db: Database, seed: int = 2026) -> dict[str, int]:
    rng = random.Random(seed)
    quarters = [LAST.shift(-n) for n in range(N_QUARTERS)]
    recorded = datetime(2026, 6, 1, tzinfo=UTC)
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(insert(Division), [{"id": d, "name": f"Division {d}", "active": True} for d in range(1, 5)])
        people: list[dict[str, Any]] = []
        services: list[dict[str, Any]] = []
        teams: list[dict[str, Any]] = []
        workers: dict[int, list[int]] = {}
        pid = 0

        def person() -> int:
            nonlocal pid
            pid += 1
            people.append({"id": pid, "slack_id": f"UB{pid:06d}", "active": True})
            return pid

        for s in range(1, N_SERVICES + 1):
            services.append({"id": s, "key": f"svc{s:02d}", "name": f"Service {s:02d}", "division_id": 1 + s % 4,
                             "service_manager_id": person(), "channel": f"CB{s:04d}", "active": True, "position": s})
            for t in range(TEAMS_PER_SERVICE):
                team_id = (s - 1) * TEAMS_PER_SERVICE + t + 1
                teams.append({"id": team_id, "key": f"svc{s:02d}-t{t}", "name": f"Team {team_id}", "service_id": s,
                              "team_manager_id": person(), "active": True, "position": t})
                workers[team_id] = [person() for _ in range(WORKERS_PER_TEAM)]
        conn.execute(insert(Person), people)
        conn.execute(insert(Service), services)
        conn.execute(insert(Team), teams)

        proposals: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        for n in range(1, N_AUDITS + 1):
            quarter = quarters[n % N_QUARTERS].key
            service = 1 + rng.randrange(N_SERVICES)
            team = (service - 1) * TEAMS_PER_SERVICE + 1 + rng.randrange(TEAMS_PER_SERVICE)
            manager = teams[team - 1]["team_manager_id"]
            holder = rng.choice(workers[team])
            auditor = services[(service + 7) % N_SERVICES]["service_manager_id"]
            ref = f"CASE-{n:07d}"
            proposals.append({"id": n, "quarter": quarter, "case_ref": ref, "live_ref": ref, "service_id": service,
                              "team_id": team, "case_holder_id": holder, "team_manager_id": manager,
                              "proposed_by_id": manager, "reason": "Lots of learning", "previously_inadequate": False,
                              "lots_of_learning": True, "revisit": False, "status": "allocated",
                              "created_at": recorded, "updated_at": recorded})
            improve = rng.sample(DEFAULT_LEARNING_THEMES, rng.choice((1, 2, 2, 3)))
            good = rng.sample(DEFAULT_LEARNING_THEMES, 1)
            audits.append({"id": n, "quarter": quarter, "proposal_id": n, "auditor_id": auditor, "case_ref": ref,
                           "service_id": service, "team_id": team, "case_holder_id": holder,
                           "team_manager_id": manager, "status": "recorded", "allocated_at": recorded,
                           "recorded_at": recorded, "outcomes": "Outcomes improved for the family",
                           "needed_to_improve": f"{rng.choice(IMPROVE)} ({n % 97})",
                           "good_practice": f"{rng.choice(GOOD)} ({n % 89})",
                           "wider_learning": rng.choice(WIDER), "improve_themes": improve,
                           "good_practice_themes": good})
            for theme in improve:
                tags.append({"quarter": quarter, "service_id": service, "audit_id": n, "source": "audit",
                             "kind": "improve", "theme": theme})
            tags.append({"quarter": quarter, "service_id": service, "audit_id": n, "source": "audit",
                         "kind": "good", "theme": good[0]})
            if rng.random() < 0.3:
                tags.append({"quarter": quarter, "service_id": service, "audit_id": n, "source": "reflection",
                             "kind": "improve", "theme": improve[0]})
            if n % 2 == 0:
                due = date(2026, 6, 1) + timedelta(days=rng.randrange(-60, 60))
                actions.append({"source_kind": "learning_audit", "source_id": n, "service_id": service,
                                "quarter": quarter, "owner_id": holder, "description": "Update the plan",
                                "due_on": due, "status": rng.choice(("open", "done")), "created_at": recorded})
        for table, rows in ((Proposal, proposals), (LearningAudit, audits), (ThemeTag, tags), (Action, actions)):
            for batch in chunks(rows):
                conn.execute(insert(table), batch)
        conn.execute(text("ANALYZE"))
    took = time.perf_counter() - started
    return {"audits": len(audits), "tags": len(tags), "actions": len(actions), "seconds": round(took, 1)}


def timed(db: Database, service_id: int | None) -> tuple[float, list[float], Collation]:
    times: list[float] = []
    result = None
    for _ in range(RUNS):
        with db.session() as session:
            started = time.perf_counter()
            result = collate(session, quarter=LAST.key, service_id=service_id, today=date(2026, 7, 1))
            times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), times, result


def check(db: Database, col: Collation, service_id: int | None) -> None:
    """A fast wrong answer must not pass: recount this quarter with a plain COUNT(DISTINCT)."""
    scope = "" if service_id is None else f"AND t.service_id = {int(service_id)}"
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.kind, t.theme, count(DISTINCT t.audit_id) FROM theme_tags t "
            "JOIN learning_audits a ON a.id = t.audit_id "
            f"WHERE a.status = 'recorded' AND t.quarter = :q {scope} GROUP BY t.kind, t.theme"), {"q": LAST.key}).all()
    expected = {(kind, theme): int(n) for kind, theme, n in rows}
    got = {(c.kind, c.theme): c.count for kind in KINDS for c in col.counts(kind) if c.count}
    assert got == expected, f"collate counted {got}, the database says {expected}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default: the qmf_bench database, {DEFAULT_URL})")
    parser.add_argument("--keep", action="store_true", help="leave the loaded data for another run")
    parser.add_argument("--reuse", action="store_true", help="time the data a --keep run left (no load)")
    args = parser.parse_args(argv)
    url = bench_url(args.database_url)
    if not url.startswith("postgresql"):
        print("bench_themes needs PostgreSQL: pass --database-url postgresql+psycopg://...", file=sys.stderr)
        return 2
    ensure_database(url)
    db = database(url, fresh=not args.reuse)
    try:
        if args.reuse:
            print("Timing the data a --keep run left.")
        else:
            loaded = load(db)
            print(f"Loaded {loaded['audits']:,} recorded learning audits, {loaded['tags']:,} theme tags and "
                  f"{loaded['actions']:,} actions across {N_SERVICES} services and {N_QUARTERS} quarters "
                  f"in {loaded['seconds']} s.")
        one, one_times, one_col = timed(db, 1)
        everyone, all_times, all_col = timed(db, None)
        print(f"collate(one service, {LAST.label}): median {one * 1000:.0f} ms "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in one_times)} ms); "
              f"{one_col.audits_recorded} audits, {len(one_col.improve)} themes to improve.")
        print(f"collate(all services, {LAST.label}): median {everyone * 1000:.0f} ms "
              f"(runs: {', '.join(f'{t * 1000:.0f}' for t in all_times)} ms); "
              f"{all_col.audits_recorded:,} audits, {len(all_col.improve)} themes to improve, "
              f"{len(all_col.improve_points)} improvement points sampled.")
        check(db, one_col, 1)
        check(db, all_col, None)
        print("Counts checked against a plain COUNT(DISTINCT): they match.")
        worst = max(one, everyone)
        verdict = "within" if worst < GOAL_SECONDS else "OVER"
        print(f"Goal: under {GOAL_SECONDS:g} s for each: {verdict} the goal.")
        return 0 if worst < GOAL_SECONDS else 1
    finally:
        if not args.keep:
            with db.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
