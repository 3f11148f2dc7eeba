"""`make bench` keeps working: the runner lists the scheduler-tick benchmark and a tiny run of it
sends every due reminder exactly once (the benchmark itself checks that and exits otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHORUS_BENCH_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_runner_lists_the_benchmarks() -> None:
    result = _bench("list")
    assert result.returncode == 0, result.stderr
    assert "scheduler_tick" in result.stdout


def test_a_tiny_scheduler_tick_benchmark_runs_and_reports() -> None:
    result = _bench("scheduler_tick", "--sizes", "40,80", "--due", "30", "--repeat", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:1] == ["40"] for line in lines), result.stdout
    assert any(line.split()[:1] == ["80"] for line in lines), result.stdout


def test_an_unknown_benchmark_is_refused() -> None:
    result = _bench("nope")
    assert result.returncode == 2 and "unknown benchmark" in result.stderr
