"""Which Service Manager audits which proposed case this quarter: the learning-audit allocation.

Pure: no database, no Slack. The framework asks that every Service Manager (SM) audits a set
number of cases a quarter (a setting, 2 by default) that they are *entirely independent* of, so
independence is a hard rule here and everything else is a preference. The allocation is solved as
one assignment problem (`scipy.optimize.linear_sum_assignment`) rather than a greedy loop, because
a greedy pass gives the early auditors the easy cases and leaves the last ones short when a better
allocation existed.

How the problem is put to the solver, in priority order:

1. Independence: a case an SM is not independent of is simply not an option (infinite cost).
2. Cardinality: first the largest number of cases allocated (a maximum bipartite matching with
   each SM expanded into one row per case they should take; exact), then as many SMs as possible
   reaching their full number. In a normal quarter everyone can be full and there is nothing to
   decide. When cases are short, a first assignment (with "empty" columns priced above every
   preference) lets the preferences pick who goes without, then cases are moved along alternating
   paths from SMs who are short anyway to SMs who can then be filled. That second step is a local
   search, not a proof: maximising full SMs exactly is a matroid-parity problem, far beyond what a
   quarter's shortfall warrants, and it is right on all but a few in a thousand random small orgs.
   Once each SM's number is fixed, the assignment has exactly that many rows per SM, so it only
   chooses *which* cases; for that choice it matched a brute force on every one of thousands of
   random small orgs (and in the tests).
3. Flagged cases (once Inadequate, lots of learning, a re-visit) are preferred.
4. Spread: no SM should audit two cases from one service. That is a property of a *pair* of
   cases, which an assignment cannot see, so after a solve that gave an SM two cases of a service,
   that service gets one free row of that SM's and is charged on the others (see `_price_pairs`),
   and the problem is solved again until no new pair appears (usually one extra solve).
5. Last quarter: an SM avoids a service they audited last quarter.
6. Seeded noise breaks exact ties only: the weights are spaced so that the whole noise of a plan
   is worth less than one step of any preference. The noise for a pair (SM, case) is a hash of
   the seed, the person id and the proposal id, so the same seed gives the same plan whatever
   order the inputs arrive in, and re-running from the stored seed reproduces it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.lazy import LazyModule, lazy_function

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")  # loaded on first use: the web process never needs it
linear_sum_assignment = lazy_function("scipy.optimize", "linear_sum_assignment")
csr_matrix = lazy_function("scipy.sparse", "csr_matrix")
maximum_bipartite_matching = lazy_function("scipy.sparse.csgraph", "maximum_bipartite_matching")

_MAX_SPREAD_ROUNDS = 12
"""Each round adds at least one (SM, service) to the priced set; real quarters settle in 1-3."""

_NAMES_SHOWN = 6
"""People named in one reason before the rest are counted, so a reason stays one readable line."""


@dataclass(frozen=True)
class Auditor:
    """A Service Manager who could audit this quarter, with what they are not independent of."""

    person_id: str
    service_keys: frozenset[str]
    team_keys: frozenset[str] = frozenset()
    last_quarter_service_keys: frozenset[str] = frozenset()
    capacity: int | None = None
    """Cases this SM takes this quarter; None means the quarter's `per_auditor` setting."""


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


def _conflict_kinds(auditor: Auditor, case: Candidate) -> list[tuple[str, str]]:
    """(short label for a summary, sentence for a person) for each way the SM is not independent."""
    found: list[tuple[str, str]] = []
    if case.service_key in auditor.service_keys:
        found.append(("own service", f"is the Service Manager for {case.service_key}"))
    if case.team_key in auditor.team_keys:
        found.append(("own team", f"manages or belongs to team {case.team_key}"))
    if case.proposed_by == auditor.person_id:
        found.append(("proposed it", "proposed it"))
    if case.case_holder == auditor.person_id:
        found.append(("holds the case", "holds the case"))
    if case.team_manager == auditor.person_id:
        found.append(("manages the case", "manages the case"))
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
    short: dict[str, str]
    case_refs: dict[int, str] = field(default_factory=dict)
    """proposal_id -> case_ref for every candidate, so `explain` can name unallocated cases."""
    allocated_counts: dict[str, int] = field(default_factory=dict)
    """auditor_id -> cases allocated, for every auditor (including those with none)."""

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


# --- the solver --------------------------------------------------------------------------------------


