"""An org file's ``people.away`` entries: time away booked by a council admin, as the person's own
`/qmf away FROM TO` would set it. Kept apart so orgfile.py stays one readable page."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Away(BaseModel):
    """``{from: 2026-08-03, to: 2026-08-14}``: the first and the last day away."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    starts: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _in_order(self) -> Away:
        if self.to < self.starts:
            raise ValueError(f"time away ends ({self.to.isoformat()}) before it starts "
                             f"({self.starts.isoformat()}); give 'from' the first day and 'to' the last")
        return self
