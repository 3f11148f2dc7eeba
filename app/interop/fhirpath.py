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
import re
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


# -- reading FHIRPath (the importer) ---------------------------------------------------------
#
# A parser for the part of FHIRPath that questionnaires use for skip logic and scores: literals,
# %variables, paths with function calls, and the usual operators. It builds a small tuple tree;
# app/interop/fhir_import.py decides what of it our language can say.
#
#   ("lit", value) | ("var", name) | ("ident", name) | ("call", target|None, name, [args])
#   | ("member", target, name) | ("index", target, expr) | ("bin", op, left, right)
#   | ("neg", operand)

Node = tuple[Any, ...]


class FhirPathError(ValueError):
    """Text outside the FHIRPath subset we read."""


_FHIRPATH_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<variable>%(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`|'[^']*'))
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)
      | (?P<op><=|>=|!=|!~|[-+*/=<>~|&().,\[\]{}])
    )""",
    re.VERBOSE,
)
_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<", ">", "<=", ">="),
    ("|",),
    ("is", "as"),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
)
_WORD_OPERATORS = {"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"}


def _fhirpath_tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _FHIRPATH_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FhirPathError(f"unexpected {text[position : position + 12]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    tokens.append(("end", ""))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)


class _FhirPathParser:
    def __init__(self, text: str) -> None:
        self.tokens = _fhirpath_tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        _kind, value = self.take()
        if value != text:
            raise FhirPathError(f"expected {text!r}, found {value or 'the end'!r}")

    def parse(self) -> Node:
        tree = self.binary(0)
        if self.peek()[0] != "end":
            raise FhirPathError(f"unexpected {self.peek()[1]!r}")
        return tree

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            kind, value = self.peek()
            operator = value if kind in ("op", "name") else None
            if operator not in _BINARY_LEVELS[level]:
                return left
            if kind == "name" and operator not in _WORD_OPERATORS:
                return left
            self.take()
            left = ("bin", operator, left, self.binary(level + 1))

    def unary(self) -> Node:
        if self.peek() == ("op", "-"):
            self.take()
            return ("neg", self.unary())
        if self.peek() == ("op", "+"):
            self.take()
        return self.invocation(self.term())

    def invocation(self, target: Node) -> Node:
        while True:
            _kind, value = self.peek()
            if value == ".":
                self.take()
                name_kind, name = self.take()
                if name_kind != "name":
                    raise FhirPathError(f"expected a name after '.', found {name!r}")
                name = name.strip("`")
                if self.peek()[1] == "(":
                    target = ("call", target, name, self.arguments())
                else:
                    target = ("member", target, name)
            elif value == "[":
                self.take()
                index = self.binary(0)
                self.expect("]")
                target = ("index", target, index)
            else:
                return target

    def arguments(self) -> list[Node]:
        self.expect("(")
        arguments: list[Node] = []
        while self.peek()[1] != ")":
            if arguments:
                self.expect(",")
            arguments.append(self.binary(0))
        self.take()
        return arguments

    def term(self) -> Node:
        kind, value = self.take()
        if kind == "number":
            return ("lit", float(value))
        if kind == "string":
            return ("lit", _unquote(value))
        if kind == "variable":
            name = value[1:]
            return ("var", name[1:-1] if name[:1] in "`'" else name)
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if self.peek()[1] == "(":
                return ("call", None, value, self.arguments())
            return ("ident", value.strip("`"))
        if value == "(":
            inner = self.binary(0)
            self.expect(")")
            return inner
        if value == "{":
            self.expect("}")
            return ("lit", None)
        raise FhirPathError(f"expected a value, found {value or 'the end'!r}")


def parse_fhirpath(text: str) -> Node:
    """The tree of a FHIRPath expression in the subset above; :class:`FhirPathError` if not."""
    if len(text) > 4000:
        raise FhirPathError("expression longer than 4000 characters")
    return _FhirPathParser(text).parse()
