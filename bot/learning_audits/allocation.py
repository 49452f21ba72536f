"""Which Service Manager audits which proposed case this quarter: the learning-audit allocation.

Pure: no database, no Slack. The framework asks that every Service Manager (SM) audits a set
number of cases a quarter (a setting, 2 by default) that they are *entirely independent* of, so
independence is a hard rule here and everything else is a preference. What independence means is
``bot.core.independence``'s to say: an ``Auditor`` carries the SM's ``Ties``, a ``Candidate`` is
a case ``Subject``, and the eligibility matrix comes from ``independence.allowed``. This module
puts the quarter to the solver (``allocation_solver``, which explains the priorities) and says the
answer in words: every allocation's notes, and why a case went unallocated or an SM is short.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core import independence
from bot.core.independence import Subject, Tie, Ties
from bot.learning_audits.allocation_solver import Preferences, degrees, noise, solve
from bot.learning_audits.types import NotAllocated

if TYPE_CHECKING:
    import numpy as np
else:
    from bot.core.lazy import numpy as np  # loaded on first use: the web process never needs it

_NAMES_SHOWN = 6
"""People named in one reason before the rest are counted, so a reason stays one readable line."""


@dataclass(frozen=True)
class Auditor:
    """A Service Manager who could audit this quarter, with what they are not independent of.

    Built from the directory with ``from_ties``; tests and benchmarks may give the services they
    manage and the teams they manage or belong to as plain key sets instead.
    """

    person_id: str
    service_keys: frozenset[str] = frozenset()
    team_keys: frozenset[str] = frozenset()
    """Teams they manage or belong to."""
    last_quarter_service_keys: frozenset[str] = frozenset()
    capacity: int | None = None
    """Cases this SM takes this quarter; None means the quarter's `per_auditor` setting."""
    teams_managed: frozenset[str] = frozenset()
    """Those of ``team_keys`` they manage (the rest they belong to)."""

    @classmethod
    def from_ties(
        cls, ties: Ties, *, last_quarter_service_keys: frozenset[str] = frozenset(), capacity: int | None = None
    ) -> Auditor:
        return cls(
            person_id=ties.person,
            service_keys=ties.services,
            team_keys=ties.teams,
            last_quarter_service_keys=last_quarter_service_keys,
            capacity=capacity,
            teams_managed=ties.teams_managed,
        )

    @property
    def ties(self) -> Ties:
        """What the independence rule reads."""
        return Ties(
            person=self.person_id,
            services=self.service_keys,
            teams_managed=self.teams_managed & self.team_keys,
            teams_member=self.team_keys - self.teams_managed,
        )


@dataclass(frozen=True)
class Candidate:
    """A proposed case (references only, never names)."""

    proposal_id: int
    case_ref: str
    service_key: str
    team_key: str
    proposed_by: str
    case_holder: str
    team_manager: str
    flagged: bool = False
    people_ties: tuple[Ties, ...] = ()
    """The directory ties of its proposer, case holder and team manager (``candidate_for`` reads
    them): the services and teams those people are really in are part of the case too, whatever
    service and team the proposal claims."""

    @property
    def subject(self) -> Subject:
        """The case as the independence rule sees it: its service, its team, its three people, and
        every service and team those people manage, belong to or work in."""
        return independence.case_of(
            service=self.service_key,
            team=self.team_key,
            case_holder=self.case_holder,
            team_manager=self.team_manager,
            proposed_by=self.proposed_by,
            ties={t.person: t for t in self.people_ties},
        )


def _whose(via: str, kind: str) -> str:
    """Why a service or team the proposal did not name is the case's anyway: whose it is."""
    return f", the {kind} of the person who {via}" if via else ""


