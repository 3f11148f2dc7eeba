"""The co-design workspace (issue #15): drafts, the item editor, comments and suggestions,
translations, readability, preview, review, diff, feedback and files. Each view parses the
request, calls one of ``app.codesign.service``'s functions and renders; the service checks
access and records the audit event."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from app import access
from app.access import Permission
from app.codesign import document as doc
from app.codesign import service as codesign
from app.codesign.messages import Text, render
from app.codesign.models import DraftState
from app.errors import ChorusError, NotFound
from app.extensions import db
from app.http_errors import handle_chorus_error
from app.instruments.model import RESPONDENT_TYPES
from app.security import CONTENT_SECURITY_POLICY
from app.studies.models import Study
from app.web import pwa
from app.web.site import codesign_forms as cf
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import codesign_support as support
from app.workspace import common

PREFIX = "/instruments"
DRAFT = PREFIX + "/drafts/<int:draft_id>"


# -- small helpers ----------------------------------------------------------------------------


def _study(slug: str) -> Study:
    return common.study_for(db_session(), staff(), slug)


def _require_author(study: Study) -> None:
    """Checked before the form, so someone who may only comment gets 403, not a form error."""
    access.require_somewhere(staff().memberships, Permission.AUTHOR_INSTRUMENTS, study.id)


def _draft(study: Study, draft_id: int) -> codesign.DraftView:
    view = codesign.get_draft(db_session(), staff(), draft_id)
    if view.draft.study_id != study.id:
        raise NotFound("No such draft in this study.")
    return view


def _say(message: object) -> str:
    """A service's message in the page's language (``app.codesign.messages``)."""
    return render(message, gettext)


def _localize(error: ChorusError) -> ChorusError:
    """The error with its messages in the page's language, in place; values that are not
    messages (an edit conflict's two versions) are left as they are."""
    error.message = _say(error.message)
    for key, value in list(error.errors.items()):
        if isinstance(value, Text):
            error.errors[key] = _say(value)
        elif isinstance(value, list):
            error.errors[key] = [_say(m) if isinstance(m, Text) else m for m in value]
    return error


@bp.errorhandler(ChorusError)
def _translated_error(error: ChorusError) -> BaseResponse:
    """A refusal no view caught: the error page, in the page's language. Only the co-design
    services raise translatable messages; every other error passes through unchanged."""
    return handle_chorus_error(_localize(error))


class _Change(forms.Change):
    status = 200


@contextmanager
def _saving(form: Any, *, field: str) -> Iterator[_Change]:
    """``forms.saving`` with the refusal's messages in the page's language and its status
    (422, or 409 when someone else saved first) kept for the page."""
    outcome = _Change()
    with forms.saving(form, field=field) as change:
        try:
            yield outcome
        except ChorusError as error:
            outcome.status = error.status
            if isinstance(error, codesign.EditConflict):
                error.errors = {}  # its two versions are data, not messages: say it once
            raise _localize(error) from None
    outcome.saved = change.saved


def _failed(error: ChorusError, form: Any) -> None:
    """A refused change: nothing was saved; its messages go beside the fields they name."""
    if error.status not in (409, 422):
        raise error
    db.session.rollback()
    _localize(error)
    for key, messages in _flat(error.errors or {}).items():
        field = form._fields.get(key)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:  # a wording cell (text.self.fr) or the item as a whole: named in the summary
            where = _where_in_draft(key)
            form.form_errors.extend(f"{where}: {message}" for message in messages)
    if error.message and not error.errors:
        form.form_errors.append(error.message)
    elif error.message and error.status == 409:
        form.form_errors.insert(0, error.message)


_ITEM_KEY: Final = re.compile(r"item '(?P<item>[^']*)'(?: (?P<field>\S.*))?")


def _where_in_draft(key: str) -> str:
    """A place the services name in their errors, in the page's language: ``instrument``,
    ``item 'pain'`` or ``item 'pain' show_when`` (field paths stay as the file spells them)."""
    if key == "instrument":
        return str(_("The instrument as a whole"))
    found = _ITEM_KEY.fullmatch(key)
    if found is None:
        return _where_in_file(key)
    if found["field"]:
        return str(_("item '%(item)s' %(field)s", item=found["item"], field=found["field"]))
    return str(_("item '%(item)s'", item=found["item"]))


_INDEX = re.compile(r"\[(\d+)\]")


def _flat(errors: dict[str, Any]) -> dict[str, list[str]]:
    """Messages by field path as the forms name fields: the loader's ``alerts[0].when`` is
    the form's ``alerts.0.when``."""
    return {
        _INDEX.sub(r".\1", str(key)): [str(m) for m in value]
        if isinstance(value, list)
        else [str(value)]
        for key, value in errors.items()
    }


def _state_label(state: str) -> str:
    labels: dict[str, str] = {
        DraftState.DRAFT: _("draft"),
        DraftState.IN_REVIEW: _("in review"),
        DraftState.CHANGES_REQUESTED: _("changes requested"),
        DraftState.APPROVED: _("approved"),
        DraftState.PUBLISHED: _("published"),
    }
    return labels.get(state, state)


def _names(ids: set[int | None]) -> dict[int, str]:
    return support.staff_names(db_session(), {i for i in ids if i is not None})


def _version_ref(raw: str | None) -> codesign.VersionRef | None:
    kind, _sep, number = (raw or "").partition(":")
    if kind in ("draft", "published") and number.isdigit():
        return codesign.VersionRef(kind, int(number))
    return None


# -- the list and the three ways to start a draft ---------------------------------------------


def _instruments_page(study: Study, status: int = 200, **forms_given: Any) -> tuple[str, int]:
    drafts = codesign.list_drafts(db_session(), staff(), study)
    published = support.published_versions(db_session())
    new_form = forms_given.get("new_form") or cf.NewDraftForm(prefix="new")
    base_form = forms_given.get("base_form") or cf.FromPublishedForm(prefix="base")
    base_form.version_id.choices = [(row.id, row.label) for row in published]
    upload_form = forms_given.get("upload_form") or cf.UploadForm(prefix="upload")
    upload_problems = forms_given.get("upload_problems") or {}
    may_author = common.may_somewhere(staff(), Permission.AUTHOR_INSTRUMENTS, study)
    return (
        page(
            "site/codesign/instruments.html",
            study,
            drafts=drafts,
            published=published,
            new_form=new_form,
            base_form=base_form,
            upload_form=upload_form,
            upload_problems=upload_problems,
            may_author=may_author,
            state_label=_state_label,
        ),
        status,
    )


@bp.get(PREFIX + "/")
@signed_in
def instruments(slug: str) -> tuple[str, int]:
    study = _study(slug)
    codesign.list_drafts(db_session(), staff(), study)  # co-designers only (403 otherwise)
    return _instruments_page(study)


@bp.post(PREFIX + "/new")
@signed_in
def new_draft(slug: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    form = cf.NewDraftForm(prefix="new")
    if form.validate_on_submit():
        respondents = (
            ["self", "proxy"] if form.respondents.data == "both" else [form.respondents.data]
        )
        try:
            draft = codesign.create_draft(
                db_session(),
                staff(),
                study,
                instrument_key=form.instrument_key.data,
                title=form.title.data,
                language=form.language.data,
                respondents=respondents,
            )
        except ChorusError as error:
            _failed(error, form)
        else:
            db.session.commit()
            flash(_("Draft created. Add questions and invite others to comment."))
            return redirect(url_for("site.draft", slug=slug, draft_id=draft.id))
    return _instruments_page(study, 422, new_form=form)


@bp.post(PREFIX + "/from-published")
@signed_in
def draft_from_published(slug: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    form = cf.FromPublishedForm(prefix="base")
    form.version_id.choices = [
        (row.id, row.label) for row in support.published_versions(db_session())
    ]
    if form.validate_on_submit():
        try:
            draft = codesign.create_draft_from_published(
                db_session(),
                staff(),
                study,
                form.version_id.data,
                version=form.version.data or None,
            )
        except ChorusError as error:
            _failed(error, form)
        else:
            db.session.commit()
            flash(_("Draft created from the published version."))
            return redirect(url_for("site.draft", slug=slug, draft_id=draft.id))
    return _instruments_page(study, 422, base_form=form)


@bp.post(PREFIX + "/upload")
@signed_in
def upload_draft(slug: str) -> tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    form = cf.UploadForm(prefix="upload")
    if form.validate_on_submit():
        upload = form.file.data
        try:
            imported = codesign.import_draft(
                db_session(), staff(), study, upload.read(), upload.filename or "upload"
            )
        except ChorusError as error:
            if error.status != 422:
                raise
            db.session.rollback()
            problems = _flat(_localize(error).errors or {})
            if "file" in problems:
                form.file.errors = problems.pop("file")
            else:
                form.file.errors = [error.message or _("This file cannot be used.")]
            problems = {_where_in_draft(key): texts for key, texts in problems.items()}
            return _instruments_page(study, 422, upload_form=form, upload_problems=problems)
        db.session.commit()
        return (
            page(
                "site/codesign/imported.html",
                study,
                draft=imported.draft,
                notes=imported.notes,
            ),
            200,
        )
    return _instruments_page(study, 422, upload_form=form)


# -- the draft: overview, comments, suggestions, review, history ------------------------------


def _draft_page(
    study: Study, view: codesign.DraftView, status: int = 200, **given: Any
) -> tuple[str, int]:
    session, user = db_session(), staff()
    threads = codesign.comments(session, user, view.draft.id)
    suggestions = codesign.suggestions(session, user, view.draft.id)
    changes = codesign.history(session, user, view.draft.id)[:50]
    approvals = codesign.approvals(session, user, view.draft.id)
    transitions = support.transitions(session, user, view.draft.id)
    people = {
        *(c.author_id for t in threads for c in (t.root, *t.replies)),
        *(s.author_id for s in suggestions),
        *(c.author_id for c in changes),
        *(c.applied_by for c in changes),
        *(a.user_id for a in approvals),
        *(t.actor_id for t in transitions),
        view.draft.owner_id,
    }
    return (
        page(
            "site/codesign/draft.html",
            study,
            view=view,
            draft=view.draft,
            threads=threads,
            suggestions=suggestions,
            changes=changes,
            approvals=approvals,
            transitions=transitions,
            names=_names(people),
            comment_form=given.get("comment_form") or cf.CommentForm(),
            add_form=given.get("add_form") or _add_form(view),
            note_form=given.get("note_form") or cf.NoteForm(),
            changes_form=given.get("changes_form") or cf.RequestChangesForm(prefix="changes"),
            button=forms.EmptyForm(),
            state_label=_state_label,
            item_text=_item_text,
            problem_text=lambda problem: _say(codesign.problem_text(problem)),
        ),
        status,
    )


def _add_form(view: codesign.DraftView) -> cf.AddItemForm:
    form = cf.AddItemForm(prefix="add")
    form.choice_set.choices = [
        ("", _("No: its own options, written above")),
        *((name, name) for name in view.instrument.body.get("choice_sets") or {}),
    ]
    return form


def _item_text(body: dict[str, Any], language: str) -> str:
    """An item's question in one language, for lists (the participant's wording first)."""
    text = body.get("text")
    if isinstance(text, dict) and text and set(text) <= set(RESPONDENT_TYPES):
        text = text.get("self") or next(iter(text.values()))
    if isinstance(text, dict):
        return str(text.get(language) or next(iter(text.values()), ""))
    return str(text or "")


@bp.get(DRAFT + "/")
@signed_in
def draft(slug: str, draft_id: int) -> tuple[str, int]:
    study = _study(slug)
    return _draft_page(study, _draft(study, draft_id))


@bp.post(DRAFT + "/items")
@signed_in
def add_item(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    form = _add_form(view)
    if form.validate_on_submit():
        language = doc.default_language(view.document)
        item: dict[str, Any] = {
            "id": form.id.data.strip(),
            "type": form.type.data,
            "text": {language: form.text.data.strip()},
        }
        if form.type.data in ("single_choice", "multiple_choice"):
            lines = [line.strip() for line in (form.options.data or "").splitlines()]
            labels = [line for line in lines if line]
            if form.choice_set.data:
                item["choices"] = form.choice_set.data
            elif len(labels) < 2:
                form.options.errors = [_("Give at least two answer options, one per line.")]
                return _draft_page(study, view, 422, add_form=form)
            else:
                item["choices"] = [
                    {"value": value, "label": {language: label}}
                    for value, label in zip(doc.choice_values(labels), labels, strict=True)
                ]
        pages = view.instrument.body.get("pages") or []
        page_id = pages[-1]["id"] if pages else "page_1"
        try:
            added = codesign.add_item(db_session(), staff(), draft_id, item, page_id=page_id)
        except ChorusError as error:
            _failed(error, form)
        else:
            db.session.commit()
            flash(_("Question added."))
            return redirect(url_for("site.item", slug=slug, draft_id=draft_id, part=added.key))
    return _draft_page(study, _draft(study, draft_id), 422, add_form=form)


@bp.post(DRAFT + "/comments")
@signed_in
def comment(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _draft(study, draft_id)
    form = cf.CommentForm()
    if form.validate_on_submit():
        reply_to = int(form.reply_to.data) if (form.reply_to.data or "").isdigit() else None
        try:
            codesign.add_comment(
                db_session(),
                staff(),
                draft_id,
                form.body.data,
                part_key=form.part_key.data or None,
                path=form.path.data or None,
                reply_to=reply_to,
            )
        except ChorusError as error:
            _failed(error, form)
        else:
            db.session.commit()
            flash(_("Comment added."))
            return redirect(_back_to(slug, draft_id, form.part_key.data) + "#comments")
    return _draft_page(study, _draft(study, draft_id), 422, comment_form=form)


def _back_to(slug: str, draft_id: int, part_key: str | None) -> str:
    if part_key and part_key != doc.INSTRUMENT_PART:
        return url_for("site.item", slug=slug, draft_id=draft_id, part=part_key)
    return url_for("site.draft", slug=slug, draft_id=draft_id)


@bp.post(DRAFT + "/comments/<int:comment_id>/resolve")
@signed_in
def resolve_comment(slug: str, draft_id: int, comment_id: int) -> BaseResponse:
    study = _study(slug)
    _draft(study, draft_id)
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    reopen = request.form.get("reopen") == "1"
    thread = codesign.set_comment_resolved(db_session(), staff(), comment_id, not reopen)
    if thread.draft_id != draft_id:
        raise NotFound("No such comment on this draft.")
    db.session.commit()
    flash(_("Comment reopened.") if reopen else _("Comment resolved."))
    return redirect(_back_to(slug, draft_id, thread.part_key) + "#comments")


@bp.post(DRAFT + "/suggestions/<int:suggestion_id>")
@signed_in
def decide_suggestion(
    slug: str, draft_id: int, suggestion_id: int
) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _draft(study, draft_id)
    form = cf.NoteForm()
    if not form.validate_on_submit():
        abort(400)
    accept = request.form.get("decision") == "accept"
    try:
        if accept:
            codesign.accept_suggestion(db_session(), staff(), suggestion_id, note=form.note.data)
        else:
            codesign.reject_suggestion(db_session(), staff(), suggestion_id, note=form.note.data)
    except ChorusError as error:
        _failed(error, form)
        return _draft_page(study, _draft(study, draft_id), error.status, note_form=form)
    db.session.commit()
    flash(_("Suggestion accepted.") if accept else _("Suggestion rejected."))
    return redirect(url_for("site.draft", slug=slug, draft_id=draft_id) + "#suggestions")


def _review(slug: str, draft_id: int, action: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _draft(study, draft_id)
    form: Any = cf.RequestChangesForm(prefix="changes") if action == "changes" else cf.NoteForm()
    if form.validate_on_submit():
        session, user = db_session(), staff()
        try:
            if action == "submit":
                codesign.submit_for_review(session, user, draft_id, note=form.note.data)
                message = _("Sent for review.")
            elif action == "approve":
                codesign.approve(session, user, draft_id, note=form.note.data)
                message = _("Your approval is recorded.")
            else:
                codesign.request_changes(session, user, draft_id, form.note.data)
                message = _("Changes requested: the draft can be edited again.")
        except ChorusError as error:
            _failed(error, form)
        else:
            db.session.commit()
            flash(message)
            return redirect(url_for("site.draft", slug=slug, draft_id=draft_id) + "#review")
    given = {"changes_form": form} if action == "changes" else {"note_form": form}
    return _draft_page(study, _draft(study, draft_id), 422, **given)


@bp.post(DRAFT + "/submit")
@signed_in
def submit_draft(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    return _review(slug, draft_id, "submit")


@bp.post(DRAFT + "/approve")
@signed_in
def approve_draft(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    return _review(slug, draft_id, "approve")


@bp.post(DRAFT + "/request-changes")
@signed_in
def request_changes(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    return _review(slug, draft_id, "changes")


@bp.route(DRAFT + "/publish", methods=["GET", "POST"])
@signed_in
def publish_draft(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    """A confirm page: a published version can never change."""
    study = _study(slug)
    view = _draft(study, draft_id)
    form = forms.EmptyForm()
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        try:
            row = codesign.publish(db_session(), staff(), draft_id)
        except ChorusError as error:
            _failed(error, form)
            status = error.status
        else:
            db.session.commit()
            flash(_("Published as %(label)s.", label=row.label))
            return redirect(url_for("site.draft", slug=slug, draft_id=draft_id))
    elif request.method == "POST":
        abort(400)
    return page("site/codesign/publish.html", study, view=view, form=form), status


# -- the item editor --------------------------------------------------------------------------


def _languages(view: codesign.DraftView) -> list[str]:
    return [str(language) for language in view.document.get("languages") or []]


def _grid_paths(view: codesign.DraftView, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, label) of every text on the item form, in the order they are shown."""
    respondents = doc.respondents(view.document)
    languages = _languages(view)
    paths: list[tuple[str, str]] = []
    for field in ("text", "help"):
        for respondent in respondents:
            for language in languages:
                paths.append((doc.wording_paths(body, field, respondent, language), field))
    choices = body.get("choices")
    if isinstance(choices, list):
        for index, _choice in enumerate(choices):
            for language in languages:
                paths.append((f"choices.{index}.label.{language}", "choice"))
    return paths


def _number(raw: str | None) -> int | float | None:
    text = (raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def _item_changes(
    view: codesign.DraftView, body: dict[str, Any], form: cf.ItemForm
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The fields the person changed (compared with the part as it now is) and field errors
    found before asking the service."""
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    grid_values = {
        path: _shares(body, path) if kind in ("text", "help") else doc.get_field(body, path)
        for path, kind in _grid_paths(view, body)
    }
    for path, current in grid_values.items():
        if path not in request.form:
            continue
        new = request.form[path].replace("\r\n", "\n").strip() or None
        if new != current:
            changes[path] = new
    for path in list(request.form):
        if path.startswith("choices.") and path.endswith(".score"):
            current = doc.get_field(body, path)
            raw = request.form[path]
            value = _number(raw)
            if raw.strip() and value is None:
                errors[path] = [_("Enter a number, for example 2.")]
            elif value != current:
                changes[path] = value
    if body.get("type") != "display" and bool(form.required.data) != bool(body.get("required")):
        changes["required"] = bool(form.required.data)
    show_when = (form.show_when.data or "").strip() or None
    if show_when != body.get("show_when"):
        changes["show_when"] = show_when
    for name in ("min", "max"):
        if name not in request.form:
            continue
        raw = request.form[name]
        value = _number(raw)
        if raw.strip() and value is None:
            errors[name] = [_("Enter a number, for example 10.")]
        elif value != body.get(name):
            changes[name] = value
    return changes, errors


def _shares(body: dict[str, Any], path: str) -> str | None:
    """The text shown in a grid cell: shared wording shows under every respondent."""
    field, respondent, language = path.split(".")
    grid = doc.wording_grid(body, field, [respondent], [language])
    return grid[respondent][language]


def _item_page(
    study: Study,
    view: codesign.DraftView,
    part: codesign.PartView,
    form: cf.ItemForm,
    status: int = 200,
    *,
    conflict: codesign.EditConflict | None = None,
    values: dict[str, Any] | None = None,
    suggest_form: cf.SuggestForm | None = None,
    field_errors: dict[str, list[str]] | None = None,
    choice_form: cf.AddChoiceForm | None = None,
    order_form: cf.ChoiceOrderForm | None = None,
) -> tuple[str, int]:
    body = dict(part.body)
    if choice_form is None:
        choice_form = cf.AddChoiceForm(prefix="option", formdata=None)
        choice_form.revision.data = str(part.revision)
    languages = _languages(view)
    respondents = list(doc.respondents(view.document))
    grids = {
        field: doc.wording_grid(body, field, respondents, languages) for field in ("text", "help")
    }
    suggest_form = suggest_form or cf.SuggestForm(prefix="suggest")
    suggest_form.path.choices = _suggestable(view, body)
    threads = codesign.comments(db_session(), staff(), view.draft.id, part_key=part.key)
    changes = codesign.history(db_session(), staff(), view.draft.id, part_key=part.key)[:20]
    people = {
        *(c.author_id for t in threads for c in (t.root, *t.replies)),
        *(c.author_id for c in changes),
        part.updated_by,
    }
    return (
        page(
            "site/codesign/item.html",
            study,
            view=view,
            draft=view.draft,
            part=part,
            body=body,
            form=form,
            grids=grids,
            languages=languages,
            respondents=respondents,
            values=values or {},
            field_errors=field_errors or {},
            conflict=conflict,
            suggest_form=suggest_form,
            choice_form=choice_form,
            order_form=order_form or cf.ChoiceOrderForm(formdata=None),
            order_members=body.get("choices") if isinstance(body.get("choices"), list) else [],
            order_action=url_for(
                "site.add_option", slug=study.slug, draft_id=view.draft.id, part=part.key
            ),
            order_revision=part.revision,
            comment_form=cf.CommentForm(),
            comment_paths=[
                ("", _("The whole question")),
                *_suggestable(view, body),
                ("show_when", _("Skip logic")),
            ],
            threads=threads,
            changes=changes,
            names=_names(people),
            button=forms.EmptyForm(),
            check_url=url_for("site.check_expression", slug=study.slug, draft_id=view.draft.id),
            wording_path=doc.wording_paths,
        ),
        status,
    )


def _suggestable(view: codesign.DraftView, body: dict[str, Any]) -> list[tuple[str, str]]:
    respondent_names = {"self": _("participant"), "proxy": _("caregiver")}
    choices = []
    for path, kind in _grid_paths(view, body):
        parts = path.split(".")
        if kind == "choice":
            label = _(
                "Answer %(number)s (%(language)s)", number=int(parts[1]) + 1, language=parts[3]
            )
        else:
            what = _("Question") if kind == "text" else _("Help")
            label = f"{what}, {respondent_names.get(parts[1], parts[1])} ({parts[2]})"
        choices.append((path, label))
    return choices


def _part(view: codesign.DraftView, part_key: str) -> codesign.PartView:
    found = next((p for p in view.items if p.key == part_key), None)
    if found is None:
        raise NotFound(f"This draft has no item '{part_key}'.")
    return found


@bp.route(DRAFT + "/items/<part>", methods=["GET", "POST"])
@signed_in
def item(slug: str, draft_id: int, part: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    view = _draft(study, draft_id)
    current = _part(view, part)
    form = cf.ItemForm()
    if request.method == "GET":
        form.revision.data = str(current.revision)
        form.required.data = bool(current.body.get("required"))
        form.show_when.data = current.body.get("show_when") or ""
        form.min.data = "" if current.body.get("min") is None else str(current.body["min"])
        form.max.data = "" if current.body.get("max") is None else str(current.body["max"])
        return _item_page(study, view, current, form)
    _require_author(study)
    if not form.validate_on_submit():
        return _item_page(study, view, current, form, 422, values=dict(request.form))
    revision = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
    changes, errors = _item_changes(view, dict(current.body), form)
    if errors:
        forms.attach_errors(form, errors)
        return _item_page(study, view, current, form, 422, values=dict(request.form))
    if not changes:
        flash(_("Nothing was changed."))
        return redirect(url_for("site.item", slug=slug, draft_id=draft_id, part=part))
    try:
        codesign.edit(db_session(), staff(), draft_id, part, changes, revision)
    except codesign.EditConflict as conflict:
        db.session.rollback()
        fresh = _draft(study, draft_id)
        now = _part(fresh, part)
        form.revision.data = str(now.revision)
        form.form_errors.append(_say(conflict.message))
        return _item_page(study, fresh, now, form, 409, conflict=conflict)
    except ChorusError as error:
        _failed(error, form)
        return _item_page(
            study,
            view,
            current,
            form,
            error.status,
            values=dict(request.form),
            field_errors=_flat(error.errors or {}),
        )
    db.session.commit()
    flash(_("Saved."))
    return redirect(url_for("site.item", slug=slug, draft_id=draft_id, part=part))


def _settings_fields(view: codesign.DraftView) -> list[tuple[str, Any]]:
    """(field path, current value) of everything the settings form edits on the instrument
    part: title and description per language, languages, and each score's and alert's rule."""
    body = view.instrument.body
    fields: list[tuple[str, Any]] = []
    for name in ("title", "description"):
        for language in _languages(view):
            fields.append((f"{name}.{language}", doc.get_field(body, f"{name}.{language}")))
    fields.append(("languages", ", ".join(_languages(view))))
    for index, score in enumerate(body.get("scores") or []):
        fields.append((f"scores.{index}.when", score.get("when")))
        fields.append((f"scores.{index}.items", ", ".join(score.get("items") or [])))
    for index, alert in enumerate(body.get("alerts") or []):
        fields.append((f"alerts.{index}.when", alert.get("when")))
    return fields


def _settings_changes(view: codesign.DraftView) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for path, current in _settings_fields(view):
        if path not in request.form:
            continue
        raw = request.form[path].replace("\r\n", "\n").strip()
        if path == "languages" or path.endswith(".items"):
            if raw != current:
                changes[path] = [part.strip() for part in raw.split(",") if part.strip()]
        elif (raw or None) != current:
            changes[path] = raw or None
    return changes


_LOADER_FIELD = re.compile(r"^(alert|score) '([^']*)': (.+)$")


def _settings_errors(
    view: codesign.DraftView, errors: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The loader names a score's or alert's field by its id (``alert 'x': when``); the form
    by its position (``alerts.0.when``). Anything else keeps its name."""
    body = view.instrument.body
    placed: dict[str, list[str]] = {}
    for key, messages in errors.items():
        found = _LOADER_FIELD.match(key)
        if found:
            kind, ident, rest = found.groups()
            members = body.get(kind + "s") or []
            index = next((i for i, m in enumerate(members) if m.get("id") == ident), None)
            if index is not None:
                key = f"{kind}s.{index}.{rest}"
        prefix = key + ": "
        placed.setdefault(key, []).extend(m.removeprefix(prefix) for m in messages)
    return placed


@dataclass
class _InstrumentEdit:
    """How a whole-instrument edit went, and what its page shows again when it was refused."""

    view: codesign.DraftView
    saved: bool = False
    status: int = 200
    conflict: codesign.EditConflict | None = None
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    field_errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _edit_instrument(
    study: Study,
    view: codesign.DraftView,
    form: cf.SettingsForm | cf.ChoiceSetForm,
    changes: dict[str, Any],
    revision: int,
) -> _InstrumentEdit:
    """Saves `changes` to the instrument part (settings, shared answer lists). A conflicting
    edit shows the fresh draft with both versions (409); a refused one keeps what was typed,
    with the reasons beside their fields (422)."""
    draft_id = view.draft.id
    try:
        codesign.edit(db_session(), staff(), draft_id, doc.INSTRUMENT_PART, changes, revision)
    except codesign.EditConflict as error:
        db.session.rollback()
        fresh = _draft(study, draft_id)
        form.revision.data = str(fresh.instrument.revision)
        form.form_errors.append(_say(error.message))
        return _InstrumentEdit(fresh, status=409, conflict=error)
    except ChorusError as error:
        if error.status != 422:
            raise
        db.session.rollback()
        _localize(error)
        if not error.errors:
            form.form_errors.append(error.message or "")
        return _InstrumentEdit(
            view,
            status=error.status,
            values=dict(request.form),
            field_errors=_flat(error.errors or {}),
        )
    db.session.commit()
    return _InstrumentEdit(view, saved=True)


@bp.route(DRAFT + "/settings", methods=["GET", "POST"])
@signed_in
def settings(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    """The instrument as a whole: titles, languages, and the rules of scores and alerts."""
    study = _study(slug)
    view = _draft(study, draft_id)
    form = cf.SettingsForm()
    status = 200
    conflict = None
    values: dict[str, Any] = {}
    field_errors: dict[str, list[str]] = {}
    if request.method == "GET":
        form.revision.data = str(view.instrument.revision)
    else:
        _require_author(study)
        if not form.validate_on_submit():
            abort(400)
        revision = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
        changes = _settings_changes(view)
        if not changes:
            flash(_("Nothing was changed."))
            return redirect(url_for("site.settings", slug=slug, draft_id=draft_id))
        edit = _edit_instrument(study, view, form, changes, revision)
        if edit.saved:
            flash(_("Saved."))
            return redirect(url_for("site.settings", slug=slug, draft_id=draft_id))
        view, status, conflict, values = edit.view, edit.status, edit.conflict, edit.values
        field_errors = _settings_errors(view, edit.field_errors)
    return (
        page(
            "site/codesign/settings.html",
            study,
            view=view,
            draft=view.draft,
            form=form,
            fields=_settings_fields(view),
            values=values,
            field_errors=field_errors,
            conflict=conflict,
            check_url=url_for("site.check_expression", slug=slug, draft_id=draft_id),
        ),
        status,
    )


@bp.route(DRAFT + "/items/<part>/remove", methods=["GET", "POST"])
@signed_in
def remove_item(slug: str, draft_id: int, part: str) -> BaseResponse | tuple[str, int]:
    """A confirm page: the question leaves the draft (its history keeps it)."""
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    current = _part(view, part)
    form = forms.EmptyForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        revision = request.form.get("revision", "")
        try:
            codesign.remove_item(
                db_session(),
                staff(),
                draft_id,
                part,
                int(revision) if revision.isdigit() else -1,
            )
        except ChorusError as error:
            _failed(error, form)
            status = error.status
        else:
            db.session.commit()
            flash(_("Question %(name)s removed.", name=part))
            return redirect(url_for("site.draft", slug=slug, draft_id=draft_id))
    return (
        page(
            "site/codesign/remove.html",
            study,
            view=view,
            draft=view.draft,
            part=current,
            form=form,
            text=_item_text(dict(current.body), doc.default_language(view.document)),
        ),
        status,
    )


@bp.post(DRAFT + "/items/<part>/suggestions")
@signed_in
def suggest(slug: str, draft_id: int, part: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    view = _draft(study, draft_id)
    current = _part(view, part)
    form = cf.SuggestForm(prefix="suggest")
    form.path.choices = _suggestable(view, dict(current.body))
    if form.validate_on_submit():
        try:
            codesign.suggest(
                db_session(),
                staff(),
                draft_id,
                part,
                form.path.data,
                form.value.data.strip(),
                note=form.note.data,
            )
        except ChorusError as error:
            _failed(error, form)
            if error.errors and form.path.data in error.errors:
                form.value.errors = [*form.value.errors, *_flat(error.errors)[form.path.data]]
        else:
            db.session.commit()
            flash(_("Suggestion sent to the draft's owner."))
            return redirect(url_for("site.item", slug=slug, draft_id=draft_id, part=part))
    item_form = cf.ItemForm(formdata=None)
    item_form.revision.data = str(current.revision)
    return _item_page(study, view, current, item_form, 422, suggest_form=form)


@bp.get(DRAFT + "/check.json")
@signed_in
def check_expression(slug: str, draft_id: int) -> Response:
    """For the expression box (static/codesign.js): the verdict the save would give."""
    study = _study(slug)
    _draft(study, draft_id)
    result = codesign.check_expression(
        db_session(),
        staff(),
        draft_id,
        request.args.get("source", ""),
        part_key=request.args.get("part", ""),
        field=request.args.get("field", "show_when"),
    )
    message = None if result.message is None else _say(result.message)
    return jsonify({"ok": result.ok, "message": message, "column": result.column})


# -- translations, readability ----------------------------------------------------------------


@bp.get(DRAFT + "/translations")
@signed_in
def translations(slug: str, draft_id: int) -> tuple[str, int]:
    study = _study(slug)
    return _translations_page(study, _draft(study, draft_id), cf.TranslationUploadForm())


def _translations_page(
    study: Study, view: codesign.DraftView, form: cf.TranslationUploadForm, status: int = 200
) -> tuple[str, int]:
    report = codesign.translation_status(db_session(), staff(), view.draft.id)
    return (
        page(
            "site/codesign/translations.html",
            study,
            view=view,
            draft=view.draft,
            report=report,
            form=form,
            confirm=forms.EmptyForm(),
            revisions={p.key: p.revision for p in (view.instrument, *view.items)},
        ),
        status,
    )


@bp.get(DRAFT + "/translations.csv")
@signed_in
def translations_csv(slug: str, draft_id: int) -> Response:
    study = _study(slug)
    _draft(study, draft_id)
    language = request.args.get("language", "")
    if not language:  # the first translation language
        report = codesign.translation_status(db_session(), staff(), draft_id)
        language = report.languages[0].language if report.languages else report.source_language
    name, text = codesign.export_translations(db_session(), staff(), draft_id, language)
    db.session.commit()
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _where_in_file(key: str) -> str:
    """``row 3`` (CSV) or ``line 12`` (XLIFF) in the page's language."""
    kind, _sep, number = key.partition(" ")
    if kind == "row" and number.isdigit():
        return str(_("row %(number)s", number=number))
    if kind == "line" and number.isdigit():
        return str(_("line %(number)s", number=number))
    return key


@bp.get(DRAFT + "/translations.xlf")
@signed_in
def translations_xliff(slug: str, draft_id: int) -> Response:
    study = _study(slug)
    _draft(study, draft_id)
    language = request.args.get("language", "")
    if not language:  # the first translation language, as for CSV
        report = codesign.translation_status(db_session(), staff(), draft_id)
        language = report.languages[0].language if report.languages else report.source_language
    name, data = codesign.export_translations_xliff(db_session(), staff(), draft_id, language)
    db.session.commit()
    return Response(
        data,
        mimetype="application/xliff+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post(DRAFT + "/translations")
@signed_in
def upload_translations(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    _draft(study, draft_id)
    form = cf.TranslationUploadForm()
    if form.validate_on_submit():
        raw = form.file.data.read()
        is_xliff = (form.file.data.filename or "").lower().endswith((".xlf", ".xliff"))
        try:
            text = "" if is_xliff else raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            form.file.errors = [_("Save the file as UTF-8 CSV and try again.")]
        else:
            try:
                if is_xliff:
                    result = codesign.import_translations_xliff(
                        db_session(), staff(), draft_id, raw
                    )
                else:
                    result = codesign.import_translations(db_session(), staff(), draft_id, text)
            except ChorusError as error:
                _failed(error, form)  # rows and lines named in the page's language
            else:
                db.session.commit()
                flash(
                    _(
                        "%(applied)s translations saved, %(stale)s of them made from an older text.",
                        applied=result.applied,
                        stale=result.stale,
                    )
                )
                return redirect(url_for("site.translations", slug=slug, draft_id=draft_id))
    return _translations_page(study, _draft(study, draft_id), form, 422)


@bp.post(DRAFT + "/translations/confirm")
@signed_in
def confirm_translation(slug: str, draft_id: int) -> BaseResponse:
    study = _study(slug)
    _require_author(study)
    _draft(study, draft_id)
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    revision = request.form.get("revision", "")
    codesign.confirm_translation(
        db_session(),
        staff(),
        draft_id,
        request.form.get("part", ""),
        request.form.get("field", ""),
        int(revision) if revision.isdigit() else -1,
    )
    db.session.commit()
    flash(_("Translation kept as it is."))
    return redirect(url_for("site.translations", slug=slug, draft_id=draft_id))


@bp.route(DRAFT + "/readability", methods=["GET", "POST"])
@signed_in
def readability(slug: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    view = _draft(study, draft_id)
    may_set = common.may_somewhere(staff(), Permission.APPROVE_INSTRUMENTS, study)
    form = cf.TargetForm()
    status = 200
    if request.method == "POST":
        # The study team sets the target (checked before the form: 403, not a form error).
        access.require_somewhere(staff().memberships, Permission.APPROVE_INSTRUMENTS, study.id)
        if form.validate_on_submit():
            codesign.set_readability_target(db_session(), staff(), study, float(form.grade.data))
            db.session.commit()
            flash(_("Target saved."))
            return redirect(url_for("site.readability", slug=slug, draft_id=draft_id))
        status = 422
    report = codesign.readability(db_session(), staff(), draft_id)
    if request.method == "GET":
        form.grade.data = round(report.target_grade)
    return (
        page(
            "site/codesign/readability.html",
            study,
            view=view,
            draft=view.draft,
            report=report,
            form=form,
            may_set=may_set,
        ),
        status,
    )


# -- preview ----------------------------------------------------------------------------------


@bp.get(DRAFT + "/preview")
@signed_in
def preview(slug: str, draft_id: int) -> tuple[str, int]:
    study = _study(slug)
    view = _draft(study, draft_id)
    languages = _languages(view)
    respondents = list(doc.respondents(view.document))
    language = request.args.get("language") or languages[0]
    respondent = request.args.get("respondent") or respondents[0]
    if language not in languages or respondent not in respondents:
        abort(404)
    source = url_for(
        "site.preview_instrument",
        slug=slug,
        draft_id=draft_id,
        language=language,
        respondent=respondent,
    )
    frame = url_for("site.preview_app", slug=slug, instrument=source)
    return (
        page(
            "site/codesign/preview.html",
            study,
            view=view,
            draft=view.draft,
            languages=languages,
            respondents=respondents,
            language=language,
            respondent=respondent,
            frame=frame,
        ),
        200,
    )


@bp.get(DRAFT + "/preview.json")
@signed_in
def preview_instrument(slug: str, draft_id: int) -> Response:
    """The draft rendered as the phone receives a published version; staff only, no data."""
    study = _study(slug)
    view = _draft(study, draft_id)
    rendered = codesign.preview_rendering(
        db_session(),
        staff(),
        study,
        draft_id,
        request.args.get("language") or doc.default_language(view.document),
        request.args.get("respondent") or doc.respondents(view.document)[0],
    )
    return jsonify(rendered)


PREVIEW_POLICY = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'")


@bp.get(PREFIX + "/preview-app/")
@signed_in
def preview_app(slug: str) -> Response:
    """The participant app's own shell, framed by the preview page (same origin only). It sits
    outside /app/, so the app's service worker never controls it, and its preview mode keeps
    answers in the page: nothing is queued, stored or sent."""
    study = _study(slug)
    codesign.list_drafts(db_session(), staff(), study)  # co-designers only
    shell = pwa.current_bundle().shell
    response = Response(shell.body, content_type=shell.mimetype)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# -- versions: diff, download, feedback -------------------------------------------------------


@bp.get(PREFIX + "/diff")
@signed_in
def diff(slug: str) -> tuple[str, int]:
    study = _study(slug)
    session, user = db_session(), staff()
    codesign.list_drafts(session, user, study)  # co-designers only
    keys = support.instrument_keys(session, study)
    key = request.args.get("instrument", "")
    choices = codesign.versions(session, user, study, key) if key in keys else []
    older = _version_ref(request.args.get("older"))
    newer = _version_ref(request.args.get("newer"))
    result = None
    if older and newer:
        result = codesign.diff_versions(session, user, study, older, newer)
    return (
        page(
            "site/codesign/diff.html",
            study,
            keys=keys,
            key=key,
            choices=choices,
            older=request.args.get("older", ""),
            newer=request.args.get("newer", ""),
            result=result,
        ),
        200,
    )


def _yaml(study: Study, ref: codesign.VersionRef) -> Response:
    name, text = codesign.download(db_session(), staff(), study, ref)
    return Response(
        text.encode("utf-8"),
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get(DRAFT + "/download")
@signed_in
def download_draft(slug: str, draft_id: int) -> Response:
    study = _study(slug)
    return _yaml(study, codesign.VersionRef.draft(draft_id))


@bp.get(PREFIX + "/versions/<int:version_id>/download")
@signed_in
def download_version(slug: str, version_id: int) -> Response:
    study = _study(slug)
    return _yaml(study, codesign.VersionRef.published(version_id))


@bp.get(PREFIX + "/feedback")
@signed_in
def feedback(slug: str) -> tuple[str, int]:
    study = _study(slug)
    session, user = db_session(), staff()
    codesign.list_drafts(session, user, study)  # co-designers only
    keys = support.instrument_keys(session, study)
    key = request.args.get("instrument", "")
    report = codesign.feedback(session, user, study, key) if key in keys else None
    return page("site/codesign/feedback.html", study, keys=keys, key=key, report=report), 200


# -- moving questions between pages ---------------------------------------------------------


def _page_name(page: dict[str, Any], number: int, language: str) -> str:
    title = page.get("title")
    text = title.get(language) if isinstance(title, dict) else title
    return str(_("Page %(number)s (%(title)s)", number=number, title=text or page["id"]))


def _destinations(view: codesign.DraftView, part_key: str) -> tuple[list[tuple[str, str]], str]:
    """``(value, label)`` of every place a question can go (``page id:position``, counted
    without the question itself) and the value of where it is now."""
    language = doc.default_language(view.document)
    places: list[tuple[str, str]] = []
    current = ""
    for number, page_body in enumerate(view.instrument.body.get("pages") or [], start=1):
        name = _page_name(page_body, number, language)
        others = [item_id for item_id in page_body["items"] if item_id != part_key]
        if part_key in page_body["items"]:
            current = f"{page_body['id']}:{page_body['items'].index(part_key)}"
        places.append((f"{page_body['id']}:0", _("%(page)s, first", page=name)))
        for position, other in enumerate(others, start=1):
            places.append(
                (
                    f"{page_body['id']}:{position}",
                    _("%(page)s, after %(item)s", page=name, item=other),
                )
            )
    places.append((f"{codesign.NEW_PAGE}:0", _("On a new page at the end")))
    here = _("(where it is now)")
    return [(value, f"{label} {here}" if value == current else label) for value, label in places], (
        current
    )


@bp.route(DRAFT + "/items/<part>/move", methods=["GET", "POST"])
@signed_in
def move_item(slug: str, draft_id: int, part: str) -> BaseResponse | tuple[str, int]:
    """Move a question to another place or page: one list of places and a button."""
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    current = _part(view, part)
    form = cf.MoveItemForm()
    form.destination.choices, here = _destinations(view, part)
    status = 200
    if request.method == "GET":
        form.revision.data = str(view.instrument.revision)
        form.destination.data = here
    elif form.validate_on_submit():
        page_id, _sep, position = form.destination.data.rpartition(":")
        revision = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
        moved = False
        with _saving(form, field="destination") as change:
            moved = codesign.move_item(
                db_session(),
                staff(),
                draft_id,
                part,
                page_id=page_id,
                position=int(position),
                expected_revision=revision,
            )
        if change.saved:
            flash(_("Question moved.") if moved else _("The question was already there."))
            return redirect(url_for("site.draft", slug=slug, draft_id=draft_id) + "#questions")
        status = change.status
        view = _draft(study, draft_id)  # as it is now, after someone else's change
        current = _part(view, part)
        form.destination.choices, here = _destinations(view, part)
        form.revision.data = str(view.instrument.revision)
    else:
        status = 422
    return (
        page(
            "site/codesign/move.html",
            study,
            view=view,
            draft=view.draft,
            part=current,
            form=form,
            text=_item_text(dict(current.body), doc.default_language(view.document)),
        ),
        status,
    )


# -- answer options and shared answer lists ---------------------------------------------------


def _labels() -> dict[str, str]:
    """The new option's label per language, from its inputs (``option-label.fr``)."""
    return {
        key.removeprefix("option-label."): value
        for key, value in request.form.items()
        if key.startswith("option-label.")
    }


def _add_choice(
    study: Study, view: codesign.DraftView, part_key: str, choice_set: str | None
) -> tuple[cf.AddChoiceForm, int] | BaseResponse:
    """Add one answer option from the form; the form (with its errors) and status if not."""
    form = cf.AddChoiceForm(prefix="option")
    if not form.validate_on_submit():
        return form, 422
    raw_score = (form.score.data or "").strip()
    score = _number(raw_score)
    if raw_score and score is None:
        form.score.errors = [_("Enter a number, for example 2.")]
        return form, 422
    revision = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
    with _saving(form, field="value") as change:
        codesign.add_choice(
            db_session(),
            staff(),
            view.draft.id,
            part_key,
            value=form.value.data,
            labels=_labels(),
            score=score,
            expected_revision=revision,
            choice_set=choice_set,
        )
    if change.saved:
        flash(_("Answer option added."))
        if choice_set is not None:
            target = url_for(
                "site.choice_set", slug=study.slug, draft_id=view.draft.id, name=choice_set
            )
        else:
            target = url_for("site.item", slug=study.slug, draft_id=view.draft.id, part=part_key)
        return redirect(target + "#answer-options")
    return form, change.status


@bp.post(DRAFT + "/items/<part>/options")
@signed_in
def add_option(slug: str, draft_id: int, part: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    _part(view, part)
    result = _add_choice(study, view, part, None)
    if not isinstance(result, tuple):
        return result
    form, status = result
    fresh = _draft(study, draft_id)
    current = _part(fresh, part)
    item_form = cf.ItemForm(formdata=None)
    item_form.revision.data = str(current.revision)
    form.revision.data = str(current.revision)
    return _item_page(
        study, fresh, current, item_form, status, choice_form=form, values=_labels_as_values()
    )


def _labels_as_values() -> dict[str, Any]:
    return {f"option-label.{language}": text for language, text in _labels().items()}


def _choice_set_fields(view: codesign.DraftView, name: str) -> list[tuple[str, Any]]:
    """(field path, current value) of every label and score of one shared answer list."""
    members = (view.instrument.body.get("choice_sets") or {}).get(name)
    if not isinstance(members, list):
        raise NotFound(_("This draft has no shared answer list '%(name)s'.", name=name))
    fields: list[tuple[str, Any]] = []
    for index, member in enumerate(members):
        label = member.get("label") if isinstance(member, dict) else None
        for language in _languages(view):
            text = label.get(language) if isinstance(label, dict) else None
            fields.append((f"choice_sets.{name}.{index}.label.{language}", text))
        fields.append((f"choice_sets.{name}.{index}.score", member.get("score")))
    return fields


def _choice_set_changes(
    view: codesign.DraftView, name: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for path, current in _choice_set_fields(view, name):
        if path not in request.form:
            continue
        raw = request.form[path].replace("\r\n", "\n").strip()
        if path.endswith(".score"):
            value = _number(raw)
            if raw and value is None:
                errors[path] = [_("Enter a number, for example 2.")]
            elif value != current:
                changes[path] = value
        elif (raw or None) != current:
            changes[path] = raw or None
    return changes, errors


@bp.route(DRAFT + "/choice-sets/<name>", methods=["GET", "POST"])
@signed_in
def choice_set(slug: str, draft_id: int, name: str) -> BaseResponse | tuple[str, int]:
    """A shared answer list: its labels in each language and its scores, edited together (a
    change shows in every question that uses the list), and a form to add an option."""
    study = _study(slug)
    view = _draft(study, draft_id)
    _choice_set_fields(view, name)  # 404 for a list the draft does not have
    form = cf.ChoiceSetForm()
    option_form: cf.AddChoiceForm | None = None
    status = 200
    conflict = None
    values: dict[str, Any] = {}
    field_errors: dict[str, list[str]] = {}
    if request.method == "GET":
        form.revision.data = str(view.instrument.revision)
    else:
        _require_author(study)
        if not form.validate_on_submit():
            abort(400)
        revision = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
        changes, field_errors = _choice_set_changes(view, name)
        if not changes and not field_errors:
            flash(_("Nothing was changed."))
            return redirect(url_for("site.choice_set", slug=slug, draft_id=draft_id, name=name))
        if field_errors:
            values, status = dict(request.form), 422
        else:
            edit = _edit_instrument(study, view, form, changes, revision)
            if edit.saved:
                flash(_("Saved. Every question that uses this list shows the change."))
                return redirect(url_for("site.choice_set", slug=slug, draft_id=draft_id, name=name))
            view, status, conflict = edit.view, edit.status, edit.conflict
            values, field_errors = edit.values, edit.field_errors
    return _choice_set_page(
        study,
        view,
        name,
        form,
        status,
        option_form=option_form,
        conflict=conflict,
        values=values,
        field_errors=field_errors,
    )


def _choice_set_page(
    study: Study,
    view: codesign.DraftView,
    name: str,
    form: cf.ChoiceSetForm,
    status: int,
    *,
    option_form: cf.AddChoiceForm | None = None,
    conflict: codesign.EditConflict | None = None,
    values: dict[str, Any] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    order_form: cf.ChoiceOrderForm | None = None,
) -> tuple[str, int]:
    members = view.instrument.body["choice_sets"][name]
    if option_form is None:
        option_form = cf.AddChoiceForm(prefix="option", formdata=None)
        option_form.revision.data = str(view.instrument.revision)
    users = [p.key for p in view.items if p.body.get("choices") == name]
    return (
        page(
            "site/codesign/choice_set.html",
            study,
            view=view,
            draft=view.draft,
            name=name,
            members=members,
            languages=_languages(view),
            form=form,
            option_form=option_form,
            option_action=url_for(
                "site.add_set_option", slug=study.slug, draft_id=view.draft.id, name=name
            ),
            conflict=conflict,
            values=values or {},
            field_errors=field_errors or {},
            used_by=users,
            order_form=order_form or cf.ChoiceOrderForm(formdata=None),
            order_members=members,
            order_action=url_for(
                "site.add_set_option", slug=study.slug, draft_id=view.draft.id, name=name
            ),
            order_revision=view.instrument.revision,
        ),
        status,
    )


@bp.post(DRAFT + "/choice-sets/<name>/options")
@signed_in
def add_set_option(slug: str, draft_id: int, name: str) -> BaseResponse | tuple[str, int]:
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    _choice_set_fields(view, name)
    result = _add_choice(study, view, doc.INSTRUMENT_PART, name)
    if not isinstance(result, tuple):
        return result
    option_form, status = result
    fresh = _draft(study, draft_id)
    option_form.revision.data = str(fresh.instrument.revision)
    form = cf.ChoiceSetForm(formdata=None)
    form.revision.data = str(fresh.instrument.revision)
    return _choice_set_page(
        study, fresh, name, form, status, option_form=option_form, values=_labels_as_values()
    )


_ORDER_ACTIONS: Final = ("up", "down", "remove")


def _order_choice(
    study: Study,
    view: codesign.DraftView,
    part_key: str,
    choice_set: str | None,
    index: int,
    action: str,
) -> tuple[cf.ChoiceOrderForm, int] | BaseResponse:
    """Move an answer option one place up or down, or remove it; the form with the refusal
    and its status if the service said no."""
    if action not in _ORDER_ACTIONS:
        abort(404)
    form = cf.ChoiceOrderForm()
    if not form.validate_on_submit():
        abort(400)
    revision = int(form.revision.data) if (form.revision.data or "").isdigit() else -1
    with _saving(form, field="choice") as change:
        if action == "remove":
            codesign.remove_choice(
                db_session(),
                staff(),
                view.draft.id,
                part_key,
                index=index,
                expected_revision=revision,
                choice_set=choice_set,
            )
        else:
            codesign.move_choice(
                db_session(),
                staff(),
                view.draft.id,
                part_key,
                index=index,
                to=index - 1 if action == "up" else index + 1,
                expected_revision=revision,
                choice_set=choice_set,
            )
    if change.saved:
        flash(_("Answer option removed.") if action == "remove" else _("Answer option moved."))
        if choice_set is not None:
            target = url_for(
                "site.choice_set", slug=study.slug, draft_id=view.draft.id, name=choice_set
            )
        else:
            target = url_for("site.item", slug=study.slug, draft_id=view.draft.id, part=part_key)
        return redirect(target + "#option-order")
    if change.status == 404:
        abort(404)
    return form, change.status


@bp.post(DRAFT + "/items/<part>/options/<int:index>/<action>")
@signed_in
def order_option(
    slug: str, draft_id: int, part: str, index: int, action: str
) -> BaseResponse | tuple[str, int]:
    """Move an option of a question's own list up or down, or remove it."""
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    _part(view, part)
    result = _order_choice(study, view, part, None, index, action)
    if not isinstance(result, tuple):
        return result
    order_form, status = result
    fresh = _draft(study, draft_id)
    current = _part(fresh, part)
    item_form = cf.ItemForm(formdata=None)
    item_form.revision.data = str(current.revision)
    return _item_page(study, fresh, current, item_form, status, order_form=order_form)


@bp.post(DRAFT + "/choice-sets/<name>/options/<int:index>/<action>")
@signed_in
def order_set_option(
    slug: str, draft_id: int, name: str, index: int, action: str
) -> BaseResponse | tuple[str, int]:
    """Move an option of a shared answer list up or down, or remove it."""
    study = _study(slug)
    _require_author(study)
    view = _draft(study, draft_id)
    _choice_set_fields(view, name)
    result = _order_choice(study, view, doc.INSTRUMENT_PART, name, index, action)
    if not isinstance(result, tuple):
        return result
    order_form, status = result
    fresh = _draft(study, draft_id)
    form = cf.ChoiceSetForm(formdata=None)
    form.revision.data = str(fresh.instrument.revision)
    return _choice_set_page(study, fresh, name, form, status, order_form=order_form)
