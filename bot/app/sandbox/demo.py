"""`qmf-bot demo`: a quarter played offline through the real app, jobs and database.

It runs the same LocalBot the tests use (the ASGI app on loopback, the local Slack stand-in,
SQLite) with the sample organisation, drives it with Slack-signed requests, and writes what
each person saw to ./demo-out/: transcript.md (in order), people/<id>.md (per person) and
the quarter's reports.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from bot.app.sandbox import demo_board  # noqa: F401  (it imports the scenes before it: @scene keeps their order)
from bot.app.sandbox.fake_slack import FakeSlack
from bot.app.sandbox.harness import SAMPLE_ORG, LocalBot
from bot.app.sandbox.narrator import SCENES, Narrator, london, names_from_org


def run_demo(out: Path, *, fake: FakeSlack | None = None) -> int:
    """Play the quarter into ``out``; 0 if the local Slack accepted every call, else 1.

    ``fake`` is a local Slack the caller has started (and will stop): a test passes one that
    keeps every version of every message and view, to read all the words the demo sent people."""
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    url = f"sqlite:///{(out / 'qmf-demo.db').resolve()}"
    with LocalBot(url, fake=fake, start=london(2026, 3, 30, 9, 0)) as bot:
        changes = bot.import_org(SAMPLE_ORG)
        narrator = Narrator(bot, out, names=names_from_org(SAMPLE_ORG))
        narrator.note(f"Org file imported: {len(changes)} changes.")
        for play in SCENES:
            play(narrator)
        narrator.write("QMF Bot demo: a quarter at Example Council Children & Families")
        problems = list(bot.fake.problems)
    seconds = time.monotonic() - started
    print(f"Demo finished in {seconds:.1f}s: transcript in {out / 'transcript.md'}, "
          f"what each person saw in {out / 'people'}/.")
    if problems:
        print("Slack would have refused some calls:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    return 0
