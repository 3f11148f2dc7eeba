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


FIXTURES = REPO.parent / "shared" / "interop"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "source_format", "expected"),
    [
        ("xlsform/group.xlsx", "xlsform", "father"),
        ("fhir/questionnaire/sdc-phq9.json", "fhir", "H1_T1_Q9"),
    ],
)
def test_import_writes_an_instrument_that_passes_check(
    tmp_path: Path, source: str, source_format: str, expected: str
) -> None:
    out = tmp_path / "instruments" / "imported_form.yaml"
    result = chorus(
        "instruments", "import", str(FIXTURES / source), "--from", source_format, "--out", str(out),
        instance=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"to {out}: report" in result.stdout
    text = out.read_text("utf-8")
    assert "id: imported_form" in text and expected in text
    checked = chorus("instruments", "check", str(out), instance=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 instrument file(s) OK." in checked.stdout


@pytest.mark.slow
def test_import_report_lines_name_the_item_and_feature(tmp_path: Path) -> None:
    out = tmp_path / "phq.yaml"
    result = chorus(
        "instruments", "import", str(FIXTURES / "fhir/questionnaire/lforms-phq9.json"),
        "--from", "fhir", "--out", str(out), instance=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "lforms-phq9.json: item '/44261-6': calculatedExpression: became score 'item_44261_6'"
        in result.stdout
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "source_format", "message"),
    [
        (b"not a workbook at all", "xlsform", "not an Excel workbook"),
        (b'{"resourceType": "Questionnaire", "item": [', "fhir", "not valid JSON: line 1"),
        (b'{"resourceType": "Questionnaire", "item": [{"linkId": "a", "type": "choice", '
         b'"option": [{"valueString": "x"}]}]}', "fhir", "FHIR STU3 (3.0)"),
    ],
)  # fmt: skip
def test_import_of_a_bad_file_fails_and_writes_nothing(
    tmp_path: Path, content: bytes, source_format: str, message: str
) -> None:
    source = tmp_path / "source" / "bad.bin"
    source.parent.mkdir()
    source.write_bytes(content)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = chorus(
        "instruments", "import", str(source), "--from", source_format,
        "--out", str(out_dir / "bad_form.yaml"), instance=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert message in result.stderr
    assert list(out_dir.iterdir()) == []


@pytest.mark.slow
def test_import_refuses_to_overwrite_or_to_write_a_bad_name(tmp_path: Path) -> None:
    source = str(FIXTURES / "xlsform/group.md")
    existing = tmp_path / "kept.yaml"
    existing.write_text("# mine\n")
    result = chorus(
        "instruments", "import", source, "--from", "xlsform", "--out", str(existing),
        instance=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1 and "exists" in result.stderr
    assert existing.read_text() == "# mine\n"
    result = chorus(
        "instruments", "import", source, "--from", "xlsform", "--out", str(tmp_path / "Bad-Name.yaml"),
        instance=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "the file name is the instrument id" in result.stderr
    assert not (tmp_path / "Bad-Name.yaml").exists()
