"""Memory and time of `qmf-bot cases import` for a large case register: run
`python benchmarks/bench_register_import.py [--rows 300000] [--database-url URL]`.

A council's register can hold hundreds of thousands of cases; before the import streamed, 300,000
rows took 1.4 GB. This writes a synthetic register (the sample organisation's people, teams and
services, fresh case references), then measures, each in its own process under /usr/bin/time -v:

- floor: the same rows read with a bare csv reader and written by executemany, 1,000 at a time,
  with nothing checked (the least any import can cost);
- import: `qmf-bot cases import FILE` into an empty register;
- reimport: the same file again (every row looked up and found unchanged).

Max RSS and wall time are printed for each; the exit code is 1 if an import goes over GOAL_MB.
Without --database-url a SQLite file in a temporary directory is used. WITH one, that database's
public schema is DROPPED and migrated afresh (PostgreSQL): point it at a scratch database only.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOAL_MB = 300
SAMPLE_CASES = REPO / "bot" / "app" / "sandbox" / "cases.csv"


def write_register(path: Path, rows: int) -> None:
    """Fresh case references over the sample register's (service, team, people) combinations."""
    with SAMPLE_CASES.open(newline="") as f:
        combos = [(r["service"], r["team"], r["case_holder"], r["team_manager"]) for r in csv.DictReader(f)]
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["case_ref", "service", "team", "case_holder", "team_manager", "reviewing_officer", "status"])
        for i in range(rows):
            service, team, holder, manager = combos[i % len(combos)]
            out.writerow([f"REG-{i:07d}", service, team, holder, manager, "", "open"])


def prepare(url: str) -> None:
    from sqlalchemy import text

    from bot.app.sandbox.harness import SAMPLE_ORG
    from bot.core.directory import import_org
    from bot.core.orgfile import load_org_file
    from storage.db import Database

    db = Database(url)
    if url.startswith("postgresql"):
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade()
    with db.session() as session:
        import_org(session, load_org_file(SAMPLE_ORG))
    db.dispose()


def empty_register(url: str) -> None:
    from sqlalchemy import text

    from storage.db import Database

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM case_register"))
    db.dispose()


def floor(url: str, path: Path) -> None:
    """Child process: the bare csv -> executemany loop, ids from one dictionary, nothing checked."""
    from sqlalchemy import insert, select

    from storage.db import Database
    from storage.models import Person, Service, Team, utcnow
    from storage.models.sampling import CaseRegisterEntry

    db = Database(url)
    table = CaseRegisterEntry.__table__
    with db.engine.begin() as conn:
        people = dict(conn.execute(select(Person.slack_id, Person.id)).all())
        services = dict(conn.execute(select(Service.key, Service.id)).all())
        teams = dict(conn.execute(select(Team.key, Team.id)).all())
        now = utcnow()
        with path.open(newline="") as f:
            reader = csv.reader(f)
            next(reader)
            batch = []
            for ref, service, team, holder, manager, _officer, status in reader:
                batch.append({"case_ref": ref, "service_id": services[service], "team_id": teams[team],
                              "case_holder_id": people[holder], "team_manager_id": people[manager],
                              "reviewing_officer_id": None, "status": status, "imported_at": now,
                              "updated_at": now})
                if len(batch) == 1000:
                    conn.execute(insert(table), batch)
                    batch = []
            if batch:
                conn.execute(insert(table), batch)
    db.dispose()


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(max RSS in MB, wall seconds, the command's own output) under /usr/bin/time -v."""
    started = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert rss, done.stderr
    return int(rss.group(1)) / 1024, seconds, done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--database-url", help="a SCRATCH database: its public schema is dropped")
    parser.add_argument("--floor-child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_child:
        floor(args.floor_child[0], Path(args.floor_child[1]))
        return 0
    with tempfile.TemporaryDirectory(prefix="qmf-register-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        register = Path(tmp) / "register.csv"
        write_register(register, args.rows)
        prepare(url)
        env = {k: v for k, v in os.environ.items() if k != "SLACK_BOT_TOKEN"}
        env.update(DATABASE_URL=url, PYTHONPATH=str(REPO))
        qmf = [sys.executable, "-c", "import sys; from bot.app.cli import main; sys.exit(main())"]
        size = register.stat().st_size / 1024 / 1024
        print(f"{args.rows:,} rows ({size:.0f} MB CSV) into {url.split(':')[0]}")
        results = []
        rss, secs, _ = measured([sys.executable, __file__, "--floor-child", url, str(register)], env)
        results.append(("floor (csv -> executemany)", rss, secs, ""))
        empty_register(url)
        for name in ("import", "reimport"):
            rss, secs, out = measured([*qmf, "cases", "import", str(register)], env)
            results.append((f"qmf-bot cases import ({name})", rss, secs, out.splitlines()[0]))
        for name, rss, secs, out in results:
            print(f"  {name:34} max RSS {rss:7.1f} MB  {secs:6.1f} s  {out}")
        worst = max(rss for name, rss, _, _ in results if name.startswith("qmf-bot"))
        print(f"goal: every import under {GOAL_MB} MB: {'met' if worst < GOAL_MB else 'NOT MET'}")
        return 0 if worst < GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