def _conflict_kinds(auditor: Auditor, case: Candidate) -> list[tuple[str, str]]:
    """(short label for a summary, sentence for a person) for each way the SM is not independent."""
    found: list[tuple[str, str]] = []
    for conflict in independence.conflicts(auditor.ties, case.subject):
        if conflict.tie is Tie.MANAGES_SERVICE:
            found.append(("own service", f"is the Service Manager for {conflict.key}"
                                         f"{_whose(conflict.via, 'service')}"))
        elif conflict.tie in (Tie.MANAGES_TEAM, Tie.IN_TEAM):
            found.append(("own team", f"manages or belongs to team {conflict.key}{_whose(conflict.via, 'team')}"))
        else:  # Tie.IS_PERSON: the key is their part in the case, already in words
            found.append((conflict.key, conflict.key))
    return found


def conflicts(auditor: Auditor, case: Candidate) -> list[str]:
    """Every reason the SM is not entirely independent of the case; empty means they may audit it."""
    return [reason for _, reason in _conflict_kinds(auditor, case)]


@dataclass
class Assignment:
    proposal_id: int
    case_ref: str
    auditor_id: str
    service_key: str
    flagged: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class AllocationPlan:
    """The solver's answer plus, in words, why anything is missing: the record a CLI dry-run shows."""

    seed: int
    per_auditor: int
    assignments: list[Assignment]
    unallocated: dict[int, str]
    """proposal_id -> why it was left, as the CLI and the stored explanation say it (with ids)."""
    short: dict[str, str]
    case_refs: dict[int, str] = field(default_factory=dict)
    """proposal_id -> case_ref for every candidate, so `explain` can name unallocated cases."""
    allocated_counts: dict[str, int] = field(default_factory=dict)
    """auditor_id -> cases allocated, for every auditor (including those with none)."""
    why: dict[int, NotAllocated] = field(default_factory=dict)
    """proposal_id -> why it was left, as data, for the words people read (``messages``)."""

    def by_auditor(self) -> dict[str, list[Assignment]]:
        grouped: dict[str, list[Assignment]] = {}
        for assignment in sorted(self.assignments, key=lambda a: (a.auditor_id, a.case_ref)):
            grouped.setdefault(assignment.auditor_id, []).append(assignment)
        return grouped

    def explain(self) -> str:
        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        grouped = self.by_auditor()
        lines = [
            f"Learning-audit allocation (seed {self.seed}, {plural(self.per_auditor, 'case')} "
            "per Service Manager)",
            f"{plural(len(self.assignments), 'case')} allocated to "
            f"{plural(len(grouped), 'Service Manager')}; {len(self.unallocated)} unallocated; "
            f"{len(self.short)} Service Manager{'' if len(self.short) == 1 else 's'} short.",
            "",
            "Allocated:",
        ]
        if not grouped:
            lines.append("  (none)")
        for auditor_id, assignments in grouped.items():
            lines.append(f"  {auditor_id}")
            for a in assignments:
                flag = ", flagged" if a.flagged else ""
                notes = f": {'; '.join(a.notes)}" if a.notes else ""
                lines.append(f"    - {a.case_ref} (proposal {a.proposal_id}, {a.service_key}{flag}){notes}")
        lines += ["", "Unallocated cases:"]
        if not self.unallocated:
            lines.append("  (none)")
        for proposal_id, reason in sorted(self.unallocated.items()):
            ref = self.case_refs.get(proposal_id, "?")
            lines.append(f"  - {ref} (proposal {proposal_id}): {reason}")
        lines += ["", f"Service Managers with fewer than {plural(self.per_auditor, 'case')}:"]
        if not self.short:
            lines.append("  (none)")
        for auditor_id, reason in sorted(self.short.items()):
            got = self.allocated_counts.get(auditor_id, len(grouped.get(auditor_id, [])))
            lines.append(f"  - {auditor_id} ({got} of {self.per_auditor}): {reason}")
        return "\n".join(lines)


# --- putting the quarter to the solver ---------------------------------------------------------------


