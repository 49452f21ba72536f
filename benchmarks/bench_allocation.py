"""How long the learning-audit allocation takes for a large council: run `python benchmarks/bench_allocation.py`.

A seeded synthetic organisation (500 Service Managers over 60 services, 2,000 proposals) is
allocated five times; the best and median wall-clock times are printed, and the plan is checked
(independence, each case once, every SM given their 2) so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.learning_audits.allocation import AllocationPlan, Auditor, Candidate, allocate, conflicts  # noqa: E402

N_SMS = 500
N_SERVICES = 60
N_PROPOSALS = 2000
TEAMS_PER_SERVICE = 6
PER_AUDITOR = 2
RUNS = 5
GOAL_SECONDS = 1.0


def synthetic_org(seed: int = 2024) -> tuple[list[Auditor], list[Candidate]]:
    rng = random.Random(seed)
    services = [f"svc{i:02d}" for i in range(N_SERVICES)]
    teams = {s: [f"{s}-t{j}" for j in range(TEAMS_PER_SERVICE)] for s in services}
    sms_of: dict[str, list[str]] = {s: [] for s in services}
    auditors = []
    for i in range(N_SMS):
        own = [services[i % N_SERVICES]]
        if rng.random() < 0.1:
            own.append(rng.choice(services))
        team_keys = {rng.choice(teams[own[0]])}
        if rng.random() < 0.05:
            team_keys.add(rng.choice(teams[rng.choice(services)]))
        person = f"SM{i:03d}"
        for s in own:
            sms_of[s].append(person)
        auditors.append(
            Auditor(person, frozenset(own), frozenset(team_keys), frozenset(rng.sample(services, 2)))
        )
    cases = []
    for pid in range(1, N_PROPOSALS + 1):
        service = rng.choice(services)
        team = rng.choice(teams[service])
        proposer = rng.choice(sms_of[service]) if rng.random() < 0.4 else f"TM-{team}"
        holder = f"SM{rng.randrange(N_SMS):03d}" if rng.random() < 0.01 else f"W{rng.randrange(5000)}"
        cases.append(
            Candidate(
                pid, f"CASE-{pid:05d}", service, team, proposer, holder, f"TM-{team}", rng.random() < 0.2
            )
        )
    return auditors, cases


def check(plan: AllocationPlan, auditors: list[Auditor], cases: list[Candidate]) -> None:
    by_id = {a.person_id: a for a in auditors}
    by_pid = {c.proposal_id: c for c in cases}
    pids = [a.proposal_id for a in plan.assignments]
    assert len(pids) == len(set(pids)), "a case was allocated twice"
    for a in plan.assignments:
        assert not conflicts(by_id[a.auditor_id], by_pid[a.proposal_id]), f"{a} is not independent"
    load = Counter(a.auditor_id for a in plan.assignments)
    assert all(load[a.person_id] == PER_AUDITOR for a in auditors), "an SM was not given their 2 cases"
    assert not plan.short
    assert len(plan.assignments) + len(plan.unallocated) == len(cases)


def main() -> int:
    auditors, cases = synthetic_org()
    times = []
    plan = None
    for run in range(RUNS):
        started = time.perf_counter()
        plan = allocate(auditors, cases, per_auditor=PER_AUDITOR, seed=run)
        times.append(time.perf_counter() - started)
        check(plan, auditors, cases)
    assert plan is not None
    median, best = statistics.median(times), min(times)
    pairs = sum(
        n - 1 for n in Counter((a.auditor_id, a.service_key) for a in plan.assignments).values() if n > 1
    )
    flagged = sum(a.flagged for a in plan.assignments)
    print(
        f"allocate {len(cases)} proposals to {len(auditors)} SMs: median {median:.2f} s (best {best:.2f} s)"
        f" [{flagged} flagged of {sum(c.flagged for c in cases)}, {pairs} same-service pairs]"
    )
    if median > GOAL_SECONDS:
        print(f"slower than the {GOAL_SECONDS:.0f} s goal", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
