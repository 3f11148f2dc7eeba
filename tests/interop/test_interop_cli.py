"""`chorus instruments import|export` through the installed `chorus` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

REPO = Path(__file__).resolve().parents[2]
CHORUS = Path(sys.executable).with_name("chorus")


def chorus(*args: str, instance: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHORUS_INSTANCE_PATH": str(instance), "CHORUS_ENV": "development"}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [str(CHORUS), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh SQLite instance with the library published."""
    instance = tmp_path_factory.mktemp("instance")
    for command in (("db", "upgrade"), ("instruments", "publish")):
        result = chorus(*command, instance=instance)
        assert result.returncode == 0, result.stderr
    return instance


@pytest.mark.slow
def test_export_latest_and_named_version(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "gad7.json"
    result = chorus(
        "instruments", "export", "gad7", "--to", "fhir", "--out", str(out), instance=published
    )
    assert result.returncode == 0, result.stderr
    assert "exported gad7 1.0.0" in result.stdout
    questionnaire = json.loads(out.read_text("utf-8"))
    assert Questionnaire.model_validate(questionnaire).version == "1.0.0"
    named = tmp_path / "named.json"
    result = chorus(
        "instruments",
        "export",
        "gad7@1.0.0",
        "--to",
        "fhir",
        "--out",
        str(named),
        instance=published,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(named.read_text("utf-8")) == questionnaire


@pytest.mark.slow
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("gad7@9.9.9", "No published instrument gad7 9.9.9."),
        ("nothing_here", "No published instrument 'nothing_here'"),
    ],
)
def test_export_of_an_unknown_version_fails_and_writes_nothing(
    published: Path, tmp_path: Path, reference: str, message: str
) -> None:
    out = tmp_path / "never.json"
    result = chorus(
        "instruments", "export", reference, "--to", "fhir", "--out", str(out), instance=published
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
