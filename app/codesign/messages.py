"""Messages a person reads, kept translatable without Flask: the seam between the co-design
domain (which speaks English) and the pages (which speak the staff member's language).

A :class:`Text` is the English message as a plain ``str`` (logs, tests and the API read it as
it always was) that also carries its template and parameters, so the page edge can look the
template up in its catalogue and fill in the same parameters (:func:`render`). ``N_`` makes
one; Babel extracts its first argument as the message id (``babel.cfg`` reads this package).

The instrument loader (``app.instruments``) words its problems in English for the command
line; :func:`loader_text` recognises the ones an edit through the pages can cause and gives
them the same treatment, keeping field names and values as they are. A problem it does not
know stays in English, whole, rather than half translated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final


class Text(str):
    """An English message that knows its template (``%(name)s`` placeholders) and values."""

    template: str
    params: Mapping[str, Any]

    def __new__(cls, template: str, **params: Any) -> Text:
        english = template % {k: str(v) for k, v in params.items()} if params else template
        made = super().__new__(cls, english)
        made.template = template
        made.params = params
        return made


def N_(template: str, **params: Any) -> Text:
    """A message for a person: English now, translatable at the page edge."""
    return Text(template, **params)


def render(message: object, gettext: Callable[[str], str]) -> str:
    """``message`` in the language ``gettext`` translates to; anything that is not a
    :class:`Text` (a value, a name) is shown as it is. Parameters may be Texts themselves."""
    if not isinstance(message, Text):
        return str(message)
    translated = gettext(message.template)
    if not message.params:
        return translated
    values = {name: render(value, gettext) for name, value in message.params.items()}
    try:
        return translated % values
    except (KeyError, TypeError, ValueError):  # a broken catalogue entry: English, not a 500
        return str(message)


# -- the loader's and the expression checker's words ------------------------------------------

# "pages[0].items", "text.self.fr", "score 'total'", "page 'body' show_when": the field a
# message is about, which stays as written (it names the file's fields, in any language).
_WHERE: Final = re.compile(
    r"^(?:(?:score|alert|page) '[^']*'(?: show_when)?|[A-Za-z_][\w.\[\]]*): "
)
_TOKEN: Final = re.compile(r"(?P<kind>name|number|string) (?P<text>.+)")

_EXPRESSION: Final[tuple[tuple[re.Pattern[str], Text], ...]] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"unknown item '(?P<name>[^']*)'", N_("unknown item '%(name)s'")),
        (
            r"unexpected '='; use '==' to compare",
            N_("unexpected '='; use '==' to compare"),
        ),
        (r"unexpected '!'; use 'not' or '!='", N_("unexpected '!'; use 'not' or '!='")),
        (r"unexpected character (?P<char>.+)", N_("unexpected character %(char)s")),
        (
            r"string starting here has no closing (?P<quote>.)",
            N_("string starting here has no closing %(quote)s"),
        ),
        (
            r"expected an expression, found (?P<found>.+)",
            N_("expected an expression, found %(found)s"),
        ),
        (r"expected an operand, found (?P<found>.+)", N_("expected an operand, found %(found)s")),
        (
            r"expected an operator or end of expression, found (?P<found>.+)",
            N_("expected an operator or end of expression, found %(found)s"),
        ),
        (
            r"expected '\)' to close the '\(' at column (?P<column>\d+), found (?P<found>.+)",
            N_("expected ')' to close the '(' at column %(column)s, found %(found)s"),
        ),
        (
            r"unknown function '(?P<name>[^']*)'; known functions: (?P<known>.+)",
            N_("unknown function '%(name)s'; known functions: %(known)s"),
        ),
    )
)

_LOADER: Final[tuple[tuple[re.Pattern[str], Text], ...]] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (
            r"at column (?P<column>\d+): (?P<problem>.+)",
            N_("at column %(column)s: %(problem)s"),
        ),
        (
            r"'(?P<name>[^']*)' is not an earlier item; skip logic may only refer to items "
            r"before it",
            N_("'%(name)s' is not an earlier item; skip logic may only refer to items before it"),
        ),
        (
            r"no text in the default language '(?P<language>[^']*)'",
            N_("no text in the default language '%(language)s'"),
        ),
        (
            r"expected non-empty text, found (?P<found>.+)",
            N_("expected non-empty text, found %(found)s"),
        ),
        (r"expected a number, found (?P<found>.+)", N_("expected a number, found %(found)s")),
        (
            r"expected a whole number, found (?P<found>.+)",
            N_("expected a whole number, found %(found)s"),
        ),
        (r"value (?P<value>.+) appears twice", N_("value %(value)s appears twice")),
        (
            r"expected a whole number or non-empty text, found (?P<found>.+)",
            N_("expected a whole number or non-empty text, found %(found)s"),
        ),
        (r"max (?P<high>\S+) < min (?P<low>\S+)", N_("max %(high)s < min %(low)s")),
        (
            r"a (?P<type>\w+) item needs choices",
            N_("a %(type)s item needs choices"),
        ),
        (
            r"expected a list of at least 2 choices or the name of a choice set",
            N_("expected a list of at least 2 choices or the name of a choice set"),
        ),
        (
            r"no choice set named '(?P<name>[^']*)' \(choice_sets: (?P<known>.*)\)",
            N_("no choice set named '%(name)s' (choice_sets: %(known)s)"),
        ),
        (
            r"language (?P<language>.+) is not one of the instrument's languages "
            r"\((?P<languages>.*)\)",
            N_("language %(language)s is not one of the instrument's languages (%(languages)s)"),
        ),
        (
            r"(?P<language>.+) is not a language code such as 'en' or 'pt-BR'",
            N_("%(language)s is not a language code such as 'en' or 'pt-BR'"),
        ),
        (r"'(?P<language>[^']*)' is listed twice", N_("'%(language)s' is listed twice")),
        (
            r"no '(?P<language>[^']*)' text; '(?P=language)' readers will see the "
            r"'(?P<default>[^']*)' text",
            N_("no '%(language)s' text; '%(language)s' readers will see the '%(default)s' text"),
        ),
        (r"no item (?P<name>.+)", N_("no item %(name)s")),
        (
            r"id '(?P<name>[^']*)' is used by more than one item",
            N_("id '%(name)s' is used by more than one item"),
        ),
        (r"a display item takes no answer", N_("a display item takes no answer")),
        (
            r"max_choices (?P<most>\S+) > (?P<count>\d+) choices",
            N_("max_choices %(most)s > %(count)s choices"),
        ),
        (
            r"max_choices (?P<most>\S+) < min_choices (?P<least>\S+)",
            N_("max_choices %(most)s < min_choices %(least)s"),
        ),
    )
)


def _found(text: str) -> str | Text:
    """A token as the expression checker describes it (``name 'x'``, ``end of expression``)."""
    if text == "end of expression":
        return N_("end of expression")
    token = _TOKEN.fullmatch(text)
    if token is None:
        return text
    kind, value = token.group("kind"), token.group("text")
    if kind == "name":
        return N_("name %(name)s", name=value)
    if kind == "number":
        return N_("number %(number)s", number=value)
    return N_("string %(string)s", string=value)


def _match(message: str, catalogue: tuple[tuple[re.Pattern[str], Text], ...]) -> Text | None:
    for pattern, template in catalogue:
        found = pattern.fullmatch(message)
        if found is None:
            continue
        params: dict[str, Any] = dict(found.groupdict())
        if "found" in params:
            params["found"] = _found(params["found"])
        if "problem" in params:
            params["problem"] = _match(params["problem"], _EXPRESSION) or params["problem"]
        return Text(template.template, **params)
    return None


def loader_text(message: str) -> str:
    """A loader problem's message (without file and item) as a translatable Text when its
    wording is known here; otherwise the message unchanged. The English reads the same."""
    where = ""
    rest = message
    while (prefix := _WHERE.match(rest)) is not None and not rest.startswith("at column "):
        where += prefix.group(0)
        rest = rest[prefix.end() :]
    known = _match(rest, _LOADER)
    if known is None:
        return message
    return Text("%(where)s%(message)s", where=where, message=known) if where else known
