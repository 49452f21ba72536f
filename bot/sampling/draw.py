"""The quarter's random sampling draw: which service, who pairs with whom, which cases each pair audits.

Pure: no database, no Slack. Everything is a function of its inputs and a seed, so a draw can be
re-run from the stored seed and pool to show it was random, and `Draw.explain()` gives Q&I a record
of why each person was kept off each case.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from bot.core import independence
from bot.core.independence import Subject, Tie, Ties
from bot.core.lazy import linear_sum_assignment

if TYPE_CHECKING:
    import numpy as np
else:
    from bot.core.lazy import numpy as np  # loaded on first use: the web process never needs it

EVERYONE = ""
"""`Exclusion.person` for reasons that keep every auditor off a case (it is closed)."""


@dataclass(frozen=True)
class RegisterCase:
    """One row of the case register imported for sampling (references only, never names)."""

    case_ref: str
    service_key: str
    team_key: str
    case_holder: str
    team_manager: str
    reviewing_officer: str | None = None
    status: str = "open"


# --- which service --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceChoice:
    service_key: str
    reason: str


def choose_service(
    service_keys: Sequence[str],
    last_sampled: Mapping[str, int | None],
    *,
    last_quarter_service: str | None,
    override: str | None = None,
) -> ServiceChoice:
    """Rotate so every service is sampled before any is sampled twice, never twice running.

    `last_sampled` maps a service to the index of the quarter it was last sampled (None or
    missing for never). `last_quarter_service` is checked separately because the history can be
    incomplete (an imported or overridden draw) and the framework is explicit that each quarter
    samples a *different* service. Ties break on the sorted key, so the choice never depends on
    the order services happen to be listed in.
    """
    keys = sorted(set(service_keys))
    if not keys:
        raise ValueError("There are no services to sample; add services to the org file first.")
    if override is not None:
        if override not in keys:
            raise ValueError(f"{override!r} is not a known service; choose one of: {', '.join(keys)}")
        return ServiceChoice(override, "chosen by Q&I")
    if keys == [last_quarter_service]:
        return ServiceChoice(keys[0], "the only service, so sampled again although it was last quarter's")
    candidates = [k for k in keys if k != last_quarter_service]
    never = [k for k in candidates if last_sampled.get(k) is None]
    if never:
        return ServiceChoice(never[0], "never sampled before")

    def last(k: str) -> int:
        quarter = last_sampled.get(k)
        assert quarter is not None  # every candidate has history here
        return quarter

    chosen = min(candidates, key=lambda k: (last(k), k))
    return ServiceChoice(chosen, f"least recently sampled (last sampled in quarter {last(chosen)})")


# --- who pairs with whom ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    qi: str
    pc: str


def _require_unique(people: Sequence[str], role: str) -> None:
    seen: set[str] = set()
    for person in people:
        if person in seen:
            raise ValueError(f"{person} is listed twice as a {role}; each person can be paired once.")
        seen.add(person)


def pair_auditors(
    qi: Sequence[str],
    pcs: Sequence[str],
    *,
    previous_pairs: Collection[Pair] = (),
    seed: int,
) -> list[Pair]:
    """Give each Q&I auditor one Practice Consultant, repeating last quarter's pairs only if forced.

    Solved as an assignment problem: a repeat costs 1, pairing someone with themselves costs more
    than any number of repeats, and seeded noise (summing to under 1 across a whole assignment)
    makes the choice among equally good pairings random but reproducible. Both lists are sorted
    before the noise is drawn so the result does not depend on the order people were listed in.
    Returns pairs in the order `qi` was given.
    """
    _require_unique(qi, "Q&I auditor")
    _require_unique(pcs, "Practice Consultant")
    if len(pcs) < len(qi):
        raise ValueError(
            f"There are {len(qi)} Q&I auditors but only {len(pcs)} Practice Consultants; "
            f"add {len(qi) - len(pcs)} more PC(s) or sample with fewer Q&I auditors."
        )
    if not qi:
        return []
    rows, cols = sorted(qi), sorted(pcs)
    n = len(rows)
    repeats = set(previous_pairs)
    rng = random.Random(seed)
    self_cost = float(n + 1)
    cost = np.empty((n, len(cols)))
    for i, q in enumerate(rows):
        for j, p in enumerate(cols):
            base = self_cost if q == p else (1.0 if Pair(q, p) in repeats else 0.0)
            cost[i, j] = base + rng.random() / (n + 1)
    row_ind, col_ind = linear_sum_assignment(cost)
    chosen = {rows[i]: Pair(rows[i], cols[j]) for i, j in zip(row_ind, col_ind, strict=True)}
    for pair in chosen.values():
        if pair.qi == pair.pc:
            raise ValueError(f"{pair.qi} would have to be paired with themselves; add another PC.")
    return [chosen[q] for q in qi]


# --- which cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exclusion:
    case_ref: str
    person: str  # EVERYONE ("") when the reason keeps every auditor off the case
    reason: str


@dataclass
class SampleAssignment:
    case_ref: str
    qi: str
    pc: str


@dataclass
class Draw:
    """Everything needed to reproduce and to justify one quarter's draw."""

    seed: int
    service_key: str
    per_auditor: int
    pairs: list[Pair]
    pool: list[str]
    assignments: list[SampleAssignment]
    exclusions: list[Exclusion]
    shortfalls: dict[str, str] = field(default_factory=dict)

    def explain(self) -> str:
        """Plain text for the Q&I record and the CLI: enough to check the draw by hand."""
        lines = [
            f"Random sample for service {self.service_key}",
            f"Seed: {self.seed}",
            f"Cases per pair: {self.per_auditor}",
            f"Pool: {len(self.pool)} open case(s)" + (f": {', '.join(self.pool)}" if self.pool else ""),
            "",
            "Pairs:",
        ]
        lines += [f"  {p.qi} with {p.pc}" for p in self.pairs] or ["  (none)"]
        lines += ["", "Assignments:"]
        lines += [f"  {a.case_ref}: {a.qi} and {a.pc}" for a in self.assignments] or ["  (none)"]
        lines += ["", "Exclusions:"]
        lines += [f"  {e.case_ref}: {e.person or 'all auditors'} - {e.reason}" for e in self.exclusions] or [
            "  (none)"
        ]
        if self.shortfalls:
            lines += ["", "Shortfalls:"]
            lines += [f"  {qi}: {reason}" for qi, reason in sorted(self.shortfalls.items())]
        return "\n".join(lines)


