"""Study news: who may post where, what each phone reads (site vs study-wide, withdrawn hidden,
each post once for a caregiver of several children, their language preferred), and the
`chorus news post` command."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.errors import Forbidden, Invalid, NotFound
from app.news import service as news
from app.news.models import NewsPost
from app.studies.models import Role
from tests.factories import (
    make_caregiver,
    make_device,
    make_participant,
    make_staff,
    make_study,
    sign_in,
    site,
)

T0 = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


@pytest.fixture
def world(db_session):
    study = make_study(db_session)
    other = make_study(db_session, "sleep", sites=("S",))
    admin = make_staff(db_session, "admin@x.org", study=study, role=Role.ADMIN)
    coord_a = make_staff(
        db_session, "coord@a.org", study=study, role=Role.SITE_COORDINATOR, site_code="A"
    )
    sleep_admin = make_staff(db_session, "admin@sleep.org", study=other, role=Role.ADMIN)
    adult_a = make_participant(db_session, study, "A-001")
    adult_b = make_participant(db_session, study, "B-001", site_code="B", language="fr")
    child_a = make_participant(db_session, study, "A-002", age_band="child")
    child_b = make_participant(db_session, study, "B-002", age_band="child", site_code="B")
    child_sleep = make_participant(db_session, other, "S-001", age_band="child", site_code="S")
    caregiver = make_caregiver(db_session, child_a, child_b, child_sleep)
    return locals()


def post(session, staff, study, site_, title, hours, language="en"):
    created = news.post_news(
        session, staff, study, site_, language, title, f"{title} body", now=at(hours)
    )
    session.commit()
    return created


def titles(posts) -> list[str]:
    return [p.title for p in posts]


def test_site_posts_reach_that_site_and_study_posts_everyone_newest_first(db_session, world):
    w = world
    study, a, b = w["study"], site(w["study"], "A"), site(w["study"], "B")
    post(db_session, w["admin"], study, None, "whole study", 1)
    post(db_session, w["coord_a"], study, a, "site A", 2)
    post(db_session, w["admin"], study, b, "site B", 3)
    post(db_session, w["sleep_admin"], w["other"], None, "sleep study", 4)
    withdrawn = post(db_session, w["admin"], study, None, "withdrawn", 5)
    news.withdraw(db_session, w["admin"], withdrawn)
    db_session.commit()

    assert titles(news.news_for_participant(db_session, w["adult_a"], "en")) == [
        "site A",
        "whole study",
    ]
    assert titles(news.news_for_participant(db_session, w["adult_b"], "en")) == [
        "site B",
        "whole study",
    ]
    # A caregiver of children at A, at B and in another study: each post once, newest first.
    readers = [w["child_a"], w["child_b"], w["child_sleep"]]
    assert titles(news.news_for_participants(db_session, readers, "en")) == [
        "sleep study",
        "site B",
        "site A",
        "whole study",
    ]
    staff_view = news.news_for_staff(db_session, w["coord_a"], study)
    assert titles(staff_view) == ["withdrawn", "site A", "whole study"]
    assert staff_view[0].withdrawn_at is not None


def test_the_readers_language_is_preferred_with_everything_as_fallback(db_session, world):
    w = world
    study = w["study"]
    post(db_session, w["admin"], study, None, "news", 1, "en")
    post(db_session, w["admin"], study, None, "nouvelles", 2, "fr")
    post(db_session, w["admin"], study, None, "more news", 3, "en-GB")
    assert titles(news.news_for_participant(db_session, w["adult_a"], "fr")) == ["nouvelles"]
    assert titles(news.news_for_participant(db_session, w["adult_a"], "en")) == [
        "more news",
        "news",
    ]
    assert titles(news.news_for_participant(db_session, w["adult_a"], "ar")) == [
        "more news",
        "nouvelles",
        "news",
    ]


def test_posting_is_scoped_validated_and_audited(db_session, world):
    w = world
    study, a, b = w["study"], site(w["study"], "A"), site(w["study"], "B")
    with pytest.raises(Forbidden):
        news.post_news(db_session, w["coord_a"], study, None, "en", "t", "b")  # study-wide
    with pytest.raises(Forbidden):
        news.post_news(db_session, w["coord_a"], study, b, "en", "t", "b")
    with pytest.raises(NotFound):
        news.post_news(db_session, w["sleep_admin"], study, None, "en", "t", "b")
    with pytest.raises(Invalid) as caught:
        news.post_news(db_session, w["coord_a"], study, a, "english!", " ", "x" * 5001)
    assert set(caught.value.errors) == {"language", "title", "body"}
    db_session.rollback()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) == 0

    created = post(db_session, w["coord_a"], study, a, "Thank you", 1)
    event = db_session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "news.posted"))
    assert event.target == f"news:{created.id}" and event.actor == f"staff:{w['coord_a'].id}"
    by_b = make_staff(
        db_session, "coord@b.org", study=study, role=Role.SITE_COORDINATOR, site_code="B"
    )
    with pytest.raises(Forbidden):
        news.withdraw(db_session, by_b, created)
    news.withdraw(db_session, w["coord_a"], created)
    news.withdraw(db_session, w["coord_a"], created)
    db_session.commit()
    actions = list(
        db_session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("news.%")))
    )
    assert actions == ["news.posted", "news.withdrawn"]


def test_phone_news_for_a_caregiver_is_deduplicated_and_withdrawn_posts_vanish(
    client, db_session, world
):
    w = world
    study = w["study"]
    _, token = make_device(db_session, w["caregiver"])
    _, adult_token = make_device(db_session, w["adult_b"])
    post(db_session, w["admin"], study, None, "whole study", 1)
    post(db_session, w["admin"], study, site(study, "B"), "site B", 2)
    post(db_session, w["coord_a"], study, site(study, "A"), "site A", 3)
    headers = {"Authorization": f"Bearer {token}"}
    items = client.get("/api/v1/me/news", headers=headers).get_json()["items"]
    assert [i["title"] for i in items] == ["site A", "site B", "whole study"]
    assert items[0]["scope"] == "site" and items[2]["scope"] == "study"
    assert items[0]["study"] == "fatigue" and items[0]["body"] == "site A body"
    adult = client.get("/api/v1/me/news", headers={"Authorization": f"Bearer {adult_token}"})
    assert [i["title"] for i in adult.get_json()["items"]] == ["site B", "whole study"]


def test_staff_news_api(client, db_session, world):
    signed = sign_in(client, "coord@a.org")
    base = "/api/v1/studies/fatigue/news/"
    created = signed.post(
        base, json={"site": "A", "language": "en", "title": "Hello", "body": "Thanks!"}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["site"] == "A"
    assert (
        signed.post(base, json={"language": "en", "title": "All", "body": "x"}).status_code == 403
    )
    assert (
        signed.post(
            base, json={"site": "B", "language": "en", "title": "B", "body": "x"}
        ).status_code
        == 403
    )
    bad = signed.post(base, json={"site": "A", "language": "en", "title": "", "body": "x"})
    assert bad.status_code == 422 and "title" in bad.get_json()["errors"]
    assert (
        signed.post(
            base, json={"site": "Z", "language": "en", "title": "t", "body": "x"}
        ).status_code
        == 404
    )
    assert [p["title"] for p in client.get(base).get_json()] == ["Hello"]
    post_id = created.get_json()["id"]
    assert client.delete(f"{base}{post_id}").status_code == 403  # no CSRF token
    assert (
        client.delete(f"{base}{post_id}", headers={"X-CSRFToken": signed.csrf}).status_code == 204
    )
    assert client.delete(f"{base}999", headers={"X-CSRFToken": signed.csrf}).status_code == 404
    assert client.get(base).get_json()[0]["withdrawn_at"] is not None
    assert client.get("/api/v1/studies/sleep/news/").status_code == 404


def test_chorus_news_post_command(runner, db_session, world):
    result = runner.invoke(
        args=[
            "news",
            "post",
            "--study",
            "fatigue",
            "--site",
            "A",
            "--language",
            "fr",
            "--title",
            "Merci",
            "--body",
            "Cent réponses !",
            "--as",
            "COORD@a.org",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Posted news" in result.output
    (row,) = db_session.scalars(sa.select(NewsPost)).all()
    assert (row.title, row.body, row.language, row.site_id) == (
        "Merci",
        "Cent réponses !",
        "fr",
        site(world["study"], "A").id,
    )
    assert row.posted_by == world["coord_a"].id

    refused = runner.invoke(
        args=[
            "news",
            "post",
            "--study",
            "fatigue",
            "--language",
            "en",
            "--title",
            "t",
            "--body",
            "b",
            "--as",
            "coord@a.org",
        ]
    )
    assert refused.exit_code == 1 and "permission" in refused.output
    invalid = runner.invoke(
        args=[
            "news",
            "post",
            "--study",
            "fatigue",
            "--site",
            "A",
            "--language",
            "en",
            "--title",
            "",
            "--body",
            "b",
            "--as",
            "coord@a.org",
        ]
    )
    assert invalid.exit_code == 1 and "title" in invalid.output
    unknown = runner.invoke(
        args=[
            "news",
            "post",
            "--study",
            "fatigue",
            "--language",
            "en",
            "--title",
            "t",
            "--body",
            "b",
            "--as",
            "nobody@x.org",
        ]
    )
    assert unknown.exit_code != 0 and "No staff user" in unknown.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) == 1

    withdrawn = runner.invoke(
        args=["news", "withdraw", "--study", "fatigue", "--id", str(row.id), "--as", "coord@a.org"]
    )
    assert withdrawn.exit_code == 0, withdrawn.output
    db_session.expire_all()
    assert db_session.get(NewsPost, row.id).withdrawn_at is not None
