"""Real local peers for delivery tests: a push service and an SMTP server, one per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.delivery.vapid import VapidKeys, ensure_vapid_keys
from tests.support.push_endpoint import PushEndpoint
from tests.support.smtp_server import SmtpTestServer

SUBJECT = "mailto:ops@chorus.example.org"


@pytest.fixture
def push_service() -> Iterator[PushEndpoint]:
    with PushEndpoint() as service:
        yield service


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture(scope="session")
def vapid_keys(tmp_path_factory: pytest.TempPathFactory) -> VapidKeys:
    instance: Path = tmp_path_factory.mktemp("instance")
    return ensure_vapid_keys(instance, subject=SUBJECT)
