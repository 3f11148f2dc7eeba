"""How the API reads request bodies: clear errors instead of 500s or silent defaults (issue #10).

* A state-changing request with no body, to an endpoint that takes one, is a 422 naming what is
  missing (a bodiless withdraw once withdrew a participant with every field defaulted).
* A body that is not JSON (wrong Content-Type) is a 415, not "missing data" on every field.
* JSON nested deeper than MAX_DEPTH is refused before anything walks it (Python's recursive
  decoders once turned it into a RecursionError and a 500).
* Text holding a NUL character (PostgreSQL cannot store it) or a lone UTF-16 surrogate (not a
  character; it cannot be encoded) is a 422 naming the field's path.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from app.db import MAX_INT_ID

MAX_DEPTH = 32


class ChorusParser(FlaskParser):
    """The webargs parser of every API blueprint (`app.api.Blueprint`)."""

    def load_json(self, req: flask.Request, schema: ma.Schema) -> Any:
        if not is_json_request(req):
            # Form data may already have been read into req.form (the NUL guard reads it).
            if req.content_length or req.get_data(cache=True) or req.form or req.files:
                abort(
                    415,
                    messages={
                        "json": {
                            "_body": [
                                f"Send JSON with Content-Type: application/json (got"
                                f" {req.mimetype or 'no content type'!r})."
                            ]
                        }
                    },
                )
            abort(422, messages={"json": _missing_body(schema)})
        body = req.get_data(cache=True)
        if not body:
            abort(422, messages={"json": _missing_body(schema)})
        try:
            data = json.loads(body)
        except RecursionError:
            abort(400, messages={"json": {"_body": [f"Nest JSON at most {MAX_DEPTH} deep."]}})
        except (json.JSONDecodeError, UnicodeDecodeError):
            abort(400, messages={"json": ["Invalid JSON body."]})
        problems = unsafe_values(data)
        if problems:
            status = 400 if "_body" in problems else 422
            abort(status, messages={"json": problems})
        return data

    def _raw_load_json(self, req: flask.Request) -> Any:  # pragma: no cover - load_json owns it
        return core.missing


def _missing_body(schema: ma.Schema) -> dict[str, list[str]]:
    required = sorted(
        (field.data_key or name)
        for name, field in schema.fields.items()
        if field.required and not field.dump_only
    )
    if required:
        return {
            name: ["Missing data for required field (the request had no body)."]
            for name in required
        }
    return {
        "_body": ["Send a JSON object (e.g. {} to keep every default); the request had no body."]
    }


def unsafe_values(data: Any) -> dict[str, list[str]]:
    """Problems in a decoded JSON document, keyed by path; found without recursion."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return {"_body": [f"Nest JSON at most {MAX_DEPTH} deep."]}
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                _check_text(key, child, problems)
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path or "_body", problems)
    return problems


def _check_text(text: str, path: str, problems: dict[str, list[str]]) -> None:
    if "\x00" in text:
        problems.setdefault(path, []).append("Text may not contain a NUL (\\u0000) character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems.setdefault(path, []).append(
            "Text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) is not a character."
        )


class RowId(ma.fields.Integer):
    """A database row id in a body or query: a whole number from 1 to 2^31-1, so an id beyond
    the column's range is a 422 naming the field rather than a database error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=ma.validate.Range(min=1, max=MAX_INT_ID), **kwargs)
