"""The fan-out and year benchmarks run end to end at their ``--quick`` sizes (the figures are the
benchmarks' business, not the tests': only that each completes, checks its work and prints its ratio)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--database-url", url],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_bench_fanout_quick_prints_the_ratio_and_checks_every_dm(tmp_path: Path) -> None:
    out = _run("bench_fanout.py", tmp_path)
    assert "load average at start" in out
    assert "x the floor" in out and "sender/floor median" in out
    assert "result: OK" in out


def test_bench_year_quick_plays_the_quarters_and_measures_memory(tmp_path: Path) -> None:
    out = _run("bench_year.py", tmp_path)
    assert "load average at start" in out
    assert "resident memory at each quarter's end" in out
    assert "result: OK" in out
