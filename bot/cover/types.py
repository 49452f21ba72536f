"""The values and ids the cover feature's rules and Block Kit share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.work import Work


class CoverIds(StrEnum):
    REASSIGN = "cover-reassign"  # the Reassign button, in the Q&I DM and on App Home
    CLOSE = "cover-close"  # the Close button (with a confirm dialog)
    MODAL = "cover-reassign-modal"
    CLOSE_MODAL = "cover-close-modal"  # the confirmation App Home's Close opens (a to-do has no confirm)
    NEW_PERSON = "cover-new-person"  # the picker's block id and action id


class Reason(StrEnum):
    AWAY = "away"
    LEFT = "left"
    CLOSED = "closed"


CLOSE_REASON = "the case has closed on the register"


@dataclass(frozen=True)
class Need:
    """One piece of work needing cover, and why."""

    work: Work
    reason: Reason
    words: str
    """Why, for Q&I: "<@U1> is away until Fri 10 Apr 2026, when it is due"."""
    can_close: bool = False
    can_reassign: bool = True
