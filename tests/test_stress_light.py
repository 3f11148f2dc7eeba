"""Lighter versions of `make stress` (stress/scenarios.py) on SQLite: real gunicorn, real
SIGKILLs, a real lossy proxy on 127.0.0.1; acknowledged must equal stored, nothing doubled."""

from __future__ import annotations

import pytest

from stress import scenarios

pytestmark = pytest.mark.slow


def _assert_ok(lines: list[str]) -> None:
    assert lines and all(not line.startswith("FAIL") for line in lines), "\n".join(lines)
    assert lines[0].startswith("ok")


def test_kill9_of_workers_and_master_under_load_loses_and_doubles_nothing():
    lines = scenarios.kill9(24, [("SQLite", None)])
    _assert_ok(lines)
    assert "1 master SIGKILLed: 24 acknowledged, 24 stored" in lines[0]


def test_a_proxy_dropping_requests_and_answers_loses_and_doubles_nothing():
    lines = scenarios.flaky(24, [("SQLite", None)])
    _assert_ok(lines)
    assert "drop answer" in lines[0] and "24 acknowledged, 24 stored" in lines[0]
