"""Staff of a study (admins): members and roles, adding someone, ending a role."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.access import Permission
from app.accounts import profile
from app.extensions import db, settings
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import common
from app.workspace import staff as workspace


@bp.route("/staff/", methods=["GET", "POST"])
@signed_in
def staff_members(slug: str) -> str | tuple[str, int]:
    study = common.study_for(db_session(), staff(), slug, Permission.MANAGE_STUDY)
    rows = workspace.members(db_session(), staff(), study)
    form = forms.StaffForm()
    form.site.choices = [SelectChoice("", _("Every site"))] + [
        SelectChoice(s.code, s.name) for s in study.sites
    ]
    added = None
    invitation_link = None  # shown once when the invitation e-mail could not go
    if form.validate_on_submit():
        with forms.saving(form, field="email") as change:
            added = workspace.add_member(
                db_session(),
                staff(),
                study,
                email=form.email.data or "",
                display_name=form.display_name.data or "",
                role=form.role.data or "",
                site_code=form.site.data or "",
                by_email=bool(form.by_email.data),
            )
        if change.saved and added is not None and added.invited:
            if _invite(added, study):
                flash(_("%(name)s has an invitation by e-mail.", name=added.user.display_name))
            else:
                invitation_link = _link(added)
        if change.saved:
            rows = workspace.members(db_session(), staff(), study)
            form = forms.StaffForm(formdata=None)
            form.site.choices = [SelectChoice("", _("Every site"))] + [
                SelectChoice(s.code, s.name) for s in study.sites
            ]
    status = 422 if form.errors or form.form_errors else 200
    return page(
        "site/staff.html",
        study,
        rows=rows,
        form=form,
        added=added,
        invitation_link=invitation_link,
        button=forms.EmptyForm(),
    ), status


def _link(added: workspace.Added) -> str:
    token = profile.invitation_token(added.user, settings().secret_key)
    return url_for("account.welcome", token=token, _external=True)


def _invite(added: workspace.Added, study: object) -> bool:
    """E-mail the invitation link in the inviter's language; False when it could not go (no
    relay set up, or the relay refused), and the page shows the link once instead."""
    link = _link(added)
    text = render_template(
        "site/email/staff_invitation.txt",
        member=added.user,
        inviter=staff(),
        study=study,
        link=link,
        days=profile.INVITATION_DAYS,
    )
    sent = workspace.email_invitation(
        settings().smtp,
        added.user,
        subject=_("Your Chorus account: choose your password"),
        text=text,
        language=str(get_locale() or "en"),
    )
    return sent


@bp.post("/staff/<int:membership_id>/end")
@signed_in
def end_membership(slug: str, membership_id: int) -> Response:
    study = common.study_for(db_session(), staff(), slug, Permission.MANAGE_STUDY)
    workspace.end_membership(db_session(), staff(), study, membership_id)
    db.session.commit()
    flash(_("Role ended."))
    return redirect(url_for("site.staff_members", slug=slug))