def allocate(
    auditors: Sequence[Auditor],
    candidates: Sequence[Candidate],
    *,
    per_auditor: int = 2,
    seed: int,
) -> AllocationPlan:
    """Allocate each candidate to at most one independent auditor; see ``allocation_solver``."""
    if per_auditor < 0:
        raise ValueError("per_auditor must be 0 or more")
    auds = sorted(auditors, key=lambda a: a.person_id)
    cases = sorted(candidates, key=lambda c: c.proposal_id)
    _check_unique(auds, cases)

    target = np.array(
        [per_auditor if a.capacity is None else max(0, a.capacity) for a in auds], dtype=np.int64
    )
    eligible = independence.allowed([a.ties for a in auds], [c.subject for c in cases])
    service_of = _index([c.service_key for c in cases])
    case_service = np.array([service_of[c.service_key] for c in cases], dtype=np.int64)
    last_quarter = _membership(auds, service_of, lambda a: a.last_quarter_service_keys)[:, case_service]
    person_ids = [a.person_id for a in auds]
    prefs = Preferences(
        flagged=np.array([c.flagged for c in cases], dtype=bool),
        last_quarter=last_quarter,
        noise=noise(seed, person_ids, [c.proposal_id for c in cases]),
        case_service=case_service,
    )
    holder = solve(eligible, target, prefs, tie_order=noise(seed, person_ids, [0])[:, 0])
    return _plan(
        auds,
        cases,
        per_auditor=per_auditor,
        seed=seed,
        target=target,
        eligible=eligible,
        holder=holder,
        last_quarter=last_quarter,
    )


def _check_unique(auds: Sequence[Auditor], cases: Sequence[Candidate]) -> None:
    """Duplicates would let one case be audited twice or one person be counted twice."""
    for what, keys in (
        ("person_id", [a.person_id for a in auds]),
        ("proposal_id", [c.proposal_id for c in cases]),
        ("case_ref", [c.case_ref for c in cases]),
    ):
        repeated = sorted(str(k) for k, n in Counter(keys).items() if n > 1)
        if repeated:
            raise ValueError(f"each {what} must appear once; repeated: {', '.join(repeated)}")
    if any(not a.person_id for a in auds):
        raise ValueError("every auditor needs a person_id")


def _index(*key_lists: Sequence[str]) -> dict[str, int]:
    keys = sorted({k for keys in key_lists for k in keys})
    return {k: i for i, k in enumerate(keys)}


def _membership(
    auds: Sequence[Auditor], index: dict[str, int], keys_of: Callable[[Auditor], frozenset[str]]
) -> np.ndarray:
    """Auditor x key boolean matrix; keys not in `index` cannot match any case, so are dropped."""
    matrix = np.zeros((len(auds), len(index)), dtype=bool)
    for row, auditor in enumerate(auds):
        cols = [index[k] for k in keys_of(auditor) if k in index]
        matrix[row, cols] = True
    return matrix


# --- the plan, in words ------------------------------------------------------------------------------


def _names(ids: Sequence[str], total: int | None = None) -> str:
    """The first few ids, then a count, so a reason stays one readable line in a big council."""
    total = len(ids) if total is None else total
    shown = ", ".join(ids[:_NAMES_SHOWN])
    return shown if total <= _NAMES_SHOWN else f"{shown} and {total - _NAMES_SHOWN} more"


