"""Our expression language written as FHIRPath, for the SDC expression extensions.

Other systems evaluate these (``enableWhenExpression``, ``targetConstraint``); Chorus itself
keeps the original source in an extension, so nothing here has to be perfect to round-trip.
The translation is faithful for answered items. One difference remains by design of the two
languages: FHIRPath propagates "empty" where ours uses ``null``, so a comparison with an
unanswered item is empty (treated as false) in FHIRPath and ``false`` or ``true`` (for ``!=``)
in ours. ``respondent`` has no FHIRPath equivalent and becomes ``%respondent``, a variable the
receiving system would have to supply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.instruments.expressions import Ast
from app.instruments.model import CHOICE_TYPES, Item

_OPERATORS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/"}


def answer_path(item_id: str) -> str:
    return f"%resource.repeat(item).where(linkId='{item_id}').answer"


def _literal(value: object) -> str:
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # FHIRPath strings take the same escapes as JSON, in single quotes.
        return "'" + json.dumps(value, ensure_ascii=False)[1:-1].replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "(" + " | ".join(_literal(member) for member in value) + ")" if value else "{}"
    raise ValueError(f"no FHIRPath literal for {value!r}")


def item_value(item: Item | None, item_id: str) -> str:
    """The FHIRPath for an item's answer value as our language sees it."""
    if item_id == "respondent" and item is None:
        return "%respondent"
    path = answer_path(item_id) + ".value"
    if item is not None and item.type in CHOICE_TYPES:
        # Choices travel as Codings whose code is the value as text.
        whole = bool(item.choices) and all(isinstance(c.value, int) for c in item.choices)
        return path + (".code.toInteger()" if whole else ".code")
    return path


def to_fhirpath(ast: Ast, items: Mapping[str, Item]) -> str:
    """FHIRPath text for a compiled expression of ours."""
    if "lit" in ast:
        return _literal(ast["lit"])
    if "var" in ast:
        return item_value(items.get(ast["var"]), ast["var"])
    operator: str = ast["op"]
    args: list[Any] = ast["args"]

    def sub(node: Ast) -> str:
        text = to_fhirpath(node, items)
        return text if ("lit" in node or "var" in node or "op" not in node) else f"({text})"

    if operator in ("and", "or"):
        return f" {operator} ".join(sub(arg) for arg in args)
    if operator == "not":
        return f"{sub(args[0])}.not()"
    if operator in _OPERATORS:
        return f"{sub(args[0])} {_OPERATORS[operator]} {sub(args[1])}"
    if operator in _ARITHMETIC:
        return f"{sub(args[0])} {_ARITHMETIC[operator]} {sub(args[1])}"
    if operator == "neg":
        return f"-{sub(args[0])}"
    if operator == "in":
        return f"{sub(args[0])} in {sub(args[1])}"
    if operator == "contains":
        return f"{sub(args[0])} contains {sub(args[1])}"
    if operator == "answered":
        return f"{answer_path(args[0]['var'])}.exists()"
    if operator == "count_answered":
        counted = [f"iif({answer_path(arg['var'])}.exists(), 1, 0)" for arg in args]
        return "(" + " + ".join(counted) + ")"
    if operator == "count":
        return f"{sub(args[0])}.count()"
    if operator == "sum":
        combined = sub(args[0])
        for arg in args[1:]:
            combined += f".combine({sub(arg)})"
        return f"{combined}.sum()"
    raise ValueError(f"no FHIRPath for operator {operator!r}")
