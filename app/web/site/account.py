"""A staff member's own account: language and time zone of the staff pages, a new password
(the current one required), and the page an e-mailed invitation link opens to choose the
first password. Thin views over app.accounts.profile, which checks and audits."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import profile
from app.accounts import service as accounts
from app.auth import sign_in
from app.extensions import db, settings
from app.web.site import forms
from app.web.site.admin import account_bp
from app.web.site.blueprint import signed_in, staff
from app.web.site.i18n import LANGUAGES, SESSION_KEY
from app.workspace import common


def _settings_page(
    preferences: forms.PreferencesForm, password: forms.PasswordChangeForm, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "site/account.html", user=staff(), preferences=preferences, password=password
    ), status


@account_bp.route("/", methods=["GET", "POST"], endpoint="settings")
@signed_in
def settings_page() -> Response | tuple[str, int]:
    user = staff()
    preferences = forms.PreferencesForm(
        data={
            "language": user.language if user.language in LANGUAGES else "en",
            "time_zone": user.time_zone,
        }
        if request.method == "GET"
        else None
    )
    if preferences.validate_on_submit():
        with forms.saving(preferences, field="time_zone") as change:
            chosen = preferences.language.data or "en"
            if chosen != user.language:
                accounts.set_language(db.session(), user, chosen, actor=common.actor(user))
            profile.set_time_zone(
                db.session(),
                user,
                (preferences.time_zone.data or "").strip(),
                actor=common.actor(user),
            )
        if change.saved:
            cookie_session[SESSION_KEY] = chosen
            flash(_("Your settings are saved."))
            return redirect(url_for("account.settings"))
    status = 422 if preferences.errors else 200
    return _settings_page(preferences, forms.PasswordChangeForm(formdata=None), status)


@account_bp.post("/password")
@signed_in
def change_password() -> Response | tuple[str, int]:
    user = staff()
    form = forms.PasswordChangeForm()
    if form.validate_on_submit():
        with forms.saving(form, field="new_password") as change:
            profile.change_password(
                db.session(),
                user,
                current=form.current_password.data or "",
                new=form.new_password.data or "",
                actor=common.actor(user),
            )
        if change.saved:
            sign_in(user)  # a new session here; every other browser was signed out
            db.session.commit()
            flash(_("Your password is changed. Other browsers are signed out."))
            return redirect(url_for("account.settings"))
        # The service's reasons, in the page's language.
        if form.current_password.errors:
            form.current_password.errors = [_("That is not your current password.")]
        if form.new_password.errors:
            form.new_password.errors = [
                _("Choose another password: at least 12 characters, not your current one.")
            ]
    preferences = forms.PreferencesForm(
        formdata=None, data={"language": user.language, "time_zone": user.time_zone}
    )
    return _settings_page(preferences, form, 422)


@account_bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str) -> Response | tuple[str, int]:
    """Opened from the invitation e-mail, signed out: choose the first password, then signed
    in. An expired, used or altered link gets one 404 page."""
    secret = settings().secret_key
    user = profile.invited_user(db.session(), token, secret)  # NotFound: 404
    form = forms.WelcomeForm()
    if form.validate_on_submit():
        with forms.saving(form, field="new_password") as change:
            profile.accept_invitation(db.session(), token, secret, form.new_password.data or "")
        if change.saved:
            sign_in(user)
            db.session.commit()
            flash(_("Your password is set. Welcome to Chorus."))
            return redirect(url_for("staff.home"))
    status = 422 if form.errors else 200
    return render_template("site/welcome.html", form=form, invited=user), status
