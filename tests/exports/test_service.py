"""The export service on both engines: who may export what, unlocking, audit, history,
de-identification and progress."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import zipfile

import pytest
import sqlalchemy as sa
import sqlalchemy.orm

from app.accounts.models import StaffUser
from app.audit.models import AuditEvent
from app.errors import Forbidden
from app.exports import engine as export_engine
from app.exports import service as exports
from app.exports.deid import Deidentifier
from app.exports.model import ExportOptions, Profile
from app.exports.models import ExportRecord
from app.responses import keys
from tests.exports.conftest import PASSPHRASE, SECRET, run_export


def _rows(data: bytes, path: str, delimiter: str = ",") -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        text = bundle.read(path).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def _manager(db_session, world):
    return db_session.get(StaffUser, world.manager_id)


def _coordinator(db_session, world):
    return db_session.get(StaffUser, world.coordinator_id)


def _actions(db_session) -> list[str]:
    return list(db_session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def _request(**kw) -> exports.ExportRequest:
    options = kw.pop("options", ExportOptions())
    return exports.ExportRequest("cohort", options, **kw)


def test_a_wrong_passphrase_exports_nothing_and_is_audited(db_session, export_world):
    manager = _manager(db_session, export_world)
    with pytest.raises(keys.KeyUnlockFailed):
        exports.prepare(
            db_session,
            user=manager,
            credential=keys.HolderCredential("staff", "not the passphrase at all", manager),
            request=_request(),
            deid_key=exports.deidentification_key(SECRET),
            channel="cli",
        )
    db_session.commit()  # as every edge does: keep the failed attempt
    assert _actions(db_session)[-1] == "study_key.unlock_failed"
    assert "export.started" not in _actions(db_session)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 0


def test_export_is_audited_before_the_first_byte_and_after_the_last(
    db_session, export_world, monkeypatch, database_url
):
    monkeypatch.setattr(export_engine, "CHUNK", 1)  # hand on every row as it is written
    monkeypatch.setattr(exports, "PROGRESS_EVERY_SECONDS", 0.0)
    manager = _manager(db_session, export_world)
    prepared = exports.prepare(
        db_session,
        user=manager,
        credential=keys.HolderCredential("staff", PASSPHRASE, manager),
        request=_request(),
        deid_key=exports.deidentification_key(SECRET),
        channel="api",
    )
    db_session.commit()
    chunks = prepared.chunks(db_session.commit)
    first = next(chunks)
    assert first.startswith(b"PK")
    while prepared.progress.done < 2:
        first += next(chunks)
    # What another web worker sees while this one streams: its own connection and session.
    elsewhere = sa.orm.Session(sa.create_engine(database_url))
    started = elsewhere.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "export.started")
    ).one()
    assert started.actor == f"staff:{manager.id}"
    assert started.details["responses"] == 8
    assert started.details["sites"] == ["LEEDS", "LYON"]
    assert started.details["profile"] == "none"
    assert "export.completed" not in _actions(elsewhere)
    seen = exports.progress_of(elsewhere, elsewhere.get(StaffUser, manager.id), prepared.export_id)
    assert seen.status == "running" and 0 < seen.progress_done < seen.progress_total
    elsewhere.close()
    elsewhere.get_bind().dispose()
    data = first + b"".join(chunks)
    completed = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "export.completed")
    ).one()
    assert completed.details["manifest_sha256"] == prepared.result.manifest_sha256
    record = db_session.get(ExportRecord, prepared.export_id)
    db_session.refresh(record)
    assert record.status == "completed" and record.zip_bytes == len(data)
    assert record.progress_done == record.progress_total == 8  # one pass feeds wide and long
    assert [r.id for r in exports.history(db_session, manager, record_study(db_session))] == [
        record.id
    ]


def record_study(db_session):
    from app.studies.models import Study

    return db_session.scalars(sa.select(Study).where(Study.slug == "cohort")).one()


def test_a_lyon_coordinator_exports_nothing_of_leeds(db_session, export_world):
    coordinator = _coordinator(db_session, export_world)
    recovery = keys.HolderCredential("recovery", export_world.recovery_key)
    for refused in (
        _request(sites=("LEEDS",)),
        _request(sites=("LYON", "LEEDS")),
        _request(profile=Profile.NONE),  # identified data is not for this role
    ):
        before = _actions(db_session)
        with pytest.raises(Forbidden):
            exports.prepare(
                db_session,
                user=coordinator,
                credential=recovery,
                request=refused,
                deid_key=exports.deidentification_key(SECRET),
                channel="api",
            )
        db_session.rollback()
        assert _actions(db_session) == before  # not even unlocked
    data, prepared = run_export(db_session, coordinator, recovery, _request())
    rows = _rows(data, "data/daily_symptom_diary-1.0.0.csv") + _rows(data, "data/phq9-1.1.0.csv")
    assert {r["site"] for r in rows} == {"LYON"}
    assert len(rows) == 5  # LYON's diaries and PHQ-9; LEEDS's two PHQ-9 are absent
    assert all(r["participant"].startswith("P-") for r in rows)  # de-identified by default
    assert _rows(data, "data/taking_part_feedback-1.0.0.csv") == []
    assert prepared.record.profile == "shifted"
    assert prepared.result.manifest["parameters"]["sites"] == ["LYON"]


def test_a_coordinator_cannot_use_a_holder_passphrase_route(db_session, export_world):
    coordinator = _coordinator(db_session, export_world)
    with pytest.raises(Forbidden):  # coordinators hold no study key
        exports.prepare(
            db_session,
            user=coordinator,
            credential=keys.HolderCredential("staff", PASSPHRASE, coordinator),
            request=_request(profile=Profile.SHIFTED),
            deid_key=exports.deidentification_key(SECRET),
            channel="api",
        )


def _finished_by_participant(rows) -> dict[str, list[dt.datetime]]:
    out: dict[str, list[dt.datetime]] = {}
    for r in rows:
        out.setdefault(r["participant"], []).append(dt.datetime.fromisoformat(r["finished_utc"]))
    return {k: sorted(v) for k, v in out.items()}


def test_shifted_dates_keep_every_interval_and_pseudonyms_are_stable(db_session, export_world):
    manager = _manager(db_session, export_world)
    credential = keys.HolderCredential("staff", PASSPHRASE, manager)
    request = _request(profile=Profile.SHIFTED)
    data, _ = run_export(db_session, manager, credential, request)
    again, _ = run_export(db_session, manager, credential, request)
    names = [
        f"data/{stem}.csv"
        for stem in ("daily_symptom_diary-1.0.0", "phq9-1.1.0", "taking_part_feedback-1.0.0")
    ]
    rows = [r for name in names for r in _rows(data, name)]
    shifted = _finished_by_participant(rows)
    assert _finished_by_participant([r for n in names for r in _rows(again, n)]) == shifted
    deid = Deidentifier(
        Profile.SHIFTED, exports.deidentification_key(SECRET), export_world.study_id
    )
    original = export_world.finished
    assert len(shifted) == len(original) == 3
    from app.participants.models import Participant

    for code, moments in original.items():
        participant = db_session.scalars(
            sa.select(Participant).where(Participant.code == code)
        ).one()
        pseudonym = deid.participant(participant.id, code)
        assert pseudonym != code and pseudonym in shifted
        got = shifted[pseudonym]
        wanted = sorted(moments)
        intervals = [b - a for a, b in itertools.pairwise(wanted)]
        assert [b - a for a, b in itertools.pairwise(got)] == intervals
        shift = wanted[0] - got[0]
        assert shift == dt.timedelta(days=deid.shift_days(participant.id))
        assert dt.timedelta(0) <= shift <= dt.timedelta(days=364)
    for row in rows:
        assert "anything_else" not in row and "ideas" not in row  # free text dropped
        assert row["participant"] not in {"LY-001", "LY-002", "LE-001"}
    long_values = {r["value"] for r in _rows(data, "data/long.csv")}
    assert not any("HYPERLINK" in v or "SUM" in v for v in long_values)


def test_year_profile_keeps_only_years(db_session, export_world):
    manager = _manager(db_session, export_world)
    data, prepared = run_export(
        db_session,
        manager,
        keys.HolderCredential("staff", PASSPHRASE, manager),
        _request(profile=Profile.YEAR, options=ExportOptions(formats=frozenset({"csv", "fhir"}))),
    )
    rows = _rows(data, "data/phq9-1.1.0.csv")
    assert {r["finished_utc"] for r in rows} == {"2026"}
    assert {r["started_local"] for r in rows} == {"2026"}
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        fhir = bundle.read("fhir/QuestionnaireResponse.ndjson").decode()
    assert '"authored": "2026"' in fhir
    assert prepared.result.manifest["deidentification"]["dropped_items"] == {
        "daily_symptom_diary-1.0.0": ["anything_else"],
        "taking_part_feedback-1.0.0": ["ideas"],
    }


def test_choices_labels_semicolons_decimal_commas_bom_and_filters(db_session, export_world):
    manager = _manager(db_session, export_world)
    options = ExportOptions(labels="labels", language="fr", delimiter=";", decimal=",", bom=True)
    data, prepared = run_export(
        db_session,
        manager,
        keys.HolderCredential("staff", PASSPHRASE, manager),
        _request(
            options=options,
            instruments=("daily_symptom_diary@1.0.0",),
            since=dt.date(2026, 3, 28),
            until=dt.date(2026, 4, 1),
        ),
    )
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert sorted(n for n in bundle.namelist() if n.startswith("data/")) == [
            "data/daily_symptom_diary-1.0.0.csv",
            "data/long.csv",
        ]
        assert bundle.read("data/long.csv").startswith(b"\xef\xbb\xbf")
    rows = _rows(data, "data/daily_symptom_diary-1.0.0.csv", ";")
    assert len(rows) == 3  # 28 and 29 March, and the caregiver's 1 April
    assert {r["sleep"] for r in rows} == {"Moyennement", "Mal", "Très mal"}
    assert {r["score_symptom_burden"] for r in rows} >= {"3,5"} or any(
        "," in r["score_symptom_burden"] for r in rows
    )
    assert prepared.result.manifest["parameters"]["since"] == "2026-03-28"


def test_export_scope_follows_the_role():
    from dataclasses import dataclass

    from app import access
    from app.studies.models import Role

    @dataclass
    class M:
        study_id: int
        site_id: int | None
        role: str

    coordinator = [M(1, 10, Role.SITE_COORDINATOR.value)]
    manager = [M(1, None, Role.DATA_MANAGER.value)]
    author = [M(1, None, Role.PATIENT_GROUP_AUTHOR.value)]
    assert access.export_scope(coordinator, 1, identified=False) == frozenset({10})
    assert access.export_scope(coordinator, 1, identified=True) == frozenset()
    assert access.export_scope(manager, 1, identified=True) is access.ALL_SITES
    assert access.export_scope(author, 1, identified=False) == frozenset()
    assert access.export_scope(manager, 2, identified=False) == frozenset()


def test_every_format_opens_for_a_small_deidentified_export(db_session, export_world, tmp_path):
    """A coordinator's bundle: one version with no LYON rows, items nobody answered."""
    import json

    import pyreadstat
    import xmlschema

    from tests.exports.conftest import ALL_FORMATS
    from tests.exports.test_formats import ODM_XSD

    coordinator = _coordinator(db_session, export_world)
    data, _prepared = run_export(
        db_session,
        coordinator,
        keys.HolderCredential("recovery", export_world.recovery_key),
        _request(profile=Profile.YEAR, options=ExportOptions(formats=ALL_FORMATS)),
    )
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    empty, meta = pyreadstat.read_dta(str(tmp_path / "native/taking_part_feedback-1.0.0.dta"))
    assert len(empty) == 0 and meta.readstat_variable_types["travel_minutes"] == "double"
    frame, meta = pyreadstat.read_dta(str(tmp_path / "native/phq9-1.1.0.dta"))
    assert meta.readstat_variable_types["phq9_difficulty"] == "double"
    assert set(frame["finished_utc"]) == {2026.0}  # a year is a number in .dta
    xmlschema.XMLSchema(str(ODM_XSD.resolve())).validate(str(tmp_path / "odm/study.xml"))
    lines = (tmp_path / "fhir/QuestionnaireResponse.ndjson").read_text().splitlines()
    assert len(lines) == 5 and all('"P-' in line for line in lines)
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"]["responses"] == 5


def test_a_label_language_no_instrument_has_is_refused(db_session, export_world):
    from app.errors import Invalid

    manager = _manager(db_session, export_world)
    with pytest.raises(Invalid) as refused:
        exports.prepare(
            db_session,
            user=manager,
            credential=keys.HolderCredential("staff", PASSPHRASE, manager),
            request=_request(options=ExportOptions(language="xx")),
            deid_key=exports.deidentification_key(SECRET),
            channel="cli",
        )
    assert "language" in refused.value.errors