def allocate(
    auditors: Sequence[Auditor],
    candidates: Sequence[Candidate],
    *,
    per_auditor: int = 2,
    seed: int,
) -> AllocationPlan:
    """Allocate each candidate to at most one independent auditor; see the module docstring."""
    if per_auditor < 0:
        raise ValueError("per_auditor must be 0 or more")
    auds = sorted(auditors, key=lambda a: a.person_id)
    cases = sorted(candidates, key=lambda c: c.proposal_id)
    _check_unique(auds, cases)

    n_a = len(auds)
    target = np.array(
        [per_auditor if a.capacity is None else max(0, a.capacity) for a in auds], dtype=np.int64
    )
    service_of = _index([c.service_key for c in cases], [k for a in auds for k in a.service_keys])
    case_service = np.array([service_of[c.service_key] for c in cases], dtype=np.int64)
    eligible = _eligibility(auds, cases, service_of, case_service)
    last_quarter = _membership(auds, service_of, lambda a: a.last_quarter_service_keys)[:, case_service]
    flagged = np.array([c.flagged for c in cases], dtype=bool)
    noise = _noise(seed, [a.person_id for a in auds], [c.proposal_id for c in cases])

    prefs = _Preferences(flagged, last_quarter, noise, case_service, len(service_of))
    holder = _maximum_allocation(eligible, target)
    most = int((holder >= 0).sum())
    degree = _degrees(holder, n_a)
    if np.array_equal(degree, target):
        # The usual quarter: everyone can be full, so only which cases is left to choose.
        holder = _choose_cases(eligible, degree, prefs)
    else:
        # Cases are short: let the preferences decide who goes without, then fill as many SMs as
        # possible, and if that moved anything choose the cases again for the new numbers.
        holder = _choose_cases(eligible, target, prefs, allocate_exactly=most)
        before = _degrees(holder, n_a)
        tie_order = _noise(seed, [a.person_id for a in auds], [0])[:, 0]
        _reach_full_for_more(eligible, target, holder, tie_order=tie_order)
        degree = _degrees(holder, n_a)
        if not np.array_equal(degree, before):
            holder = _choose_cases(eligible, degree, prefs)

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


def _eligibility(
    auds: Sequence[Auditor], cases: Sequence[Candidate], service_of: dict[str, int], case_service: np.ndarray
) -> np.ndarray:
    """Auditor x case: True where the SM is entirely independent. Vectorised; `conflicts` is the spec."""
    team_of = _index([c.team_key for c in cases])
    case_team = np.array([team_of[c.team_key] for c in cases], dtype=np.int64)
    blocked = _membership(auds, service_of, lambda a: a.service_keys)[:, case_service]
    blocked |= _membership(auds, team_of, lambda a: a.team_keys)[:, case_team]
    row_of = {a.person_id: i for i, a in enumerate(auds)}
    rows, cols = [], []
    for col, case in enumerate(cases):
        for person in (case.proposed_by, case.case_holder, case.team_manager):
            row = row_of.get(person)
            if row is not None:
                rows.append(row)
                cols.append(col)
    blocked[rows, cols] = True
    return ~blocked


def _stable_hash(text: str) -> np.uint64:
    """Python's hash() is salted per process; a seed must replay identically on any machine."""
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


