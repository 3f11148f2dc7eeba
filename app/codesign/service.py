"""Co-design services: each page of the workspace is a thin view over one of these calls.

Every function takes the session and the acting staff user, checks ``app.access`` for the
draft's study, and records an audit event for every change (ids and field names only, never
texts). Callers commit; on a ``ChorusError`` they roll back and nothing was changed.

Who may do what (``app.access``): anyone holding ``AUTHOR_INSTRUMENTS`` or
``APPROVE_INSTRUMENTS`` somewhere in the study takes part (reads, comments, suggests, diffs,
downloads); authors (``AUTHOR_INSTRUMENTS``) create and edit drafts and submit them; the draft's
owner decides on suggestions; approvals come from the patient group (patient-group authors)
and the study team (``APPROVE_INSTRUMENTS``), two different people, neither approving changes
only they made. Edits are refused while a draft is in review or approved.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import access
from app.access import ApprovalSide, Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.codesign import diff as diffing
from app.codesign import document as doc
from app.codesign import importers, xliff
from app.codesign import readability as reading
from app.codesign import translations as tr
from app.codesign.messages import N_, loader_text
from app.codesign.models import (
    Approval,
    CodesignSettings,
    Comment,
    Draft,
    DraftChange,
    DraftPart,
    DraftState,
    Suggestion,
    SuggestionStatus,
    Transition,
)
from app.db import insert_unique, utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.instruments.canonical import content_hash
from app.instruments.expressions import (
    ExpressionError,
    compile_expression,
    normalize_value,
    values_equal,
)
from app.instruments.loader import Problem, parse_instrument
from app.instruments.model import Instrument
from app.instruments.rendering import RenderError, render_instrument
from app.library import service as library
from app.library.models import InstrumentVersion
from app.responses.models import Response
from app.studies.models import Study

EDITABLE_STATES: Final = (DraftState.DRAFT, DraftState.CHANGES_REQUESTED)
MAX_COMMENT: Final = 5000
MAX_NOTE: Final = 2000
_INSTRUMENT_ID: Final = re.compile(r"[a-z][a-z0-9_]*")
_ITEM_ID: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION: Final = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
# Fields of the instrument part that identify the draft itself or hold the page structure:
# changed through their own calls, never by a field edit.
_FIXED_INSTRUMENT_FIELDS: Final = ("id", "default_language")


# -- errors -----------------------------------------------------------------------------------


class EditConflict(Conflict):
    """Someone saved the same part after the revision this edit was made on. Nothing was saved;
    ``yours`` and ``theirs`` hold the two values of every field the edit touched, and
    ``current`` the part as it now is, so a page can show both versions side by side."""

    def __init__(
        self,
        part_key: str,
        *,
        your_revision: int,
        current_revision: int,
        yours: Mapping[str, Any],
        theirs: Mapping[str, Any],
        current: Mapping[str, Any],
        changed_by: int | None,
        message: str | None = None,
    ) -> None:
        message = message or (
            N_(
                "Someone else saved the instrument settings while you were editing them. Your "
                "change was not saved: compare your version with theirs and make your change "
                "again."
            )
            if part_key == doc.INSTRUMENT_PART
            else N_(
                "Someone else saved item '%(item)s' while you were editing it. Your change was "
                "not saved: compare your version with theirs and make your change again.",
                item=part_key,
            )
        )
        super().__init__(
            message,
            errors={
                "part": part_key,
                "your_revision": your_revision,
                "current_revision": current_revision,
                "yours": dict(yours),
                "theirs": dict(theirs),
            },
        )
        self.part_key = part_key
        self.your_revision = your_revision
        self.current_revision = current_revision
        self.yours = dict(yours)
        self.theirs = dict(theirs)
        self.current = dict(current)
        self.changed_by = changed_by


# -- what the pages get -----------------------------------------------------------------------


@dataclass(frozen=True)
class PartView:
    key: str
    body: Mapping[str, Any]
    revision: int
    updated_at: dt.datetime
    updated_by: int | None


@dataclass(frozen=True)
class DraftView:
    draft: Draft
    document: Mapping[str, Any]
    instrument: PartView
    items: tuple[PartView, ...]  # in questionnaire order
    warnings: tuple[Problem, ...]  # what `chorus instruments check --warnings` would add
    content_hash: str
    may: frozenset[str]  # what the user may do: edit, decide_suggestions, submit, review, publish


@dataclass(frozen=True)
class ImportedDraft:
    draft: Draft
    notes: tuple[str, ...]  # what a format converter wants the uploader to know


@dataclass(frozen=True)
class Thread:
    root: Comment
    replies: tuple[Comment, ...]

    @property
    def resolved(self) -> bool:
        return self.root.resolved_at is not None


@dataclass(frozen=True)
class TranslationReport:
    source_language: str
    languages: tuple[tr.LanguageStatus, ...]


@dataclass(frozen=True)
class TranslationImport:
    applied: int  # translations written
    stale: int  # of which were made from an older source text and show as stale
    parts: tuple[str, ...]


@dataclass(frozen=True)
class ReadabilityReport:
    target_grade: float
    strings: tuple[reading.StringReadability, ...]
    items: tuple[reading.ItemReadability, ...]

    @property
    def warnings(self) -> tuple[reading.StringReadability | reading.ItemReadability, ...]:
        entries: list[reading.StringReadability | reading.ItemReadability] = [
            *self.strings,
            *self.items,
        ]
        return tuple(entry for entry in entries if entry.assessment.above_target)


@dataclass(frozen=True)
class VersionRef:
    """A version to diff or download: a draft (``kind='draft'``, the draft id) or a published
    version (``kind='published'``, the instrument_versions id)."""

    kind: str
    id: int

    @classmethod
    def draft(cls, draft_id: int) -> VersionRef:
        return cls("draft", draft_id)

    @classmethod
    def published(cls, version_id: int) -> VersionRef:
        return cls("published", version_id)


@dataclass(frozen=True)
class VersionChoice:
    ref: VersionRef
    label: str  # "phq9 1.0.0 (published)" / "phq9 1.1.0 (draft, in_review)"


@dataclass(frozen=True)
class ItemFeedback:
    item_id: str
    flagged: int
    rate: float  # flagged / responses (0.0 with no responses)


@dataclass(frozen=True)
class VersionFeedback:
    version_id: int
    version: str
    responses: int
    items: tuple[ItemFeedback, ...] = field(default=())


# -- helpers ----------------------------------------------------------------------------------


def _actor(user: StaffUser) -> str:
    return f"staff:{user.id}"


def _audit(session: Session, user: StaffUser, action: str, draft: Draft, **details: Any) -> None:
    audit.record(
        session,
        actor=_actor(user),
        action=action,
        target=f"codesign_draft:{draft.id}",
        details={"study_id": draft.study_id, **details},
    )


def _require_participant(user: StaffUser, study_id: int) -> None:
    access.require_any_somewhere(user.memberships, access.CO_DESIGN_PERMISSIONS, study_id)


def _require_author(user: StaffUser, study_id: int) -> None:
    access.require_somewhere(user.memberships, Permission.AUTHOR_INSTRUMENTS, study_id)


def _is_author(user: StaffUser, study_id: int) -> bool:
    return bool(access.sites_in_scope(user.memberships, Permission.AUTHOR_INSTRUMENTS, study_id))


def _clean_text(value: str | None, name: str, limit: int, *, required: bool) -> str | None:
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        if required:
            raise Invalid(errors={name: [N_("Write something first.")]})
        return None
    if len(text) > limit:
        raise Invalid(
            errors={
                name: [
                    N_(
                        "Use at most %(limit)s characters (this has %(count)s).",
                        limit=limit,
                        count=len(text),
                    )
                ]
            }
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise Invalid(errors={name: [N_("Remove control characters.")]})
    return text


def _load(session: Session, user: StaffUser, draft_id: int, *, lock: bool = False) -> Draft:
    # The row lock serialises every change to one draft (SQLite's write lock does the same),
    # so a revision read under it is the revision that will be replaced.
    draft = session.get(Draft, draft_id, with_for_update=lock, populate_existing=lock)
    if draft is None:
        raise NotFound(N_("No such draft."))
    _require_participant(user, draft.study_id)
    return draft


def _parts(session: Session, draft: Draft) -> dict[str, DraftPart]:
    rows = session.scalars(
        select(DraftPart)
        .where(DraftPart.draft_id == draft.id)
        .execution_options(populate_existing=True)
    )
    return {row.key: row for row in rows}


def _split_parts(
    parts: Mapping[str, DraftPart],
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    instrument = parts[doc.INSTRUMENT_PART].body
    return instrument, [(key, parts[key].body) for key in doc.item_order(instrument)]


def _document(parts: Mapping[str, DraftPart]) -> dict[str, Any]:
    instrument, items = _split_parts(parts)
    return doc.assemble(instrument, dict(items))


def _file_name(draft: Draft) -> str:
    return f"{draft.instrument_key}.yaml"


def _loaded(draft: Draft, document: Mapping[str, Any]) -> Instrument:
    instrument, problems = doc.validate(document, _file_name(draft))
    if instrument is None:  # drafts are kept valid; only an engine change could get here
        raise Invalid(
            N_("This draft no longer passes the instrument check."),
            errors={"instrument": [problem_text(p) for p in problems if p.is_error]},
        )
    return instrument


def _require_editable(draft: Draft) -> None:
    if draft.state not in EDITABLE_STATES:
        raise Conflict(_NOT_EDITABLE.get(draft.state, _NOT_EDITABLE[DraftState.IN_REVIEW]))


_NOT_EDITABLE: Final = {
    DraftState.IN_REVIEW.value: N_(
        "This draft is in review: it cannot be edited now. Ask for changes to reopen it."
    ),
    DraftState.APPROVED.value: N_(
        "This draft is approved: it cannot be edited now. Ask for changes to reopen it."
    ),
    DraftState.PUBLISHED.value: N_(
        "This version is published: it can never be edited. Start a new draft from it."
    ),
}


def problem_text(problem: Problem) -> str:
    """A loader problem as ``chorus instruments check`` prints it, translatable."""
    message = loader_text(problem.message)
    if not problem.is_error:
        if problem.item_id:
            return N_(
                "%(file)s: item '%(item)s': warning: %(message)s",
                file=problem.file,
                item=problem.item_id,
                message=message,
            )
        return N_("%(file)s: warning: %(message)s", file=problem.file, message=message)
    if problem.item_id:
        return N_(
            "%(file)s: item '%(item)s': %(message)s",
            file=problem.file,
            item=problem.item_id,
            message=message,
        )
    return N_("%(file)s: %(message)s", file=problem.file, message=message)


_LOADER_ITEM_PREFIX: Final = re.compile(r"^page '[^']*' items\[\d+\]\.?")


def _problem_key(problem: Problem, part_key: str) -> str:
    """The field a loader problem is about, as a path in the edited part when it is there."""
    field = _LOADER_ITEM_PREFIX.sub("", problem.field) or "item"
    own = problem.item_id == (None if part_key == doc.INSTRUMENT_PART else part_key)
    return field if own else f"item '{problem.item_id}' {field}"


def _new_errors(
    before: Sequence[Problem], after: Sequence[Problem], part_key: str
) -> dict[str, list[str]]:
    known = {(p.item_id, p.field, p.message) for p in before if p.is_error}
    errors: dict[str, list[str]] = {}
    for problem in after:
        if problem.is_error and (problem.item_id, problem.field, problem.message) not in known:
            errors.setdefault(_problem_key(problem, part_key), []).append(
                loader_text(problem.message)
            )
    return errors


def _refuse_new_errors(
    draft: Draft, before: Mapping[str, Any], after: Mapping[str, Any], part_key: str
) -> None:
    _old, old_problems = doc.validate(before, _file_name(draft))
    _new, new_problems = doc.validate(after, _file_name(draft))
    errors = _new_errors(old_problems, new_problems, part_key)
    if errors:
        count = sum(len(messages) for messages in errors.values())
        raise Invalid(
            N_(
                "Not saved: the change would give the instrument %(count)s problem(s).", count=count
            ),
            errors=errors,
        )


def _part_translations(
    key: str, body: Mapping[str, Any], default: str
) -> dict[str, tuple[str, str]]:
    """field with language -> (translation, source text) for every translation in one part."""
    instrument, items = (body, []) if key == doc.INSTRUMENT_PART else ({}, [(key, body)])
    return {
        slot.field(language): (text, slot.texts[default])
        for slot in doc.text_slots(instrument, items)
        if slot.part == key and default in slot.texts
        for language, text in slot.texts.items()
        if language != default
    }


def _record_sources(
    part: DraftPart, before: Mapping[str, Any], after: Mapping[str, Any], default: str
) -> None:
    """A translation written (or rewritten) by an edit was made from the source text beside it
    now; translations the edit did not touch keep the fingerprint they had."""
    old = _part_translations(part.key, before, default)
    new = _part_translations(part.key, after, default)
    sources = {k: v for k, v in (part.translation_sources or {}).items() if k in new}
    for field_path, (text, source) in new.items():
        if field_path not in old or old[field_path][0] != text:
            sources[field_path] = doc.source_hash(source)
    part.translation_sources = sources


def _all_sources(
    body: Mapping[str, Any], part_key: str, document: Mapping[str, Any]
) -> dict[str, str]:
    """Fingerprints for every translation already in a part (a draft's starting point)."""
    translations = _part_translations(part_key, body, doc.default_language(document))
    return {field: doc.source_hash(source) for field, (_text, source) in translations.items()}


def _check_version_free(session: Session, key: str, version: str) -> None:
    if not (isinstance(version, str) and _VERSION.fullmatch(version)):
        raise Invalid(errors={"version": [N_("Use a version such as 1.1.0.")]})
    taken = session.scalar(
        select(InstrumentVersion.id).where(
            InstrumentVersion.instrument_key == key, InstrumentVersion.version == version
        )
    )
    if taken is not None:
        raise Conflict(
            N_(
                "%(key)s %(version)s is already published, and published versions never "
                "change. Give the draft a new version number.",
                key=key,
                version=version,
            )
        )


def _claim_version(session: Session, draft: Draft, version: str) -> None:
    """Give the draft a new version number: not published, not another draft's in the study
    (the unique constraint decides between two people doing it at once)."""
    _check_version_free(session, draft.instrument_key, version)
    try:
        with session.begin_nested():
            draft.version = version
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            N_(
                "This study already has a draft of %(key)s %(version)s.",
                key=draft.instrument_key,
                version=version,
            )
        ) from error


