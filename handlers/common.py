"""Plumbing every handler module shares: the /qmf subcommand registry and error replies."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.core.errors import NotFound, QmfError
from bot.core.runtime import Runtime
from storage.deadline import DatabaseUnavailable

log = logging.getLogger("qmf.handlers")

APOLOGY = (
    "Sorry, something went wrong on our side and nothing was changed. Please try again; if it keeps "
    "happening, give the QMF team this reference: `{ref}`."
)

DATABASE_NOT_ANSWERING = ("The QMF database is not answering just now; nothing was changed. "
                          "Try again in a few minutes.")
DATABASE_UNCONFIRMED = ("The QMF database stopped answering while saving, so I can't tell whether this "
                        "was saved. Please check in a few minutes before trying again.")
NOT_SAVED = ("Not saved: the database did not answer in time. Your answers are still here - press "
             "Submit again in a minute.")
NOT_CONFIRMED = ("Not confirmed: the database stopped answering while saving, so this may or may not have "
                 "been saved. Please check in a few minutes before pressing Submit again.")


@dataclass
class CommandCall:
    """A /qmf subcommand as the handlers see it, after the ack."""

    rt: Runtime
    user_id: str
    args: list[str]
    text: str
    trigger_id: str
    channel_id: str
    respond: Respond
    client: WebClient
    body: dict[str, Any] = field(default_factory=dict)

    def reply(self, text: str, blocks: list[Any] | None = None) -> None:
        self.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Callable[[CommandCall], None]
    order: int = 100


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str, usage: str, summary: str, order: int = 100) -> Callable[
        [Callable[[CommandCall], None]], Callable[[CommandCall], None]]:
    def decorate(fn: Callable[[CommandCall], None]) -> Callable[[CommandCall], None]:
        SUBCOMMANDS[name] = Subcommand(name=name, usage=usage, summary=summary, run=fn, order=order)
        return fn

    return decorate


RUNTIME_KEY = "qmf_runtime"
"""Where the shell's middleware puts the process's Runtime in bolt's context for every request."""


def runtime_from(context: BoltContext) -> Runtime:
    """The runtime a listener works with: listeners are module-level functions, so they take it from
    the request's context rather than from a closure."""
    return context[RUNTIME_KEY]  # type: ignore[no-any-return]


def reference() -> str:
    return uuid.uuid4().hex[:10]


def apologise(exc: BaseException) -> str:
    """Log the unexpected with a reference id and return the words for the person."""
    ref = reference()
    log.error("unexpected error, reference %s", ref, exc_info=exc)
    return APOLOGY.format(ref=ref)


def stalled(exc: BaseException) -> DatabaseUnavailable | None:
    """The database's "not in time" behind ``exc``, if that is what it is (it may come wrapped)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, DatabaseUnavailable):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def reply_for(exc: BaseException) -> str:
    if isinstance(exc, QmfError):
        return exc.message
    stall = stalled(exc)
    if stall is not None:  # not a bug: one line in the log, and words for the person
        log.warning("the database did not answer in time: %s", stall.reason)
        return DATABASE_UNCONFIRMED if stall.unconfirmed else DATABASE_NOT_ANSWERING
    return apologise(exc)


def tell(rt: Runtime, body: dict[str, Any], respond: Respond, text: str, *, title: str = "QMF Bot") -> None:
    """Answer the person where they acted, the one way every listener does it: ephemerally in the
    conversation; over the modal they have open; as a small modal (App Home has no conversation);
    and, when Slack gave no way to answer at all, by DM."""
    from bot.core import outbox
    from bot.core.blocks import notice_view

    trigger = body.get("trigger_id")
    if body.get("response_url") or body.get("response_urls"):
        respond(text=text, response_type="ephemeral", replace_original=False)
    elif trigger and (body.get("view") or {}).get("type") == "modal":
        rt.client.views_push(trigger_id=trigger, view=notice_view(title, text))
    elif trigger:
        rt.client.views_open(trigger_id=trigger, view=notice_view(title, text))
    else:
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        if user:
            with rt.db.session() as session:
                outbox.enqueue(session, channel=str(user), text=text)


# ---------------------------------------------------------------------------------------------
# modals: parse the state once, validate-and-ack, and never lose what the person typed


def view_values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten a submitted view's state to {block_id: value} whatever the element type."""
    out: dict[str, Any] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for element in elements.values():
            kind = element.get("type")
            if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input",
                        "rich_text_input"):
                value = element.get("value")
                out[block_id] = value.strip() if isinstance(value, str) else value
            elif kind in ("static_select", "external_select", "radio_buttons"):
                option = element.get("selected_option")
                out[block_id] = option.get("value") if option else None
            elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
                out[block_id] = [o.get("value") for o in element.get("selected_options") or []]
            elif kind == "users_select":
                out[block_id] = element.get("selected_user")
            elif kind == "multi_users_select":
                out[block_id] = list(element.get("selected_users") or [])
            elif kind in ("conversations_select", "channels_select"):
                out[block_id] = element.get("selected_conversation") or element.get("selected_channel")
            elif kind == "datepicker":
                out[block_id] = element.get("selected_date")
            elif kind == "timepicker":
                out[block_id] = element.get("selected_time")
            else:
                out[block_id] = element.get("value")
    return out