def _dedupe(cases: Sequence[RegisterCase]) -> dict[str, RegisterCase]:
    """Identical repeated rows are harmless; two different rows for one reference are a bad import."""
    by_ref: dict[str, RegisterCase] = {}
    for c in cases:
        seen = by_ref.setdefault(c.case_ref, c)
        if seen != c:
            raise ValueError(f"Case {c.case_ref} appears twice in the register with different details.")
    return by_ref


def _recent_reason(audited: Collection[str] | Mapping[str, date], case_ref: str) -> str | None:
    if case_ref not in audited:
        return None
    if isinstance(audited, Mapping):
        when = audited[case_ref]
        if isinstance(when, date):
            return f"audited it on {when.isoformat()} (within 12 months)"
    return "audited it within the last 12 months"


def case_subject(c: RegisterCase, ties: Mapping[str, Ties] | None = None) -> Subject:
    """The case as the independence rule sees it: its service, its team, its people, and (given
    their directory ``ties``) every service and team its case holder and team manager are in,
    whatever the register line says (``bot.core.independence.case_of``)."""
    return independence.case_of(service=c.service_key, team=c.team_key, case_holder=c.case_holder,
                                team_manager=c.team_manager, reviewing_officer=c.reviewing_officer, ties=ties)


def _in_words(conflict: independence.Conflict) -> str:
    """One conflict as the draw's record says it."""
    if conflict.tie is Tie.IS_PERSON:
        return conflict.key
    words = {Tie.MANAGES_SERVICE: "is the Service Manager for", Tie.MANAGES_TEAM: "manages team",
             Tie.IN_TEAM: "belongs to team"}[conflict.tie]
    kind = "service" if conflict.tie is Tie.MANAGES_SERVICE else "team"
    whose = f", the {kind} of the person who {conflict.via}" if conflict.via else ""
    return f"{words} {conflict.key}{whose}"


def _exclusion_reason(
    c: RegisterCase,
    person: str,
    recently_audited: Mapping[str, Collection[str] | Mapping[str, date]],
    ties: Mapping[str, Ties] | None = None,
    subject: Subject | None = None,
) -> str | None:
    """Why the person may not audit the case (the first conflict), or None.

    The independence rule is ``bot.core.independence``'s, on the directory ties the draw was given
    (and stored, so a re-run judges the same way): an auditor is kept off a case they hold, manage
    or review, and off a case held or managed in a team or service they manage or belong to. A draw
    stored before ties were recorded has none, and is re-run on the people alone, as it was made.
    Then, a case the person audited in the last 12 months."""
    subject = case_subject(c, ties) if subject is None else subject
    found = independence.conflicts((ties or {}).get(person) or Ties(person=person), subject)
    if found:
        return _in_words(found[0])
    return _recent_reason(recently_audited.get(person, ()), c.case_ref)


