"""`make bench` keeps working: a tiny run prints a row per scenario (no speed is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_prints_every_scenario() -> None:
    """`python -m bench --quick` finishes and reports raw SAQ and both product scenarios."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-save", "--loop", "asyncio"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for scenario in ("raw-saq-redis", "atspro-sqlite", "atspro-redis"):
        assert f"| {scenario} |" in result.stdout
    assert "events" in result.stdout
