"""Key holders and key rotation for data managers. The passphrase goes from the form to the
key service in memory; it is never logged, echoed back or kept in the form after a failure."""

from __future__ import annotations

from flask_babel import gettext as _

from app.access import Permission
from app.errors import ChorusError
from app.extensions import db
from app.responses import keys as key_service
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
    return page("site/keys.html", study, status=status, form=form, recovery_key=recovery_key), code