def draw_sample(
    cases: Sequence[RegisterCase],
    pairs: Sequence[Pair],
    *,
    service_key: str,
    per_auditor: int = 2,
    seed: int,
    recently_audited: Mapping[str, Collection[str] | Mapping[str, date]] | None = None,
    ties: Mapping[str, Ties] | None = None,
) -> Draw:
    """Draw `per_auditor` open cases of the service for each pair, none that either of them is tied to.

    `recently_audited` maps a person to the case refs they audited in the last 12 months (the
    caller works out the window); a mapping of ref -> date puts the date in the explanation.
    `ties` maps a Slack id to their directory ties (``bot.core.independence.ties_of``), for the
    auditors and the cases' holders and team managers: with them a pair is kept off cases of their
    own teams and services, not only cases they hold or manage.

    The pool is sorted then shuffled with `random.Random(seed)`, so the same seed and pool give
    the same draw whatever order the register rows arrive in. Places are filled round by round
    (every pair's first case, then every pair's second) as a bipartite matching: each place takes
    the first free eligible case in shuffled order, and only when none is free are earlier picks
    re-arranged (an augmenting path). That never strands a pair when a full assignment exists,
    and when the pool is short it spreads the shortfall so as many pairs as possible get one case
    before any gets two.
    """
    if per_auditor < 0:
        raise ValueError("Cases per auditor cannot be negative.")
    recent = recently_audited or {}
    people: list[str] = [p for pair in pairs for p in (pair.qi, pair.pc)]
    _require_unique(people, "sampling auditor")
    ordered_pairs = sorted(pairs, key=lambda p: (p.qi, p.pc))

    in_service = [c for ref, c in sorted(_dedupe(cases).items()) if c.service_key == service_key]
    open_cases = [c for c in in_service if c.status.strip().lower() == "open"]
    exclusions = [
        Exclusion(c.case_ref, EVERYONE, "case is closed") for c in in_service if c not in open_cases
    ]
    pool = [c.case_ref for c in open_cases]

    eligible: dict[Pair, set[str]] = {pair: set() for pair in ordered_pairs}
    for c in open_cases:
        barred: set[str] = set()
        subject = case_subject(c, ties)
        for person in sorted(set(people)):
            reason = _exclusion_reason(c, person, recent, ties, subject)
            if reason is not None:
                exclusions.append(Exclusion(c.case_ref, person, reason))
                barred.add(person)
        for pair in ordered_pairs:
            if pair.qi not in barred and pair.pc not in barred:
                eligible[pair].add(c.case_ref)
    exclusions.sort(key=lambda e: (e.case_ref, e.person))

    order = pool[:]
    random.Random(seed).shuffle(order)
    slots = [pair for _ in range(per_auditor) for pair in ordered_pairs]
    options = [[ref for ref in order if ref in eligible[pair]] for pair in slots]
    holder: dict[str, int] = {}  # case ref -> slot index

    def augment(slot: int, visited: set[str]) -> bool:
        for ref in options[slot]:
            if ref in visited:
                continue
            visited.add(ref)
            if ref not in holder or augment(holder[ref], visited):
                holder[ref] = slot
                return True
        return False

    for slot, refs in enumerate(options):
        free = next((ref for ref in refs if ref not in holder), None)
        if free is not None:
            holder[free] = slot
        else:
            augment(slot, set())

    got: dict[Pair, list[str]] = {pair: [] for pair in ordered_pairs}
    for ref, slot in holder.items():
        got[slots[slot]].append(ref)
    assignments = [
        SampleAssignment(ref, pair.qi, pair.pc) for pair in ordered_pairs for ref in sorted(got[pair])
    ]

    shortfalls: dict[str, str] = {}
    places = per_auditor * len(ordered_pairs)
    for pair in ordered_pairs:
        n = len(got[pair])
        if n >= per_auditor:
            continue
        n_eligible = len(eligible[pair])
        if n_eligible < per_auditor:
            cause = (
                f"only {n_eligible} eligible case(s) in {service_key} for {pair.qi} and {pair.pc}; "
                "the rest are held, managed or recently audited by one of them, or held in their own team"
            )
        elif len(pool) < places:
            cause = f"the pool has {len(pool)} open case(s) for {places} places"
        else:
            cause = "the cases they could take were needed by pairs with fewer options"
        shortfalls[pair.qi] = f"{n} of {per_auditor} cases: {cause}"

    return Draw(
        seed=seed,
        service_key=service_key,
        per_auditor=per_auditor,
        pairs=ordered_pairs,
        pool=pool,
        assignments=assignments,
        exclusions=exclusions,
        shortfalls=shortfalls,
    )
