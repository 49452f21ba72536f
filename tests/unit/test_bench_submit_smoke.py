"""benchmarks/bench_submit.py --quick completes and prints its ratios (never checks their values).
PostgreSQL only: it runs `qmf-bot serve` and the floor on a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PG_URL = os.environ.get("TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not PG_URL or not PG_URL.startswith("postgresql"), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_bench_submit_quick_runs_and_prints_its_ratios() -> None:
    assert PG_URL is not None
    url = PG_URL.rsplit("/", 1)[0] + "/" + PG_URL.rsplit("/", 1)[1] + "_bench_submit"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_submit.py"), "--quick",
                           "--database-url", url], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "load average at start" in done.stdout
    assert done.stdout.count("ratio qmf/floor: p50") == 2, done.stdout
