"""The resend fingerprint is keyed by a server secret and only random UUIDs are taken (issue
#10, item 4): with a guessable client UUID, a database reader once recovered a diary's answers
by recomputing the UUID-keyed fingerprint of each guess."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.responses import dedupe
from app.responses import service as responses
from app.responses.models import Response
from tests.responses.conftest import device_for, diary
from tests.responses.test_api import body, post


def _uuid_keyed(submission) -> str:  # type: ignore[no-untyped-def]
    """The fingerprint as it was computed before issue #10: keyed by the client's UUID only."""
    return hmac.new(
        submission.client_uuid.bytes, submission.fingerprint_material(), hashlib.sha256
    ).hexdigest()


def test_a_database_reader_cannot_test_guesses_of_the_answers(db_session, world):
    device = device_for(db_session, world.adult_token)
    submission = diary(world.adult.id)
    responses.submit(db_session, device, submission, now=utcnow())
    db_session.commit()
    row = db_session.scalar(sa.select(Response))
    assert row.content_mac_scheme == dedupe.SCHEME_SERVER_KEYED
    # Knowing the UUID and guessing the exact answers no longer reproduces what is stored.
    assert row.content_mac != _uuid_keyed(submission)


@pytest.mark.parametrize(
    "guessable",
    [
        "00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000001",
        str(uuid.uuid1()),
        "12345678-1234-5678-9234-567812345678",  # version 5 layout
    ],
)
def test_only_random_uuids_are_accepted(client, db_session, world, guessable):
    response = post(client, world.adult_token, body(world.adult.id, id=guessable))
    assert response.status_code == 422
    assert "version 4" in str(response.get_json()["errors"]["id"])
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_resends_of_responses_stored_before_the_upgrade_still_match(db_session, world):
    """A row with the UUID-only fingerprint (scheme 1, as migration 0005 marks old rows), even
    one sent with a UUID that is no longer accepted, still recognises its resend."""
    device = device_for(db_session, world.adult_token)
    old_uuid = uuid.UUID("00000000-0000-0000-0000-000000000007")
    submission = diary(world.adult.id, client_uuid=uuid.uuid4())
    receipt = responses.submit(db_session, device, submission, now=utcnow())
    db_session.commit()
    legacy = diary(world.adult.id, client_uuid=old_uuid)
    db_session.execute(
        sa.update(Response)
        .where(Response.id == receipt.response_id)
        .values(
            idempotency_key=responses.idempotency_key(old_uuid),
            content_mac=_uuid_keyed(legacy),
            content_mac_scheme=dedupe.SCHEME_UUID_KEYED,
        )
    )
    db_session.commit()
    again = responses.submit(db_session, device, legacy, now=utcnow())
    assert again.response_id == receipt.response_id
    from app.errors import Conflict

    changed = diary(
        world.adult.id,
        client_uuid=old_uuid,
        answers={"fatigue": 1, "pain": 0, "sleep": "ok", "mood": "ok"},
    )
    with pytest.raises(Conflict):
        responses.submit(db_session, device, changed, now=utcnow())
