"""Requests refused before any view runs, so bad input is a clear 4xx rather than a 500 (#10).

* Integer path segments (`<int:...>`) stop at 2^31-1, the range of a PostgreSQL integer
  column: a larger id is simply not found (404), on either engine.
* A NUL character in the path, the query string or a submitted form is a 400 naming where it
  was: PostgreSQL cannot store or compare text holding one.
* Behind `CHORUS_TRUSTED_PROXY_COUNT` proxies, werkzeug's ProxyFix takes the client address
  (and scheme) from that many X-Forwarded-* hops, so the sign-in throttle counts clients, not
  the proxy; with 0 (the default) forwarded headers are ignored and cannot be forged.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.db import MAX_INT_ID
from app.errors import ChorusError, ErrorCode


class BoundedIntConverter(IntegerConverter):
    """`<int:id>` as before, but only 0 .. 2^31-1 match; anything longer is a 404."""

    def __init__(self, map: object, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", MAX_INT_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]


class NulInRequest(ChorusError):
    code = ErrorCode.BAD_REQUEST


def reject_nul_bytes() -> None:
    if "\x00" in request.path:
        raise NulInRequest("The address holds a NUL character.", errors={"path": ["NUL"]})
    bad = [key for key, value in request.args.items(multi=True) if "\x00" in key + value]
    if bad:
        raise NulInRequest(
            "The query string holds a NUL character.",
            errors={"query": {key: ["Text may not contain a NUL character."] for key in bad}},
        )
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        bad = [key for key, value in request.form.items(multi=True) if "\x00" in key + value]
        if bad:
            raise NulInRequest(
                "The form holds a NUL character.",
                errors={"form": {key: ["Text may not contain a NUL character."] for key in bad}},
            )


def install_converters(app: Flask) -> None:
    """Before any blueprint registers its rules (they bind to the converter at that point)."""
    app.url_map.converters["int"] = BoundedIntConverter


def install(app: Flask, trusted_proxy_count: int) -> None:
    # First of all before-request hooks (CSRF's too, which would look the token up with it).
    app.before_request_funcs.setdefault(None, []).insert(0, reject_nul_bytes)
    if trusted_proxy_count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_proxy_count, x_proto=trusted_proxy_count
        )
