"""The Chorus expression language: tokenizer, parser, JSON compiler and evaluator.

One small, side-effect-free language serves skip logic (``show_when``), validation conditions,
scoring conditions and alert rules. Source text is compiled once to a JSON-able AST; the server
evaluates that AST here and the PWA evaluates the very same AST with ``frontend/js/expressions.js``.
Both follow the semantics below, and ``tests/vectors/expressions.json`` proves they agree.

Semantics (kept deliberately narrow so Python and JavaScript cannot drift apart):

* Values are null, booleans, numbers (IEEE doubles), strings and lists of those scalars
  (a multiple-choice answer, or a ``[...]`` literal). Any other input value is treated as null.
* Every number is a float while evaluating, so arithmetic rounds exactly as JavaScript does.
  A result that is not finite (overflow, ``0/0``) and division by zero give null.
* ``==`` / ``!=`` are strict: equal type and equal value, never coercion (``'7' == 7`` is false,
  ``true == 1`` is false). Null equals only null, so ``pain == null`` means "unanswered".
  Lists are equal when they hold the same members, in any order.
* ``< <= > >=`` compare two numbers, or two strings by Unicode code point (ISO dates and times
  sort correctly); any other pairing, including null, is false.
* ``+ - * /`` need numbers; anything else gives null.
* ``and`` / ``or`` / ``not`` treat only ``true`` as true; they always return a boolean and
  ``and`` / ``or`` short-circuit.
* ``x in list`` is true when a member of the list equals ``x`` (strict equality as above); it is
  false when the right side is not a list. ``contains(list, x)`` is the same test.
* Functions: ``answered(item)``, ``count_answered(item, ...)``, ``sum(expr, ...)`` (numbers only,
  null when none is a number), ``count(list)`` (members of a list, 0 for anything else),
  ``contains(list, x)``.

Evaluation never raises. Compilation raises only :class:`ExpressionError`, whose message starts
with ``at column N:`` (1-based) and names what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

# A compiled expression: nested dicts and lists of JSON scalars (see ``compile_expression``).
Ast: TypeAlias = dict[str, Any]
# A value inside the language after normalisation.
Value: TypeAlias = None | bool | float | str | tuple["Value", ...]

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
FUNCTIONS: Final = ("answered", "contains", "count", "count_answered", "sum")
# Identifiers the engine supplies itself; items may not use these ids.
RESERVED_NAMES: Final = frozenset({"respondent"})
COMPARISON_OPERATORS: Final = ("==", "!=", "<", "<=", ">", ">=")
MAX_SOURCE_LENGTH: Final = 2000
# Deep nesting is never needed by a real questionnaire and would let hostile input exhaust the
# Python stack in the parser or evaluator; refuse it with a clear message instead.
MAX_DEPTH: Final = 40

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TWO_CHAR_OPERATORS = ("==", "!=", "<=", ">=")
_ONE_CHAR_OPERATORS = "<>+-*/(),["
# Exactly the characters JavaScript's String.prototype.trim() removes, so "blank" means the same
# on both sides (Python's str.strip() also removes \x1c-\x1f and \x85, JavaScript does not).
JS_WHITESPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


class ExpressionError(ValueError):
    """An expression could not be compiled; ``column`` is 1-based, ``message`` is complete."""

    def __init__(self, column: int, problem: str) -> None:
        self.column = column
        self.problem = problem
        super().__init__(f"at column {column}: {problem}")

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "string", "name", "keyword", "op", "end"
    text: str
    column: int
    value: float | str | None = None

    def describe(self) -> str:
        """How the token reads in an error message."""
        if self.kind == "end":
            return "end of expression"
        if self.kind == "number":
            return f"number {self.text}"
        if self.kind == "string":
            return f"string {self.text}"
        if self.kind == "name":
            return f"name '{self.text}'"
        return f"'{self.text}'"


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an ``end`` token."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            MAX_SOURCE_LENGTH + 1, f"expression is longer than {MAX_SOURCE_LENGTH} characters"
        )
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        char = source[position]
        column = position + 1
        if char in " \t\r\n":
            position += 1
            continue
        if char in "'\"":
            text, value, position = _read_string(source, position)
            tokens.append(Token("string", text, column, value))
            continue
        number = _NUMBER.match(source, position)
        if number:
            if _IDENTIFIER.match(source, number.end()):
                raise ExpressionError(
                    column, f"a name cannot start with a digit: '{source[position:]}'"[:120]
                )
            number_value = float(number.group())
            if not math.isfinite(number_value):
                raise ExpressionError(column, f"number {number.group()[:20]}... is too large")
            tokens.append(Token("number", number.group(), column, number_value))
            position = number.end()
            continue
        name = _IDENTIFIER.match(source, position)
        if name:
            word = name.group()
            tokens.append(Token("keyword" if word in KEYWORDS else "name", word, column, word))
            position = name.end()
            continue
        pair = source[position : position + 2]
        if pair in _TWO_CHAR_OPERATORS:
            tokens.append(Token("op", pair, column))
            position += 2
            continue
        if char in _ONE_CHAR_OPERATORS or char == "]":
            tokens.append(Token("op", char, column))
            position += 1
            continue
        if char == "=":
            raise ExpressionError(column, "unexpected '='; use '==' to compare")
        if char == "!":
            raise ExpressionError(column, "unexpected '!'; use 'not' or '!='")
        if char in "&|":
            word = "and" if char == "&" else "or"
            raise ExpressionError(column, f"unexpected '{char}'; use '{word}'")
        raise ExpressionError(column, f"unexpected character {char!r}")
    tokens.append(Token("end", "", len(source) + 1))
    return tokens


def _read_string(source: str, start: int) -> tuple[str, str, int]:
    quote = source[start]
    position = start + 1
    characters: list[str] = []
    while position < len(source):
        char = source[position]
        if char == "\\":
            escaped = source[position + 1 : position + 2]
            if escaped not in ("\\", "'", '"'):
                raise ExpressionError(
                    position + 1, "only \\\\, \\' and \\\" may follow a backslash in a string"
                )
            characters.append(escaped)
            position += 2
            continue
        if char == quote:
            return source[start : position + 1], "".join(characters), position + 1
        characters.append(char)
        position += 1
    raise ExpressionError(start + 1, f"string starting here has no closing {quote}")


class _Parser:
    """Recursive-descent parser; each method documents its grammar rule."""

    def __init__(self, tokens: list[Token], known_names: frozenset[str] | None) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.known_names = known_names
        self.names_used: list[str] = []

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        token = self.current
        return token.kind in ("op", "keyword") and token.text in texts

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            self.fail(f"expected {what}")
        return self.advance()

    def fail(self, expected: str) -> None:
        token = self.current
        raise ExpressionError(token.column, f"{expected}, found {token.describe()}")

    def nest(self, opening: Token) -> None:
        """Count one more level of nesting, blaming ``opening`` if it is one too many."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                opening.column, f"expression is nested more than {MAX_DEPTH} levels deep"
            )

    def parse(self) -> Ast:
        if self.current.kind == "end":
            self.fail("expected an expression")
        tree = self.parse_or()
        if self.current.kind != "end":
            if self.current.text in COMPARISON_OPERATORS or self.at("in"):
                self.fail("comparisons cannot be chained (use 'and'): expected end of expression")
            self.fail("expected an operator or end of expression")
        return tree

    # or := and ("or" and)*
    def parse_or(self) -> Ast:
        operands = [self.parse_and()]
        while self.at("or"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else {"op": "or", "args": operands}

    # and := not ("and" not)*
    def parse_and(self) -> Ast:
        operands = [self.parse_not()]
        while self.at("and"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else {"op": "and", "args": operands}

    # not := "not" not | comparison
    def parse_not(self) -> Ast:
        if self.at("not"):
            self.nest(self.advance())
            operand = self.parse_not()
            self.depth -= 1
            return {"op": "not", "args": [operand]}
        return self.parse_comparison()

    # comparison := additive ((compare | "in" | "not" "in") additive)?
    def parse_comparison(self) -> Ast:
        left = self.parse_additive()
        if self.current.kind == "op" and self.current.text in COMPARISON_OPERATORS:
            operator = self.advance().text
            return {"op": operator, "args": [left, self.parse_additive()]}
        if self.at("in"):
            self.advance()
            return {"op": "in", "args": [left, self.parse_additive()]}
        if self.at("not") and self.tokens[self.index + 1].text == "in":
            self.advance()
            self.advance()
            return {"op": "not", "args": [{"op": "in", "args": [left, self.parse_additive()]}]}
        return left

    # additive := multiplicative (("+" | "-") multiplicative)*
    def parse_additive(self) -> Ast:
        tree = self.parse_multiplicative()
        levels = 0
        while self.at("+", "-"):
            operator_token = self.advance()
            operator = operator_token.text
            self.nest(operator_token)
            levels += 1
            tree = {"op": operator, "args": [tree, self.parse_multiplicative()]}
        self.depth -= levels
        return tree

    # multiplicative := unary (("*" | "/") unary)*
    def parse_multiplicative(self) -> Ast:
        tree = self.parse_unary()
        levels = 0
        while self.at("*", "/"):
            operator_token = self.advance()
            operator = operator_token.text
            self.nest(operator_token)
            levels += 1
            tree = {"op": operator, "args": [tree, self.parse_unary()]}
        self.depth -= levels
        return tree

    # unary := "-" unary | primary
    def parse_unary(self) -> Ast:
        if self.at("-"):
            self.nest(self.advance())
            operand = self.parse_unary()
            self.depth -= 1
            return {"op": "neg", "args": [operand]}
        return self.parse_primary()

    # primary := number | string | true | false | null | name | call | "(" or ")" | list
    def parse_primary(self) -> Ast:
        token = self.current
        if token.kind in ("number", "string"):
            self.advance()
            return {"lit": token.value}
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self.advance()
            return {"lit": {"true": True, "false": False, "null": None}[token.text]}
        if token.kind == "name":
            if self.tokens[self.index + 1].text == "(":
                return self.parse_call()
            self.advance()
            return {"var": self.check_name(token)}
        if self.at("("):
            self.nest(self.advance())
            inner = self.parse_or()
            self.depth -= 1
            self.expect(")", "')' to close the '(' at column " + str(token.column))
            return inner
        if self.at("["):
            return self.parse_list()
        self.fail("expected an operand")
        raise AssertionError("unreachable")  # pragma: no cover

    # list := "[" (literal ("," literal)*)? "]"   (literals only: lists are data, not code)
    def parse_list(self) -> Ast:
        opening = self.advance()
        members: list[Any] = []
        while not self.at("]"):
            if members:
                self.expect(",", f"',' or ']' to close the '[' at column {opening.column}")
            negative = False
            if self.at("-") and self.tokens[self.index + 1].kind == "number":
                self.advance()
                negative = True
            token = self.current
            if token.kind == "number":
                members.append(-float(token.value) if negative else token.value)  # type: ignore[arg-type]
            elif token.kind == "string":
                members.append(token.value)
            elif token.kind == "keyword" and token.text in ("true", "false"):
                members.append(token.text == "true")
            else:
                self.fail("expected a number, string, true or false in a list")
            self.advance()
        self.advance()
        return {"lit": members}

    # call := name "(" (or ("," or)*)? ")"
    def parse_call(self) -> Ast:
        name_token = self.advance()
        name = name_token.text
        if name not in FUNCTIONS:
            raise ExpressionError(
                name_token.column,
                f"unknown function '{name}'; known functions: {', '.join(FUNCTIONS)}",
            )
        opening = self.advance()
        self.nest(opening)
        arguments: list[Ast] = []
        while not self.at(")"):
            if arguments:
                self.expect(",", f"',' or ')' to close the '(' at column {opening.column}")
            argument_token = self.current
            if name in ("answered", "count_answered"):
                if argument_token.kind != "name" or self.tokens[self.index + 1].text == "(":
                    self.fail(f"{name}() takes item ids: expected an item id")
                self.advance()
                arguments.append({"var": self.check_name(argument_token)})
            else:
                arguments.append(self.parse_or())
        self.depth -= 1
        closing = self.advance()
        arity = {"answered": (1, 1), "contains": (2, 2), "count": (1, 1)}.get(name, (1, 1000))
        if not arity[0] <= len(arguments) <= arity[1]:
            wanted = (
                f"exactly {arity[0]} argument" + ("s" if arity[0] > 1 else "")
                if arity[0] == arity[1]
                else "at least 1 argument"
            )
            raise ExpressionError(
                closing.column, f"{name}() takes {wanted}, found {len(arguments)}"
            )
        return {"op": name, "args": arguments}

    def check_name(self, token: Token) -> str:
        name = token.text
        if (
            self.known_names is not None
            and name not in self.known_names
            and name not in RESERVED_NAMES
        ):
            raise ExpressionError(token.column, f"unknown item '{name}'")
        self.names_used.append(name)
        return name


@dataclass(frozen=True)
class CompiledExpression:
    """An expression's source, its JSON AST and the item ids it reads."""

    source: str
    ast: Ast
    names: tuple[str, ...]


def compile_expression(source: str, known_names: Iterable[str] | None = None) -> CompiledExpression:
    """Parse ``source`` into a JSON AST, checking names against ``known_names`` if given.

    AST nodes: ``{"lit": value}``, ``{"var": name}`` and ``{"op": operator, "args": [...]}``
    where operator is one of ``and or not == != < <= > >= in + - * / neg`` or a function name.
    """
    if not isinstance(source, str):
        raise ExpressionError(1, f"expected an expression as text, found {type(source).__name__}")
    known = frozenset(known_names) if known_names is not None else None
    parser = _Parser(tokenize(source), known)
    tree = parser.parse()
    return CompiledExpression(source, tree, tuple(dict.fromkeys(parser.names_used)))


def normalize_value(raw: object) -> Value:
    """Map an answer (JSON-decoded or Python) into the language's value space."""
    if raw is None or isinstance(raw, bool | str):
        return raw
    if isinstance(raw, int | float):
        try:
            number = float(raw)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(raw, list | tuple):
        return tuple(
            member
            for member in (normalize_value(item) for item in raw)
            if not isinstance(member, tuple)
        )
    return None


def is_answered(value: Value) -> bool:
    """Unanswered means null, an empty or blank string, or an empty list."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip(JS_WHITESPACE) != ""
    if isinstance(value, tuple):
        return len(value) > 0
    return True


def _type_tag(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list"


def values_equal(left: Value, right: Value) -> bool:
    """Strict equality: same type, same value; lists compare as sets of members."""
    if _type_tag(left) != _type_tag(right):
        return False
    if isinstance(left, tuple) and isinstance(right, tuple):
        return all(any(values_equal(a, b) for b in right) for a in left) and all(
            any(values_equal(b, a) for a in left) for b in right
        )
    return left == right


def _finite_or_null(number: float) -> float | None:
    return number if math.isfinite(number) else None


def _order(operator: str, left: Value, right: Value) -> bool:
    both_numbers = isinstance(left, float) and isinstance(right, float)
    both_strings = isinstance(left, str) and isinstance(right, str)
    if not (both_numbers or both_strings):
        return False
    # Python compares str by code point; the JavaScript twin does the same explicitly.
    if operator == "<":
        return left < right  # type: ignore[operator]
    if operator == "<=":
        return left <= right  # type: ignore[operator]
    if operator == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def _arithmetic(operator: str, left: Value, right: Value) -> Value:
    if not (isinstance(left, float) and isinstance(right, float)):
        return None
    if operator == "+":
        return _finite_or_null(left + right)
    if operator == "-":
        return _finite_or_null(left - right)
    if operator == "*":
        return _finite_or_null(left * right)
    if right == 0:
        return None
    return _finite_or_null(left / right)


def evaluate(ast: Ast, answers: Mapping[str, object]) -> Value:
    """Evaluate a compiled AST against ``answers`` (item id → raw answer). Never raises for a
    well-formed AST; unknown names read as null."""
    if "lit" in ast:
        return normalize_value(ast["lit"])
    if "var" in ast:
        return normalize_value(answers.get(ast["var"]))
    operator: str = ast["op"]
    arguments: Sequence[Ast] = ast["args"]
    if operator == "and":
        return all(evaluate(argument, answers) is True for argument in arguments)
    if operator == "or":
        return any(evaluate(argument, answers) is True for argument in arguments)
    if operator == "not":
        return evaluate(arguments[0], answers) is not True
    if operator in ("answered", "count_answered"):
        read = (normalize_value(answers.get(argument["var"])) for argument in arguments)
        count = sum(1 for value in read if is_answered(value))
        return count > 0 if operator == "answered" else float(count)
    values = [evaluate(argument, answers) for argument in arguments]
    if operator == "==":
        return values_equal(values[0], values[1])
    if operator == "!=":
        return not values_equal(values[0], values[1])
    if operator in ("<", "<=", ">", ">="):
        return _order(operator, values[0], values[1])
    if operator in ("+", "-", "*", "/"):
        return _arithmetic(operator, values[0], values[1])
    if operator == "neg":
        return -values[0] if isinstance(values[0], float) else None
    if operator == "in":
        return _member(values[0], values[1])
    if operator == "contains":
        return _member(values[1], values[0])
    if operator == "count":
        return float(len(values[0])) if isinstance(values[0], tuple) else 0.0
    if operator == "sum":
        numbers = [value for value in values if isinstance(value, float)]
        if not numbers:
            return None
        total = 0.0
        # Left-to-right addition, exactly like the JavaScript loop (math.fsum would differ).
        for number in numbers:
            total += number
        return _finite_or_null(total)
    raise ValueError(f"unknown operator {operator!r} in compiled expression")


def _member(needle: Value, haystack: Value) -> bool:
    if not isinstance(haystack, tuple):
        return False
    return any(values_equal(needle, member) for member in haystack)


def is_true(ast: Ast, answers: Mapping[str, object]) -> bool:
    """Evaluate as a condition: only the boolean ``true`` counts as true."""
    return evaluate(ast, answers) is True


def to_json_value(value: Value) -> object:
    """A language value as plain JSON (lists instead of tuples; whole numbers stay floats)."""
    if isinstance(value, tuple):
        return [to_json_value(member) for member in value]
    return value
