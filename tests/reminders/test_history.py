"""A phone's history: metadata of its own people's submissions, newest first, paginated;
nothing of anyone else's, and never the answers."""

from __future__ import annotations

import datetime as dt

from app.db import utcnow
from app.responses import service as responses
from tests.responses import conftest as responses_world
from tests.responses.conftest import PARIS, World, device_for, diary, phq9

# The response tests' world (a study with a key, an adult, children, a caregiver, devices).
world = responses_world.world


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(session, token, submission):
    receipt = responses.submit(session, device_for(session, token), submission, now=utcnow())
    session.commit()
    return receipt


def day(n: int) -> dict[str, dt.datetime]:
    start = dt.datetime(2026, 11, n, 18, 0, tzinfo=PARIS)
    return {"started_at": start, "finished_at": start + dt.timedelta(minutes=4)}


def test_history_lists_only_this_phones_people_newest_first(client, db_session, world: World):
    w = world
    adult_1 = submit(db_session, w.adult_token, diary(w.adult.id, **day(10)))
    adult_2 = submit(db_session, w.adult_token, phq9(w.adult.id, **day(12)))
    child = submit(db_session, w.caregiver_token, diary(w.child.id, respondent="parent", **day(11)))
    other = submit(
        db_session, w.caregiver_token, diary(w.other_child.id, respondent="parent", **day(13))
    )

    adult = client.get("/api/v1/me/history", headers=bearer(w.adult_token)).get_json()
    assert adult["total"] == 2
    assert [i["response_id"] for i in adult["items"]] == [adult_2.response_id, adult_1.response_id]
    first = adult["items"][0]
    assert first["instrument"] == "phq9" and first["version"]
    assert first["title"] and first["respondent_type"] == "self"
    assert first["participant_id"] == w.adult.id
    assert set(first) == {
        "response_id",
        "participant_id",
        "instrument",
        "version",
        "title",
        "submitted_at",
        "respondent_type",
    }, "metadata only: no answers, no scores"

    carer = client.get("/api/v1/me/history", headers=bearer(w.caregiver_token)).get_json()
    assert [i["response_id"] for i in carer["items"]] == [other.response_id, child.response_id]
    one_child = client.get(
        f"/api/v1/me/history?for={w.child.id}", headers=bearer(w.caregiver_token)
    ).get_json()
    assert [i["response_id"] for i in one_child["items"]] == [child.response_id]
    assert one_child["items"][0]["respondent_type"] == "parent"

    # Someone this phone does not answer for: refused, whoever they are.
    for stranger in (w.adult.id, w.unlinked_child.id, 999999):
        refused = client.get(
            f"/api/v1/me/history?for={stranger}", headers=bearer(w.caregiver_token)
        )
        assert refused.status_code == 403
    assert (
        client.get(
            f"/api/v1/me/history?for={w.child.id}", headers=bearer(w.adult_token)
        ).status_code
        == 403
    )


def test_history_pages(client, db_session, world: World):
    w = world
    ids = [
        submit(db_session, w.adult_token, diary(w.adult.id, **day(n))).response_id
        for n in range(1, 6)
    ]
    page = client.get(
        "/api/v1/me/history?per_page=2&page=2", headers=bearer(w.adult_token)
    ).get_json()
    assert page["total"] == 5 and page["page"] == 2 and page["per_page"] == 2
    assert [i["response_id"] for i in page["items"]] == [ids[2], ids[1]]
    for bad in ("per_page=0", "per_page=101", "page=0", "for=x"):
        response = client.get(f"/api/v1/me/history?{bad}", headers=bearer(w.adult_token))
        assert response.status_code == 422, bad
