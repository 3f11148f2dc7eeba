"""What a sealed answer is bound to: the study, the response and the exact instrument version.
Used to seal (``app.responses.service``) and to open or re-seal (``app.responses.keys``)."""

from __future__ import annotations

from app import crypto
from app.responses import lookup
from app.responses.models import Response


def seal_context(
    response: Response, version: lookup.PublishedVersion | None = None
) -> crypto.SealContext:
    """``version``: the response's instrument version when the caller already has it."""
    if version is None:
        row = response.instrument_version
        label = f"{row.instrument_key}@{row.version}#{row.content_hash}"
    else:
        label = version.seal_label
    return crypto.SealContext(
        study_id=str(response.study_id), response_id=response.id, instrument_version=label
    )
