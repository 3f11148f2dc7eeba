"""The access matrix (issue #10): every route x caller x scope, against the allowed set below.

A route of the URL map with no entry here fails `test_every_route_has_an_entry`; the machinery
and how to add rows are described in tests/support/access_matrix.py. Runs on SQLite: what is
checked is authorization, which does not depend on the engine.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.studies.models import Role
from tests.factories import (
    PASSWORD,
    make_caregiver,
    make_device,
    make_participant,
    make_staff,
    make_study,
    sign_in,
)
from tests.support.access_matrix import (
    ACTORS,
    OWN,
    SCOPES,
    SITE_SCOPED,
    STUDY,
    Caller,
    Entry,
    MatrixWorld,
    any_staff,
    is_allowed,
    managers,
    nobody,
    phones,
    public,
    routes_of,
    run_cell,
    staff_at,
    viewers,
)

S = "/api/v1/studies/<slug>"
P = f"{S}/participants/<code>"
C = f"{P}/caregivers/<int:caregiver_id>"
ADMIN = staff_at(study_wide=("admin",))
SCHEDULE = {
    "name": "Daily diary",
    "instrument": "daily_symptom_diary",
    "version": "1.0.0",
    "respondent": "self",
    "spec": {"kind": "daily", "open_time": "00:00", "close_time": "23:59"},
    "reminder_max_count": 1,
    "reminder_gaps_minutes": [60],
}


def _later(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def _answers(a: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": str(uuid.uuid4()),
        "participant_id": a["person_id"],
        "instrument": "daily_symptom_diary",
        "version": "1.0.0",
        "respondent_type": a["respondent_type"],
        "language": "en",
        "started_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "finished_at": now.isoformat(),
        "answers": {"fatigue": 3, "pain": 0, "sleep": "ok", "mood": "ok"},
    }


ENTRIES = [
    # Public
    Entry("GET", "/", public()),
    Entry("GET", "/healthz", public()),
    Entry("GET", "/readyz", public()),
    Entry("GET", "/static/<path:filename>", public(), rename={"filename": "static_file"}),
    Entry("GET", "/app", public()),
    Entry("GET", "/app/", public()),
    Entry("GET", "/app/manifest.webmanifest", public()),
    Entry("GET", "/app/sw.js", public()),
    Entry("GET", "/app/v/<release>/<path:name>", public()),
    Entry("GET", "/api/v1/openapi.json", public()),
    Entry("GET", "/api/v1/auth/csrf", public()),
    Entry(
        "POST",
        "/api/v1/auth/login",
        public(),
        body=lambda a: {"email": "admin@m.org", "password": PASSWORD},
    ),
    Entry("POST", "/api/v1/auth/logout", public()),
    Entry("POST", "/api/v1/invitations/redeem", public(), body=lambda a: {"code": a["invite"]}),
    Entry("GET", "/staff/login", public()),
    Entry(
        "POST",
        "/staff/login",
        public(),
        form=lambda a: {"email": "admin@m.org", "password": PASSWORD},
    ),
    Entry("POST", "/staff/logout", public(), form=lambda a: {}),
    Entry("POST", "/staff/language", public(), form=lambda a: {"lang": "fr", "next": "/staff/"}),
    # Staff, whatever the scope
    Entry("GET", "/staff/account/authenticator", any_staff()),
    Entry("POST", "/staff/account/authenticator", any_staff(), form=lambda a: {"code": "000000"}),
    Entry("GET", "/staff/account/", any_staff()),
    Entry(
        "POST",
        "/staff/account/",
        any_staff(),
        form=lambda a: {"language": "en", "time_zone": "Europe/Paris"},
    ),
    Entry(
        "POST",
        "/staff/account/password",
        any_staff(),
        form=lambda a: {"current_password": "x", "new_password": "y", "confirm_password": "y"},
    ),
    # Only a real invitation's token opens it (tests/workspace/test_account.py); a made-up one
    # is refused to everyone alike.
    Entry("GET", "/staff/account/welcome/<token>", nobody()),
    Entry(
        "POST",
        "/staff/account/welcome/<token>",
        nobody(),
        form=lambda a: {"new_password": "p" * 14, "confirm_password": "p" * 14},
    ),
    Entry("GET", "/staff/go", any_staff(STUDY), query=lambda a: f"study={a['slug']}"),
    Entry("GET", "/staff/", any_staff()),
    Entry("GET", "/api/v1/auth/session", any_staff()),
    Entry("POST", "/api/v1/auth/totp", any_staff()),
    Entry("POST", "/api/v1/auth/totp/confirm", any_staff(), body=lambda a: {"code": "000000"}),
    Entry("GET", "/api/v1/studies/", any_staff()),
    # Staff, in a study
    Entry("GET", S, any_staff(STUDY)),
    Entry("POST", f"{S}/sites", ADMIN, body=lambda a: {"code": "C", "name": "Site C"}),
    Entry(
        "GET",
        f"{S}/sites/<code>",
        staff_at(site_scoped=SITE_SCOPED, study_wide=("admin", "patient_group_author")),
        rename={"code": "site_code"},
    ),
    Entry("GET", f"{S}/schedules/", any_staff(STUDY)),
    Entry("POST", f"{S}/schedules/", ADMIN, body=lambda a: SCHEDULE),
    Entry("DELETE", f"{S}/schedules/<int:schedule_id>", ADMIN),
    # Lists name no site: a site-scoped member passes for either site (rows are filtered).
    Entry("GET", f"{S}/news/", any_staff(STUDY)),
    Entry(
        "POST",
        f"{S}/news/",
        managers(),
        body=lambda a: {"site": a["site_code"], "language": "en", "title": "t", "body": "b"},
    ),
    Entry("DELETE", f"{S}/news/<int:post_id>", managers()),
    Entry("GET", f"{S}/alerts/", staff_at(study_wide=("admin", "site_coordinator"))),
    Entry("POST", f"{S}/alerts/<int:alert_id>/acknowledge", managers()),
    Entry("GET", f"{S}/safety-contacts", any_staff(STUDY)),
    Entry(
        "PUT",
        f"{S}/safety-contacts",
        managers(),
        body=lambda a: {"site": a["site_code"], "contacts": {"en": "Call 3114."}},
    ),
    # Exports (#14): identified data needs EXPORT_DATA at the sites exported (data managers,
    # admins); site coordinators export their own sites, de-identified. The history names no
    # site (rows are filtered); one export is seen by whoever may export all its sites.
    Entry(
        "POST",
        f"{S}/exports/",
        staff_at(site_scoped=SITE_SCOPED, study_wide=("admin",)),
        body=lambda a: {
            "recovery_key": a["recovery_key"],
            "formats": ["csv"],
            "sites": [a["site_code"]],
        },
    ),
    Entry("GET", f"{S}/exports/", staff_at(study_wide=("admin", *SITE_SCOPED))),
    Entry(
        "GET",
        f"{S}/exports/<export_id>",
        staff_at(site_scoped=SITE_SCOPED, study_wide=("admin",)),
    ),
    # Staff, participants of a site
    Entry("GET", f"{S}/participants/", staff_at(study_wide=("admin", *SITE_SCOPED))),
    Entry(
        "POST",
        f"{S}/participants/",
        managers(),
        body=lambda a: {
            "site": a["site_code"],
            "code": "NEW-1",
            "time_zone": "Europe/Paris",
            "language": "en",
            "age_band": "adult",
        },
    ),
    Entry("GET", P, viewers()),
    Entry("POST", f"{P}/invitations", managers(), body=lambda a: {}),
    Entry("POST", f"{P}/invitations/qr", managers(), body=lambda a: {"link": a["link"]}),
    Entry("POST", f"{P}/pause", managers(), body=lambda a: {"until": _later(3), "reason": "x"}),
    Entry("POST", f"{P}/resume", managers()),
    Entry("POST", f"{P}/withdraw", managers(), body=lambda a: {"reason": "moved"}),
    Entry("GET", f"{P}/devices", viewers()),
    Entry("POST", f"{P}/devices/<int:device_id>/revoke", managers(), body=lambda a: {}),
    Entry("GET", f"{P}/occurrences", viewers()),
    Entry("GET", f"{P}/timetable", viewers()),
    Entry("PUT", f"{P}/timetable", managers(), body=lambda a: {"quiet_hours": []}),
    Entry(
        "POST",
        f"{P}/timetable/pauses",
        managers(),
        body=lambda a: {"starts_on": _later(2), "ends_on": _later(3)},
    ),
    Entry("DELETE", f"{P}/timetable/pauses/<int:pause_id>", managers()),
    Entry("GET", f"{P}/caregivers", viewers(), rename={"code": "child_code"}),
    Entry(
        "POST",
        f"{P}/caregivers",
        managers(),
        rename={"code": "child_code"},
        body=lambda a: {"language": "en", "time_zone": "Europe/Paris", "caregiver_role": "parent"},
    ),
    # Linking the caregiver of each scope to a new child of the same site.
    Entry(
        "PUT",
        C,
        managers(),
        rename={"code": "sibling_code"},
        body=lambda a: {"caregiver_role": "parent"},
    ),
    Entry("DELETE", C, managers(), rename={"code": "child_code"}),
    Entry("POST", f"{C}/invitations", managers(), rename={"code": "child_code"}, body=lambda a: {}),
    Entry("GET", f"{C}/timetable", viewers(), rename={"code": "child_code"}),
    Entry(
        "PUT",
        f"{C}/timetable",
        managers(),
        rename={"code": "child_code"},
        body=lambda a: {"quiet_hours": []},
    ),
    Entry(
        "POST",
        f"{C}/timetable/pauses",
        managers(),
        rename={"code": "child_code"},
        body=lambda a: {"starts_on": _later(2), "ends_on": _later(3)},
    ),
    Entry(
        "DELETE",
        f"{C}/timetable/pauses/<int:pause_id>",
        managers(),
        rename={"code": "child_code", "pause_id": "caregiver_pause_id"},
    ),
    # Phones: their own people only
    Entry("GET", "/api/v1/me", phones()),
    Entry("GET", "/api/v1/me/due", phones()),
    Entry("DELETE", "/api/v1/me/device", phones()),
    Entry("GET", "/api/v1/me/news", phones()),
    Entry("GET", "/api/v1/me/timetable", phones()),
    Entry("PUT", "/api/v1/me/timetable", phones(), body=lambda a: {"quiet_hours": []}),
    Entry(
        "POST",
        "/api/v1/me/timetable/pauses",
        phones(),
        body=lambda a: {"starts_on": _later(2), "ends_on": _later(3)},
    ),
    Entry(
        "DELETE",
        "/api/v1/me/timetable/pauses/<int:pause_id>",
        phones(OWN),
        rename={"pause_id": "own_pause_id"},
    ),
    Entry("PUT", "/api/v1/me/language", phones(), body=lambda a: {"language": "fr"}),
    Entry("GET", "/api/v1/me/push", phones()),
    Entry(
        "PUT",
        "/api/v1/me/push",
        phones(),
        body=lambda a: {
            "endpoint": "https://push.example.org/x",
            "keys": {
                "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                "auth": "tBHItJI5svbpez7KI4CCXg",
            },
        },
    ),
    Entry("DELETE", "/api/v1/me/push", phones()),
    Entry("GET", "/api/v1/me/history", phones(OWN), query=lambda a: f"for={a['person_id']}"),
    Entry(
        "GET",
        "/api/v1/me/instruments/<key>/<version>",
        phones(OWN),
        query=lambda a: f"for={a['person_id']}",
    ),
    Entry("POST", "/api/v1/me/responses/", phones(OWN), body=_answers),
    Entry(
        "POST",
        "/api/v1/me/occurrences/<int:occurrence_id>/snooze",
        phones(OWN),
        body=lambda a: {"minutes": 30},
    ),
]


def test_every_route_has_an_entry_and_entries_name_real_routes(app):
    # The workspace pages under /staff/ have their own table and runner (they need the
    # workspace's world): tests/support/site_access_matrix.py, tests/workspace/.
    from tests.support import site_access_matrix as pages

    listed = [entry.key for entry in ENTRIES]
    served = routes_of(app) - (set(pages.ALLOWED) - set(listed))
    assert len(listed) == len(set(listed)), "a route is listed twice"
    missing = sorted(served - set(listed))
    assert missing == [], f"routes without an access-matrix entry: {missing}"
    assert sorted(set(listed) - served) == [], "entries for routes that do not exist"


@pytest.fixture(scope="module")
def world(tmp_path_factory, migrated_sqlite) -> MatrixWorld:
    import shutil

    from tests.conftest import make_settings

    folder = tmp_path_factory.mktemp("matrix")
    database = folder / "matrix.sqlite3"
    shutil.copy(migrated_sqlite, database)
    from app import create_app

    app = create_app(make_settings(f"sqlite:///{database}", folder / "instance"))
    engine = sa.create_engine(f"sqlite:///{database}", execution_options={"sqlite_begin": "NONE"})
    with sa.orm.Session(engine) as session:
        values, callers = _build(app, session)
    engine.dispose()
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()
    snapshot = folder / "snapshot.sqlite3"
    shutil.copyfile(database, snapshot)
    return MatrixWorld(app, Path(database), snapshot, callers, values)


def _build(app, session):  # type: ignore[no-untyped-def]
    from app.db import utcnow
    from app.participants import service as participants
    from app.participants.models import StudyInstrument
    from app.reminders import planner, timetables
    from app.reminders.models import Occurrence
    from app.responses import keys
    from tests.participants.helpers import publish_library

    publish_library(session)
    fatigue, sleep = make_study(session, "fatigue"), make_study(session, "sleep")
    from app.library.models import InstrumentVersion

    diary = session.scalar(
        sa.select(InstrumentVersion).where(
            InstrumentVersion.instrument_key == "daily_symptom_diary"
        )
    )
    phq = session.scalar(
        sa.select(InstrumentVersion).where(InstrumentVersion.instrument_key == "phq9")
    )
    recovery_keys = {}
    for study in (fatigue, sleep):
        recovery_keys[study.slug] = keys.create_study_key(session, study, actor="test")
        session.add(
            StudyInstrument(study_id=study.id, instrument_version_id=diary.id, respondents="both")
        )
        session.add(
            StudyInstrument(study_id=study.id, instrument_version_id=phq.id, respondents="self")
        )
    session.commit()

    people: dict[str, Any] = {}
    for scope, study, site in (
        ("own_site", fatigue, "A"),
        ("other_site", fatigue, "B"),
        ("other_study", sleep, "A"),
    ):
        adult = make_participant(session, study, f"{site}-1-{study.slug}"[:32], site_code=site)
        child = make_participant(
            session, study, f"{site}-2-{study.slug}"[:32], site_code=site, age_band="child"
        )
        sibling = make_participant(
            session, study, f"{site}-3-{study.slug}"[:32], site_code=site, age_band="child"
        )
        caregiver = make_caregiver(session, child)
        adult_device, adult_token = make_device(session, adult)
        _carer_device, carer_token = make_device(session, caregiver)
        adult_pause = timetables.add_pause(
            session,
            adult,
            starts_on=dt.date.fromisoformat(_later(5)),
            ends_on=dt.date.fromisoformat(_later(6)),
            reason=None,
            actor="test",
        )
        carer_pause = timetables.add_pause(
            session,
            caregiver,
            starts_on=dt.date.fromisoformat(_later(5)),
            ends_on=dt.date.fromisoformat(_later(6)),
            reason=None,
            actor="test",
        )
        issued = participants.create_invitation(
            session,
            adult,
            valid_for=dt.timedelta(days=2),
            pepper="t" * 48,
            base_url="http://localhost",
            actor="test",
        )
        session.commit()
        people[scope] = dict(
            study=study,
            site_code=site,
            adult=adult,
            child=child,
            sibling=sibling,
            caregiver=caregiver,
            adult_device=adult_device,
            adult_token=adult_token,
            carer_token=carer_token,
            adult_pause=adult_pause.id,
            carer_pause=carer_pause.id,
            link=issued.link,
        )
    # Staff: one per role on "fatigue" (site-scoped roles at site A), and a manager of "sleep"
    # who only sets the world up.
    make_staff(session, "admin@m.org", study=fatigue, role=Role.ADMIN)
    make_staff(session, "coord@m.org", study=fatigue, role=Role.SITE_COORDINATOR, site_code="A")
    make_staff(session, "dm@m.org", study=fatigue, role=Role.DATA_MANAGER, site_code="A")
    make_staff(session, "author@m.org", study=fatigue, role=Role.PATIENT_GROUP_AUTHOR)
    make_staff(session, "builder@m.org", study=sleep, role=Role.ADMIN)
    emails = {
        "admin": "admin@m.org",
        "site_coordinator": "coord@m.org",
        "data_manager": "dm@m.org",
        "patient_group_author": "author@m.org",
    }

    builders = {
        "fatigue": sign_in(app.test_client(), "admin@m.org"),
        "sleep": sign_in(app.test_client(), "builder@m.org"),
    }
    schedules, posts, alerts, occurrences = {}, {}, {}, {}
    for slug, builder in builders.items():
        made = builder.post(f"/api/v1/studies/{slug}/schedules/", json=SCHEDULE)
        assert made.status_code == 201, made.get_json()
        proxy = builder.post(
            f"/api/v1/studies/{slug}/schedules/",
            json={**SCHEDULE, "respondent": "proxy", "name": "Proxy diary"},
        )
        assert proxy.status_code == 201, proxy.get_json()
        schedules[slug] = made.get_json()["id"]
    for scope, p in people.items():
        builder = builders[p["study"].slug]
        post = builder.post(
            f"/api/v1/studies/{p['study'].slug}/news/",
            json={"site": p["site_code"], "language": "en", "title": "t", "body": "b"},
        )
        assert post.status_code == 201, post.get_json()
        posts[scope] = post.get_json()["id"]
        planner.plan_participants(session, [p["adult"], p["child"]], utcnow())
        session.commit()
        phone = app.test_client()
        now = dt.datetime.now(dt.UTC)
        phq9 = {
            "id": str(uuid.uuid4()),
            "participant_id": p["adult"].id,
            "instrument": "phq9",
            "version": phq.version,
            "respondent_type": "self",
            "language": "en",
            "started_at": (now - dt.timedelta(minutes=5)).isoformat(),
            "finished_at": now.isoformat(),
            "answers": {**{f"phq9_{i}": 1 for i in range(1, 9)}, "phq9_9": 2, "phq9_difficulty": 1},
        }
        sent = phone.post(
            "/api/v1/me/responses/",
            json=phq9,
            headers={"Authorization": f"Bearer {p['adult_token']}"},
        )
        assert sent.status_code == 201, sent.get_json()
        from app.responses.models import Alert, Response

        alerts[scope] = session.scalar(
            sa.select(Alert.id)
            .join(Response, Response.id == Alert.response_id)
            .where(Response.participant_id == p["adult"].id)
        )
        for person in ("adult", "child"):
            occurrences[(scope, person)] = session.scalar(
                sa.select(Occurrence.id)
                .where(Occurrence.participant_id == p[person].id, Occurrence.completed_at.is_(None))
                .order_by(Occurrence.opens_at)
            )
        assert alerts[scope], (
            scope,
            session.scalar(sa.select(sa.func.count()).select_from(Alert)),
            session.scalar(sa.select(sa.func.count()).select_from(Response)),
            sent.get_json(),
        )
        assert occurrences[(scope, "adult")], scope
        assert occurrences[(scope, "child")], scope
    exports = {}  # one export of each scope's site: site-scoped exporters see their own only
    for scope, p in people.items():
        slug = p["study"].slug
        made = builders[slug].post(
            f"/api/v1/studies/{slug}/exports/",
            json={
                "recovery_key": recovery_keys[slug],
                "formats": ["csv"],
                "sites": [p["site_code"]],
            },
        )
        assert made.status_code == 200, made.get_json()
        made.get_data()  # the ZIP streams: reading it to the end completes the export
        exports[scope] = made.headers["X-Chorus-Export-Id"]
    with app.app_context():
        from app.web.pwa import current_bundle

        bundle = current_bundle()
        release, asset = bundle.release, sorted(bundle.assets)[0]

    callers: dict[str, Caller] = {}
    for actor in ACTORS:
        client = app.test_client()
        headers: dict[str, str] = {}
        if actor in emails:
            signed = sign_in(client, emails[actor])
            csrf = signed.csrf
        else:
            csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        if actor == "participant":
            headers["Authorization"] = f"Bearer {people['own_site']['adult_token']}"
        if actor == "caregiver":
            headers["Authorization"] = f"Bearer {people['own_site']['carer_token']}"
        cookies = {cookie.key: cookie.value for cookie in client._cookies.values()}
        callers[actor] = Caller(cookies, headers, csrf)
    invite = participants.create_invitation(
        session,
        people["own_site"]["sibling"],
        valid_for=dt.timedelta(days=2),
        pepper="t" * 48,
        base_url="http://localhost",
        actor="test",
    )
    session.commit()

    plain = {
        scope: {
            "slug": p["study"].slug,
            "code": p["adult"].code,
            "child_code": p["child"].code,
            "sibling_code": p["sibling"].code,
            "site_code": p["site_code"],
            "caregiver_id": p["caregiver"].id,
            "device_id": p["adult_device"].id,
            "pause_id": p["adult_pause"],
            "caregiver_pause_id": p["carer_pause"],
            "schedule_id": schedules[p["study"].slug],
            "post_id": posts[scope],
            "alert_id": alerts[scope],
            "adult_id": p["adult"].id,
            "child_id": p["child"].id,
            "link": p["link"],
            "recovery_key": recovery_keys[p["study"].slug],
            "export_id": exports[scope],
        }
        for scope, p in people.items()
    }
    invite_code = invite.code

    def values(actor: str, scope: str) -> dict[str, Any]:
        carer = actor == "caregiver"
        row = plain[scope]
        return {
            **row,
            "own_pause_id": row["caregiver_pause_id"] if carer else row["pause_id"],
            "occurrence_id": occurrences[(scope, "child" if carer else "adult")],
            "person_id": row["child_id"] if carer else row["adult_id"],
            "respondent_type": "parent" if carer else "self",
            "invite": invite_code,
            "key": "daily_symptom_diary",
            "version": "1.0.0",
            "release": release,
            "name": asset,
            "static_file": "staff.css",
            "token": "not-an-invitation",
        }

    return values, callers


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.method} {e.rule}")
def test_access_matrix(world, entry):
    allowed, failures = set(), []
    for actor in ACTORS:
        for scope in SCOPES:
            status, location = run_cell(world, entry, actor, scope)
            if status >= 500:
                failures.append(f"{actor}/{scope}: {status}")
            if is_allowed(status, location, entry.method):
                allowed.add((actor, scope))
    assert failures == []
    expected = entry.expected()
    assert allowed == expected, (
        f"let through but not in the allowed set: {sorted(allowed - expected)}; "
        f"refused but allowed: {sorted(expected - allowed)}"
    )
