"""Every output of one shared export, opened with the real tools researchers use.

pandas, pyreadstat, PSPP, Rscript + haven, fhir.resources and xmlschema read what Chorus
wrote; nothing here re-implements a reader. FHIR resources are validated with
``fhir.resources.R4B``: the package ships no pure R4 (4.0.1) module any more, and R4B (4.3.0)
left Questionnaire and QuestionnaireResponse unchanged from R4, so what validates there is
valid R4.
"""

from __future__ import annotations

import csv
import hashlib
import html.parser
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
import xmlschema

from app.exports.csv_format import FORMULA_TRIGGERS
from tests.exports.conftest import INJECTION, Bundle

ODM_XSD = Path(__file__).resolve().parents[2] / "../shared/interop/odm/xsd/ODM1-3-2.xsd"
STEMS = ("daily_symptom_diary-1.0.0", "phq9-1.1.0", "taking_part_feedback-1.0.0")
PANDAS_TYPES = {
    "integer": "Int64",
    "flag": "Int64",
    "year": "Int64",
    "decimal": "Float64",
    "string": "string",
    "datetime": "string",
    "date": "string",
    "time": "string",
}


def codebook(bundle: Bundle) -> list[dict[str, str]]:
    with (bundle.folder / "codebook.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def columns_of(bundle: Bundle, path: str) -> list[dict[str, str]]:
    return [row for row in codebook(bundle) if row["file"] == path]


def value_labels(row: dict[str, str]) -> dict[float, str]:
    """The codebook's value labels keyed by the number used in .sav/.dta files."""
    pairs = [p.split("=", 1) for p in row["values"].split(" | ")] if row["values"] else []
    if row["numeric_codes"]:
        numbers = dict(p.split("=", 1) for p in row["numeric_codes"].split(" | "))
        return {float(numbers[code]): label for code, label in pairs}
    return {float(code): label for code, label in pairs}


def manifest(bundle: Bundle) -> dict[str, Any]:
    return json.loads((bundle.folder / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_lists_every_file_with_a_checksum_that_verifies(full_bundle: Bundle) -> None:
    m = manifest(full_bundle)
    names = set(zipfile.ZipFile(io.BytesIO(full_bundle.zip_bytes)).namelist())
    assert {f["path"] for f in m["files"]} == names - {"manifest.json"}
    for entry in m["files"]:
        data = (full_bundle.folder / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert len(data) == entry["bytes"]
    raw = (full_bundle.folder / "manifest.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == full_bundle.manifest_sha256
    assert m["counts"]["responses"] == 8
    assert {i["instrument"]: i["responses"] for i in m["instruments"]} == {
        "daily_symptom_diary": 4,
        "phq9": 3,
        "taking_part_feedback": 1,
    }
    assert all(i["content_hash"].startswith("sha256:") for i in m["instruments"])
    assert m["deidentification"]["profile"] == "none"
    assert m["chorus_version"] and m["exported_at"]
    assert full_bundle.progress[0] == full_bundle.progress[1] > 0


def test_pandas_reads_each_csv_with_the_codebooks_types(full_bundle: Bundle) -> None:
    for stem in STEMS:
        path = f"data/{stem}.csv"
        described = columns_of(full_bundle, path)
        dtypes = {}
        for row in described:
            if row["type"] == "choice":
                numeric = all(code.lstrip("-").isdigit() for code in _codes(row))
                dtypes[row["column"]] = "Int64" if numeric else "string"
            else:
                dtypes[row["column"]] = PANDAS_TYPES[row["type"]]
        frame = pd.read_csv(
            full_bundle.folder / path, dtype=dtypes, keep_default_na=False, na_values=[""]
        )
        assert list(frame.columns) == [row["column"] for row in described]
        expected = {i["instrument"]: i["responses"] for i in manifest(full_bundle)["instruments"]}
        assert len(frame) == expected[stem.split("-")[0]]
        for row in described:
            if row["type"] == "datetime":
                parsed = pd.to_datetime(frame[row["column"]], format="ISO8601", utc=True)
                assert parsed.notna().sum() == frame[row["column"]].notna().sum()
            if row["type"] == "choice":
                present = set(frame[row["column"]].dropna().astype(str))
                assert present <= set(_codes(row)), row["column"]
    diary = pd.read_csv(full_bundle.folder / "data/daily_symptom_diary-1.0.0.csv", dtype=str)
    assert set(diary["participant"]) == {"LY-001", "LY-002"}
    assert diary.loc[diary["participant"] == "LY-002", "respondent_type"].item() == "parent"
    assert (
        diary.loc[diary["participant"] == "LY-002", "answered_by"].item().startswith("caregiver-")
    )
    assert set(diary["finished_local"].str[-6:]) <= {"+01:00", "+02:00"}
    long = pd.read_csv(full_bundle.folder / "data/long.csv", dtype=str)
    assert list(long.columns) == [r["column"] for r in columns_of(full_bundle, "data/long.csv")]
    assert set(long.loc[long["item"] == "pain_where", "value"]) == {"head", "back"}


def _codes(row: dict[str, str]) -> list[str]:
    return [p.split("=", 1)[0] for p in row["values"].split(" | ")] if row["values"] else []


def test_text_that_could_run_as_a_formula_is_escaped(full_bundle: Bundle) -> None:
    for path in [*(f"data/{s}.csv" for s in STEMS), "data/long.csv", "codebook.csv"]:
        with (full_bundle.folder / path).open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                for value in row:
                    assert not value.startswith(FORMULA_TRIGGERS), (path, value)
    diary = pd.read_csv(full_bundle.folder / "data/daily_symptom_diary-1.0.0.csv", dtype=str)
    assert "'" + INJECTION in set(diary["anything_else"])
    feedback = pd.read_csv(full_bundle.folder / "data/taking_part_feedback-1.0.0.csv", dtype=str)
    assert feedback["ideas"].item() == "'@SUM(A1:A9)"


@pytest.mark.parametrize("kind", ["sav", "dta"])
def test_pyreadstat_reads_native_files_with_the_codebooks_labels(
    full_bundle: Bundle, kind: str
) -> None:
    for stem in STEMS:
        described = {r["column"]: r for r in columns_of(full_bundle, f"data/{stem}.csv")}
        reader = pyreadstat.read_sav if kind == "sav" else pyreadstat.read_dta
        frame, meta = reader(str(full_bundle.folder / f"native/{stem}.{kind}"))
        assert list(frame.columns) == list(described)
        # Stata keeps 80 characters of a variable label.
        limit = 80 if kind == "dta" else None
        assert meta.column_names_to_labels == {
            name: row["label"][:limit].rstrip() for name, row in described.items()
        }
        for name, row in described.items():
            if row["values"]:
                labels = dict(meta.variable_value_labels.get(name, {}))
                labels.pop(-99, None)  # the .sav "Not answered" missing code
                assert labels == value_labels(row), name
        csv_frame = pd.read_csv(full_bundle.folder / f"data/{stem}.csv", dtype=str)
        assert len(frame) == len(csv_frame)
        assert list(frame["response_id"]) == list(csv_frame["response_id"])
    diary = str(full_bundle.folder / f"native/daily_symptom_diary-1.0.0.{kind}")
    frame, meta = reader(diary, user_missing=True)
    if kind == "sav":
        assert meta.missing_ranges["pain_where__head"] == [{"lo": -99.0, "hi": -99.0}]
        assert (frame["pain_where__head"] == -99).sum() == 2  # not asked: there was no pain
    else:
        assert (frame["pain_where__head"] == "a").sum() == 2  # Stata's extended missing .a
    assert reader(diary)[0]["pain_where__head"].isna().sum() == 2


def _pspp(folder: Path, script: str) -> str:
    done = subprocess.run(
        ["pspp", "-O", "format=csv", "-o", "-", "-"],
        input=script,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "error" not in done.stdout.lower(), done.stdout + done.stderr
    return done.stdout


def test_pspp_runs_the_sps_and_reads_the_sav(full_bundle: Bundle, tmp_path: Path) -> None:
    script = []
    for stem in STEMS:
        script.append((full_bundle.folder / f"syntax/{stem}.sps").read_text(encoding="utf-8"))
        script.append(f"SAVE OUTFILE='{tmp_path}/{stem}.sav'.\n")
        script.append(f"GET FILE='native/{stem}.sav'.\nDESCRIPTIVES /VARIABLES=ALL.\n")
    out = _pspp(full_bundle.folder, "".join(script))
    assert "Valid N (listwise)" in out
    for stem in STEMS:
        from_syntax, meta = pyreadstat.read_sav(str(tmp_path / f"{stem}.sav"))
        native, _meta = pyreadstat.read_sav(str(full_bundle.folder / f"native/{stem}.sav"))
        for row in columns_of(full_bundle, f"data/{stem}.csv"):
            name = row["column"]
            assert meta.column_names_to_labels[name] == row["label"], name
            if row["values"]:
                assert meta.variable_value_labels[name] == value_labels(row), name
                left = from_syntax[name].tolist()
                right = native[name].tolist()
                assert [v if v == v else None for v in left] == [
                    v if v == v else None for v in right
                ], name


def test_rscript_runs_the_r_syntax_and_haven_reads_sav_and_dta(
    full_bundle: Bundle, tmp_path: Path
) -> None:
    stems = ", ".join(f'"{s}"' for s in STEMS)
    program = f"""
    joined <- function(x) if (is.null(x)) "-" else paste(x, collapse = "|")
    for (stem in c({stems})) {{
      source(file.path("syntax", paste0(stem, ".R")))
      sav <- haven::read_sav(file.path("native", paste0(stem, ".sav")))
      dta <- haven::read_dta(file.path("native", paste0(stem, ".dta")))
      for (name in names(chorus)) {{
        same <- identical(attr(chorus[[name]], "label"), attr(sav[[name]], "label"))
        writeLines(paste(stem, name, nrow(chorus), nrow(sav), nrow(dta), same,
                         joined(levels(chorus[[name]])),
                         joined(names(attr(dta[[name]], "labels"))), sep = "\t"))
      }}
    }}
    """
    (tmp_path / "check.R").write_text(program, encoding="utf-8")
    done = subprocess.run(
        ["Rscript", "--vanilla", str(tmp_path / "check.R")],
        cwd=full_bundle.folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.strip().splitlines()]
    by_key = {(stem, name): rest for stem, name, *rest in lines}
    for stem in STEMS:
        for row in columns_of(full_bundle, f"data/{stem}.csv"):
            rows_r, rows_sav, rows_dta, same_label, levels, dta_labels = by_key[
                (stem, row["column"])
            ]
            assert rows_r == rows_sav == rows_dta != "0"
            assert same_label == "TRUE", row["column"]
            if row["values"]:
                assert "-" not in (levels, dta_labels), row["column"]
                expected = "|".join(
                    label
                    for _code, label in sorted(
                        ((code, label) for code, label in value_labels(row).items()),
                        key=lambda p: p[0],
                    )
                )
                in_order = "|".join(p.split("=", 1)[1] for p in row["values"].split(" | "))
                assert levels == in_order, row["column"]
                assert set(dta_labels.split("|")) == set(expected.split("|")), row["column"]


def test_fhir_resources_validate_as_r4(full_bundle: Bundle) -> None:
    from fhir.resources.R4B.questionnaire import Questionnaire
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    folder = full_bundle.folder / "fhir"
    questionnaires = [
        Questionnaire.model_validate(json.loads(line))
        for line in (folder / "Questionnaire.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    canonical = {f"{q.url}|{q.version}": q for q in questionnaires}
    responses = [
        QuestionnaireResponse.model_validate(json.loads(line))
        for line in (folder / "QuestionnaireResponse.ndjson")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert len(questionnaires) == 3 and len(responses) == 8
    value_for = {
        "choice": "valueCoding",
        "integer": "valueInteger",
        "decimal": "valueDecimal",
        "boolean": "valueBoolean",
        "date": "valueDate",
        "time": "valueTime",
        "string": "valueString",
        "text": "valueString",
    }
    answered = 0
    for response in responses:
        questionnaire = canonical[response.questionnaire]  # the Questionnaire of its version
        pages = {page.linkId: {i.linkId: i for i in page.item or []} for page in questionnaire.item}
        for page in response.item or []:
            for item in page.item:
                asked = pages[page.linkId][item.linkId]
                for answer in item.answer:
                    given = answer.model_dump(exclude_none=True)
                    assert value_for[asked.type] in given, (asked.type, given)
                    if asked.type == "choice":
                        codes = {o.valueCoding.code for o in asked.answerOption}
                        assert answer.valueCoding.code in codes
                    answered += 1
        assert response.subject.identifier.value in {"LY-001", "LY-002", "LE-001"}
    assert answered > 40
    bulk = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert {o["type"]: o["count"] for o in bulk["output"]} == {
        "Questionnaire": 3,
        "QuestionnaireResponse": 8,
    }
    assert bulk["requiresAccessToken"] is False and bulk["error"] == []


def test_odm_is_valid_against_the_official_xsd(full_bundle: Bundle) -> None:
    schema = xmlschema.XMLSchema(str(ODM_XSD.resolve()))
    document = full_bundle.folder / "odm/study.xml"
    schema.validate(str(document))
    text = document.read_text(encoding="utf-8")
    assert text.count("<SubjectData ") == 3
    assert 'xml:lang="fr"' in text  # code lists in every language of the instrument


def test_codebook_html_has_a_captioned_table_per_data_file(full_bundle: Bundle) -> None:
    class Tables(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.captions: list[str] = []
            self._in_caption = False

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self._in_caption = tag == "caption"

        def handle_data(self, data: str) -> None:
            if self._in_caption:
                self.captions.append(data)
                self._in_caption = False

    parser = Tables()
    parser.feed((full_bundle.folder / "codebook.html").read_text(encoding="utf-8"))
    assert [c.split(" ")[0] for c in parser.captions] == [
        *(f"data/{s}.csv" for s in STEMS),
        "data/long.csv",
    ]
