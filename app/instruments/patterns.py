"""Answer patterns (``short_text`` ``pattern:``) that mean the same on the phone and the server.

The phone checks a pattern with JavaScript (``new RegExp('^(?:' + p + ')$', 'u')``), the server
with Python's ``re``. The two dialects differ (``(?P<n>``, ``\\Z``, ``{,3}`` and ``(?i)`` are
Python only; ``\\-`` outside a class is an error in JavaScript's unicode mode; ``\\d``, ``\\s``,
``.`` and ``$`` match different characters), and a pattern the two read differently makes a
participant's answer pass on the phone and then fail on the server with a permanent 422 (#11).
So instruments may only use a small portable subset, checked here when the file is loaded, and
the server runs a translation with JavaScript's meaning:

- literals; ``.``; ``^``; ``$``; ``|``; groups ``( )`` and ``(?: )``; lookahead ``(?= )`` and
  ``(?! )``; quantifiers ``* + ? {n} {n,} {n,m}``, each optionally lazy (``?``);
- classes ``[...]`` and ``[^...]`` with ranges (not empty, no nested ``[``);
- escapes ``\\d \\D \\w \\W \\s \\S \\b \\B \\n \\r \\t`` and ``\\`` before one of
  ``^ $ \\ . * + ? ( ) [ ] { } | /`` (and ``-`` inside a class).

Anything else is refused with the position and what to write instead. The shared vectors in
``tests/vectors/answers.json`` prove the two sides agree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

SYNTAX_CHARACTERS: Final = "^$\\.*+?()[]{}|/"
# JavaScript's \s (WhiteSpace and LineTerminator), spelled out for Python.
_JS_SPACE: Final = (
    "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_CLASS_ESCAPES: Final = {"d": "0-9", "w": "A-Za-z0-9_", "s": _JS_SPACE}
_ESCAPES: Final = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[A-Za-z0-9_]",
    "W": "[^A-Za-z0-9_]",
    "s": f"[{_JS_SPACE}]",
    "S": f"[^{_JS_SPACE}]",
    "b": "\\b",  # compiled with re.ASCII: a word boundary over [A-Za-z0-9_], as in JavaScript
    "B": "\\B",
    "n": "\\n",
    "r": "\\r",
    "t": "\\t",
}
_QUANTIFIER: Final = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")


class PatternError(ValueError):
    """The pattern is outside the portable subset; the message names the position."""


def _fail(position: int, message: str) -> PatternError:
    return PatternError(f"at character {position + 1}: {message}")


def _translate_class(source: str, start: int) -> tuple[str, int]:
    """The class starting at ``source[start] == '['``: its Python form and the index after it."""
    index = start + 1
    out = ["["]
    if source.startswith("^", index):
        out.append("^")
        index += 1
    members = 0
    while True:
        if index >= len(source):
            raise _fail(start, "a '[' class is not closed with ']'")
        char = source[index]
        if char == "]":
            if members == 0:
                raise _fail(index, "an empty class [] matches differently in JavaScript")
            out.append("]")
            return "".join(out), index + 1
        if char == "[":
            raise _fail(index, "write '\\[' for a literal '[' inside a class")
        if char in "-&~|" and source.startswith(char * 2, index):
            raise _fail(index, f"'{char * 2}' inside a class: escape one of them")
        if char == "\\":
            if index + 1 >= len(source):
                raise _fail(index, "the pattern ends with a lone '\\'")
            escaped = source[index + 1]
            if escaped in _CLASS_ESCAPES:
                out.append(_CLASS_ESCAPES[escaped])
            elif escaped in "nrt" or escaped in SYNTAX_CHARACTERS or escaped == "-":
                out.append("\\" + escaped)
            elif escaped in "DWS":
                raise _fail(index, f"'\\{escaped}' inside a class: use [^...] instead")
            else:
                raise _fail(index, f"'\\{escaped}' is not an escape both phone and server read")
            index += 2
        else:
            out.append(re.escape(char) if char in "^" else char)
            index += 1
        members += 1


def translate(source: str) -> str:
    """Python source with JavaScript's meaning, or :class:`PatternError`."""
    out: list[str] = []
    index = 0
    # Whether the previous token can take a quantifier (not after '(', '|', '^', or a quantifier).
    quantifiable = False
    groups: list[bool] = []  # per open group: is it a lookahead (which JavaScript won't repeat)?
    while index < len(source):
        char = source[index]
        if char == "\\":
            if index + 1 >= len(source):
                raise _fail(index, "the pattern ends with a lone '\\'")
            escaped = source[index + 1]
            if escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
                quantifiable = escaped not in "bB"
            elif escaped in SYNTAX_CHARACTERS:
                out.append("\\" + escaped)
                quantifiable = True
            else:
                raise _fail(index, f"'\\{escaped}' is not an escape both phone and server read")
            index += 2
        elif char == "[":
            translated, index = _translate_class(source, index)
            out.append(translated)
            quantifiable = True
        elif char == "(":
            if source.startswith(("(?:", "(?=", "(?!"), index):
                groups.append(source[index + 2] != ":")
                out.append(source[index : index + 3])
                index += 3
            elif source.startswith("(?", index):
                raise _fail(
                    index,
                    "only (...), (?:...), (?=...) and (?!...) groups work on phone and server",
                )
            else:
                groups.append(False)
                out.append("(")
                index += 1
            quantifiable = False
        elif char == ")":
            if not groups:
                raise _fail(index, "')' without a matching '('")
            lookahead = groups.pop()
            out.append(")")
            index += 1
            quantifiable = not lookahead
        elif char in "*+?{":
            if char == "{":
                match = _QUANTIFIER.match(source, index)
                if match is None:
                    raise _fail(index, "write '\\{' for a literal '{' (or use {n}, {n,} or {n,m})")
                low, high = match.group(1), match.group(3)
                if high and int(high) < int(low):
                    raise _fail(index, f"{{{low},{high}}}: the numbers are out of order")
                token, index = match.group(0), match.end()
            else:
                token, index = char, index + 1
            if not quantifiable:
                raise _fail(index - len(token), f"'{token}' has nothing to repeat")
            if source.startswith("?", index):
                token += "?"
                index += 1
            out.append(token)
            quantifiable = False
        elif char in "]}":
            raise _fail(index, f"write '\\{char}' for a literal '{char}'")
        elif char == ".":
            out.append("[^\\n\\r\\u2028\\u2029]")
            index += 1
            quantifiable = True
        elif char == "$":
            out.append("\\Z")  # Python's $ also matches before a final newline
            index += 1
            quantifiable = False
        elif char == "^":
            out.append("^")
            index += 1
            quantifiable = False
        elif char == "|":
            out.append("|")
            index += 1
            quantifiable = False
        else:
            out.append(re.escape(char))
            index += 1
            quantifiable = True
    if groups:
        raise _fail(len(source) - 1, "a '(' is not closed with ')'")
    return "".join(out)


@lru_cache(maxsize=256)
def compile_pattern(source: str) -> re.Pattern[str]:
    """The server's compiled form of a portable pattern, or :class:`PatternError`."""
    if not source:
        raise PatternError("the pattern is empty")
    translated = translate(source)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as error:  # e.g. a lookahead quantified in a way Python refuses
        raise PatternError(f"not a valid regular expression: {error}") from error


def full_match(source: str, value: str) -> bool:
    """Whether the whole of ``value`` matches, as the phone checks it."""
    return compile_pattern(source).fullmatch(value) is not None