def _noise(seed: int, person_ids: Sequence[str], proposal_ids: Sequence[int]) -> np.ndarray:
    """Uniform [0, 1) per (person, proposal), fixed by the seed and the ids alone.

    Keyed on ids rather than positions, so adding or removing one proposal does not reshuffle
    every other tie, and the input order cannot matter.
    """
    rows = np.array([_stable_hash(f"{seed}|a|{p}") for p in person_ids], dtype=np.uint64)
    cols = np.array([_stable_hash(f"{seed}|c|{p}") for p in proposal_ids], dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = rows[:, None] * np.uint64(0x9E3779B97F4A7C15) + cols[None, :]
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _maximum_allocation(eligible: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Case -> auditor index (-1 none) for a largest possible allocation (Hopcroft-Karp on slots)."""
    n_a, n_c = eligible.shape
    holder = np.full(n_c, -1, dtype=np.int64)
    slot_auditor = np.repeat(np.arange(n_a), target)
    if slot_auditor.size == 0 or n_c == 0:
        return holder
    graph = csr_matrix(eligible)[slot_auditor]
    graph.eliminate_zeros()
    case_of_slot = maximum_bipartite_matching(graph, perm_type="column")
    matched = case_of_slot >= 0
    holder[case_of_slot[matched]] = slot_auditor[matched]
    return holder


def _degrees(holder: np.ndarray, n_a: int) -> np.ndarray:
    return np.bincount(holder[holder >= 0], minlength=n_a).astype(np.int64)


def _reach_full_for_more(
    eligible: np.ndarray, target: np.ndarray, holder: np.ndarray, *, tie_order: np.ndarray
) -> None:
    """Move cases, keeping the total, so more SMs reach their full number (in place on `holder`).

    An SM short of full is filled one case at a time, each case moving along an alternating path
    (swaps) from an SM who is not full either; if they cannot be filled the moves are undone.
    Every success adds one full SM and takes none away, so the loop ends. With 2 cases each
    this turns "two SMs with one case" into "one SM with two" when cases are too few for all.
    """
    n_a = len(target)
    degree = _degrees(holder, n_a)
    moved = True
    while moved:
        moved = False
        gap = target - degree
        receivers = sorted((i for i in range(n_a) if gap[i] > 0), key=lambda i: (gap[i], tie_order[i], i))
        for u in receivers:
            if target[u] - degree[u] <= 0:
                continue
            saved_holder, saved_degree = holder.copy(), degree.copy()
            while degree[u] < target[u]:
                if not _move_one_case_to(u, eligible, target, holder, degree, tie_order):
                    holder[:], degree[:] = saved_holder, saved_degree
                    break
            else:
                moved = True


def _move_one_case_to(
    u: int,
    eligible: np.ndarray,
    target: np.ndarray,
    holder: np.ndarray,
    degree: np.ndarray,
    tie_order: np.ndarray,
) -> bool:
    """Breadth-first search for an SM who is not full and can give up a case, via swaps, to `u`.

    Searched a whole layer at a time with numpy, so a council of hundreds of SMs stays fast.
    """
    n_a = len(degree)
    seen = np.zeros(n_a, dtype=bool)
    parent_case = np.full(n_a, -1, dtype=np.int64)
    parent_auditor = np.full(n_a, -1, dtype=np.int64)
    seen[u] = True
    allocated = np.flatnonzero(holder >= 0)
    holders = holder[allocated]
    frontier = np.array([u])
    while frontier.size:
        reachable = eligible[np.ix_(frontier, allocated)].any(axis=0) & ~seen[holders]
        if not reachable.any():
            return False
        reached, first = np.unique(holders[reachable], return_index=True)
        via_case = allocated[reachable][first]
        seen[reached] = True
        parent_case[reached] = via_case
        parent_auditor[reached] = frontier[np.argmax(eligible[np.ix_(frontier, via_case)], axis=0)]
        givers = reached[degree[reached] < target[reached]]
        if givers.size:
            # Nearest first (fewest swaps), then whoever is furthest from full.
            giver = int(max(givers.tolist(), key=lambda h: (target[h] - degree[h], tie_order[h], -h)))
            node = giver
            while node != u:
                case = parent_case[node]
                node = int(parent_auditor[node])
                holder[case] = node
            degree[u] += 1
            degree[giver] -= 1
            return True
        frontier = reached
    return False


@dataclass(frozen=True)
class _Preferences:
    flagged: np.ndarray
    last_quarter: np.ndarray
    noise: np.ndarray
    case_service: np.ndarray
    n_services: int


def _choose_cases(
    eligible: np.ndarray, slots: np.ndarray, prefs: _Preferences, *, allocate_exactly: int | None = None
) -> np.ndarray:
    """Case -> auditor index (-1 none): one assignment row per slot, best by the preference tiers.

    Every row is filled with a real case unless `allocate_exactly` is given, in which case each
    row may instead take an "empty" column, priced above everything else so the solver still
    allocates as many cases as possible (the caller knows how many from the matching).
    """
    n_a, n_c = eligible.shape
    holder = np.full(n_c, -1, dtype=np.int64)
    slot_auditor = np.repeat(np.arange(n_a), slots)
    m = int(slot_auditor.size)
    if m == 0 or n_c == 0 or allocate_exactly == 0:
        return holder
    t = m if allocate_exactly is None else allocate_exactly
    # Each tier outweighs the most all the tiers below it can differ by over a plan of t cases.
    w_last = float(t + 1)
    w_spread = (t + 1) * w_last
    w_flag = (t + 1) * w_spread
    w_empty = 2 * (t + 1) * w_flag
    cols = np.flatnonzero(eligible[slots > 0].any(axis=0))
    case_service = prefs.case_service[cols]
    base = np.where(
        eligible[:, cols],
        w_flag * (~prefs.flagged[cols])[None, :]
        + w_last * prefs.last_quarter[:, cols]
        + prefs.noise[:, cols],
        np.inf,
    )
    first_row = np.zeros(n_a, dtype=np.int64)
    first_row[slots > 0] = np.r_[0, np.cumsum(slots[slots > 0])[:-1]]
    row_rank = np.arange(m) - first_row[slot_auditor]
    priced: dict[int, list[int]] = {}

    rows = chosen = np.zeros(0, dtype=np.int64)
    for _ in range(_MAX_SPREAD_ROUNDS):
        cost = base[slot_auditor]
        if priced:
            _price_pairs(cost, priced, slot_auditor, row_rank, case_service, w_spread)
        if allocate_exactly is not None:
            cost = np.hstack([cost, np.full((m, m), w_empty)])
        rows, chosen = linear_sum_assignment(cost)
        real = chosen < len(cols)
        rows, chosen = rows[real], chosen[real]
        if not np.isfinite(cost[rows, chosen]).all() or (
            allocate_exactly is not None and rows.size != allocate_exactly
        ):  # pragma: no cover - the matching has already shown this allocation exists
            raise RuntimeError("the allocation solver disagreed with the matching; this is a bug")
        pairs = Counter(zip(slot_auditor[rows].tolist(), case_service[chosen].tolist(), strict=True))
        new = [(a, s) for (a, s), n in pairs.items() if n > 1 and s not in priced.get(a, ())]
        if not new:
            break
        for a, s in sorted(new):
            priced.setdefault(a, []).append(s)
    holder[cols[chosen]] = slot_auditor[rows]
    return holder


def _price_pairs(
    cost: np.ndarray,
    priced: dict[int, list[int]],
    slot_auditor: np.ndarray,
    row_rank: np.ndarray,
    case_service: np.ndarray,
    w_spread: float,
) -> None:
    """Make a second case from one of an SM's priced services cost `w_spread` (in place).

    An assignment prices single (row, case) cells, never pairs, so each priced service gets a row
    of its own where it is free; every other row of that SM charges for it. Then the cheapest way
    to place k cases of a priced service costs exactly k - 1 charges, whatever else the SM takes,
    as long as the SM has at least as many rows as priced services (true in practice: a service
    is priced only after the SM was given two of its cases).
    """
    for a, services in priced.items():
        sm_rows = np.flatnonzero(slot_auditor == a)
        in_priced = np.isin(case_service, services)
        charge = np.broadcast_to(in_priced, (sm_rows.size, case_service.size)).copy()
        for rank, service in enumerate(services):
            on_row = row_rank[sm_rows] == rank
            charge[np.ix_(on_row, case_service == service)] = False
        cost[sm_rows] += w_spread * charge


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
    degree = _degrees(holder, len(auds))
    independent = eligible.sum(axis=0)
    services_held: dict[int, Counter[str]] = {}
    for col in np.flatnonzero(holder >= 0).tolist():
        services_held.setdefault(int(holder[col]), Counter())[cases[col].service_key] += 1

    assignments: list[Assignment] = []
    unallocated: dict[int, str] = {}
    for col, case in enumerate(cases):
        a = int(holder[col])
        if a < 0:
            unallocated[case.proposal_id] = _why_unallocated(
                auds, case, eligible[:, col], target, per_auditor
            )
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
    )


def _why_unallocated(
    auds: Sequence[Auditor], case: Candidate, eligible_col: np.ndarray, target: np.ndarray, per_auditor: int
) -> str:
    if not auds:
        return "no Service Managers to allocate to"
    able = np.flatnonzero(eligible_col)
    if able.size == 0:
        by_kind: dict[str, list[str]] = {}
        for auditor in auds:
            kinds = _conflict_kinds(auditor, case)
            by_kind.setdefault(kinds[0][0], []).append(auditor.person_id)
        detail = "; ".join(f"{kind}: {_names(ids)}" for kind, ids in by_kind.items())
        everyone = "the only one conflicts" if len(auds) == 1 else f"all {len(auds)} conflict"
        return f"no independent Service Manager: {everyone} ({detail})"
    names = _names([auds[i].person_id for i in able[:_NAMES_SHOWN]], total=int(able.size))
    if (target[able] == per_auditor).all():
        return (
            f"every independent Service Manager already has {per_auditor} "
            f"case{'' if per_auditor == 1 else 's'} ({names})"
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