def _plan(
    auds: Sequence[Auditor],
    cases: Sequence[Candidate],
    *,
    per_auditor: int,
    seed: int,
    target: np.ndarray,
    eligible: np.ndarray,
    holder: np.ndarray,
    last_quarter: np.ndarray,
) -> AllocationPlan:
    degree = degrees(holder, len(auds))
    independent = eligible.sum(axis=0)
    services_held: dict[int, Counter[str]] = {}
    for col in np.flatnonzero(holder >= 0).tolist():
        services_held.setdefault(int(holder[col]), Counter())[cases[col].service_key] += 1

    assignments: list[Assignment] = []
    unallocated: dict[int, str] = {}
    why: dict[int, NotAllocated] = {}
    for col, case in enumerate(cases):
        a = int(holder[col])
        if a < 0:
            why[case.proposal_id] = _why_unallocated(auds, case, eligible[:, col], target, per_auditor)
            unallocated[case.proposal_id] = cli_words(why[case.proposal_id])
            continue
        n = int(independent[col])
        notes = [
            "the only independent Service Manager" if n == 1 else f"one of {n} independent Service Managers"
        ]
        if case.flagged:
            notes.append("flagged case preferred")
        if services_held[a][case.service_key] > 1:
            notes.append(f"another {case.service_key} case for this auditor: no better spread was found")
        if last_quarter[a, col]:
            notes.append(f"audited {case.service_key} last quarter: no better option was found")
        assignments.append(
            Assignment(
                case.proposal_id, case.case_ref, auds[a].person_id, case.service_key, case.flagged, notes
            )
        )
    assignments.sort(key=lambda x: (x.auditor_id, x.case_ref))

    short: dict[str, str] = {}
    for a, auditor in enumerate(auds):
        got = int(degree[a])
        if got < per_auditor:
            short[auditor.person_id] = _why_short(got, int(target[a]), int(eligible[a].sum()), per_auditor)

    return AllocationPlan(
        seed=seed,
        per_auditor=per_auditor,
        assignments=assignments,
        unallocated=unallocated,
        short=short,
        case_refs={c.proposal_id: c.case_ref for c in cases},
        allocated_counts={auditor.person_id: int(degree[a]) for a, auditor in enumerate(auds)},
        why=why,
    )


def _why_unallocated(
    auds: Sequence[Auditor], case: Candidate, eligible_col: np.ndarray, target: np.ndarray, per_auditor: int
) -> NotAllocated:
    if not auds:
        return NotAllocated("nobody", per_auditor=per_auditor)
    able = np.flatnonzero(eligible_col)
    if able.size == 0:
        by_kind: dict[str, list[str]] = {}
        for auditor in auds:
            kinds = _conflict_kinds(auditor, case)
            by_kind.setdefault(kinds[0][0], []).append(auditor.person_id)
        return NotAllocated(
            "not_independent",
            people=tuple(a.person_id for a in auds),
            total=len(auds),
            by_conflict=tuple((kind, tuple(ids)) for kind, ids in by_kind.items()),
            per_auditor=per_auditor,
        )
    kind = "all_full" if (target[able] == per_auditor).all() else "at_capacity"
    return NotAllocated(
        kind,
        people=tuple(auds[i].person_id for i in able[:_NAMES_SHOWN]),
        total=int(able.size),
        per_auditor=per_auditor,
    )


def cli_words(why: NotAllocated) -> str:
    """The reason as the CLI's dry run and the stored explanation give it, with Slack ids."""
    if why.kind == "nobody":
        return "no Service Managers to allocate to"
    if why.kind == "not_independent":
        detail = "; ".join(f"{kind}: {_names(ids)}" for kind, ids in why.by_conflict)
        everyone = "the only one conflicts" if why.total == 1 else f"all {why.total} conflict"
        return f"no independent Service Manager: {everyone} ({detail})"
    names = _names(why.people, total=why.total)
    if why.kind == "all_full":
        return (
            f"every independent Service Manager already has {why.per_auditor} "
            f"case{'' if why.per_auditor == 1 else 's'} ({names})"
        )
    return f"every independent Service Manager is already at capacity ({names})"


def _why_short(got: int, target: int, independent: int, per_auditor: int) -> str:
    reasons = []
    if target < per_auditor:
        reasons.append(f"their capacity this quarter is {target}")
    if got < target:
        if independent < target:
            if independent == 0:
                reasons.append("no case they are independent of was proposed")
            else:
                were = "was" if independent == 1 else "were"
                reasons.append(
                    f"only {independent} case{'' if independent == 1 else 's'} they are independent of {were} proposed"
                )
        taken = independent - got
        if taken > 0:
            reasons.append(
                f"the {taken} {'other ' if got else ''}case{'' if taken == 1 else 's'} they could take "
                "went to other Service Managers, and giving them one would leave another Service Manager short"
            )
    return "; ".join(reasons) if reasons else "no reason recorded"
