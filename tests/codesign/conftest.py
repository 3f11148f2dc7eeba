"""A co-design world: a study with a published diary, two patient-group authors, a site
coordinator, a data manager and a member of another study. Services run in a real
transaction (``session``), committed or rolled back by each test as the edges do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import StaffUser
from app.library import service as library
from app.library.models import InstrumentVersion
from app.studies.models import Role, Study
from tests.factories import make_staff, make_study

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
DIARY = LIBRARY / "daily_symptom_diary.yaml"


@dataclass
class World:
    study: Study
    diary: InstrumentVersion
    author: StaffUser
    author2: StaffUser
    coordinator: StaffUser
    data_manager: StaffUser
    outsider: StaffUser


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def world(session: Session) -> World:
    library.publish_paths(session, [DIARY], actor="test")
    session.commit()
    study = make_study(session, "codesign")
    other = make_study(session, "other")
    world = World(
        study=study,
        diary=session.scalars(sa.select(InstrumentVersion)).one(),
        author=make_staff(session, "pat@example.org", study=study, role=Role.PATIENT_GROUP_AUTHOR),
        author2=make_staff(session, "sam@example.org", study=study, role=Role.PATIENT_GROUP_AUTHOR),
        coordinator=make_staff(
            session, "cora@example.org", study=study, role=Role.SITE_COORDINATOR, site_code="A"
        ),
        data_manager=make_staff(session, "dm@example.org", study=study, role=Role.DATA_MANAGER),
        outsider=make_staff(
            session, "out@example.org", study=other, role=Role.PATIENT_GROUP_AUTHOR
        ),
    )
    for user in (
        world.author,
        world.author2,
        world.coordinator,
        world.data_manager,
        world.outsider,
    ):
        # Loaded now, so a test handing these users to its own sessions never lazy-loads through
        # this one (on SQLite that would hold the write lock the other sessions need).
        assert list(user.memberships)
    session.commit()
    return world
