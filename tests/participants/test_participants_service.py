"""Enrolment, invitations, redemption and devices, at the service level on both engines."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, TooManyAttempts
from app.participants import service as participants
from app.participants.models import Device, Invitation, Participant
from tests.factories import (
    PEPPER,
    make_caregiver,
    make_device,
    make_participant,
    make_study,
    site,
)
from tests.participants.helpers import count, publish_library, stored_text

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def invite(session: Session, holder, *, days: float = 7, now: dt.datetime = NOW):  # type: ignore[no-untyped-def]
    issued = participants.create_invitation(
        session,
        holder,
        valid_for=dt.timedelta(days=days),
        pepper=PEPPER,
        base_url="https://chorus.example.org",
        actor="cli",
        now=now,
    )
    session.commit()
    return issued


def redeem(session: Session, *, ip: str = "198.51.100.7", now: dt.datetime = NOW, **secret):  # type: ignore[no-untyped-def]
    return participants.redeem(
        session, device_label="Sam's phone", client_ip=ip, pepper=PEPPER, now=now, **secret
    )


# ── Enrolment ─────────────────────────────────────────────────────────────────────────────


def test_enrol_stores_the_age_band_and_audits(db_session):
    study = make_study(db_session)
    p = participants.enroll(
        db_session,
        study,
        site(study, "A"),
        code="A-0001",
        time_zone="Europe/Paris",
        language="fr",
        date_of_birth=dt.date(2016, 5, 2),
        nickname="Léa",
        colour="#1F77B4",
        actor="staff:3",
        today=dt.date(2026, 3, 10),
    )
    db_session.commit()
    assert (p.age_band, p.status, p.colour) == ("child", "active", "#1f77b4")
    event = db_session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "participant.enrolled")
    )
    assert event.actor == "staff:3" and event.target == f"participant:{p.id}"


@pytest.mark.parametrize(
    ("dob", "band"),
    [
        (dt.date(2014, 3, 11), "child"),  # 11 until tomorrow
        (dt.date(2014, 3, 10), "adolescent"),  # 12 today
        (dt.date(2008, 3, 11), "adolescent"),
        (dt.date(2008, 3, 10), "adult"),
    ],
)
def test_age_band_boundaries(dob, band):
    assert participants.age_band_on(dob, dt.date(2026, 3, 10)) == band


def test_date_of_birth_is_not_stored_anywhere(db_session):
    study = make_study(db_session)
    participants.enroll(
        db_session,
        study,
        site(study, "A"),
        code="A-0002",
        time_zone="Europe/Paris",
        language="fr",
        date_of_birth=dt.date(2013, 7, 29),
        actor="test",
    )
    db_session.commit()
    text = stored_text(db_session)
    for form in ("2013-07-29", "2013, 7, 29", "29/07/2013", "20130729"):
        assert form not in text


def test_duplicate_code_in_a_study_is_a_conflict_and_changes_nothing(db_session):
    study = make_study(db_session)
    make_participant(db_session, study, "A-1")
    events = count(db_session, AuditEvent)
    with pytest.raises(Conflict, match="already has a participant with code 'A-1'"):
        make_participant(db_session, study, "A-1", site_code="B")
    db_session.rollback()
    assert count(db_session, Participant) == 1
    assert count(db_session, AuditEvent) == events
    # The same code in another study is fine.
    make_participant(db_session, make_study(db_session, "other"), "A-1")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Europe/Pariss"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),
        ({"language": "French"}, "language"),
        ({"code": "no spaces please"}, "code"),
        ({"colour": "blue"}, "colour"),
        ({"age_band": "toddler"}, "age_band"),
        ({"date_of_birth": dt.date(2100, 1, 1), "age_band": None}, "date_of_birth"),
        ({"date_of_birth": dt.date(2000, 1, 1)}, "age_band"),  # both given
    ],
)
def test_invalid_fields_are_named(db_session, changes, field):
    study = make_study(db_session)
    args = {
        "code": "A-1",
        "time_zone": "Europe/Paris",
        "language": "fr",
        "age_band": "adult",
        **changes,
    }
    with pytest.raises(Invalid) as raised:
        participants.enroll(db_session, study, site(study, "A"), actor="test", **args)
    assert field in raised.value.errors
    db_session.rollback()
    assert count(db_session, Participant) == 0


# ── Invitations ───────────────────────────────────────────────────────────────────────────


def test_invitation_link_puts_the_token_in_the_fragment_and_the_code_is_typable(db_session):
    study = make_study(db_session)
    issued = invite(db_session, make_participant(db_session, study))
    assert issued.link.startswith("https://chorus.example.org/app/#join=")
    assert len(participants.token_from_link(issued.link)) >= 43
    assert len(issued.code) == 12 and issued.code[4] == issued.code[9] == "-"
    assert not set(issued.code.replace("-", "")) & set("ILOU")
    assert issued.expires_at == NOW + dt.timedelta(days=7)


def test_token_and_code_are_not_stored_in_clear(db_session):
    study = make_study(db_session)
    issued = invite(db_session, make_participant(db_session, study))
    token = participants.token_from_link(issued.link)
    _device, device_token = redeem(db_session, code=issued.code)
    db_session.commit()
    text = stored_text(db_session)
    for secret in (token, issued.code, issued.code.replace("-", ""), device_token):
        assert secret not in text
    row = db_session.scalar(sa.select(Invitation))
    # The short code is keyed with the server pepper: its plain SHA-256 is not what is stored.
    import hashlib

    assert row.code_hash != hashlib.sha256(issued.code.replace("-", "").encode()).hexdigest()
    assert row.code_hash == participants.hash_invitation_code(issued.code, PEPPER)
    assert row.code_hash != participants.hash_invitation_code(issued.code, "x" * 48)


def test_code_is_read_forgivingly(db_session):
    study = make_study(db_session)
    p = make_participant(db_session, study)
    issued = invite(db_session, p)
    typed = f"  {issued.code.lower().replace('-', ' ').replace('0', 'o').replace('1', 'l')} "
    device, _token = redeem(db_session, code=typed)
    assert device.participant_id == p.id


def test_invitation_is_single_use(db_session):
    study = make_study(db_session)
    issued = invite(db_session, make_participant(db_session, study))
    redeem(db_session, code=issued.code)
    db_session.commit()
    with pytest.raises(participants.InvitationRefused):
        redeem(db_session, code=issued.code)
    with pytest.raises(participants.InvitationRefused):
        redeem(db_session, token=participants.token_from_link(issued.link))
    db_session.commit()
    assert count(db_session, Device) == 1


def test_invitation_expires(db_session):
    study = make_study(db_session)
    issued = invite(db_session, make_participant(db_session, study), days=1)
    later = NOW + dt.timedelta(days=1, seconds=1)
    with pytest.raises(participants.InvitationRefused) as expired:
        redeem(db_session, code=issued.code, now=later)
    with pytest.raises(participants.InvitationRefused) as unknown:
        redeem(db_session, code="ABCD-EFGH-JK", now=later)
    assert expired.value.message == unknown.value.message
    device, _ = redeem(db_session, code=issued.code, now=later - dt.timedelta(seconds=2))
    assert device.id


def test_a_new_invitation_replaces_the_unused_one(db_session):
    study = make_study(db_session)
    p = make_participant(db_session, study)
    first = invite(db_session, p)
    second = invite(db_session, p)
    with pytest.raises(participants.InvitationRefused):
        redeem(db_session, code=first.code)
    assert redeem(db_session, code=second.code)[0].participant_id == p.id


def test_concurrent_double_redeem_yields_one_device(db_session, database_url):
    study = make_study(db_session)
    issued = invite(db_session, make_participant(db_session, study))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        engine = sa.create_engine(database_url)
        try:
            with Session(engine) as session:
                barrier.wait()
                try:
                    redeem(session, code=issued.code)
                    session.commit()
                    outcomes.append("device")
                except participants.InvitationRefused:
                    session.commit()
                    outcomes.append("refused")
        finally:
            engine.dispose()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["device", "refused"]
    assert count(db_session, Device) == 1


def test_code_guessing_is_locked_out_per_address_with_one_message(db_session):
    study = make_study(db_session)
    issued = invite(db_session, make_participant(db_session, study))
    messages = set()
    policy = participants.RedeemThrottle(max_failures=3)
    for guess in ("ABCD-EFGH-JK", "ZZZZ-ZZZZ-ZZ", "2345-6789-AB"):
        with pytest.raises(participants.InvitationRefused) as refused:
            participants.redeem(
                db_session,
                code=guess,
                device_label=None,
                client_ip="203.0.113.9",
                pepper=PEPPER,
                now=NOW,
                policy=policy,
            )
        db_session.commit()
        messages.add(refused.value.message)
    assert len(messages) == 1
    # Locked out now, even with the right code, and without saying whether it was right.
    with pytest.raises(TooManyAttempts) as locked:
        redeem(db_session, code=issued.code, ip="203.0.113.9")
    assert "Try again in 15 minutes" in locked.value.message
    assert locked.value.headers["Retry-After"]
    # Another address is unaffected; and the lock lifts after the window.
    assert redeem(db_session, code=issued.code, ip="203.0.113.10")[0].id
    stored = stored_text(db_session)
    assert "203.0.113.9" not in stored


def test_malformed_code_gets_a_format_hint(db_session):
    with pytest.raises(Invalid) as raised:
        redeem(db_session, code="12345")
    assert "10 letters and digits" in raised.value.errors["code"][0]


# ── Devices ───────────────────────────────────────────────────────────────────────────────


def test_device_authenticates_until_revoked_and_last_seen_is_coarse(db_session):
    study = make_study(db_session)
    device, token = make_device(db_session, make_participant(db_session, study))
    seen = device.last_seen_at
    assert participants.authenticate_device(db_session, token, seen + dt.timedelta(seconds=30))
    assert device.last_seen_at == seen
    later = seen + dt.timedelta(minutes=2)
    assert participants.authenticate_device(db_session, token, later) is device
    assert device.last_seen_at == later
    assert participants.authenticate_device(db_session, "not-a-token", later) is None
    participants.revoke_device(db_session, device, actor="cli", reason="lost phone")
    db_session.commit()
    assert participants.authenticate_device(db_session, token, later) is None
    event = db_session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "device.revoked"))
    assert event.reason == "lost phone" and token not in repr(event.details)


def test_withdrawal_revokes_devices_and_invitations_and_keeps_the_participant(db_session):
    study = make_study(db_session)
    p = make_participant(db_session, study)
    _device, token = make_device(db_session, p)
    issued = invite(db_session, p)
    participants.withdraw(db_session, p, reason="moved away", actor="staff:1")
    db_session.commit()
    assert participants.authenticate_device(db_session, token, utcnow()) is None
    with pytest.raises(participants.InvitationRefused):
        redeem(db_session, code=issued.code)
    db_session.rollback()
    assert db_session.get(Participant, p.id).status == "withdrawn"
    with pytest.raises(Conflict):
        invite(db_session, p)


def test_pause_and_resume(db_session):
    study = make_study(db_session)
    p = make_participant(db_session, study)
    participants.pause(
        db_session, p, dt.date(2026, 3, 14), "in hospital", "staff:1", today=dt.date(2026, 3, 10)
    )
    assert participants.is_paused(p, dt.date(2026, 3, 14))
    assert not participants.is_paused(p, dt.date(2026, 3, 15))
    with pytest.raises(Invalid):
        participants.pause(
            db_session, p, dt.date(2026, 3, 9), None, "x", today=dt.date(2026, 3, 10)
        )
    participants.resume(db_session, p, "staff:1")
    assert p.status == "active" and p.paused_until is None


# ── Caregivers and who a device answers for ───────────────────────────────────────────────


def test_caregiver_sees_exactly_their_children_across_studies_as_proxy(db_session):
    one, two = make_study(db_session, "one"), make_study(db_session, "two")
    lea = make_participant(db_session, one, "C-1", age_band="child", nickname="Léa")
    sam = make_participant(db_session, two, "C-2", age_band="adolescent", nickname="Sam")
    other = make_participant(db_session, one, "C-3", age_band="child")
    gone = make_participant(db_session, two, "C-4", age_band="child")
    carer = make_caregiver(db_session, lea, sam, gone)
    make_caregiver(db_session, other)
    participants.withdraw(db_session, gone, reason=None, actor="test")
    db_session.commit()
    device, _ = make_device(db_session, carer)
    people = participants.people_for_device(db_session, device)
    assert [(p.participant.code, p.respondent, p.caregiver_role) for p in people] == [
        ("C-1", "proxy", "parent"),
        ("C-2", "proxy", "parent"),
    ]
    assert {p.participant.study.slug for p in people} == {"one", "two"}
    assert participants.person_for_device(db_session, device, sam.id).answered_by == "parent"
    with pytest.raises(Forbidden):
        participants.person_for_device(db_session, device, other.id)
    participants.unlink_caregiver(db_session, carer, sam, reason=None, actor="test")
    assert [p.participant.code for p in participants.people_for_device(db_session, device)] == [
        "C-1"
    ]


def test_linking_twice_is_a_conflict(db_session):
    study = make_study(db_session)
    child = make_participant(db_session, study, age_band="child")
    carer = make_caregiver(db_session, child)
    with pytest.raises(Conflict):
        participants.link_caregiver(db_session, carer, child, "parent", "test")
    with pytest.raises(Invalid):
        participants.link_caregiver(db_session, carer, child, "aunt", "test")


def test_participant_device_answers_for_themselves(db_session):
    study = make_study(db_session)
    p = make_participant(db_session, study)
    device, _ = make_device(db_session, p)
    [person] = participants.people_for_device(db_session, device)
    assert (person.participant.id, person.respondent, person.answered_by) == (p.id, "self", "self")


def test_available_instruments_follow_respondent_and_age_band(db_session):
    study = make_study(db_session)
    versions = publish_library(db_session)
    participants.assign_instrument(db_session, study, versions["daily_symptom_diary"], "both", "t")
    participants.assign_instrument(db_session, study, versions["phq9"], "self", "t")
    participants.assign_instrument(
        db_session, study, versions["child_weekly_wellbeing"], "proxy", "t"
    )
    with pytest.raises(Invalid) as refused:
        participants.assign_instrument(db_session, study, versions["gad7"], "both", "t")
    assert "has no proxy wording" in refused.value.errors["respondents"][0]
    with pytest.raises(Conflict):
        participants.assign_instrument(db_session, study, versions["phq9"], "self", "t")
    db_session.commit()

    def keys(band: str, respondent: str) -> list[str]:
        p = Participant(study_id=study.id, age_band=band)
        return [
            row.instrument_version.instrument_key
            for row in participants.available_instruments(db_session, p, respondent)
        ]

    assert keys("adult", "self") == ["daily_symptom_diary", "phq9"]
    assert keys("adult", "proxy") == []
    assert keys("child", "self") == []
    assert keys("child", "proxy") == ["daily_symptom_diary", "child_weekly_wellbeing"]
    assert keys("adolescent", "self") == ["daily_symptom_diary", "phq9"]
    assert keys("adolescent", "proxy") == ["daily_symptom_diary", "child_weekly_wellbeing"]


def test_enrolling_without_an_age_says_what_is_missing(db_session):
    """#11: it used to answer "Give either a date of birth or an age band, not both"."""
    study = make_study(db_session)
    common = dict(code="P-9", time_zone="Europe/Paris", language="fr", actor="test")
    with pytest.raises(Invalid) as missing:
        participants.enroll(db_session, study, site(study, "A"), **common)
    assert missing.value.errors["age_band"] == [
        "Missing: give the participant's age band (child, adolescent or adult) or their date of birth."
    ]
    with pytest.raises(Invalid) as both:
        participants.enroll(
            db_session,
            study,
            site(study, "A"),
            date_of_birth=dt.date(2000, 1, 1),
            age_band="adult",
            **common,
        )
    assert "not both" in both.value.errors["age_band"][0]
    assert count(db_session, Participant) == 0
