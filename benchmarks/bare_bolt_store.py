"""The floor for bench_submit.py: a bare slack_bolt App, served by bolt's own ASGI adapter under
uvicorn, whose view_submission listener stores the proposal with one INSERT (the same columns as
QMF Bot's ``proposals`` row, into the same table on the same PostgreSQL) and a COMMIT, then acks.
No validation, no permission check, no duplicate check, no audit log, no confirmation.

    python benchmarks/bare_bolt_store.py PORT SIGNING_SECRET SLACK_API_URL DATABASE_URL QUARTER

The service, team and people ids are read once at start (the org file's ``cic-north`` team).
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
import uvicorn
from slack_bolt import Ack, App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_sdk import WebClient

INSERT = (
    "INSERT INTO proposals (quarter, case_ref, live_ref, service_id, team_id, case_holder_id, team_manager_id,"
    " proposed_by_id, reason, status, previously_inadequate, lots_of_learning, revisit, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'proposed', false, false, false, %s, %s)"
)


def build(secret: str, api_url: str, database_url: str, quarter: str) -> SlackRequestHandler:
    dsn = database_url.replace("postgresql+psycopg", "postgresql")
    local = threading.local()

    def connection() -> psycopg.Connection[Any]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn)
        return conn

    with psycopg.connect(dsn) as conn:
        team = conn.execute("SELECT id, service_id, team_manager_id FROM teams WHERE key = 'cic-north'").fetchone()
        people: dict[str, int] = dict(conn.execute("SELECT slack_id, id FROM people").fetchall())
    assert team is not None, "import the org file first"
    team_id, service_id, manager_id = team

    app = App(client=WebClient(token="xoxb-bare", base_url=api_url), signing_secret=secret,
              token_verification_enabled=False)

    @app.view("proposal-modal")
    def submitted(ack: Ack, body: dict[str, Any]) -> None:
        values = {block: next(iter(element.values())) for block, element in body["view"]["state"]["values"].items()}
        case_ref = str(values["proposal-case-ref"]["value"]).strip().upper()
        holder = people.get(values["proposal-case-holder"].get("selected_user"), manager_id)
        now = datetime.now(UTC)
        conn = connection()
        conn.execute(INSERT, (quarter, case_ref, case_ref, service_id, team_id, holder, manager_id,
                              people.get(body["user"]["id"], manager_id), values["proposal-reason"]["value"], now, now))
        conn.commit()
        ack()

    return SlackRequestHandler(app)


if __name__ == "__main__":
    port, secret, api_url, database_url, quarter = sys.argv[1:6]
    uvicorn.run(build(secret, api_url, database_url, quarter), host="127.0.0.1", port=int(port),
                log_level="warning", access_log=False)
