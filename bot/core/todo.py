"""What is someone's to do now: each flow's domain module offers ``todo_for(session, slack_id, today)``
returning these, and App Home shows them in order of due date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, order=True)
class Todo:
    due: date | None  # None sorts last (see sort_key)
    kind: str  # "proposal" | "reflection" | "learning_audit" | "moderation" | "action" | ...
    text: str  # mrkdwn, case references only
    button_label: str  # the verb on the button, e.g. "Start reflection"
    action_id: str  # the same action_id the DM's button uses, so one handler serves both
    value: str = ""

    @property
    def sort_key(self) -> tuple[date, str, str]:
        return (self.due or date.max, self.kind, self.text)
