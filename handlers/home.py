"""App Home: published when opened and when the person presses its buttons; only when changed."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.core import audit, directory, outbox
from bot.core.errors import NotPermitted
from bot.core.roles import Role
from bot.core.runtime import Runtime
from bot.home.messages import HomeIds, home_view, job_answer
from bot.home.service import HOME_JOBS, build_home
from handlers.common import reply_for, runtime_from
from storage.models import HomeView


def publish_home(rt: Runtime, client: WebClient, slack_id: str, page: int | None = None, *,
                 force: bool = False) -> bool:
    """Publish this person's Home if it differs from what they last saw (or ``force``); True if published."""
    with rt.db.session() as session:
        calendar = rt.calendar(session)
        now = rt.now()
        stored = session.get(HomeView, slack_id)
        page = stored.page if page is None and stored is not None else (page or 0)
        content = build_home(session, slack_id, today=calendar.today(now), quarter=calendar.quarter(now),
                             sources=rt.features.todo_sources())
        view = home_view(content, page).to_dict()
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
        if stored is not None and stored.view_hash == digest and not force:
            return False
        client.views_publish(user_id=slack_id, view=view)
        if stored is None:
            session.add(HomeView(slack_id=slack_id, view_hash=digest, page=page))
        else:
            stored.view_hash, stored.page, stored.published_at = digest, page, now
    return True


def opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    if event.get("tab", "home") == "home":
        # Slack sends the Home it shows with the event; none means the person has no Home from
        # us (the app was reinstalled, or a publish was lost): publish whatever was stored.
        publish_home(rt, client, event["user"], force=not event.get("view"))

def page(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    publish_home(rt, client, body["user"]["id"], page=int(body["actions"][0].get("value") or 0))

def refresh(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    publish_home(rt, client, body["user"]["id"])

def run_job_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    rt = runtime_from(context)
    ack()
    user = body["user"]["id"]
    name = body["actions"][0].get("value") or ""
    try:
        message = _run_job_for(rt, user, name)
    except Exception as exc:  # noqa: BLE001 - the person gets words, never a traceback
        message = reply_for(exc)
    with rt.db.session() as session:
        outbox.enqueue(session, channel=user, text=message)
    publish_home(rt, client, user)


def register(app: App, rt: Runtime) -> None:
    app.event("app_home_opened")(opened)
    app.action(re.compile(f"^{HomeIds.PAGE}-(prev|next)$"))(page)
    app.action(HomeIds.REFRESH.value)(refresh)
    app.action(re.compile(f"^{HomeIds.RUN_JOB}-"))(run_job_button)


def _run_job_for(rt: Runtime, user: str, name: str) -> str:
    """Run one of Home's jobs for a Q&I person or admin and say, in plain words, what happened; the
    runner logs its own line, and the audit log records who pressed the button."""
    from schedules.jobs import run_job

    with rt.db.session() as session:
        me = directory.who(session, user)
        if not me.has(Role.QUALITY_IMPROVEMENT, Role.ADMIN):
            raise NotPermitted("Only Q&I staff and QMF admins can start this early from Home.")
        if name not in HOME_JOBS:
            raise NotPermitted("That button is not one that Home offers; press Refresh to see the current ones.")
        audit.record(session, user, "run-job", "job", name)
    outcome = run_job(rt, name)
    return job_answer(HOME_JOBS[name], outcome.status, outcome.summary)
