"""Submit a response: authorise, validate, score, raise alerts, seal, store exactly once.

A second response for an occurrence that is already answered (the phone offers "answer again"
only after a warning; an old phone may still send one) is stored like any other, raises its
alerts like any other, and is flagged as a repeat: ``Response.repeat_of_response_id`` names
the response that completed the occurrence, the receipt says ``repeat_of``, and staff see it in
the participant's occurrences and on alerts. The first answer keeps the occurrence.

The plaintext answers exist only in this request's memory. Idempotency rests on the client's
UUID: its hash is the unique key, and an HMAC keyed by a server secret and the UUID
(app/responses/dedupe.py) fingerprints the content, so
an identical resend gets the original receipt and a different one a 409 -- while the database
alone cannot confirm a guess of anyone's answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from app import crypto
from app.db import insert_unique
from app.errors import Conflict, Invalid, NotFound
from app.instruments.alerts import evaluate_alerts
from app.instruments.engine import validate_answers
from app.instruments.scoring import compute_scores
from app.participants import people as participants
from app.participants.models import Device, Participant
from app.reminders import planner
from app.reminders.models import Occurrence, StudySchedule
from app.reminders.outbox import enqueue_alert_emails
from app.responses import checks, dedupe, keys, lookup
from app.responses.models import Alert, Response
from app.responses.sealing import seal_context

RESPONDENT_TYPES = ("self", "parent", "other_caregiver", "staff_assisted")
# Whose wording the questionnaire used: a caregiver answers the proxy form.
WORDING_FOR = {
    "self": "self",
    "staff_assisted": "self",
    "parent": "proxy",
    "other_caregiver": "proxy",
}


@dataclass(frozen=True)
class Submission:
    client_uuid: uuid.UUID
    participant_id: int
    instrument_key: str
    instrument_version: str
    respondent_type: str
    language: str
    started_at: dt.datetime
    finished_at: dt.datetime
    answers: Mapping[str, Any]
    hard_to_understand: tuple[str, ...] = field(default_factory=tuple)
    # Which due questionnaire this answers (from GET /me/due); None: the server matches one.
    occurrence_id: int | None = None

    def fingerprint_material(self) -> bytes:
        """Everything the client sent, canonically, for the resend comparison."""
        content: dict[str, Any] = {
            "participant_id": self.participant_id,
            "instrument": [self.instrument_key, self.instrument_version],
            "respondent_type": self.respondent_type,
            "language": self.language,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "answers": self.answers,
            "hard_to_understand": sorted(self.hard_to_understand),
        }
        if self.occurrence_id is not None:
            # Only when given, so receipts of responses stored before occurrences still match.
            content["occurrence_id"] = self.occurrence_id
        return json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


@dataclass(frozen=True)
class Receipt:
    client_uuid: str
    response_id: str
    received_at: dt.datetime
    instrument: str
    alerts_raised: int
    occurrence_id: int | None = None  # the due questionnaire this response completed
    repeat_of: str | None = None  # the response that had already completed that occurrence


def idempotency_key(client_uuid: uuid.UUID) -> str:
    return hashlib.sha256(b"chorus-response-id:" + client_uuid.bytes).hexdigest()


def content_mac(submission: Submission) -> str:
    """The resend fingerprint of a new response (app/responses/dedupe.py)."""
    return dedupe.content_mac(submission)


def submit(
    session: Session, device: Device, submission: Submission, *, now: dt.datetime
) -> Receipt:
    wording = WORDING_FOR.get(submission.respondent_type, "self")
    # One round trip for what is read before writing (app/responses/lookup.py).
    context = lookup.submission_context(
        session,
        participant_id=submission.participant_id,
        idempotency_key=idempotency_key(submission.client_uuid),
        instrument_key=submission.instrument_key,
        version=submission.instrument_version,
        wording=wording,
    )
    participant = context.participant
    if participant is None:
        raise NotFound("No such participant.")
    _require_may_answer(session, device, participant, submission.respondent_type)

    if context.existing_response_id is not None:
        existing = session.get(Response, context.existing_response_id)
        assert existing is not None
        return _replay(session, existing, submission)
    dedupe.require_random_uuid(submission.client_uuid)  # resends above may predate the rule

    version_row = context.version
    if version_row is None:
        raise _not_assigned(submission)
    instrument = version_row.instrument
    checks.check_submission(
        instrument,
        language=submission.language,
        started_at=submission.started_at,
        finished_at=submission.finished_at,
        now=now,
    )
    occurrence = None
    if submission.occurrence_id is not None:
        occurrence = _given_occurrence(session, participant, version_row, wording, submission, now)
    result = validate_answers(instrument, submission.answers, wording, submission.language)
    if not result.ok:
        errors: dict[str, list[str]] = {}
        for error in result.errors:
            errors.setdefault(error.item_id or "_response", []).append(error.message)
        raise Invalid("Some answers are missing or not valid.", errors={"answers": errors})
    unknown_flags = sorted(
        set(submission.hard_to_understand) - {item.id for item in instrument.items}
    )
    if unknown_flags:
        raise Invalid(
            errors={"hard_to_understand": [f"Unknown item(s): {', '.join(unknown_flags)}"]}
        )
    scores = compute_scores(instrument, result.answers)
    raised = evaluate_alerts(instrument, result.answers, scores, wording)

    study_key = context.study_key
    if study_key is None:
        keys.current_key(session, participant.study)  # raises StudyHasNoKey, naming the study
        raise AssertionError("a key appeared mid-transaction")
    response = Response(
        id=str(uuid.uuid4()),
        idempotency_key=idempotency_key(submission.client_uuid),
        content_mac=content_mac(submission),
        content_mac_scheme=dedupe.SCHEME_SERVER_KEYED,
        study_id=participant.study_id,
        participant_id=participant.id,
        instrument_version_id=version_row.id,
        respondent_type=submission.respondent_type,
        answered_by_caregiver_id=device.caregiver_id,
        device_id=device.id,
        language=submission.language,
        started_at=submission.started_at,
        finished_at=submission.finished_at,
        device_utc_offset_minutes=_offset_minutes(submission.finished_at),
        received_at=now,
        study_key_id=study_key.key_id,
        hard_to_understand=sorted(set(submission.hard_to_understand)),
    )
    payload = {
        "answers": dict(result.answers),
        "dropped_hidden_answers": list(result.dropped),
        "scores": {
            score_id: {
                "value": s.value,
                "raw": s.raw,
                "band": s.band,
                "items_used": list(s.items_used),
                "items_missing": list(s.items_missing),
                "prorated": s.prorated,
                "reason": s.reason,
            }
            for score_id, s in scores.items()
        },
    }
    response.sealed = crypto.seal_response(
        study_key.public_key, study_key.key_id, seal_context(response, version_row), payload
    )
    if not insert_unique(session, response):
        # A concurrent duplicate got there first: answer as if this were the resend it is.
        winner = session.scalar(
            select(Response).where(Response.idempotency_key == response.idempotency_key)
        )
        assert winner is not None
        return _replay(session, winner, submission)
    for alert in raised:
        row = Alert(
            response_id=response.id,
            study_id=participant.study_id,
            site_id=participant.site_id,
            rule_id=alert.rule_id,
            severity=alert.severity,
            message=alert.message,
            raised_at=now,
        )
        session.add(row)
        # E-mail notices to the site's staff, queued in this transaction with the alert.
        enqueue_alert_emails(session, row, now=now)
    session.flush()
    completed = _complete_occurrence(
        session, response, occurrence, wording, _answered_at(submission, now), now
    )
    return _receipt(
        session, response, submission.client_uuid, len(raised), version_row, completed=completed
    )


# --- completing the occurrence it answers ---------------------------------------------------


def _answered_at(submission: Submission, now: dt.datetime) -> dt.datetime:
    """When the questionnaire was finished: the phone's own time (answers given offline while
    it was open count as on time), never later than the server received them."""
    return min(submission.finished_at, now)


def _given_occurrence(
    session: Session,
    participant: Participant,
    version_row: lookup.PublishedVersion,
    wording: str,
    submission: Submission,
    now: dt.datetime,
) -> Occurrence:
    occurrence = session.get(Occurrence, submission.occurrence_id)
    if occurrence is None or occurrence.participant_id != participant.id:
        raise Invalid(
            errors={"occurrence_id": ["No such questionnaire is due for this participant."]}
        )
    asked = occurrence.schedule.instrument_version
    if asked.id != version_row.id:
        raise Invalid(
            errors={
                "occurrence_id": [
                    f"That questionnaire asks for {asked.label}, not {version_row.label}."
                ]
            }
        )
    if occurrence.respondent != wording:
        raise Invalid(
            errors={
                "occurrence_id": [
                    f"That questionnaire is answered as {occurrence.respondent}, not {wording}."
                ]
            }
        )
    if now < occurrence.opens_at:
        raise Invalid(
            errors={
                "occurrence_id": [
                    f"That questionnaire opens at {occurrence.opens_at.isoformat()}; answer it then."
                ]
            }
        )
    return occurrence


def _matching_occurrence(
    session: Session, response: Response, wording: str, at: dt.datetime
) -> Occurrence | None:
    """The occurrence an answer without an explicit occurrence_id completes: the one open when
    it was finished, else the most recently closed one still unanswered (a late answer)."""
    return session.scalar(
        _matching_occurrence_statement(),
        {
            "participant_id": response.participant_id,
            "version_id": response.instrument_version_id,
            "wording": wording,
            "at": at,
        },
    )


@lru_cache(maxsize=1)
def _matching_occurrence_statement() -> Select[Occurrence]:
    """Built once (building it cost more CPU than running it)."""
    at = bindparam("at", type_=Occurrence.closes_at.type)
    waiting = (
        select(Occurrence)
        .join(StudySchedule, StudySchedule.id == Occurrence.schedule_id)
        .where(
            Occurrence.participant_id == bindparam("participant_id"),
            StudySchedule.instrument_version_id == bindparam("version_id"),
            Occurrence.respondent == bindparam("wording"),
            Occurrence.completed_at.is_(None),
            Occurrence.cancelled_at.is_(None),
        )
    )
    # One query for both cases: open ones first (soonest to close), then closed ones (most
    # recently closed); the CASE keys are NULL, so equal, within the closed group.
    is_open = Occurrence.closes_at > at
    return (
        waiting.where(Occurrence.opens_at <= at)
        .order_by(
            case((is_open, 0), else_=1),
            case((is_open, Occurrence.closes_at)),
            case((is_open, Occurrence.id)),
            Occurrence.closes_at.desc(),
            Occurrence.id.desc(),
        )
        .limit(1)
    )


def _complete_occurrence(
    session: Session,
    response: Response,
    given: Occurrence | None,
    wording: str,
    answered_at: dt.datetime,
    now: dt.datetime,
) -> int | None:
    """Mark the occurrence answered, in the submission's transaction, and return its id. An
    occurrence already answered (or cancelled) keeps its state and the response is stored all
    the same: nothing a family sends is refused for bookkeeping reasons."""
    occurrence = given or _matching_occurrence(session, response, wording, answered_at)
    if occurrence is None or occurrence.cancelled_at is not None:
        return None
    completed_at = max(answered_at, occurrence.opens_at)
    # Conditional, so of two responses racing for one occurrence exactly one completes it.
    claimed = session.execute(
        update(Occurrence)
        .where(Occurrence.id == occurrence.id, Occurrence.completed_at.is_(None))
        .values(completed_at=completed_at, response_id=response.id)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(occurrence)
    if not claimed:
        if occurrence.response_id is not None and occurrence.response_id != response.id:
            # Answered already: this response is kept and flagged as a repeat (#11).
            response.repeat_of_response_id = occurrence.response_id
            session.flush()
        return None
    planner.cancel_for_completion(session, occurrence, now)
    return occurrence.id


def _replay(session: Session, existing: Response, submission: Submission) -> Receipt:
    if not dedupe.same_content(existing.content_mac, existing.content_mac_scheme, submission):
        raise Conflict(
            "A different response was already sent with this id. Send changed answers with a new id."
        )
    alerts = (
        session.scalar(
            select(func.count()).select_from(Alert).where(Alert.response_id == existing.id)
        )
        or 0
    )
    return _receipt(session, existing, submission.client_uuid, alerts)


def _receipt(
    session: Session,
    response: Response,
    client_uuid: uuid.UUID,
    alerts: int,
    version: lookup.PublishedVersion | None = None,
    *,
    completed: int | None | bool = False,
) -> Receipt:
    """``version`` and ``completed`` (the occurrence id this request completed, or None) when
    the caller knows them, to save two queries."""
    label = version.label if version is not None else response.instrument_version.label
    occurrence_id = (
        session.scalar(select(Occurrence.id).where(Occurrence.response_id == response.id))
        if completed is False
        else completed
    )
    return Receipt(
        client_uuid=str(client_uuid),
        response_id=response.id,
        received_at=response.received_at,
        instrument=label,
        alerts_raised=alerts,
        occurrence_id=occurrence_id if isinstance(occurrence_id, int) else None,
        repeat_of=response.repeat_of_response_id,
    )


def _offset_minutes(moment: dt.datetime) -> int:
    offset = moment.utcoffset()
    if offset is None:
        raise Invalid(
            errors={
                "finished_at": ["Include the device's UTC offset, e.g. 2026-11-20T18:30:00+01:00."]
            }
        )
    return int(offset.total_seconds() // 60)


def _require_may_answer(
    session: Session, device: Device, participant: Participant, respondent_type: str
) -> None:
    """Who may answer is decided once, in the participants service; here we only check that the
    respondent type the phone sent is the one that relationship implies."""
    if respondent_type not in RESPONDENT_TYPES:
        raise Invalid(
            errors={"respondent_type": [f"Must be one of: {', '.join(RESPONDENT_TYPES)}."]}
        )
    person = participants.person_for_device(session, device, participant.id)
    allowed = {person.answered_by}
    if person.answered_by == "self":
        # A coordinator helping a participant fill in their own phone at a visit.
        allowed.add("staff_assisted")
    if respondent_type not in allowed:
        raise Invalid(
            errors={
                "respondent_type": [
                    f"This phone answers for this person as '{person.answered_by}'."
                ]
            }
        )


def _not_assigned(submission: Submission) -> Invalid:
    wording = WORDING_FOR[submission.respondent_type]
    return Invalid(
        errors={
            "instrument": [
                f"{submission.instrument_key} {submission.instrument_version} is not part of this study for {wording} answers."
            ]
        }
    )


# --- opening, for key holders --------------------------------------------------------------


def open_one(
    session: Session, response_id: str, credential: keys.HolderCredential
) -> dict[str, Any]:
    response = session.get(Response, response_id)
    if response is None:
        raise NotFound("No such response.")
    unlocked = keys.unlock(
        session, response.participant.study, credential, purpose=f"open response {response_id}"
    )
    return crypto.decryptor_for_export(unlocked)(response.sealed, seal_context(response))


def open_study(
    session: Session, slug: str, credential: keys.HolderCredential, *, batch_size: int = 500
) -> Iterator[tuple[Response, dict[str, Any]]]:
    """Every response of a study with its opened payload, streamed in id order (flat memory).
    The export formats build on this."""
    study = keys.study_by_slug(session, slug)
    decrypt = crypto.decryptor_for_export(
        keys.unlock(session, study, credential, purpose="open whole study")
    )
    session.flush()  # the unlock's audit event must be written before batches are expunged
    last_id = ""
    while True:
        batch = list(
            session.scalars(
                select(Response)
                .where(Response.study_id == study.id, Response.id > last_id)
                .order_by(Response.id)
                .limit(batch_size)
            )
        )
        if not batch:
            return
        for response in batch:
            yield response, decrypt(response.sealed, seal_context(response))
        last_id = batch[-1].id
        session.expunge_all()
