"""Schemathesis against /api/v1/openapi.json (issue #10): as a phone and as staff, with a
fixed seed and a bounded number of examples per operation. No response may be a 5xx, and every
response must have a documented status, content type and schema.

The world is the access matrix's (tests/test_access_matrix.py), restored before every case so
a fuzzed DELETE /me/device or sign-out cannot starve the cases after it. SQLite only: the
engines' differences on bad input have their own tests (tests/responses/test_bad_input.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.support.access_matrix import MatrixWorld

# Bounded: a couple of minutes for both callers on a shared two-core machine.
EXAMPLES = 6
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the fixed seed: the same cases on every run
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory, migrated_sqlite) -> MatrixWorld:
    from tests.test_access_matrix import world as build

    return build.__wrapped__(tmp_path_factory, migrated_sqlite)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def api_schema(fuzz_world: MatrixWorld) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_world.app)


schema = schemathesis.pytest.from_fixture("api_schema")


def _staff_headers(world: MatrixWorld) -> dict[str, str]:
    caller = world.callers["admin"]
    cookie = "; ".join(f"{name}={value}" for name, value in caller.cookies.items())
    return {"Cookie": cookie, "X-CSRFToken": caller.csrf or ""}


def _check(world: MatrixWorld, case: Any, headers: dict[str, str]) -> None:
    world.restore()
    # Checks: no 5xx, a documented status and content type, the documented response schema.
    # Not "positive data acceptance": rules the schema cannot say (an IANA zone, a version-4
    # UUID, an end date not in the past) refuse some schema-valid bodies, with the documented
    # 422 and error shape. Not "negative data rejection" either: query strings ignore
    # parameters they do not know (webargs' rule for the query location, so a cache-busting
    # or future parameter cannot break an older server), which schemathesis counts as
    # accepting a schema-violating request.
    case.call_and_validate(
        headers=headers,
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
            schemathesis.checks.negative_data_rejection,
        ],
    )


@pytest.mark.slow
@schema.include(path_regex="^/api/v1/(me|invitations)").parametrize()
@FUZZ_SETTINGS
def test_api_as_a_phone(fuzz_world, case):
    _check(fuzz_world, case, dict(fuzz_world.callers["participant"].headers))


@pytest.mark.slow
@schema.include(path_regex="^/api/v1/(studies|auth)").parametrize()
@FUZZ_SETTINGS
def test_api_as_staff(fuzz_world, case):
    _check(fuzz_world, case, _staff_headers(fuzz_world))
