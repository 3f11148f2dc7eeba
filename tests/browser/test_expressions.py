"""The shared expression vectors (tests/vectors/expressions.json) evaluated in Chromium by the
very module the app ships (frontend/js/expressions.js, loaded from its hashed URL), compiled
by the server's compiler: the phone's skip logic agrees with the server's, value by value."""

from __future__ import annotations

import json
from typing import Any

from app.instruments.expressions import compile_expression
from tests.instruments.test_instrument_expressions import VECTORS, same_value

EVALUATE_ALL = """async (cases) => {
  const main = document.querySelector('script[type=module]').src;
  const { evaluate } = await import(main.replace(/js\\/main\\.js$/, 'js/expressions.js'));
  return cases.map(({ ast, answers }) => {
    try {
      return { value: evaluate(ast, answers) };
    } catch (error) {
      return { error: String(error) };
    }
  });
}"""


def test_every_shared_vector_passes_in_the_browser(page: Any, live_server: Any) -> None:
    page.goto("/app/")
    page.get_by_role("heading", level=1).wait_for()
    cases = [
        {"ast": compile_expression(v["expression"]).ast, "answers": v["answers"]}
        for v in VECTORS["vectors"]
    ]
    # Through JSON, exactly as the phone receives them from the API.
    results = page.evaluate(EVALUATE_ALL, json.loads(json.dumps(cases, allow_nan=False)))
    assert len(results) == len(VECTORS["vectors"]) > 50
    mismatches = [
        (vector["expression"], vector["answers"], vector["expected"], result)
        for vector, result in zip(VECTORS["vectors"], results, strict=True)
        if "error" in result or not same_value(result["value"], vector["expected"])
    ]
    assert mismatches == []
