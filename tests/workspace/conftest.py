from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.workspace.world import World, build


@pytest.fixture
def world(db_session: Session) -> World:
    return build(db_session)
