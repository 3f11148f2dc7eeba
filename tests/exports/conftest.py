"""A small study to export: two sites (LYON, LEEDS), a key with a data-manager holder, a LYON
coordinator, adults and a child answered for by a caregiver, three instruments, free text
that tries formula injection, and one bundle of every format shared by the real-tool tests."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import crypto
from app.exports import service as exports
from app.exports.model import ExportOptions
from app.library import service as library
from app.library.models import InstrumentVersion
from app.participants.models import Caregiver, CaregiverLink, Device, Participant, StudyInstrument
from app.responses import keys
from app.responses import service as responses
from app.studies.models import Role
from tests.conftest import make_settings
from tests.factories import make_staff, make_study

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
PASSPHRASE = "the data manager's passphrase"
SECRET = "t" * 48  # tests/conftest.py's SECRET_KEY
INJECTION = '=HYPERLINK("http://example.invalid","click")'
ALL_FORMATS = frozenset({"csv", "spss", "stata", "r", "sas", "fhir", "odm"})
PARIS = dt.timezone(dt.timedelta(hours=1))


@dataclass
class ExportWorld:
    study_id: int
    recovery_key: str
    manager_id: int
    coordinator_id: int
    lyon_codes: tuple[str, ...]
    leeds_codes: tuple[str, ...]
    finished: dict[str, list[dt.datetime]]  # participant code -> finished times (UTC)


def _device(session: Session, **holder: Any) -> Device:
    device = Device(token_hash=crypto.hash_token(crypto.new_token()), **holder)
    session.add(device)
    session.flush()
    return device


def _submit(session, device, participant, key, answers, finished, respondent="self", **kw):  # type: ignore[no-untyped-def]
    version = session.scalars(
        sa.select(InstrumentVersion.version).where(InstrumentVersion.instrument_key == key)
    ).one()
    submission = responses.Submission(
        client_uuid=uuid.uuid4(),
        participant_id=participant.id,
        instrument_key=key,
        instrument_version=version,
        respondent_type=respondent,
        language=kw.get("language", "en"),
        started_at=finished - dt.timedelta(minutes=3),
        finished_at=finished,
        answers=answers,
        hard_to_understand=tuple(kw.get("hard", ())),
    )
    responses.submit(session, device, submission, now=finished + dt.timedelta(minutes=1))


def build_world(session: Session) -> ExportWorld:
    library.publish_paths(session, [LIBRARY], actor="test")
    study = make_study(session, "cohort", sites=("LYON", "LEEDS"))
    recovery = keys.create_study_key(session, study, actor="test")
    for key, respondents in (
        ("daily_symptom_diary", "both"),
        ("phq9", "self"),
        ("taking_part_feedback", "self"),
    ):
        version = session.scalars(
            sa.select(InstrumentVersion).where(InstrumentVersion.instrument_key == key)
        ).one()
        session.add(
            StudyInstrument(
                study_id=study.id, instrument_version_id=version.id, respondents=respondents
            )
        )
    manager = make_staff(session, "dm@example.org", study=study, role=Role.DATA_MANAGER)
    coordinator = make_staff(
        session, "lyon@example.org", study=study, role=Role.SITE_COORDINATOR, site_code="LYON"
    )
    keys.add_holder(
        session,
        study,
        existing=keys.HolderCredential("recovery", recovery),
        new_holder=manager,
        new_passphrase=PASSPHRASE,
        actor="test",
    )
    sites = {s.code: s for s in study.sites}

    def participant(code: str, site: str, age_band: str, zone: str) -> Participant:
        p = Participant(
            study_id=study.id,
            site_id=sites[site].id,
            code=code,
            time_zone=zone,
            language="en",
            age_band=age_band,
            arm="A" if code.endswith("1") else "B",
        )
        session.add(p)
        session.flush()
        return p

    ly1 = participant("LY-001", "LYON", "adult", "Europe/Paris")
    ly2 = participant("LY-002", "LYON", "child", "Europe/Paris")
    le1 = participant("LE-001", "LEEDS", "adult", "Europe/London")
    carer = Caregiver(language="en", time_zone="Europe/Paris")
    session.add(carer)
    session.flush()
    session.add(
        CaregiverLink(caregiver_id=carer.id, participant_id=ly2.id, caregiver_role="parent")
    )
    d_ly1 = _device(session, participant_id=ly1.id)
    d_le1 = _device(session, participant_id=le1.id)
    d_carer = _device(session, caregiver_id=carer.id)
    session.commit()

    finished: dict[str, list[dt.datetime]] = {"LY-001": [], "LY-002": [], "LE-001": []}
    base = dt.datetime(2026, 3, 27, 19, 30, tzinfo=PARIS)  # days around the spring DST change
    for day in range(3):
        when = base + dt.timedelta(days=day, hours=day)
        _submit(
            session,
            d_ly1,
            ly1,
            "daily_symptom_diary",
            {
                "fatigue": 3 + day,
                "pain": day,
                **({"pain_where": ["head", "back"]} if day else {}),
                "sleep": ["well", "ok", "badly"][day],
                "mood": "good",
                "anything_else": INJECTION if day == 0 else f'-{day} better; "quoted", comma',
            },
            when,
            hard=("pain",) if day == 1 else (),
        )
        finished["LY-001"].append(when.astimezone(dt.UTC))
    when = dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC)
    _submit(
        session,
        d_ly1,
        ly1,
        "phq9",
        {f"phq9_{i}": i % 4 for i in range(1, 10)} | {"phq9_difficulty": 1},
        when,
    )
    finished["LY-001"].append(when)
    when = dt.datetime(2026, 4, 1, 17, 0, tzinfo=dt.UTC)
    _submit(
        session,
        d_carer,
        ly2,
        "daily_symptom_diary",
        {"fatigue": 7, "pain": 0, "sleep": "very_badly", "mood": "low"},
        when,
        respondent="parent",
        language="fr",
    )
    finished["LY-002"].append(when)
    for day, when in enumerate(
        (
            dt.datetime(2026, 5, 10, 8, 15, tzinfo=dt.UTC),
            dt.datetime(2026, 5, 20, 8, 15, tzinfo=dt.UTC),
        )
    ):
        _submit(
            session,
            d_le1,
            le1,
            "phq9",
            {f"phq9_{i}": (i + day) % 4 for i in range(1, 10)} | {"phq9_difficulty": 2},
            when,
        )
        finished["LE-001"].append(when)
    when = dt.datetime(2026, 5, 21, 10, 0, tzinfo=dt.UTC)
    _submit(
        session,
        d_le1,
        le1,
        "taking_part_feedback",
        {
            "had_visit": True,
            "travel_minutes": 95,
            "time_off": "part_day",
            "unpaid_costs": False,
            "overall_burden": 4,
            "what_would_help": ["closer_visits", "travel_costs"],
            "ideas": "@SUM(A1:A9)",
        },
        when,
    )
    finished["LE-001"].append(when)
    session.commit()
    return ExportWorld(
        study.id,
        recovery,
        manager.id,
        coordinator.id,
        ("LY-001", "LY-002"),
        ("LE-001",),
        finished,
    )


def run_export(session: Session, user, credential, request, channel="cli") -> tuple[bytes, Any]:  # type: ignore[no-untyped-def]
    """Prepare, commit, stream into memory (as a client would), as the edges do."""
    prepared = exports.prepare(
        session,
        user=user,
        credential=credential,
        request=request,
        deid_key=exports.deidentification_key(SECRET),
        channel=channel,
    )
    session.commit()
    data = b"".join(prepared.chunks(session.commit))
    return data, prepared


@pytest.fixture
def export_world(db_session: Session) -> ExportWorld:
    return build_world(db_session)


@dataclass
class Bundle:
    folder: Path
    zip_bytes: bytes
    manifest_sha256: str
    world: ExportWorld
    progress: tuple[int, int]


@pytest.fixture(scope="session")
def full_bundle(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """One export of every format (identified, codes, comma), extracted for the real tools."""
    from app.accounts.models import StaffUser

    folder = tmp_path_factory.mktemp("export-bundle")
    database = folder / "db.sqlite3"
    shutil.copy(migrated_sqlite, database)
    make_settings(f"sqlite:///{database}", folder / "instance")  # the same settings tests use
    engine = sa.create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        world = build_world(session)
        manager = session.get(StaffUser, world.manager_id)
        data, prepared = run_export(
            session,
            manager,
            keys.HolderCredential("staff", PASSPHRASE, manager),
            exports.ExportRequest("cohort", ExportOptions(formats=ALL_FORMATS)),
        )
        progress = (prepared.progress.done, prepared.progress.total)
        sha = prepared.result.manifest_sha256
    engine.dispose()
    out = folder / "unzipped"
    zipfile.ZipFile(io.BytesIO(data)).extractall(out)
    return Bundle(out, data, sha, world, progress)
