"""The pieces of `make bench` and `make lock` that need no servers: the summary table, reading
wrk's report, and the stale-lock check that stops `make test`."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from bench.__main__ import print_summary
from bench.submission import parse_wrk

ROOT = Path(__file__).resolve().parents[1]

WRK_OUTPUT = """Running 8s test @ http://127.0.0.1:40000/api/v1/me/responses/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   664.63ms  300.10ms   1.90s    70.00%
  Latency Distribution
     50%  664.60ms
     75%  800.00ms
     90%    1.20s
     99%    1.61s
  160 requests in 8.00s, 60.00KB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:     20.00
Transfer/sec:      7.50KB
"""


def test_wrk_report_is_read_with_units_and_failures() -> None:
    load = parse_wrk(WRK_OUTPUT)
    assert (load.requests, load.per_second) == (160, 20.0)
    assert (load.p50_ms, load.p99_ms) == (664.6, 1610.0)
    assert load.errors == 5  # 3 non-2xx answers and 2 timeouts


def test_the_summary_is_one_aligned_table(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary([("submission/s (SQLite)", "10/s", "46/s inserts", "23%")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "== summary"
    assert lines[1].split() == ["figure", "value", "baseline", "ratio"]
    assert lines[3].startswith("submission/s (SQLite)") and lines[3].endswith("23%")
    assert len({len(line) for line in lines[1:]}) == 1


def _lockfile(tmp_path: Path) -> ModuleType:
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    spec = importlib.util.spec_from_file_location("lockfile", ROOT / "tools" / "lockfile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.PYPROJECT = tmp_path / "pyproject.toml"
    module.LOCK = tmp_path / "requirements.lock"
    return module


def test_the_committed_lock_matches_pyproject(tmp_path: Path) -> None:
    assert _lockfile(tmp_path).check() == 0


def test_a_new_dependency_makes_the_lock_stale_loudly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lockfile = _lockfile(tmp_path)
    text = lockfile.PYPROJECT.read_text()
    lockfile.PYPROJECT.write_text(text.replace('"segno>=1.6,<2",', '"segno>=1.6,<2",\n    "rich",'))
    assert lockfile.check() == 1
    assert "run `make lock`" in capsys.readouterr().err
    # A comment elsewhere in pyproject.toml does not.
    lockfile.PYPROJECT.write_text(text + "\n# a note\n")
    assert lockfile.check() == 0
