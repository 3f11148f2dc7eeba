"""The shared answer-check vectors (tests/vectors/answers.json): the server's validation and the
phone's answer checks give the same verdict for every answer, in Python and in node (#11).
Chromium runs the same vectors in tests/browser/test_number_entry.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.instruments.engine import validate_answers
from app.instruments.loader import parse_instrument
from app.instruments.model import Instrument
from app.instruments.patterns import PatternError, compile_pattern
from app.instruments.rendering import render_instrument

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads(
    (REPO_ROOT / "tests" / "vectors" / "answers.json").read_text("utf-8")
)
NODE_RUNNER = Path(__file__).resolve().parent / "run_js_answers.mjs"


def vector_instrument() -> Instrument:
    """One page holding every vector item, loaded by the real loader."""
    document = {
        "id": "answer_vectors",
        "version": "1.0.0",
        "title": {"en": "Answer vectors"},
        "languages": ["en"],
        "default_language": "en",
        "licence": "CC0-1.0",
        "copyright": "none",
        "authors": ["tests"],
        "respondents": ["self"],
        "estimated_minutes": 1,
        "pages": [
            {
                "id": "all",
                "items": [
                    {"id": item_id, "text": {"en": item_id}, **spec}
                    for item_id, spec in VECTORS["items"].items()
                ],
            }
        ],
    }
    instrument, problems = parse_instrument(yaml.safe_dump(document), "vectors.yaml")
    assert instrument is not None, [str(p) for p in problems]
    return instrument


def python_code(instrument: Instrument, item_id: str, value: object) -> str | None:
    result = validate_answers(instrument, {item_id: value}, "self")
    codes = [error.code for error in result.errors if error.item_id == item_id]
    assert len(codes) <= 1
    return codes[0] if codes else None


def phone_input() -> dict[str, Any]:
    """What the phone gets (the rendered instrument, through JSON) and the cases to run."""
    rendered = render_instrument(vector_instrument(), "en", "self")
    return json.loads(
        json.dumps(
            {
                "instrument": rendered,
                "checks": VECTORS["checks"],
                "typed": VECTORS["typed"],
                "patterns": VECTORS["patterns"]["portable"],
            },
            allow_nan=False,
        )
    )


def same_typed(value: object, expected: object) -> bool:
    """A number equal by value, the same kept text, or both null."""
    if isinstance(expected, int | float):
        return isinstance(value, int | float) and not isinstance(value, bool) and value == expected
    return value == expected and type(value) is type(expected)


def mismatches(results: dict[str, Any]) -> list[Any]:
    """Every vector whose phone result differs from the expected one."""
    wrong: list[Any] = []
    for vector, code in zip(VECTORS["checks"], results["checks"], strict=True):
        if code != vector["code"]:
            wrong.append(("check", vector, code))
    for vector, value in zip(VECTORS["typed"], results["typed"], strict=True):
        if not same_typed(value, vector["expected"]):
            wrong.append(("typed", vector, value))
    for pattern, error in zip(VECTORS["patterns"]["portable"], results["patterns"], strict=True):
        if error is not None:
            wrong.append(("pattern", pattern, error))
    return wrong


@pytest.mark.parametrize(
    "vector",
    VECTORS["checks"],
    ids=[f"{v['item']}={v['value']!r}"[:40] for v in VECTORS["checks"]],
)
def test_server_gives_the_vector_verdict(vector: dict[str, Any]) -> None:
    assert python_code(vector_instrument(), vector["item"], vector["value"]) == vector["code"]


def test_phone_gives_every_vector_verdict_in_node(tmp_path: Path) -> None:
    # No skip when node is missing: the phone must agree with the server, and a machine that
    # cannot prove it fails loudly.
    node = shutil.which("node")
    assert node is not None, "node (v20+) must be on PATH to check frontend/js/questionnaire.js"
    cases = tmp_path / "answers.json"
    cases.write_text(json.dumps(phone_input()), "utf-8")
    completed = subprocess.run(
        [node, str(NODE_RUNNER), str(cases)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert mismatches(json.loads(completed.stdout)) == []


def test_whole_numbers_sent_as_floats_are_stored_as_integers() -> None:
    result = validate_answers(vector_instrument(), {"days": 2.0}, "self")
    assert result.ok
    assert result.answers["days"] == 2 and isinstance(result.answers["days"], int)


@pytest.mark.parametrize("pattern", VECTORS["patterns"]["portable"])
def test_portable_patterns_load(pattern: str) -> None:
    compile_pattern(pattern)


@pytest.mark.parametrize("pattern", VECTORS["patterns"]["refused"])
def test_patterns_javascript_reads_otherwise_are_refused_at_load(pattern: str) -> None:
    with pytest.raises(PatternError, match=r"at character|not a valid|empty"):
        compile_pattern(pattern)
    document = yaml.safe_dump(
        {
            "id": "p",
            "version": "1.0.0",
            "title": "P",
            "languages": ["en"],
            "default_language": "en",
            "licence": "x",
            "copyright": "x",
            "authors": ["x"],
            "respondents": ["self"],
            "estimated_minutes": 1,
            "pages": [
                {
                    "id": "p",
                    "items": [{"id": "t", "type": "short_text", "text": "T", "pattern": pattern}],
                }
            ],
        }
    )
    instrument, problems = parse_instrument(document, "p.yaml")
    assert instrument is None
    assert any(p.field == "pattern" and "patterns.py" in p.message for p in problems)