SUBMISSION_WAIT = 2.0
"""How long a duplicate waits for the first submission's answer before saying it is being saved."""
SUBMISSION_POLL = 0.05
SUBMISSION_ABANDONED = timedelta(seconds=10)
"""A claim still 'pending' after this long belongs to an attempt that can no longer save anything, so
a re-send may take it over: a request commits nothing after its deadline (storage.deadline: 2.3 s
from arrival, plus 0.3 s for a commit already sent), and a process that died rolled back with it.
Short, because an attempt cut off by a stalled database leaves its claim behind (letting it go
needs the database too) and the person's retry is the same view id and hash."""
_ABANDONED: set[int] = set()
"""Claims of attempts in this process that gave up on a stalled database and could not let go of
their claim (that needs the database too). Nothing of theirs was saved, so the person's retry takes
the claim over at once rather than after SUBMISSION_ABANDONED."""
ALREADY_SAVING = "Already being saved from your first press of Submit. You can close this form."


def _submission_key(body: dict[str, Any] | None) -> tuple[str, str] | None:
    view = (body or {}).get("view") or {}
    if body is None or body.get("type") != "view_submission" or not view.get("id"):
        return None
    # Slack changes the hash whenever the view changes, so the same id and hash is the same submission.
    return str(view["id"]), str(view.get("hash") or view.get("callback_id") or "")


def _claim_submission(rt: Runtime, key: tuple[str, str]) -> tuple[int | None, dict[str, Any] | None]:
    """Claim this submission: (claim id, None) when it is ours to do, (None, stored ack) when it was
    already done, (None, None) when another request is still doing it. Each statement here stands
    alone and commits as it runs (``Database.autocommit``): no BEGIN and COMMIT round trips."""
    from sqlalchemy import insert, select, true, update
    from sqlalchemy.exc import IntegrityError

    from storage.models import ViewSubmission, utcnow

    view_id, view_hash = key
    try:
        with rt.db.autocommit() as connection:
            return connection.execute(insert(ViewSubmission).values(
                view_id=view_id, view_hash=view_hash, status="pending", created_at=utcnow(),
            ).returning(ViewSubmission.id)).scalar_one(), None
    except IntegrityError:
        pass  # taken: by an earlier request, or one running now
    deadline = time.monotonic() + SUBMISSION_WAIT
    while True:
        with rt.db.autocommit() as connection:
            found = connection.execute(select(ViewSubmission.id, ViewSubmission.status, ViewSubmission.response)
                                       .where(ViewSubmission.view_id == view_id,
                                              ViewSubmission.view_hash == view_hash)).first()
            if found is None:  # the first one failed and let go: this one may try
                return _claim_submission(rt, key) if time.monotonic() < deadline else (None, None)
            if found.status == "done":
                return None, dict(found.response or {})
            abandoned = found.id in _ABANDONED
            taken_over = connection.execute(
                update(ViewSubmission)
                .where(ViewSubmission.id == found.id, ViewSubmission.status == "pending",
                       true() if abandoned else ViewSubmission.created_at < utcnow() - SUBMISSION_ABANDONED)
                .values(created_at=utcnow())
            ).rowcount
            if taken_over:
                _ABANDONED.discard(found.id)
                return int(found.id), None
        if time.monotonic() >= deadline:
            return None, None
        _look_again_soon()


