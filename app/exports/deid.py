"""De-identification profiles, applied to each record before any format sees it.

- ``none``: as stored (only for roles that may export identified data).
- ``shifted``: participant and caregiver references become keyed pseudonyms; every date and
  time of a participant moves back by the same whole number of days (0-364), chosen by a keyed
  hash of the study and participant, so it is stable across exports and intervals within a
  participant are preserved exactly; free-text answers are dropped.
- ``year``: as ``shifted`` but dates are coarsened to their year instead of shifted.

The key is derived from the server's secret (see ``service.deidentification_key``): people
receiving a dataset cannot recompute pseudonyms or shifts from study codes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any, Final

from app.exports.model import Profile
from app.instruments.model import TEXT_TYPES, Instrument

MAX_SHIFT_DAYS: Final = 364


class Deidentifier:
    def __init__(self, profile: Profile, key: bytes, study_id: int) -> None:
        self.profile = profile
        self._key = key
        self._study = study_id
        self._shifts: dict[int, int] = {}  # an HMAC per participant, not per date

    def _mac(self, label: str) -> bytes:
        message = f"chorus/deid/v1/{self._study}/{label}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def participant(self, participant_id: int, code: str) -> str:
        if not self.profile.deidentified:
            return code
        return "P-" + base64.b32encode(self._mac(f"participant/{participant_id}"))[:12].decode()

    def caregiver(self, caregiver_id: int | None) -> str:
        if caregiver_id is None:
            return ""
        if not self.profile.deidentified:
            return f"caregiver-{caregiver_id}"
        return "C-" + base64.b32encode(self._mac(f"caregiver/{caregiver_id}"))[:12].decode()

    def shift_days(self, participant_id: int) -> int:
        """Days this participant's dates move back under the ``shifted`` profile (0-364)."""
        days = self._shifts.get(participant_id)
        if days is None:
            digest = self._mac(f"shift/{participant_id}")
            days = self._shifts[participant_id] = int.from_bytes(digest[:8], "big") % (
                MAX_SHIFT_DAYS + 1
            )
        return days

    def moment(self, value: dt.datetime | None, participant_id: int) -> Any:
        """A date-time of this participant's, as the profile lets it out."""
        if value is None or self.profile is Profile.NONE:
            return value
        if self.profile is Profile.YEAR:
            return value.year
        return value - dt.timedelta(days=self.shift_days(participant_id))

    def answers(
        self, instrument: Instrument, answers: dict[str, Any], participant_id: int
    ) -> dict[str, Any]:
        if not self.profile.deidentified:
            return answers
        kept: dict[str, Any] = {}
        for item in instrument.items:
            if item.id not in answers or item.type in TEXT_TYPES:
                continue
            value = answers[item.id]
            if item.type == "date" and isinstance(value, str):
                day = dt.date.fromisoformat(value)
                if self.profile is Profile.YEAR:
                    value = day.year
                else:
                    value = (day - dt.timedelta(days=self.shift_days(participant_id))).isoformat()
            kept[item.id] = value
        return kept


def dropped_items(instrument: Instrument, profile: Profile) -> list[str]:
    """Items whose columns a profile leaves out (free text)."""
    if not profile.deidentified:
        return []
    return [item.id for item in instrument.items if item.type in TEXT_TYPES]
