"""The expression language: shared vectors in Python and in node, parse errors, and fuzzing."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.instruments.expressions import (
    ExpressionError,
    compile_expression,
    evaluate,
    to_json_value,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO_ROOT / "tests" / "vectors" / "expressions.json").read_text("utf-8"))
NODE_RUNNER = Path(__file__).resolve().parent / "run_js_expressions.mjs"


def same_value(actual: Any, expected: Any) -> bool:
    """Numbers compare by value; booleans, null and strings strictly (True is not 1)."""
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, int | float):
        return (
            isinstance(actual, int | float)
            and not isinstance(actual, bool)
            and math.isclose(actual, expected, rel_tol=0, abs_tol=0)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same_value(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected) and type(actual) is type(expected)


@pytest.mark.parametrize(
    "vector", VECTORS["vectors"], ids=[v["expression"][:40] for v in VECTORS["vectors"]]
)
def test_python_evaluator_matches_vector(vector: dict[str, Any]) -> None:
    compiled = compile_expression(vector["expression"])
    result = to_json_value(evaluate(compiled.ast, vector["answers"]))
    assert same_value(result, vector["expected"]), (vector, result)


def test_compiled_ast_is_plain_json() -> None:
    for vector in VECTORS["vectors"]:
        ast = compile_expression(vector["expression"]).ast
        assert json.loads(json.dumps(ast, allow_nan=False)) == ast


def test_javascript_evaluator_matches_every_vector(tmp_path: Path) -> None:
    # No skip when node is missing: the browser must agree with the server, so a machine that
    # cannot prove it must fail loudly.
    node = shutil.which("node")
    assert node is not None, "node (v20+) must be on PATH to check frontend/js/expressions.js"
    cases = [
        {"ast": compile_expression(v["expression"]).ast, "answers": v["answers"]}
        for v in VECTORS["vectors"]
    ]
    cases_path = tmp_path / "cases.json"
    cases_path.write_text(json.dumps(cases, allow_nan=False), "utf-8")
    completed = subprocess.run(
        [node, str(NODE_RUNNER), str(cases_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    mismatches = [
        (vector["expression"], vector["answers"], vector["expected"], result)
        for vector, result in zip(VECTORS["vectors"], results, strict=True)
        if "error" in result or not same_value(result["value"], vector["expected"])
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    "case", VECTORS["errors"], ids=[e["expression"][:30] for e in VECTORS["errors"]]
)
def test_parse_error_names_column_and_expectation(case: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError) as raised:
        compile_expression(case["expression"], known_names=VECTORS["known_names"])
    assert raised.value.column == case["column"]
    assert str(raised.value).startswith(case["message"])


def test_exact_error_message_for_a_missing_operand() -> None:
    with pytest.raises(ExpressionError) as raised:
        compile_expression("pain >=)")
    assert str(raised.value) == "at column 8: expected an operand, found ')'"


def test_compile_reports_names_read() -> None:
    compiled = compile_expression("answered(a) and b > 1 or respondent == 'proxy' and a < 2")
    assert compiled.names == ("a", "b", "respondent")


EXPRESSION_ALPHABET = st.sampled_from(
    [
        " ", "(", ")", "[", "]", ",", "'", '"', "\\", "=", "==", "!=", "<", ">=", "+", "-", "*",
        "/", "and", "or", "not", "in", "true", "false", "null", "1", "0", "2.5", "pain", "x",
        "answered(", "sum(", "count(", "contains(", "count_answered(", "é", "#", ".",
    ]
)  # fmt: skip

ANSWER_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(EXPRESSION_ALPHABET, max_size=25),
    answers=st.dictionaries(st.sampled_from(["pain", "x"]), ANSWER_VALUES),
)
def test_compiler_and_evaluator_never_crash(pieces: list[str], answers: dict[str, Any]) -> None:
    source = " ".join(pieces)
    try:
        compiled = compile_expression(source)
    except ExpressionError:
        return
    json.dumps(to_json_value(evaluate(compiled.ast, answers)), allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(source=st.text(max_size=60))
def test_arbitrary_text_compiles_or_raises_expression_error(source: str) -> None:
    try:
        compiled = compile_expression(source)
    except ExpressionError as error:
        assert str(error).startswith(f"at column {error.column}: ")
        return
    evaluate(compiled.ast, {})