def _look_again_soon() -> None:
    """The pause between looks at a claim another request holds (tests replace it to see the wait)."""
    time.sleep(SUBMISSION_POLL)


def _settle_submission(rt: Runtime, claim: int, response: dict[str, Any] | None) -> bool:
    """Store the ack given (``response``), or let the claim go (None) so the person can try again."""
    from sqlalchemy import delete, update

    from storage.models import ViewSubmission

    statement = (delete(ViewSubmission).where(ViewSubmission.id == claim) if response is None else
                 update(ViewSubmission).where(ViewSubmission.id == claim)
                 .values(status="done", response=_as_json(response)))
    try:
        # One statement, committed by the server as it runs: no BEGIN and COMMIT round trips.
        with rt.db.autocommit() as connection:
            connection.execute(statement)
    except DatabaseUnavailable as exc:  # it stays 'pending' until SUBMISSION_ABANDONED has passed
        log.warning("could not settle modal submission claim %s: %s", claim, exc.reason)
        return False
    except Exception:  # noqa: BLE001 - the work's outcome stands; at worst a re-send waits and is told
        log.exception("could not settle modal submission claim %s", claim)
        return False
    return True


def _as_json(ack_args: dict[str, Any]) -> dict[str, Any]:
    """The ack's arguments as plain JSON (a slack_sdk View becomes its dict), as bolt would send them."""
    def plain(value: Any) -> Any:  # noqa: ANN401
        if hasattr(value, "to_dict"):
            return value.to_dict()
        raise TypeError(f"{type(value).__name__} is not JSON")

    return json.loads(json.dumps(ack_args, default=plain))  # type: ignore[no-any-return]