def _next_minor(version: str) -> str:
    major, minor, _patch = (int(part) for part in version.split("."))
    return f"{major}.{minor + 1}.0"


def _view(draft: Draft, parts: Mapping[str, DraftPart], user: StaffUser) -> DraftView:
    document = _document(parts)
    instrument, problems = doc.validate(document, _file_name(draft))
    digest = content_hash(instrument) if instrument is not None else ""

    def part_view(part: DraftPart) -> PartView:
        return PartView(part.key, part.body, part.revision, part.updated_at, part.updated_by)

    order = doc.item_order(parts[doc.INSTRUMENT_PART].body)
    return DraftView(
        draft=draft,
        document=document,
        instrument=part_view(parts[doc.INSTRUMENT_PART]),
        items=tuple(part_view(parts[key]) for key in order),
        warnings=tuple(p for p in problems if not p.is_error),
        content_hash=digest,
        may=_may(draft, user),
    )


def _may(draft: Draft, user: StaffUser) -> frozenset[str]:
    may: set[str] = set()
    author = _is_author(user, draft.study_id)
    state = DraftState(draft.state)
    if author and state in EDITABLE_STATES:
        may |= {"edit", "submit"}
    if author and draft.owner_id == user.id and state in EDITABLE_STATES:
        may.add("decide_suggestions")
    if state in (DraftState.IN_REVIEW, DraftState.APPROVED) and access.approval_sides(
        user.memberships, draft.study_id
    ):
        may.add("review")
    if state is DraftState.APPROVED:
        may.add("publish")
    if state is not DraftState.PUBLISHED:
        may |= {"comment", "suggest"}
    return frozenset(may)


# -- drafts -----------------------------------------------------------------------------------


def list_drafts(session: Session, user: StaffUser, study: Study) -> list[Draft]:
    """The study's drafts, most recently changed first."""
    _require_participant(user, study.id)
    return list(
        session.scalars(
            select(Draft).where(Draft.study_id == study.id).order_by(Draft.updated_at.desc())
        )
    )


def get_draft(session: Session, user: StaffUser, draft_id: int) -> DraftView:
    draft = _load(session, user, draft_id)
    return _view(draft, _parts(session, draft), user)


def _create(
    session: Session,
    user: StaffUser,
    study: Study,
    document: Mapping[str, Any],
    *,
    base: InstrumentVersion | None,
    authored: bool,
    action: str,
) -> Draft:
    instrument, problems = doc.validate(document, f"{document.get('id')}.yaml")
    if instrument is None:
        raise Invalid(
            N_(
                "%(count)s problem(s): no draft was made.",
                count=sum(p.is_error for p in problems),
            ),
            errors=_problems_by_item(problems),
        )
    _check_version_free(session, instrument.id, instrument.version)
    draft = Draft(
        study_id=study.id,
        instrument_key=instrument.id,
        version=instrument.version,
        title=_title(instrument),
        base_version_id=base.id if base is not None else None,
        owner_id=user.id,
        state=DraftState.DRAFT.value,
    )
    if not insert_unique(session, draft):
        raise Conflict(
            N_(
                "This study already has a draft of %(key)s %(version)s; open it, or give this "
                "one another version.",
                key=instrument.id,
                version=instrument.version,
            )
        )
    instrument_body, items = doc.split(document)
    for key, body in [(doc.INSTRUMENT_PART, instrument_body), *items]:
        session.add(
            DraftPart(
                draft_id=draft.id,
                key=key,
                body=body,
                translation_sources=_all_sources(body, key, document),
                updated_by=user.id,
            )
        )
    if authored:  # every text of a new or uploaded instrument is its creator's work
        session.add(
            DraftChange(
                draft_id=draft.id,
                part_key=doc.INSTRUMENT_PART,
                path="",
                author_id=user.id,
                applied_by=user.id,
                revision=1,
                before=None,
                after=None,
            )
        )
    session.add(
        Transition(draft_id=draft.id, from_state="", to_state=draft.state, actor_id=user.id)
    )
    session.flush()
    _audit(
        session,
        user,
        action,
        draft,
        instrument=instrument.id,
        version=instrument.version,
        base_version_id=draft.base_version_id,
    )
    return draft


