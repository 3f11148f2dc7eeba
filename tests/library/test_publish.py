"""Publishing instrument versions: immutable, content-hashed, all or nothing."""

import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.errors import Conflict
from app.instruments.canonical import content_hash
from app.library import service as library
from app.library.models import InstrumentVersion
from app.library.service import InvalidInstrumentFiles, PublishStatus

LIBRARY = Path(__file__).resolve().parents[2] / "instruments"
SHIPPED = sorted(p.name for p in LIBRARY.glob("*.yaml"))


@pytest.fixture
def library_copy(tmp_path):
    folder = tmp_path / "instruments"
    shutil.copytree(LIBRARY, folder)
    return folder


def count_versions(session):
    return session.scalar(sa.select(sa.func.count()).select_from(InstrumentVersion))


def test_publishing_the_library_twice_publishes_once(db_session, library_copy):
    first = library.publish_paths(db_session, [library_copy], actor="test")
    db_session.commit()
    assert {r.status for r in first} == {PublishStatus.PUBLISHED}
    assert len(first) == len(SHIPPED) >= 5
    again = library.publish_paths(db_session, [library_copy], actor="test")
    db_session.commit()
    assert {r.status for r in again} == {PublishStatus.UNCHANGED}
    assert count_versions(db_session) == len(SHIPPED)
    actions = db_session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("instrument.published") == len(SHIPPED)


def test_editing_a_published_version_without_a_new_version_is_refused(db_session, library_copy):
    library.publish_paths(db_session, [library_copy], actor="test")
    db_session.commit()
    phq9 = library_copy / "phq9.yaml"
    phq9.write_text(
        phq9.read_text().replace(
            "Little interest or pleasure in doing things", "Little interest in doing things"
        )
    )
    with pytest.raises(Conflict) as refused:
        library.publish_paths(db_session, [library_copy], actor="test")
    db_session.rollback()
    message = refused.value.message
    assert "phq9 1.1.0 is already published with different content" in message
    assert "new `version:` (e.g. 1.1.1)" in message
    assert count_versions(db_session) == len(SHIPPED)


def test_bumping_the_version_publishes_the_edit_beside_the_old_one(db_session, library_copy):
    library.publish_paths(db_session, [library_copy], actor="test")
    db_session.commit()
    phq9 = library_copy / "phq9.yaml"
    phq9.write_text(
        phq9.read_text()
        .replace('version: "1.1.0"', 'version: "1.1.1"')
        .replace("Several days", "Some days")
    )
    results = {
        r.label: r.status for r in library.publish_paths(db_session, [library_copy], actor="test")
    }
    db_session.commit()
    assert results["phq9 1.1.1"] is PublishStatus.PUBLISHED
    old, old_model = library.get_version(db_session, "phq9", "1.1.0")
    new, new_model = library.get_version(db_session, "phq9", "1.1.1")
    assert old.content_hash != new.content_hash
    assert old_model.items[0].choices[1].label["en"] == "Several days"
    assert new_model.items[0].choices[1].label["en"] == "Some days"


def test_comments_and_layout_do_not_count_as_an_edit(db_session, library_copy):
    library.publish_paths(db_session, [library_copy], actor="test")
    db_session.commit()
    phq9 = library_copy / "phq9.yaml"
    phq9.write_text("# a new comment at the top\n" + phq9.read_text())
    statuses = {
        r.label: r.status for r in library.publish_paths(db_session, [library_copy], actor="test")
    }
    assert statuses["phq9 1.1.0"] is PublishStatus.UNCHANGED


def test_one_invalid_file_publishes_nothing(db_session, library_copy):
    (library_copy / "broken.yaml").write_text(
        (library_copy / "gad7.yaml")
        .read_text()
        .replace("id: gad7", "id: broken")
        .replace("type: single_choice", "type: slider", 1)
    )
    with pytest.raises(InvalidInstrumentFiles) as refused:
        library.publish_paths(db_session, [library_copy], actor="test")
    db_session.rollback()
    assert any(
        "broken.yaml" in line and "slider" in line for line in refused.value.errors["instruments"]
    )
    assert count_versions(db_session) == 0


def test_published_version_loads_back_to_the_same_definition(db_session, library_copy):
    library.publish_paths(db_session, [library_copy], actor="test")
    db_session.commit()
    row, model = library.get_version(
        db_session, "daily_symptom_diary", row_version(db_session, "daily_symptom_diary")
    )
    assert content_hash(model) == row.content_hash
    assert {"en", "fr", "es", "de"} <= set(model.languages)


def row_version(session, key):
    return session.scalar(
        sa.select(InstrumentVersion.version).where(InstrumentVersion.instrument_key == key)
    )


def test_two_publishers_racing_store_each_version_once(database_url, library_copy):
    engine = sa.create_engine(database_url)
    errors = []
    barrier = threading.Barrier(2)

    def publish():
        try:
            with Session(engine) as session:
                barrier.wait(timeout=30)
                library.publish_paths(session, [library_copy], actor="race")
                session.commit()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(engine) as session:
        assert count_versions(session) == len(SHIPPED)
        keys = session.scalars(sa.select(InstrumentVersion.instrument_key)).all()
    engine.dispose()
    assert len(keys) == len(set(keys))
    assert errors == []


# --- CLI -----------------------------------------------------------------------------------


def test_check_passes_on_the_shipped_library(app):
    result = app.test_cli_runner().invoke(args=["instruments", "check"])
    assert result.exit_code == 0, result.output
    assert f"{len(SHIPPED)} instrument file(s) OK." in result.output


def test_check_names_file_item_and_field_and_exits_1(app, tmp_path):
    broken = tmp_path / "diary.yaml"
    text = (LIBRARY / "gad7.yaml").read_text()
    broken.write_text(text.replace("type: single_choice", "type: slider", 1))
    result = app.test_cli_runner().invoke(args=["instruments", "check", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: item 'gad7_1':" in result.output
    assert "slider" in result.output


def test_check_readability_reports_a_measure_per_string(app):
    result = app.test_cli_runner().invoke(
        args=["instruments", "check", "--readability", str(LIBRARY / "daily_symptom_diary.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "[en]" in result.output and "Flesch-Kincaid grade" in result.output
    assert "[de]" in result.output and "Wiener Sachtextformel" in result.output


def test_cli_publish_refuses_an_edit_and_changes_nothing(app, db_session, library_copy):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["instruments", "publish", str(library_copy)])
    assert first.exit_code == 0, first.output
    assert first.output.count("published") == len(SHIPPED)
    gad7 = library_copy / "gad7.yaml"
    gad7.write_text(gad7.read_text().replace("Not at all", "Never"))
    refused = runner.invoke(args=["instruments", "publish", str(library_copy)])
    assert refused.exit_code == 1
    assert "gad7 1.0.0 is already published with different content" in refused.output
    assert count_versions(db_session) == len(SHIPPED)