def submit_modal(ack: Ack, work: Callable[[], dict[str, Any] | None], *, keep_open_block: str,
                 body: dict[str, Any], rt: Runtime) -> bool:
    """Validate and save, then ack: inline errors keep the modal (and what was typed) open.

    ``work`` raises InvalidInput for inline errors, another QmfError for a refusal, and returns
    extra ack arguments (e.g. ``{"response_action": "update", "view": ...}``) or None to close.
    An unexpected failure is shown inline on ``keep_open_block`` so nothing typed is lost.
    Returns True when the work was done by this call.

    Every submission is done once. Slack re-sends a submission whose ack was late, and people press
    Submit twice; both arrive byte for byte the same, with the view's ``id`` and ``hash`` (the hash
    changes whenever the view does, so a new submission of a changed form is a new key). Before the
    work, a ``view_submissions`` row for (id, hash) is inserted by a statement of its own: the
    unique key makes the database the judge, also between processes. When the work is saved the row
    becomes 'done' with the ack given; when the work raised (inline errors, refusal, failure) the row
    is deleted, so the person can correct and press Submit again, and nothing was stored to repeat.
    A re-send that finds a 'done' row acks exactly as the first did and does nothing. One that finds
    it 'pending' (the first is still working, e.g. a double press) waits up to SUBMISSION_WAIT for the
    first's answer and gives it; failing that it keeps the form open with ALREADY_SAVING. The claim
    is not in the work's own transaction (each listener opens its session inside ``work``): a crash
    between the work's commit and 'done' leaves a 'pending' claim that a re-send takes over after
    SUBMISSION_ABANDONED, the one window in which a crash could let work be repeated.

    A database that does not answer in time (storage.deadline) keeps the form open with NOT_SAVED,
    and then nothing was saved: the request commits nothing after its deadline. If a commit was
    already sent and never confirmed, the person is told NOT_CONFIRMED and the claim is kept.

    ``body`` (the submission as Slack sent it) and ``rt`` are the listener's own.
    """
    from bot.core.blocks import notice_view
    from bot.core.errors import InvalidInput, NotPermitted

    key = _submission_key(body)
    claim: int | None = None
    if key is not None:
        try:
            claim, stored = _claim_submission(rt, key)
        except DatabaseUnavailable as exc:
            log.warning("modal submission %s not saved: %s", key[0], exc.reason)
            ack(response_action="errors", errors={keep_open_block: NOT_CONFIRMED if exc.unconfirmed else NOT_SAVED})
            return False
        except Exception as exc:  # noqa: BLE001 - the database refused: nothing saved, the form stays open
            ack(response_action="errors", errors={keep_open_block: apologise(exc)})
            return False
        if claim is None:
            if stored is None:
                log.info("modal submission %s is still being saved; the duplicate is told so", key[0])
                ack(response_action="errors", errors={keep_open_block: ALREADY_SAVING})
            else:
                log.info("modal submission %s already taken; answered as before", key[0])
                ack(**stored)
            return False

    def let_go() -> None:
        if claim is not None and rt is not None and not _settle_submission(rt, claim, None):
            _ABANDONED.add(claim)

    try:
        result = work()
    except InvalidInput as exc:
        let_go()
        ack(response_action="errors", errors=exc.errors)
        return False
    except NotPermitted as exc:
        let_go()
        ack(response_action="update", view=notice_view("Not saved", exc.message))
        return False
    except QmfError as exc:
        let_go()
        ack(response_action="errors", errors={keep_open_block: exc.message})
        return False
    except Exception as exc:  # noqa: BLE001 - keep the modal open with a reference, never a traceback
        stall = stalled(exc)
        if stall is None:
            let_go()
            ack(response_action="errors", errors={keep_open_block: apologise(exc)})
        elif stall.unconfirmed:  # it may be saved: the claim stays, so a quick retry is not done twice
            log.warning("modal submission %s not confirmed: %s", key and key[0], stall.reason)
            ack(response_action="errors", errors={keep_open_block: NOT_CONFIRMED})
        else:
            log.warning("modal submission %s not saved: %s", key and key[0], stall.reason)
            let_go()
            ack(response_action="errors", errors={keep_open_block: NOT_SAVED})
        return False
    if claim is not None and rt is not None:
        _settle_submission(rt, claim, result or {})
    if result:
        ack(**result)
    else:
        ack()
    return True


# ---------------------------------------------------------------------------------------------
# what every listener reads from a payload, and how a button's failure is told


def user_of(body: dict[str, Any]) -> str:
    """The Slack id of the person who acted."""
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def button_id(body: dict[str, Any]) -> int:
    """The record id a button carries; anything else is treated as a stale or forged press."""
    try:
        return int(str((body.get("actions") or [{}])[0].get("value") or ""))
    except (TypeError, ValueError):
        raise NotFound("Sorry, that button is out of date. Nothing was changed.") from None


def today_of(rt: Runtime, session: Any) -> date:
    """Today in the council's calendar, by the runtime's clock."""
    return rt.calendar(session).today(rt.now())


def run_button(rt: Runtime, body: dict[str, Any], respond: Respond, work: Callable[[], None], *,
               title: str = "Not now") -> None:
    """Run a button's work; a refusal or failure is told where the person pressed, never a traceback."""
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - every failure gets words
        try:
            tell(rt, body, respond, reply_for(exc), title=title)
        except Exception:  # noqa: BLE001 - telling them failed too; the log has it
            log.exception("could not tell %s why a button did nothing", user_of(body))
