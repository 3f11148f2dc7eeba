"""Dataset exports in the workspace (issue #14): choose, unlock, download; follow the progress;
the history. The export service checks the role, unlocks, audits and records the history; this
module only parses the form, calls it and streams the ZIP.

The secret (a key holder's passphrase or the recovery key) goes from the form to the service
in memory; it is never logged, never kept and never echoed back into the form after an error.
Progress without breaking the no-JavaScript rule: the POST answers with the ZIP as a download
(the page stays); static/exports.js sets a random export token before sending and polls
`progress.json` for that token while the download runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel import Locale, UnknownLocaleError
from flask import Response, jsonify, request, stream_with_context
from flask_babel import get_locale
from flask_babel import gettext as _
from wtforms import SelectChoice

from app.access import Permission
from app.errors import ChorusError, Forbidden
from app.exports import service as exports
from app.exports.model import ExportOptions, Profile
from app.extensions import db, settings
from app.responses import keys
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import common


def failure_texts() -> dict[str, str]:
    """Why an export failed, for the history and the progress (codes: exports.FAILURES)."""
    return {
        "abandoned": _(
            "The process running the export stopped (a crash, a restart or a kill) before it "
            "finished."
        ),
        "unreadable_response": _(
            "A stored response could not be opened with the study key (damaged, or sealed to "
            "another key). Ask the server's operator to check the responses."
        ),
        "database": _("The database failed while the export was being read."),
        "too_large": _(
            "An SPSS or Stata file would hold more rows than the server allows in one file. "
            "Export fewer rows at a time (a date range or sites), or choose CSV."
        ),
        "out_of_memory": _("The server ran out of memory."),
        "error": _("An unexpected error stopped the export. The server's log names its id."),
    }


def _locale() -> str:
    return str(get_locale() or "en")


def _offer(form: forms.ExportForm, choices: exports.ExportChoices) -> None:
    """Only what this role may export is offered (the service enforces it anyway)."""
    form.sites.choices = [SelectChoice(code, code) for code in choices.sites]
    form.instruments.choices = [SelectChoice(ref, title) for ref, title in choices.versions]
    form.language.choices = [SelectChoice("", _("Each questionnaire's own language"))] + [
        SelectChoice(code, _language_name(code)) for code in choices.languages
    ]
    form.deidentify.choices = forms.profile_choices(choices.identified)
    form.unlock_with.choices = forms.unlock_choices(choices.holds_key)


def _language_name(code: str) -> str:
    try:
        return Locale.parse(code).get_display_name(_locale()) or code
    except (ValueError, UnknownLocaleError):
        return code


def _defaults(choices: exports.ExportChoices) -> dict[str, Any]:
    return {
        "formats": ["csv"],
        "deidentify": "none" if choices.identified else "shifted",
        "unlock_with": "passphrase" if choices.holds_key else "recovery",
    }


def _again(record: Any, choices: exports.ExportChoices) -> dict[str, Any]:
    """A past export's choices, to export the same again (the secret is asked again)."""
    wanted = record.parameters

    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    return _defaults(choices) | {
        "formats": list(wanted.get("formats") or ["csv"]),
        "sites": list(wanted.get("sites") or ()),
        "instruments": list(wanted.get("instruments") or ()),
        "since": day(wanted.get("since")),
        "until": day(wanted.get("until")),
        "labels": wanted.get("labels") or "codes",
        "language": wanted.get("language") or "",
        "delimiter": wanted.get("delimiter") or ",",
        "decimal": wanted.get("decimal") or ".",
        "bom": bool(wanted.get("bom")),
        "deidentify": record.profile,
    }


def _request_of(slug: str, form: forms.ExportForm) -> exports.ExportRequest:
    return exports.ExportRequest(
        study_slug=slug,
        options=ExportOptions(
            formats=frozenset(form.formats.data or ()),
            labels=form.labels.data,
            language=form.language.data or None,
            delimiter=form.delimiter.data,
            decimal=form.decimal.data,
            bom=bool(form.bom.data),
        ),
        profile=Profile(form.deidentify.data),
        sites=tuple(form.sites.data or ()),
        instruments=tuple(form.instruments.data or ()),
        since=form.since.data,
        until=form.until.data,
    )


@bp.route("/exports/", methods=["GET", "POST"])
@signed_in
def export_page(slug: str) -> Response | tuple[str, int]:
    study = common.study_for(db_session(), staff(), slug, Permission.EXPORT_DEIDENTIFIED)
    choices = exports.choices_for(db_session(), staff(), study, _locale())
    if request.method == "POST":
        form = forms.ExportForm()
    else:
        again = request.args.get("again")
        data = _defaults(choices)
        if again:
            data = _again(exports.progress_of(db_session(), staff(), again, study.id), choices)
        form = forms.ExportForm(formdata=None, data=data)
    _offer(form, choices)
    if form.validate_on_submit():
        secret = form.secret.data or ""
        if form.unlock_with.data == "passphrase":
            credential = keys.HolderCredential("staff", secret, staff())
        else:
            credential = keys.HolderCredential("recovery", secret)
        try:
            prepared = exports.prepare(
                db_session(),
                user=staff(),
                credential=credential,
                request=_request_of(slug, form),
                deid_key=exports.deidentification_key(settings().secret_key),
                channel="web",
                export_id=form.export_token.data or None,
            )
        except keys.KeyUnlockFailed:
            db.session.commit()  # the failed attempt stays in the audit log
            form.secret.errors = [
                _("That passphrase or recovery key does not open this study's key.")
            ]
        except Forbidden:
            db.session.rollback()
            form.form_errors.append(_("Your role may not export that. Nothing was exported."))
        except ChorusError as error:
            db.session.rollback()
            forms.attach_errors(form, error.errors or {"": [error.message]})
        else:
            db.session.commit()
            return _download(prepared)
    form.secret.data = ""
    form.export_token.data = ""  # each sending gets a fresh token from static/exports.js
    html = page("site/exports.html", study, form=form, choices=choices)
    return html, 422 if request.method == "POST" else 200


def _download(prepared: exports.PreparedExport) -> Response:
    # The request's own session object, not db.session: while the ZIP streams, the scoped
    # session may resolve to another one, and the completion must commit this one's work.
    commit = db_session().commit
    response = Response(stream_with_context(prepared.chunks(commit)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
    response.headers["X-Chorus-Export-Id"] = prepared.export_id
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # proxies pass chunks on as they come
    return response


@bp.get("/exports/<export_id>/progress.json")
@signed_in
def export_progress(slug: str, export_id: str) -> Response:
    """For static/exports.js while a download streams: counts and status, naming nobody."""
    study = common.study_for(db_session(), staff(), slug, Permission.EXPORT_DEIDENTIFIED)
    record = exports.progress_of(db_session(), staff(), export_id, study.id)
    body = {
        "status": record.status,
        "responses": record.responses,
        "responses_done": exports.responses_done(record),
        "failure": failure_texts().get(record.failure or "") if record.failure else None,
    }
    db.session.commit()
    return jsonify(body)


@bp.get("/exports/history")
@signed_in
def export_history(slug: str) -> str:
    study = common.study_for(db_session(), staff(), slug, Permission.EXPORT_DEIDENTIFIED)
    entries = exports.history_entries(db_session(), staff(), study)
    html = page("site/export_history.html", study, entries=entries, failures=failure_texts())
    db.session.commit()  # abandoned exports found while listing are now marked failed
    return html
