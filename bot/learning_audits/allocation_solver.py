"""The learning-audit allocation's solver: pure numbers, no people, no database, no Slack.

``bot.learning_audits.allocation`` turns the quarter's Service Managers (SMs) and proposed cases
into an eligibility matrix (the independence rule, from ``bot.core.independence``), each SM's
number of cases and the preferences; ``solve`` answers which SM audits which case. The allocation
is solved as one assignment problem (`scipy.optimize.linear_sum_assignment`) rather than a greedy
loop, because a greedy pass gives the early auditors the easy cases and leaves the last ones short
when a better allocation existed.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.lazy import csr_matrix, linear_sum_assignment, maximum_bipartite_matching

if TYPE_CHECKING:
    import numpy as np
else:
    from bot.core.lazy import numpy as np  # loaded on first use: the web process never needs it

_MAX_SPREAD_ROUNDS = 12
"""Each round adds at least one (SM, service) to the priced set; real quarters settle in 1-3."""


@dataclass(frozen=True)
class Preferences:
    """What the solver weighs once independence and cardinality are met (SM rows, case columns)."""

    flagged: np.ndarray
    """Per case: flagged cases are preferred."""
    last_quarter: np.ndarray
    """SM x case: the SM audited the case's service last quarter."""
    noise: np.ndarray
    """SM x case: seeded tie-breaks in [0, 1), from ``noise``."""
    case_service: np.ndarray
    """Per case: the index of its service, for the spread."""


def solve(eligible: np.ndarray, target: np.ndarray, prefs: Preferences, *, tie_order: np.ndarray) -> np.ndarray:
    """Case -> SM index (-1 none): the most cases, then the most SMs full, then the preferences.

    ``eligible`` is SM x case (True where the SM is independent), ``target`` each SM's number of
    cases, ``tie_order`` a seeded order of the SMs for the rare ties in who is filled first.
    """
    n_a = len(target)
    holder = _maximum_allocation(eligible, target)
    most = int((holder >= 0).sum())
    degree = degrees(holder, n_a)
    if np.array_equal(degree, target):
        # The usual quarter: everyone can be full, so only which cases is left to choose.
        return _choose_cases(eligible, degree, prefs)
    # Cases are short: let the preferences decide who goes without, then fill as many SMs as
    # possible, and if that moved anything choose the cases again for the new numbers.
    holder = _choose_cases(eligible, target, prefs, allocate_exactly=most)
    before = degrees(holder, n_a)
    _reach_full_for_more(eligible, target, holder, tie_order=tie_order)
    degree = degrees(holder, n_a)
    if not np.array_equal(degree, before):
        holder = _choose_cases(eligible, degree, prefs)
    return holder


def _stable_hash(text: str) -> np.uint64:
    """Python's hash() is salted per process; a seed must replay identically on any machine."""
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


def noise(seed: int, person_ids: Sequence[str], proposal_ids: Sequence[int]) -> np.ndarray:
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


def degrees(holder: np.ndarray, n_a: int) -> np.ndarray:
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
    degree = degrees(holder, n_a)
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


def _choose_cases(
    eligible: np.ndarray, slots: np.ndarray, prefs: Preferences, *, allocate_exactly: int | None = None
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
