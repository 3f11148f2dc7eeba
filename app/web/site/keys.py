"""Key holders and key rotation for data managers. The passphrase goes from the form to the
key service in memory; it is never logged, echoed back or kept in the form after a failure."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.access import Permission
from app.errors import ChorusError
from app.extensions import db
from app.responses import keys as key_service
from app.studies.models import Study
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import common
from app.workspace import keys as workspace


@bp.route("/keys/", methods=["GET", "POST"])
@signed_in
def key_holders(slug: str) -> str | tuple[str, int]:
    study = common.study_for(db_session(), staff(), slug, Permission.HOLD_STUDY_KEY)
    status = workspace.key_status(db_session(), staff(), study)
    form = forms.RotateKeyForm()
    recovery_key = None
    if form.validate_on_submit():
        try:
            recovery_key = workspace.rotate(
                db_session(), staff(), study, form.passphrase.data or ""
            )
        except key_service.KeyUnlockFailed:
            db.session.commit()  # keeps the failed attempt in the audit log
            form.passphrase.errors = [_("That passphrase does not open this study's key.")]
        except ChorusError as error:
            db.session.rollback()
            forms.attach_errors(form, error.errors or {"passphrase": [error.message]})
        else:
            db.session.commit()
            status = workspace.key_status(db_session(), staff(), study)
        form.passphrase.data = ""
    code = 422 if form.errors else 200
    return page(
        "site/keys.html",
        study,
        status=status,
        form=form,
        holder_form=_holder_form(study),
        recovery_key=recovery_key,
        button=forms.EmptyForm(),
    ), code


def _holder_form(study: Study, *, from_request: bool = False) -> forms.AddHolderForm:
    # Prefixed: the rotate form on the same page has a "passphrase" field too (ids must differ).
    form = (
        forms.AddHolderForm(prefix="holder")
        if from_request
        else forms.AddHolderForm(prefix="holder", formdata=None)
    )
    form.new_holder.choices = [
        SelectChoice(u.id, f"{u.display_name} ({u.email})")
        for u in workspace.possible_holders(db_session(), staff(), study)
    ]
    return form


@bp.post("/keys/holders")
@signed_in
def add_key_holder(slug: str) -> Response | tuple[str, int]:
    study = common.study_for(db_session(), staff(), slug, Permission.HOLD_STUDY_KEY)
    holder_form = _holder_form(study, from_request=True)
    if holder_form.validate_on_submit():
        try:
            added = workspace.add_holder(
                db_session(),
                staff(),
                study,
                passphrase=holder_form.passphrase.data or "",
                new_holder_id=int(holder_form.new_holder.data or 0),
                new_passphrase=holder_form.new_passphrase.data or "",
            )
        except key_service.KeyUnlockFailed:
            db.session.commit()  # keeps the failed attempt in the audit log
            holder_form.passphrase.errors = [_("That passphrase does not open this study's key.")]
        except ChorusError as error:
            db.session.rollback()
            forms.attach_errors(holder_form, error.errors or {"new_holder": [error.message]})
        else:
            db.session.commit()
            flash(_("%(name)s now holds the study key.", name=added.display_name))
            return redirect(url_for("site.key_holders", slug=slug))
    holder_form.passphrase.data = holder_form.new_passphrase.data = ""
    return page(
        "site/keys.html",
        study,
        status=workspace.key_status(db_session(), staff(), study),
        form=forms.RotateKeyForm(formdata=None),
        holder_form=holder_form,
        recovery_key=None,
        button=forms.EmptyForm(),
    ), 422


@bp.post("/keys/holders/<int:holder_id>/remove")
@signed_in
def remove_key_holder(slug: str, holder_id: int) -> Response:
    study = common.study_for(db_session(), staff(), slug, Permission.HOLD_STUDY_KEY)
    workspace.remove_holder(db_session(), staff(), study, holder_id)
    db.session.commit()
    flash(_("Key holder removed."))
    return redirect(url_for("site.key_holders", slug=slug))
