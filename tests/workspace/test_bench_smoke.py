"""The site-pages benchmark keeps working: a tiny run fills a database, answers every page it
times with 200 (it asserts that itself) and reports each page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_tiny_site_pages_benchmark_runs_and_reports() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHORUS_BENCH_DATABASE_URL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "site_pages",
            "--participants",
            "60",
            "--occurrences-per-participant",
            "20",
            "--repeat",
            "1",
            "--budget-ms",
            "60000",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "60 participants, 1,200 occurrences" in result.stdout
    for page in ("participant list, first page", "adherence grid, 14 days", "completion per week"):
        assert result.stdout.count(page) == 2, result.stdout  # admin and coordinator