def _title(instrument: Instrument) -> str:
    title = instrument.title.get(instrument.default_language) or instrument.id
    return title[:300]


def _problems_by_item(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """Errors grouped as the pages show them: per item, the rest under 'instrument'; each line
    exactly as ``chorus instruments check`` prints it."""
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        if problem.is_error:
            key = f"item '{problem.item_id}'" if problem.item_id else "instrument"
            grouped.setdefault(key, []).append(problem_text(problem))
    return grouped


def create_draft(
    session: Session,
    user: StaffUser,
    study: Study,
    *,
    instrument_key: str,
    title: str,
    language: str = "en",
    respondents: Sequence[str] = ("self",),
) -> Draft:
    """A new instrument, version 1.0.0, with one page holding one welcome text to start from."""
    _require_author(user, study.id)
    key = (instrument_key or "").strip()
    if not _INSTRUMENT_ID.fullmatch(key) or len(key) > 64:
        raise Invalid(
            errors={
                "instrument_key": [
                    N_(
                        "Use lower-case letters, digits and _ , starting with a letter "
                        "(e.g. fatigue_diary)."
                    )
                ]
            }
        )
    clean_title = _clean_text(title, "title", 300, required=True)
    if session.scalar(select(InstrumentVersion.id).where(InstrumentVersion.instrument_key == key)):
        raise Conflict(
            N_(
                "An instrument called '%(key)s' is already published: start a new version of "
                "it instead, or choose another name.",
                key=key,
            )
        )
    if session.scalar(
        select(Draft.id).where(
            Draft.study_id == study.id,
            Draft.instrument_key == key,
            Draft.state != DraftState.PUBLISHED.value,
        )
    ):
        raise Conflict(N_("This study already has a draft called '%(key)s'.", key=key))
    document = {
        "id": key,
        "version": "1.0.0",
        "title": {language: clean_title},
        "languages": [language],
        "default_language": language,
        "licence": "To be decided",
        "copyright": f"© {utcnow().year} {study.name}",
        "authors": [user.display_name],
        "respondents": list(respondents),
        "estimated_minutes": 5,
        "pages": [
            {
                "id": "page_1",
                "items": [{"id": "welcome", "type": "display", "text": {language: clean_title}}],
            }
        ],
    }
    return _create(
        session, user, study, document, base=None, authored=True, action="codesign.draft_created"
    )


def create_draft_from_published(
    session: Session,
    user: StaffUser,
    study: Study,
    version_id: int,
    *,
    version: str | None = None,
) -> Draft:
    """A new draft version of a published instrument (default: the next minor version)."""
    _require_author(user, study.id)
    base = session.get(InstrumentVersion, version_id)
    if base is None:
        raise NotFound(N_("No such published instrument version."))
    document = doc.from_yaml(base.source_text)
    document["version"] = version or _next_minor(base.version)
    return _create(
        session, user, study, document, base=base, authored=False, action="codesign.draft_created"
    )


def import_draft(
    session: Session, user: StaffUser, study: Study, data: bytes, filename: str
) -> ImportedDraft:
    """An uploaded file as a new draft; refused with every problem, per item, if it does not
    pass ``chorus instruments check``. A file for a published instrument becomes a draft of
    its next version (it must carry a version not yet published)."""
    _require_author(user, study.id)
    yaml_text, notes = importers.to_instrument_yaml(data, filename)
    instrument, problems = parse_instrument(yaml_text, filename)
    if instrument is None:
        raise Invalid(
            N_(
                "%(file)s: %(count)s problem(s); no draft was made.",
                file=filename,
                count=sum(p.is_error for p in problems),
            ),
            errors=_problems_by_item(problems),
        )
    base = session.scalar(
        select(InstrumentVersion)
        .where(InstrumentVersion.instrument_key == instrument.id)
        .order_by(InstrumentVersion.id.desc())
        .limit(1)
    )
    draft = _create(
        session,
        user,
        study,
        doc.from_yaml(yaml_text),
        base=base,
        authored=True,
        action="codesign.draft_imported",
    )
    return ImportedDraft(draft, notes)


def transfer_ownership(
    session: Session, user: StaffUser, draft_id: int, new_owner_id: int
) -> Draft:
    """Hand the draft (and the decisions on its suggestions) to another author of the study:
    by its owner, or by a study admin when the owner has left."""
    draft = _load(session, user, draft_id, lock=True)
    if draft.owner_id != user.id:
        access.require(user.memberships, Permission.MANAGE_STUDY, draft.study_id)
    if draft.state == DraftState.PUBLISHED:
        raise Conflict(N_("This version is published; it has no owner to change."))
    new_owner = session.get(StaffUser, new_owner_id)
    if new_owner is None or not new_owner.is_active or not _is_author(new_owner, draft.study_id):
        raise Invalid(errors={"owner": [N_("Choose an active author of this study.")]})
    previous = draft.owner_id
    draft.owner_id = new_owner.id
    draft.updated_at = utcnow()
    session.flush()
    _audit(
        session, user, "codesign.owner_changed", draft, previous_owner=previous, owner=new_owner.id
    )
    return draft


# -- editing ----------------------------------------------------------------------------------


def _apply(
    session: Session,
    user: StaffUser,
    draft: Draft,
    part_key: str,
    changes: Mapping[str, Any],
    expected_revision: int,
    *,
    author_id: int | None = None,
    suggestion_id: int | None = None,
) -> tuple[PartView, list[str]]:
    parts = _parts(session, draft)
    part = parts.get(part_key)
    if part is None:
        raise NotFound(N_("This draft has no item '%(part_key)s'.", part_key=part_key))
    if part.revision != expected_revision:
        raise EditConflict(
            part_key,
            your_revision=expected_revision,
            current_revision=part.revision,
            yours=changes,
            theirs={path: _safe_get(part.body, path) for path in changes},
            current=part.body,
            changed_by=part.updated_by,
        )
    before_document = _document(parts)
    body = _changed_body(part_key, part.body, changes, before_document)
    changed = [path for path in changes if _safe_get(part.body, path) != _safe_get(body, path)]
    if not changed:
        return _part_view(part), []
    instrument, items = _split_parts(parts)
    if part_key == doc.INSTRUMENT_PART:
        instrument = body
    after_document = doc.assemble(
        instrument, {key: (body if key == part_key else value) for key, value in items}
    )
    _refuse_new_errors(draft, before_document, after_document, part_key)
    if part_key == doc.INSTRUMENT_PART and "version" in changed:
        _claim_version(session, draft, str(body.get("version")))
    now = utcnow()
    for path in changed:
        session.add(
            DraftChange(
                draft_id=draft.id,
                part_key=part_key,
                path=path,
                before=_safe_get(part.body, path),
                after=_safe_get(body, path),
                author_id=author_id or user.id,
                applied_by=user.id,
                suggestion_id=suggestion_id,
                revision=part.revision + 1,
                created_at=now,
            )
        )
    _record_sources(part, part.body, body, doc.default_language(after_document))
    part.body = body
    part.revision += 1
    part.updated_at = now
    part.updated_by = author_id or user.id
    draft.updated_at = now
    if part_key == doc.INSTRUMENT_PART:
        loaded, _ = doc.validate(after_document)
        if loaded is not None:
            draft.title = _title(loaded)
    session.flush()
    return _part_view(part), changed


def _reason(error: Exception) -> str:
    """The message an exception was raised with, kept translatable when it is a Text."""
    first = error.args[0] if error.args else ""
    return first if isinstance(first, str) else str(error)


def _safe_get(body: Mapping[str, Any], path: str) -> Any:
    try:
        return doc.get_field(body, path)
    except doc.FieldPathError:
        return None


MAX_VALUE_TEXT: Final = 4000
MAX_VALUE_DEPTH: Final = 12


def _value_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be a field's value (None: it can): plain JSON data only, texts
    without control characters and of a sane length."""
    if depth > MAX_VALUE_DEPTH:
        return "the value is nested too deeply"
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite"
    if isinstance(value, str):
        if len(value) > MAX_VALUE_TEXT:
            return f"use at most {MAX_VALUE_TEXT} characters"
        if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
            return "remove control characters"
        return None
    if isinstance(value, list):
        return next((p for v in value if (p := _value_problem(v, depth + 1))), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "field names must be text"
        return next((p for v in value.values() if (p := _value_problem(v, depth + 1))), None)
    return f"a {type(value).__name__} cannot be stored in an instrument"


def _changed_body(
    part_key: str, body: Mapping[str, Any], changes: Mapping[str, Any], document: Mapping[str, Any]
) -> dict[str, Any]:
    if not changes:
        raise Invalid(errors={"changes": [N_("Nothing to change.")]})
    errors: dict[str, list[str]] = {}
    result = dict(body)
    for path, value in changes.items():
        first = path.split(".")[0]
        if part_key == doc.INSTRUMENT_PART and first in _FIXED_INSTRUMENT_FIELDS:
            errors[path] = [N_("%(field)s: cannot be changed in a draft", field=first)]
            continue
        tokens = path.split(".")
        if part_key == doc.INSTRUMENT_PART and first == "pages" and tokens[2:3] in ([], ["items"]):
            errors[path] = [
                N_("add, move or remove items instead of editing a page's items or pages")
            ]
            continue
        problem = _value_problem(value)
        if problem:
            errors[path] = [problem]
            continue
        try:
            result = doc.set_field(result, path, value, respondent_types=doc.respondents(document))
        except doc.FieldPathError as error:
            errors[path] = [_reason(error)]
    if errors:
        raise Invalid(N_("Not saved: some fields cannot be changed this way."), errors=errors)
    return result


def _part_view(part: DraftPart) -> PartView:
    return PartView(part.key, part.body, part.revision, part.updated_at, part.updated_by)


def edit(
    session: Session,
    user: StaffUser,
    draft_id: int,
    part_key: str,
    changes: Mapping[str, Any],
    expected_revision: int,
) -> PartView:
    """Change fields of one part: an item (``part_key`` = its id) or the instrument settings
    (``document.INSTRUMENT_PART``). ``changes`` maps field paths (``text.proxy.fr``,
    ``choices.1.score``, ``show_when``, ``title.en``, ``scores.0.items``) to new values (None
    removes). All or nothing; refused with the loader's messages if the instrument would get
    new problems, and with :class:`EditConflict` if the part moved past ``expected_revision``.
    """
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    view, changed = _apply(session, user, draft, part_key, changes, expected_revision)
    if changed:
        _audit(
            session,
            user,
            "codesign.edited",
            draft,
            part=part_key,
            fields=changed,
            revision=view.revision,
        )
    return view


_CHOICE_VALUE: Final = re.compile(r"[A-Za-z0-9_]{1,64}")


def choice_list_path(body: Mapping[str, Any], part_key: str, choice_set: str | None) -> str:
    """Where the answer options live: an item's own ``choices`` or the instrument's shared
    ``choice_sets.<name>``."""
    if part_key == doc.INSTRUMENT_PART:
        sets = body.get("choice_sets") or {}
        if not choice_set or choice_set not in sets:
            raise NotFound(N_("This draft has no shared answer list '%(name)s'.", name=choice_set))
        return f"choice_sets.{choice_set}"
    choices = body.get("choices")
    if isinstance(choices, str):
        raise Invalid(
            errors={
                "value": [
                    N_(
                        "This question uses the shared answer list '%(name)s': add the option "
                        "to that list.",
                        name=choices,
                    )
                ]
            }
        )
    return "choices"


def add_choice(
    session: Session,
    user: StaffUser,
    draft_id: int,
    part_key: str,
    *,
    value: str,
    labels: Mapping[str, str],
    score: float | None,
    expected_revision: int,
    choice_set: str | None = None,
) -> PartView:
    """Add an answer option at the end of an item's own list (``part_key`` = the item id) or
    of a shared answer list (``part_key = INSTRUMENT_PART``, ``choice_set`` = its name). The
    value is what answers store; ``labels`` map languages to what people read. Checked, kept
    in the history and audited as an edit of that part (conflicts included)."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    part = parts.get(part_key)
    if part is None:
        raise NotFound(N_("This draft has no item '%(item)s'.", item=part_key))
    path = choice_list_path(part.body, part_key, choice_set)
    members = doc.get_field(part.body, path)
    members = members if isinstance(members, list) else []
    code = (value or "").strip()
    if not _CHOICE_VALUE.fullmatch(code):
        raise Invalid(
            errors={"value": [N_("Use letters, digits and _ (at most 64), for example often.")]}
        )
    # Lists coded 0, 1, 2 keep whole-number codes, as their data already has them.
    numeric = bool(members) and all(
        isinstance(m, dict) and isinstance(m.get("value"), int) for m in members
    )
    stored: int | str = int(code) if numeric and code.isdigit() else code
    languages = _document(parts).get("languages") or []
    texts = {
        language: _clean_text(labels.get(language), f"label.{language}", 300, required=False)
        for language in languages
    }
    choice: dict[str, Any] = {
        "value": stored,
        "label": {language: text for language, text in texts.items() if text},
    }
    if score is not None:
        choice["score"] = score
    view, _changed = _apply(
        session, user, draft, part_key, {f"{path}.{len(members)}": choice}, expected_revision
    )
    _audit(
        session,
        user,
        "codesign.choice_added",
        draft,
        part=part_key,
        list=path,
        position=len(members),
        revision=view.revision,
    )
    return view


def _own_or_shared_list(
    parts: Mapping[str, DraftPart], part_key: str, choice_set: str | None
) -> tuple[DraftPart, str, list[Any]]:
    """The part holding the answer options, their path in it and the options themselves."""
    part = parts.get(part_key)
    if part is None:
        raise NotFound(N_("This draft has no item '%(item)s'.", item=part_key))
    if part_key != doc.INSTRUMENT_PART and isinstance(part.body.get("choices"), str):
        raise Invalid(
            errors={
                "choice": [
                    N_(
                        "This question uses the shared answer list '%(name)s': change the "
                        "options in that list.",
                        name=part.body["choices"],
                    )
                ]
            }
        )
    path = choice_list_path(part.body, part_key, choice_set)
    members = doc.get_field(part.body, path)
    return part, path, list(members) if isinstance(members, list) else []


def _expression_fields(document: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    """(part, field, source) of every expression of a document: skip logic of items and
    pages, answer conditions, scoring conditions and alert rules."""
    for page_index, page in enumerate(document.get("pages") or []):
        if isinstance(page.get("show_when"), str):
            yield doc.INSTRUMENT_PART, f"pages.{page_index}.show_when", page["show_when"]
        for item in page.get("items") or []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("show_when"), str):
                yield str(item.get("id")), "show_when", item["show_when"]
            constraint = item.get("constraint")
            if isinstance(constraint, dict) and isinstance(constraint.get("condition"), str):
                yield str(item.get("id")), "constraint.condition", constraint["condition"]
    for kind, key in (("scores", "when"), ("alerts", "when")):
        for index, rule in enumerate(document.get(kind) or []):
            if isinstance(rule, dict) and isinstance(rule.get(key), str):
                yield doc.INSTRUMENT_PART, f"{kind}.{index}.{key}", rule[key]


def _literals(ast: Any) -> Iterable[Any]:
    if isinstance(ast, dict):
        if "lit" in ast:
            value = ast["lit"]
            yield from value if isinstance(value, list) else [value]
        for argument in ast.get("args") or []:
            yield from _literals(argument)


def _refuse_referenced_choice(
    document: Mapping[str, Any], part_key: str, choice_set: str | None, value: Any
) -> None:
    """Refuse removing an option that an expression still compares an answer of its list
    with (``pain_where == 'head'``): the loader cannot see that, the answers would."""
    if part_key == doc.INSTRUMENT_PART:
        users = {
            str(item.get("id"))
            for page in document.get("pages") or []
            for item in page.get("items") or []
            if isinstance(item, dict) and item.get("choices") == choice_set
        }
    else:
        users = {part_key}
    wanted = normalize_value(value)
    uses = []
    for part, field_path, source in _expression_fields(document):
        try:
            compiled = compile_expression(source)
        except ExpressionError:
            continue
        if users & set(compiled.names) and any(
            values_equal(normalize_value(literal), wanted) for literal in _literals(compiled.ast)
        ):
            uses.append(field_path if part == doc.INSTRUMENT_PART else f"{part} {field_path}")
    if uses:
        raise Invalid(
            N_("Not removed: the instrument still uses this answer option."),
            errors={
                "choice": [
                    N_(
                        "%(where)s compares an answer with %(value)s. Change that first, then "
                        "remove the option.",
                        where=where,
                        value=value,
                    )
                    for where in uses
                ]
            },
        )


def remove_choice(
    session: Session,
    user: StaffUser,
    draft_id: int,
    part_key: str,
    *,
    index: int,
    expected_revision: int,
    choice_set: str | None = None,
) -> PartView:
    """Remove the answer option at ``index`` of an item's own list (``part_key`` = the item
    id) or of a shared list (``part_key = INSTRUMENT_PART``, ``choice_set`` = its name).
    Refused if skip logic, a condition or an alert still compares answers with it, or if the
    loader would refuse the list left (fewer than two options, ``max_choices``…); conflicts,
    history and audit as for every edit of that part."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    holder, path, members = _own_or_shared_list(parts, part_key, choice_set)
    if isinstance(index, bool) or not 0 <= index < len(members):
        raise NotFound(N_("This list has no answer option %(number)s.", number=index + 1))
    removed = members[index]
    value = removed.get("value") if isinstance(removed, dict) else removed
    if holder.revision == expected_revision:
        _refuse_referenced_choice(_document(parts), part_key, choice_set, value)
    remaining = [member for position, member in enumerate(members) if position != index]
    view, _changed = _apply(session, user, draft, part_key, {path: remaining}, expected_revision)
    _audit(
        session,
        user,
        "codesign.choice_removed",
        draft,
        part=part_key,
        list=path,
        position=index,
        revision=view.revision,
    )
    return view


def move_choice(
    session: Session,
    user: StaffUser,
    draft_id: int,
    part_key: str,
    *,
    index: int,
    to: int,
    expected_revision: int,
    choice_set: str | None = None,
) -> PartView:
    """Move the answer option at ``index`` to position ``to`` (both from 0) in an item's own
    list or a shared list; what answers store does not change, only the order people see.
    Conflicts, history and audit as for every edit of that part."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    _holder, path, members = _own_or_shared_list(parts, part_key, choice_set)
    if isinstance(index, bool) or not 0 <= index < len(members):
        raise NotFound(N_("This list has no answer option %(number)s.", number=index + 1))
    if isinstance(to, bool) or not 0 <= to < len(members):
        raise Invalid(errors={"position": [N_("Choose a place in the list for the option.")]})
    order = list(members)
    order.insert(to, order.pop(index))
    view, changed = _apply(session, user, draft, part_key, {path: order}, expected_revision)
    if changed:
        _audit(
            session,
            user,
            "codesign.choice_moved",
            draft,
            part=part_key,
            list=path,
            position=index,
            to=to,
            revision=view.revision,
        )
    return view


def check_expression(
    session: Session,
    user: StaffUser,
    draft_id: int,
    source: str,
    *,
    part_key: str,
    field: str,
    new_item_before: str | None = None,
) -> doc.ExpressionCheck:
    """Check one expression as it is typed (nothing saved): the same language and the same
    message as saving it would give. Fields: an item's ``show_when`` or
    ``constraint.condition``; the instrument's ``pages.N.show_when``, ``scores.N.when``,
    ``alerts.N.when``. For an item being added, ``part_key`` is its new id and
    ``new_item_before`` the item it will precede (None: last)."""
    draft = _load(session, user, draft_id)
    instrument, items = _split_parts(_parts(session, draft))
    try:
        return doc.check_expression(
            instrument, items, source, part=part_key, field=field, new_item_before=new_item_before
        )
    except doc.FieldPathError as error:
        raise Invalid(errors={"field": [_reason(error)]}) from error


def add_item(
    session: Session,
    user: StaffUser,
    draft_id: int,
    item: Mapping[str, Any],
    *,
    page_id: str,
    position: int | None = None,
    page_title: Mapping[str, str] | None = None,
) -> PartView:
    """Add an item (a whole item mapping, as in a file) to a page at ``position`` (default:
    last). A page id not in the draft starts a new last page (with ``page_title``)."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    item_id = item.get("id")
    if not (isinstance(item_id, str) and _ITEM_ID.fullmatch(item_id) and len(item_id) <= 64):
        raise Invalid(errors={"id": [N_("Use letters, digits and _ , not starting with a digit.")]})
    if item_id in parts:
        raise Conflict(N_("This draft already has an item '%(item_id)s'.", item_id=item_id))
    instrument_part = parts[doc.INSTRUMENT_PART]
    before = _document(parts)
    instrument = copy.deepcopy(instrument_part.body)
    pages = instrument["pages"]
    page = next((p for p in pages if p["id"] == page_id), None)
    if page is None:
        page = {"id": page_id, "items": []}
        if page_title:
            page["title"] = dict(page_title)
        pages.append(page)
    page["items"].insert(len(page["items"]) if position is None else position, item_id)
    normalized = doc.normalize({**before, "pages": [{"id": "_", "items": [dict(item)]}]})
    body = normalized["pages"][0]["items"][0]
    _, items = _split_parts(parts)
    after = doc.assemble(instrument, {**dict(items), item_id: body})
    _refuse_new_errors(draft, before, after, item_id)
    now = utcnow()
    instrument_part.body = instrument
    instrument_part.revision += 1
    instrument_part.updated_at = now
    new_part = DraftPart(
        draft_id=draft.id,
        key=item_id,
        body=body,
        translation_sources=_all_sources(body, item_id, after),
        updated_by=user.id,
    )
    session.add(new_part)
    session.add(
        DraftChange(
            draft_id=draft.id,
            part_key=item_id,
            path="",
            before=None,
            after=body,
            author_id=user.id,
            applied_by=user.id,
            revision=1,
            created_at=now,
        )
    )
    draft.updated_at = now
    session.flush()
    _audit(session, user, "codesign.item_added", draft, part=item_id, page=page_id)
    return _part_view(new_part)


def remove_item(
    session: Session, user: StaffUser, draft_id: int, item_id: str, expected_revision: int
) -> None:
    """Remove an item (its page too when it was the page's last item). Refused if it moved
    past ``expected_revision`` or if skip logic, scores or alerts still use it."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    part = parts.get(item_id)
    if part is None or item_id == doc.INSTRUMENT_PART:
        raise NotFound(N_("This draft has no item '%(item_id)s'.", item_id=item_id))
    if part.revision != expected_revision:
        raise EditConflict(
            item_id,
            your_revision=expected_revision,
            current_revision=part.revision,
            yours={"": None},
            theirs={"": part.body},
            current=part.body,
            changed_by=part.updated_by,
        )
    before = _document(parts)
    instrument_part = parts[doc.INSTRUMENT_PART]
    instrument = copy.deepcopy(instrument_part.body)
    for page in instrument["pages"]:
        if item_id in page["items"]:
            page["items"].remove(item_id)
    instrument["pages"] = [page for page in instrument["pages"] if page["items"]]
    _, items = _split_parts(parts)
    after = doc.assemble(instrument, {k: v for k, v in items if k != item_id})
    _refuse_new_errors(draft, before, after, doc.INSTRUMENT_PART)
    now = utcnow()
    session.add(
        DraftChange(
            draft_id=draft.id,
            part_key=item_id,
            path="",
            before=part.body,
            after=None,
            author_id=user.id,
            applied_by=user.id,
            revision=part.revision + 1,
            created_at=now,
        )
    )
    instrument_part.body = instrument
    instrument_part.revision += 1
    instrument_part.updated_at = now
    draft.updated_at = now
    session.delete(part)
    session.flush()
    _audit(session, user, "codesign.item_removed", draft, part=item_id)


NEW_PAGE: Final = "@new"  # move_item's page_id for a new last page (page ids have no "@")


def move_item(
    session: Session,
    user: StaffUser,
    draft_id: int,
    item_id: str,
    *,
    page_id: str,
    position: int,
    expected_revision: int,
) -> bool:
    """Move an item to ``position`` (counted without the item itself) on an existing page, or
    onto a new last page (``page_id=NEW_PAGE``); a page left empty goes. The page layout
    belongs to the instrument part, so ``expected_revision`` is that part's revision: if
    someone changed it meanwhile, :class:`EditConflict` and nothing moves. Refused if skip
    logic would then look forward (the loader's rule). False when the item is already there."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    if item_id not in parts or item_id == doc.INSTRUMENT_PART:
        raise NotFound(N_("This draft has no item '%(item)s'.", item=item_id))
    instrument_part = parts[doc.INSTRUMENT_PART]
    layout = before_pages(instrument_part.body)
    if instrument_part.revision != expected_revision:
        raise EditConflict(
            doc.INSTRUMENT_PART,
            your_revision=expected_revision,
            current_revision=instrument_part.revision,
            yours={"pages": None},
            theirs={"pages": layout},
            current=instrument_part.body,
            changed_by=instrument_part.updated_by,
            message=N_(
                "Someone else changed the pages or the instrument settings while you were "
                "moving this question. Nothing was moved: check where it is now and move it "
                "again."
            ),
        )
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise Invalid(errors={"position": [N_("Choose a place for the question.")]})
    before = _document(parts)
    instrument = copy.deepcopy(instrument_part.body)
    if page_id == NEW_PAGE:
        taken = {page["id"] for page in instrument["pages"]}
        number = len(taken) + 1
        while f"page_{number}" in taken:
            number += 1
        target: dict[str, Any] = {"id": f"page_{number}", "items": []}
        instrument["pages"].append(target)
    else:
        found = next((p for p in instrument["pages"] if p["id"] == page_id), None)
        if found is None:
            raise Invalid(
                errors={"page_id": [N_("This draft has no page '%(page)s'.", page=page_id)]}
            )
        target = found
    source = next(page["id"] for page in instrument["pages"] if item_id in page["items"])
    for page in instrument["pages"]:
        if item_id in page["items"]:
            page["items"].remove(item_id)
    target["items"].insert(min(position, len(target["items"])), item_id)
    instrument["pages"] = [page for page in instrument["pages"] if page["items"]]
    if before_pages(instrument) == layout:
        return False
    _, items = _split_parts(parts)
    after = doc.assemble(instrument, dict(items))
    _refuse_new_errors(draft, before, after, item_id)
    now = utcnow()
    session.add(
        DraftChange(
            draft_id=draft.id,
            part_key=doc.INSTRUMENT_PART,
            path="pages",
            before=layout,
            after=before_pages(instrument),
            author_id=user.id,
            applied_by=user.id,
            revision=instrument_part.revision + 1,
            created_at=now,
        )
    )
    instrument_part.body = instrument
    instrument_part.revision += 1
    instrument_part.updated_at = now
    instrument_part.updated_by = user.id
    draft.updated_at = now
    session.flush()
    _audit(
        session,
        user,
        "codesign.item_moved",
        draft,
        part=item_id,
        from_page=source,
        page=target["id"],
        position=target["items"].index(item_id),
        revision=instrument_part.revision,
    )
    return True


def before_pages(instrument: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"id": page["id"], "items": list(page["items"])} for page in instrument["pages"]]


def history(
    session: Session, user: StaffUser, draft_id: int, *, part_key: str | None = None
) -> list[DraftChange]:
    """Every change to the draft (or to one part), newest first, each with its author."""
    draft = _load(session, user, draft_id)
    query = select(DraftChange).where(DraftChange.draft_id == draft.id)
    if part_key is not None:
        query = query.where(DraftChange.part_key == part_key)
    return list(session.scalars(query.order_by(DraftChange.id.desc())))


# -- comments ---------------------------------------------------------------------------------


def add_comment(
    session: Session,
    user: StaffUser,
    draft_id: int,
    body: str,
    *,
    part_key: str | None = None,
    path: str | None = None,
    reply_to: int | None = None,
) -> Comment:
    """A comment on the instrument (no part), an item, or one field of it; or a reply."""
    draft = _load(session, user, draft_id)
    if draft.state == DraftState.PUBLISHED:
        raise Conflict(N_("This version is published; discuss changes on a new draft."))
    text = _clean_text(body, "body", MAX_COMMENT, required=True)
    thread_id = None
    if reply_to is not None:
        parent = session.get(Comment, reply_to)
        if parent is None or parent.draft_id != draft.id:
            raise NotFound(N_("No such comment on this draft."))
        thread_id = parent.thread_id or parent.id
        root = session.get(Comment, thread_id)
        assert root is not None
        part_key, path = root.part_key, root.path
    else:
        if part_key is not None and part_key not in _parts(session, draft):
            raise Invalid(
                errors={
                    "part_key": [N_("This draft has no item '%(part_key)s'.", part_key=part_key)]
                }
            )
        if path is not None:
            if part_key is None:
                raise Invalid(
                    errors={"path": [N_("Say which item (or the instrument) the field is on.")]}
                )
            try:
                doc.parse_path(path)
            except doc.FieldPathError as error:
                raise Invalid(errors={"path": [_reason(error)]}) from error
    assert text is not None
    comment = Comment(
        draft_id=draft.id,
        part_key=part_key,
        path=path,
        thread_id=thread_id,
        author_id=user.id,
        body=text,
    )
    session.add(comment)
    session.flush()
    _audit(
        session,
        user,
        "codesign.commented",
        draft,
        comment_id=comment.id,
        thread_id=thread_id,
        part=part_key,
    )
    return comment


def set_comment_resolved(
    session: Session, user: StaffUser, comment_id: int, resolved: bool = True
) -> Comment:
    """Resolve (or reopen) the thread a comment belongs to."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(N_("No such comment."))
    draft = _load(session, user, comment.draft_id)
    root = session.get(Comment, comment.thread_id) if comment.thread_id else comment
    assert root is not None
    if (root.resolved_at is not None) == resolved:
        return root
    root.resolved_at = utcnow() if resolved else None
    root.resolved_by = user.id if resolved else None
    session.flush()
    action = "codesign.comment_resolved" if resolved else "codesign.comment_reopened"
    _audit(session, user, action, draft, comment_id=root.id)
    return root


def comments(
    session: Session,
    user: StaffUser,
    draft_id: int,
    *,
    part_key: str | None = None,
    include_resolved: bool = True,
) -> list[Thread]:
    """Threads in the order they were started; optionally only one item's."""
    draft = _load(session, user, draft_id)
    rows = list(
        session.scalars(select(Comment).where(Comment.draft_id == draft.id).order_by(Comment.id))
    )
    replies: dict[int, list[Comment]] = {}
    for row in rows:
        if row.thread_id is not None:
            replies.setdefault(row.thread_id, []).append(row)
    threads = [
        Thread(row, tuple(replies.get(row.id, ())))
        for row in rows
        if row.thread_id is None and (part_key is None or row.part_key == part_key)
    ]
    return [t for t in threads if include_resolved or not t.resolved]


# -- suggestions ------------------------------------------------------------------------------


def suggest(
    session: Session,
    user: StaffUser,
    draft_id: int,
    part_key: str,
    path: str,
    value: Any,
    *,
    note: str | None = None,
) -> Suggestion:
    """Propose a new value for one field (None: remove it). Checked now as an edit would be,
    so a suggestion that cannot be accepted is refused at once, with the same messages."""
    draft = _load(session, user, draft_id)
    if draft.state == DraftState.PUBLISHED:
        raise Conflict(N_("This version is published; suggest changes on a new draft."))
    clean_note = _clean_text(note, "note", MAX_NOTE, required=False)
    parts = _parts(session, draft)
    part = parts.get(part_key)
    if part is None:
        raise NotFound(N_("This draft has no item '%(part_key)s'.", part_key=part_key))
    document = _document(parts)
    body = _changed_body(part_key, part.body, {path: value}, document)
    current = _safe_get(part.body, path)
    if _safe_get(body, path) == current:
        raise Invalid(errors={path: [N_("That is already the value.")]})
    instrument, items = _split_parts(parts)
    if part_key == doc.INSTRUMENT_PART:
        instrument = body
    after = doc.assemble(instrument, {k: (body if k == part_key else v) for k, v in items})
    _refuse_new_errors(draft, document, after, part_key)
    suggestion = Suggestion(
        draft_id=draft.id,
        part_key=part_key,
        path=path,
        value=value,
        base_value=current,
        note=clean_note,
        author_id=user.id,
        status=SuggestionStatus.OPEN.value,
    )
    session.add(suggestion)
    session.flush()
    _audit(
        session,
        user,
        "codesign.suggested",
        draft,
        suggestion_id=suggestion.id,
        part=part_key,
        field=path,
    )
    return suggestion


def suggestions(
    session: Session, user: StaffUser, draft_id: int, *, status: str | None = None
) -> list[Suggestion]:
    draft = _load(session, user, draft_id)
    query = select(Suggestion).where(Suggestion.draft_id == draft.id)
    if status is not None:
        query = query.where(Suggestion.status == status)
    return list(session.scalars(query.order_by(Suggestion.id)))


def _open_suggestion(
    session: Session, user: StaffUser, suggestion_id: int
) -> tuple[Draft, Suggestion]:
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(N_("No such suggestion."))
    draft = _load(session, user, suggestion.draft_id, lock=True)
    session.refresh(suggestion)
    if draft.owner_id != user.id:
        raise Forbidden(N_("Only the draft's owner decides on suggestions."))
    if suggestion.status != SuggestionStatus.OPEN:
        raise Conflict(N_("This suggestion was already %(status)s.", status=suggestion.status))
    return draft, suggestion


def accept_suggestion(
    session: Session, user: StaffUser, suggestion_id: int, *, note: str | None = None
) -> PartView:
    """Apply the suggestion, attributed to its author. Refused (EditConflict) if the field
    changed since the suggestion was made: accepting would undo that later change."""
    draft, suggestion = _open_suggestion(session, user, suggestion_id)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    clean_note = _clean_text(note, "note", MAX_NOTE, required=False)
    part = _parts(session, draft).get(suggestion.part_key)
    if part is None:
        raise Conflict(N_("The item this suggestion was for has been removed."))
    current = _safe_get(part.body, suggestion.path)
    if current != suggestion.base_value:
        raise EditConflict(
            suggestion.part_key,
            your_revision=part.revision,
            current_revision=part.revision,
            yours={suggestion.path: suggestion.value},
            theirs={suggestion.path: current},
            current=part.body,
            changed_by=part.updated_by,
        )
    view, changed = _apply(
        session,
        user,
        draft,
        suggestion.part_key,
        {suggestion.path: suggestion.value},
        part.revision,
        author_id=suggestion.author_id,
        suggestion_id=suggestion.id,
    )
    suggestion.status = SuggestionStatus.ACCEPTED.value
    suggestion.decided_at = utcnow()
    suggestion.decided_by = user.id
    suggestion.decision_note = clean_note
    session.flush()
    _audit(
        session,
        user,
        "codesign.suggestion_accepted",
        draft,
        suggestion_id=suggestion.id,
        part=suggestion.part_key,
        fields=changed,
        revision=view.revision,
    )
    return view


def reject_suggestion(
    session: Session, user: StaffUser, suggestion_id: int, *, note: str | None = None
) -> Suggestion:
    draft, suggestion = _open_suggestion(session, user, suggestion_id)
    suggestion.status = SuggestionStatus.REJECTED.value
    suggestion.decided_at = utcnow()
    suggestion.decided_by = user.id
    suggestion.decision_note = _clean_text(note, "note", MAX_NOTE, required=False)
    session.flush()
    _audit(session, user, "codesign.suggestion_rejected", draft, suggestion_id=suggestion.id)
    return suggestion


# -- translations -----------------------------------------------------------------------------


def _recorded(parts: Mapping[str, DraftPart]) -> dict[tuple[str, str], str]:
    return {
        (key, path): fingerprint
        for key, part in parts.items()
        for path, fingerprint in (part.translation_sources or {}).items()
    }


def translation_status(session: Session, user: StaffUser, draft_id: int) -> TranslationReport:
    """Per language: how many texts are translated, missing and stale (source changed since)."""
    draft = _load(session, user, draft_id)
    parts = _parts(session, draft)
    instrument, items = _split_parts(parts)
    default = doc.default_language(instrument)
    return TranslationReport(
        default,
        tuple(
            tr.status(
                doc.text_slots(instrument, items),
                instrument.get("languages") or [],
                default,
                _recorded(parts),
            )
        ),
    )


def confirm_translation(
    session: Session,
    user: StaffUser,
    draft_id: int,
    part_key: str,
    field: str,
    expected_revision: int,
) -> PartView:
    """A translator checked a stale translation against the new source and keeps it."""
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    part = parts.get(part_key)
    if part is None:
        raise NotFound(N_("This draft has no item '%(part_key)s'.", part_key=part_key))
    if part.revision != expected_revision:
        raise EditConflict(
            part_key,
            your_revision=expected_revision,
            current_revision=part.revision,
            yours={},
            theirs={},
            current=part.body,
            changed_by=part.updated_by,
        )
    default = doc.default_language(parts[doc.INSTRUMENT_PART].body)
    translations = _part_translations(part_key, part.body, default)
    if field not in translations:
        raise Invalid(errors={field: [N_("There is no translation here to confirm.")]})
    part.translation_sources = {
        **(part.translation_sources or {}),
        field: doc.source_hash(translations[field][1]),
    }
    part.revision += 1
    part.updated_at = utcnow()
    part.updated_by = user.id
    session.flush()
    _audit(session, user, "codesign.translation_confirmed", draft, part=part_key, field=field)
    return _part_view(part)


def _translation_to_export(
    session: Session, user: StaffUser, draft_id: int, language: str
) -> tuple[Draft, TranslationReport, tr.LanguageStatus]:
    """The draft, its translation report and `language`'s entries, for a translator's file."""
    report = translation_status(session, user, draft_id)
    status = next((s for s in report.languages if s.language == language), None)
    if status is None:
        raise Invalid(
            errors={
                "language": [
                    N_(
                        "'%(language)s' is not a translation language of this draft.",
                        language=language,
                    )
                ]
            }
        )
    return _load(session, user, draft_id), report, status


def export_translations(
    session: Session, user: StaffUser, draft_id: int, language: str
) -> tuple[str, str]:
    """``(file name, CSV text)`` of every text in ``language`` with its source, for a
    translator's spreadsheet."""
    draft, _report, status = _translation_to_export(session, user, draft_id, language)
    return f"{draft.instrument_key}-{draft.version}-{language}.csv", tr.export_csv(status.entries)


def export_translations_xliff(
    session: Session, user: StaffUser, draft_id: int, language: str
) -> tuple[str, bytes]:
    """``(file name, XLIFF 2.0 bytes)`` of every text in ``language`` with its source, for a
    translator's tool (see ``app.codesign.xliff``)."""
    draft, report, status = _translation_to_export(session, user, draft_id, language)
    name = f"{draft.instrument_key}-{draft.version}-{language}.xlf"
    data = xliff.export_xliff(
        status.entries,
        source_language=report.source_language,
        language=language,
        original=f"{draft.instrument_key}-{draft.version}",
    )
    return name, data


def import_translations(
    session: Session, user: StaffUser, draft_id: int, csv_text: str
) -> TranslationImport:
    """Apply a translator's CSV: all rows or none. Errors name the row and the cell; each
    translation is recorded against the source text the translator saw (stale if it changed)."""
    return _import_translations(
        session,
        user,
        draft_id,
        "csv",
        lambda slots, languages, default: tr.parse_csv(csv_text, slots, languages, default),
    )


def import_translations_xliff(
    session: Session, user: StaffUser, draft_id: int, data: bytes
) -> TranslationImport:
    """Apply a translator's XLIFF 2.0 file: all units or none. Errors name the line; each
    translation is recorded against the source text the translator saw, as with CSV."""
    return _import_translations(
        session,
        user,
        draft_id,
        "xliff",
        lambda slots, languages, default: xliff.parse_xliff(data, slots, languages, default),
    )


_Parser = Callable[
    [Sequence[doc.TextSlot], Sequence[str], str],
    tuple[list[tr.ImportedTranslation], dict[str, list[str]]],
]


def _import_translations(
    session: Session, user: StaffUser, draft_id: int, file_format: str, parse: _Parser
) -> TranslationImport:
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    _require_editable(draft)
    parts = _parts(session, draft)
    instrument, items = _split_parts(parts)
    default = doc.default_language(instrument)
    slots = doc.text_slots(instrument, items)
    rows, errors = parse(slots, instrument.get("languages") or [], default)
    if errors:
        raise Invalid(
            N_("%(count)s row(s) could not be read; nothing was imported.", count=len(errors))
            if file_format == "csv"
            else N_(
                "%(count)s line(s) of the file have problems; nothing was imported.",
                count=len(errors),
            ),
            errors=errors,
        )
    by_part: dict[str, dict[str, str]] = {}
    fingerprints: dict[tuple[str, str], str] = {}
    for row in rows:
        if _safe_get(parts[row.part].body, row.field) != row.text:
            by_part.setdefault(row.part, {})[row.field] = row.text
        fingerprints[(row.part, row.field)] = row.source_hash
    stale = 0
    for part_key, changes in by_part.items():
        part = parts[part_key]
        _apply(session, user, draft, part_key, changes, part.revision)
    sources = {
        slot.part + "|" + slot.path: slot.texts[default] for slot in slots if default in slot.texts
    }
    bumped: set[str] = set(by_part)
    for (part_key, field_path), fingerprint in fingerprints.items():
        part = parts[part_key]
        recorded = dict(part.translation_sources or {})
        if recorded.get(field_path) != fingerprint:
            recorded[field_path] = fingerprint
            part.translation_sources = recorded
            if part_key not in bumped:  # a translation confirmed: the part's state changed
                bumped.add(part_key)
                part.revision += 1
                part.updated_at = utcnow()
                part.updated_by = user.id
        head = field_path.rpartition(".")[0]
        if doc.source_hash(sources[part_key + "|" + head]) != fingerprint:
            stale += 1
    session.flush()
    _audit(
        session,
        user,
        "codesign.translations_imported",
        draft,
        format=file_format,
        rows=len(rows),
        applied=sum(len(c) for c in by_part.values()),
        stale=stale,
    )
    return TranslationImport(sum(len(c) for c in by_part.values()), stale, tuple(sorted(by_part)))


# -- readability ------------------------------------------------------------------------------


def readability_target(session: Session, study_id: int) -> float:
    settings = session.get(CodesignSettings, study_id)
    return settings.readability_target_grade if settings else reading.DEFAULT_TARGET_GRADE


def set_readability_target(session: Session, user: StaffUser, study: Study, grade: float) -> float:
    """The study's target reading level, as a school grade (1 to 16)."""
    access.require_somewhere(user.memberships, Permission.APPROVE_INSTRUMENTS, study.id)
    if not (isinstance(grade, int | float) and not isinstance(grade, bool) and 1 <= grade <= 16):
        raise Invalid(errors={"grade": [N_("Use a school grade from 1 to 16 (8 is usual).")]})
    settings = session.get(CodesignSettings, study.id)
    if settings is None:
        settings = CodesignSettings(study_id=study.id, readability_target_grade=float(grade))
        session.add(settings)
    settings.readability_target_grade = float(grade)
    settings.updated_at = utcnow()
    settings.updated_by = user.id
    session.flush()
    audit.record(
        session,
        actor=_actor(user),
        action="codesign.readability_target_set",
        target=f"study:{study.id}",
        details={"grade": float(grade)},
    )
    return float(grade)


def readability(session: Session, user: StaffUser, draft_id: int) -> ReadabilityReport:
    """Every text and every item (question with help) per language, against the target."""
    draft = _load(session, user, draft_id)
    instrument, items = _split_parts(_parts(session, draft))
    target = readability_target(session, draft.study_id)
    return ReadabilityReport(
        target,
        tuple(reading.strings(doc.text_slots(instrument, items), target)),
        tuple(
            reading.items(
                items, doc.respondents(instrument), instrument.get("languages") or [], target
            )
        ),
    )


# -- review and publishing --------------------------------------------------------------------


def _transition(
    session: Session, user: StaffUser, draft: Draft, to: DraftState, action: str, note: str | None
) -> None:
    session.add(
        Transition(
            draft_id=draft.id,
            from_state=draft.state,
            to_state=to.value,
            actor_id=user.id,
            note=note,
        )
    )
    previous = draft.state
    draft.state = to.value
    draft.updated_at = utcnow()
    session.flush()
    _audit(session, user, action, draft, from_state=previous, to_state=to.value)


def _content_hash(session: Session, draft: Draft) -> str:
    return content_hash(_loaded(draft, _document(_parts(session, draft))))


def submit_for_review(
    session: Session, user: StaffUser, draft_id: int, *, note: str | None = None
) -> Draft:
    draft = _load(session, user, draft_id, lock=True)
    _require_author(user, draft.study_id)
    if draft.state not in EDITABLE_STATES:
        raise Conflict(
            N_("Only a draft can be submitted; this one is in review or approved.")
            if draft.state != DraftState.PUBLISHED
            else _NOT_EDITABLE[DraftState.PUBLISHED.value]
        )
    clean_note = _clean_text(note, "note", MAX_NOTE, required=False)
    loaded = _loaded(draft, _document(_parts(session, draft)))
    base = draft.base_version
    # Only the version number differs from the base: there is nothing for anyone to review.
    if base is not None and content_hash(dataclasses.replace(loaded, version=base.version)) == (
        base.content_hash
    ):
        raise Invalid(
            N_(
                "Nothing has changed since %(version)s; there is nothing to review.",
                version=base.label,
            ),
            errors={"draft": [N_("no changes")]},
        )
    _transition(session, user, draft, DraftState.IN_REVIEW, "codesign.review_submitted", clean_note)
    return draft


def request_changes(session: Session, user: StaffUser, draft_id: int, note: str) -> Draft:
    """A reviewer (or the owner) sends the draft back for editing, saying what to change.
    Approvals given so far stay on record but count only for the content they approved."""
    draft = _load(session, user, draft_id, lock=True)
    reviewer = bool(access.approval_sides(user.memberships, draft.study_id))
    if not reviewer and draft.owner_id != user.id:
        raise Forbidden()
    if draft.state not in (DraftState.IN_REVIEW, DraftState.APPROVED):
        raise Conflict(N_("Changes can be requested only while a draft is in review or approved."))
    clean_note = _clean_text(note, "note", MAX_NOTE, required=True)
    _transition(
        session, user, draft, DraftState.CHANGES_REQUESTED, "codesign.changes_requested", clean_note
    )
    return draft


def _change_authors(session: Session, draft: Draft) -> set[int | None]:
    return set(
        session.scalars(select(DraftChange.author_id).where(DraftChange.draft_id == draft.id))
    )


def _valid_approvals(session: Session, draft: Draft, digest: str) -> list[Approval]:
    return list(
        session.scalars(
            select(Approval).where(Approval.draft_id == draft.id, Approval.content_hash == digest)
        )
    )


def _sides_covered(approvals: Sequence[Approval]) -> bool:
    """One patient-group and one study-staff approval, from two different people."""
    group = {a.user_id for a in approvals if a.side == ApprovalSide.PATIENT_GROUP}
    staff = {a.user_id for a in approvals if a.side == ApprovalSide.STUDY_STAFF}
    return any(g != s for g in group for s in staff)


def approve(
    session: Session, user: StaffUser, draft_id: int, *, note: str | None = None
) -> Approval:
    """Approve the draft's current content for the patient group or the study team. Refused to
    someone who made every change in it. With both sides approved the draft is approved."""
    draft = _load(session, user, draft_id, lock=True)
    sides = access.approval_sides(user.memberships, draft.study_id)
    if not sides:
        raise Forbidden(
            N_("Only patient-group authors and study staff who approve instruments can approve.")
        )
    if draft.state != DraftState.IN_REVIEW:
        raise Conflict(N_("Only a draft in review can be approved."))
    authors = _change_authors(session, draft)
    if authors and authors <= {user.id}:
        raise Forbidden(
            N_("You made every change in this draft, so someone else must approve it."),
            errors={"approval": [N_("self-approval")]},
        )
    clean_note = _clean_text(note, "note", MAX_NOTE, required=False)
    digest = _content_hash(session, draft)
    approvals = _valid_approvals(session, draft, digest)
    if any(a.user_id == user.id for a in approvals):
        raise Conflict(N_("You have already approved this content."))
    covered = {a.side for a in approvals}
    side = next((s for s in sorted(sides) if s not in covered), sorted(sides)[0])
    approval = Approval(draft_id=draft.id, user_id=user.id, side=side.value, content_hash=digest)
    session.add(approval)
    session.flush()
    _audit(session, user, "codesign.approval_recorded", draft, side=side.value, content_hash=digest)
    if clean_note:
        add_comment(session, user, draft.id, clean_note)
    if _sides_covered([*approvals, approval]):
        _transition(session, user, draft, DraftState.APPROVED, "codesign.review_approved", None)
    return approval


def approvals(session: Session, user: StaffUser, draft_id: int) -> list[Approval]:
    """Approvals of the draft's current content (earlier content's approvals no longer count)."""
    draft = _load(session, user, draft_id)
    return _valid_approvals(session, draft, _content_hash(session, draft))


def publish(session: Session, user: StaffUser, draft_id: int) -> InstrumentVersion:
    """Publish an approved draft through ``app.library``: immutable and content-hashed from now
    on. Approvals are checked again against the content being published."""
    draft = _load(session, user, draft_id, lock=True)
    if draft.state != DraftState.APPROVED:
        raise Conflict(N_("Only an approved draft can be published."))
    parts = _parts(session, draft)
    document = _document(parts)
    digest = content_hash(_loaded(draft, document))
    approvals = _valid_approvals(session, draft, digest)
    if not _sides_covered(approvals):
        raise Conflict(
            N_(
                "Publishing needs approval of this content by a patient-group author and a "
                "study staff member."
            )
        )
    _check_version_free(session, draft.instrument_key, draft.version)
    _result, row = library.publish_text(
        session, doc.to_yaml(document), _file_name(draft), actor=_actor(user)
    )
    draft.published_version_id = row.id
    _transition(session, user, draft, DraftState.PUBLISHED, "codesign.published", None)
    return row


# -- versions: list, diff, download, feedback -------------------------------------------------


def versions(
    session: Session, user: StaffUser, study: Study, instrument_key: str
) -> list[VersionChoice]:
    """Every published version of an instrument and the study's drafts of it, oldest first."""
    _require_participant(user, study.id)
    published = session.scalars(
        select(InstrumentVersion)
        .where(InstrumentVersion.instrument_key == instrument_key)
        .order_by(InstrumentVersion.id)
    )
    drafts = session.scalars(
        select(Draft)
        .where(
            Draft.study_id == study.id,
            Draft.instrument_key == instrument_key,
            Draft.state != DraftState.PUBLISHED.value,
        )
        .order_by(Draft.id)
    )
    return [
        *(VersionChoice(VersionRef.published(r.id), f"{r.label} (published)") for r in published),
        *(
            VersionChoice(
                VersionRef.draft(d.id), f"{d.instrument_key} {d.version} (draft, {d.state})"
            )
            for d in drafts
        ),
    ]


def _resolve(session: Session, study: Study, ref: VersionRef) -> tuple[Instrument, str, str]:
    """(loaded instrument, file name, YAML text) of a version visible from ``study``."""
    if ref.kind == "published":
        row = session.get(InstrumentVersion, ref.id)
        if row is None:
            raise NotFound(N_("No such published version."))
        return library.instrument_of(row), row.source_file, row.source_text
    if ref.kind == "draft":
        draft = session.get(Draft, ref.id)
        if draft is None or draft.study_id != study.id:
            raise NotFound(N_("No such draft in this study."))
        document = _document(_parts(session, draft))
        return _loaded(draft, document), _file_name(draft), doc.to_yaml(document)
    raise Invalid(errors={"version": [N_("'%(kind)s' is not a kind of version", kind=ref.kind)]})


def diff_versions(
    session: Session, user: StaffUser, study: Study, older: VersionRef, newer: VersionRef
) -> diffing.VersionDiff:
    """What changed from ``older`` to ``newer`` (drafts or published versions), each change
    saying whether it breaks comparability with data already collected."""
    _require_participant(user, study.id)
    old_instrument, _, _ = _resolve(session, study, older)
    new_instrument, _, _ = _resolve(session, study, newer)
    return diffing.diff_instruments(old_instrument, new_instrument)


def diff_with_base(session: Session, user: StaffUser, draft_id: int) -> diffing.VersionDiff | None:
    """The draft against the published version it started from (None for a new instrument)."""
    draft = _load(session, user, draft_id)
    if draft.base_version_id is None:
        return None
    study = session.get(Study, draft.study_id)
    assert study is not None
    return diff_versions(
        session,
        user,
        study,
        VersionRef.published(draft.base_version_id),
        VersionRef.draft(draft.id),
    )


def download(session: Session, user: StaffUser, study: Study, ref: VersionRef) -> tuple[str, str]:
    """``(file name, YAML text)``: a published version byte for byte as it was published, a
    draft as the file it would publish."""
    _require_participant(user, study.id)
    _instrument, name, text = _resolve(session, study, ref)
    return name, text


def feedback(
    session: Session, user: StaffUser, study: Study, instrument_key: str
) -> list[VersionFeedback]:
    """Per published version and item: how many of this study's responses marked the item hard
    to understand, as counts and a rate of responses. Never who: no participant, site or date
    leaves this function."""
    _require_participant(user, study.id)
    rows = list(
        session.scalars(
            select(InstrumentVersion)
            .where(InstrumentVersion.instrument_key == instrument_key)
            .order_by(InstrumentVersion.id)
        )
    )
    counts: dict[int, int] = {row.id: 0 for row in rows}
    flags: dict[int, dict[str, int]] = {row.id: {} for row in rows}
    if rows:
        result = session.execute(
            select(Response.instrument_version_id, Response.hard_to_understand)
            .where(
                Response.study_id == study.id,
                Response.instrument_version_id.in_([row.id for row in rows]),
            )
            .execution_options(yield_per=1000)
        )
        for version_id, flagged in result:
            counts[version_id] += 1
            for item_id in set(flagged or []):
                flags[version_id][item_id] = flags[version_id].get(item_id, 0) + 1
    report = []
    for row in rows:
        total = counts[row.id]
        report.append(
            VersionFeedback(
                row.id,
                row.version,
                total,
                tuple(
                    ItemFeedback(
                        item.id,
                        flags[row.id].get(item.id, 0),
                        flags[row.id].get(item.id, 0) / total if total else 0.0,
                    )
                    for item in library.instrument_of(row).items
                ),
            )
        )
    audit.record(
        session,
        actor=_actor(user),
        action="codesign.feedback_viewed",
        target=f"study:{study.id}",
        details={"instrument": instrument_key},
    )
    return report


# -- preview ----------------------------------------------------------------------------------


def preview_rendering(
    session: Session, user: StaffUser, study: Study, draft_id: int, language: str, respondent: str
) -> dict[str, Any]:
    """The draft as the phone would receive it once published (``render_instrument``, the
    function behind ``/api/v1/me/instruments``), for one language and respondent. Read-only:
    the preview keeps answers in the page and sends nothing."""
    draft = _load(session, user, draft_id)
    if draft.study_id != study.id:
        raise NotFound(N_("No such draft in this study."))
    instrument = _loaded(draft, _document(_parts(session, draft)))
    try:
        return render_instrument(instrument, language, respondent)
    except RenderError as error:
        raise Invalid(str(error), errors={"language": [_reason(error)]}) from error
