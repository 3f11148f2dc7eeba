"""The canonical form and content hash of an instrument version.

The hash is taken over the loaded model, not the file's bytes, so reformatting YAML or editing
comments does not change it, while any change a participant or analyst could notice does. The
database layer compares it to refuse edits to a published version without a version bump.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from app.instruments.expressions import CompiledExpression
from app.instruments.model import Instrument

# Bump when the canonical form itself changes shape, so old and new hashes never collide.
CANONICAL_FORM_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, CompiledExpression):
        return value.source  # the AST is derived from the source
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("omit_if_empty") and not getattr(value, f.name))
        }
    if isinstance(value, Mapping):
        return {str(key): _plain(member) for key, member in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(member) for member in value]
    return value


def canonical_form(instrument: Instrument) -> dict[str, Any]:
    """The instrument as plain JSON data (dicts, lists, strings, numbers, booleans, null)."""
    return {"canonical_form_version": CANONICAL_FORM_VERSION, "instrument": _plain(instrument)}


def canonical_json(instrument: Instrument) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 text kept as is."""
    return json.dumps(
        canonical_form(instrument),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def content_hash(instrument: Instrument) -> str:
    """``sha256:<hex>`` of the canonical JSON."""
    digest = hashlib.sha256(canonical_json(instrument).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"
