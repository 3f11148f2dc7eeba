"""Participant pages: list, enrol, participant page, invite (with QR and the printable letter),
pause, resume, withdraw (confirm page), caregivers, devices and timetable pauses.

Views parse the form, call app.workspace.participants (which checks access and audits) and
render; a service's Invalid goes back beside the fields it names."""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from flask import flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.access import Permission
from app.db import utcnow
from app.errors import ChorusError, Invalid
from app.extensions import db, settings
from app.studies.models import Study
from app.web.site import forms
from app.web.site.blueprint import bp, page, signed_in, staff
from app.web.site.blueprint import session as db_session
from app.workspace import common
from app.workspace import participants as workspace


def _study(slug: str, permission: Permission = Permission.VIEW_PARTICIPANTS) -> Study:
    return common.study_for(db_session(), staff(), slug, permission)


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@bp.get("/participants/")
@signed_in
def participant_list(slug: str) -> str | tuple[str, int]:
    study = _study(slug)
    query = workspace.ListQuery(
        search=request.args.get("q", "")[:64],
        site=request.args.get("site", ""),
        status=request.args.get("status", ""),
        sort=request.args.get("sort", "code"),
        descending=request.args.get("dir") == "desc",
        page=_int_arg("page", 1),
    )
    try:
        found = workspace.list_participants(db_session(), staff(), study, query, utcnow())
    except Invalid as error:
        db.session.rollback()
        return page(
            "site/participants.html", study, result=None, query=query, errors=error.errors
        ), 422
    return page(
        "site/participants.html",
        study,
        result=found,
        query=query,
        errors={},
        sites=common.sites_for(staff(), study, Permission.VIEW_PARTICIPANTS),
        may_enrol=common.may_somewhere(staff(), Permission.MANAGE_PARTICIPANTS, study),
    )


@bp.route("/participants/new", methods=["GET", "POST"])
@signed_in
def enrol(slug: str) -> Response | str | tuple[str, int]:
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    form = forms.EnrolForm()
    sites = common.sites_for(staff(), study, Permission.MANAGE_PARTICIPANTS)
    form.site.choices = [SelectChoice("", _("Choose a site"))] + [
        SelectChoice(s.code, f"{s.name} ({s.code})") for s in sites
    ]
    if len(sites) == 1 and not form.site.data:
        form.site.data = sites[0].code
    if form.validate_on_submit():
        with forms.saving(form, field="code") as change:
            participant = workspace.enrol(
                db_session(),
                staff(),
                study,
                form.site.data or "",
                code=(form.code.data or "").strip(),
                age_band=form.age_band.data,
                language=form.language.data or "en",
                time_zone=(form.time_zone.data or "").strip(),
                arm=form.arm.data or None,
                nickname=form.nickname.data or None,
            )
        if change.saved:
            flash(_("Participant %(code)s enrolled.", code=participant.code))
            return redirect(url_for("site.invite", slug=slug, code=participant.code))
    status = 422 if form.errors or form.form_errors else 200
    return page("site/enrol.html", study, form=form), status


@bp.get("/participants/<code>")
@signed_in
def participant(slug: str, code: str) -> str:
    study = _study(slug)
    detail = workspace.participant_detail(db_session(), staff(), study, code, utcnow())
    return page(
        "site/participant.html",
        study,
        detail=detail,
        pause_form=forms.TimetablePauseForm(formdata=None),
        quiet_form=_quiet_form(detail),
        button=forms.EmptyForm(),
    )


def _quiet_form(detail: workspace.ParticipantDetail) -> forms.QuietHoursForm:
    quiet = detail.timetable.quiet_hours
    return forms.QuietHoursForm(
        formdata=None,
        quiet_start=quiet[0]["start"] if quiet else "",
        quiet_end=quiet[0]["end"] if quiet else "",
    )


def _qr_data_uri(link: str) -> str:
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=5, border=4)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@bp.route("/participants/<code>/invite", methods=["GET", "POST"])
@signed_in
def invite(slug: str, code: str) -> str | tuple[str, int]:
    """GET: the form. POST: a new invitation (earlier unused ones stop working) shown once,
    on screen and as a letter in the participant's language that prints on its own."""
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    person = workspace.get_participant(
        db_session(), staff(), study, code, Permission.MANAGE_PARTICIPANTS
    )
    form = forms.InviteForm()
    if form.validate_on_submit():
        cfg = settings()
        with forms.saving(form, field="valid_for_days") as change:
            person, issued = workspace.invite(
                db_session(),
                staff(),
                study,
                code,
                days=form.valid_for_days.data or 14,
                pepper=cfg.secret_key,
                base_url=cfg.base_url,
            )
        if change.saved:
            qr = _qr_data_uri(issued.link)
            with force_locale(person.language.split("-")[0]):
                letter = Markup(  # noqa: S704 - our own template, autoescaped
                    render_template(
                        "site/letter.html", study=study, participant=person, issued=issued, qr=qr
                    )
                )
            return page(
                "site/invitation.html",
                study,
                participant=person,
                issued=issued,
                qr=qr,
                letter=letter,
            )
    status = 422 if form.errors else 200
    return page("site/invite.html", study, participant=person, form=form), status


@bp.route("/participants/<code>/caregivers/<int:caregiver_id>/invite", methods=["GET", "POST"])
@signed_in
def invite_caregiver(slug: str, code: str, caregiver_id: int) -> str | tuple[str, int]:
    """As `invite`, for a caregiver linked to this participant; the letter is in the
    caregiver's language."""
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    person, caregiver = workspace.caregiver_of(db_session(), staff(), study, code, caregiver_id)
    form = forms.InviteForm()
    if form.validate_on_submit():
        cfg = settings()
        with forms.saving(form, field="valid_for_days") as change:
            person, caregiver, issued = workspace.invite_caregiver(
                db_session(),
                staff(),
                study,
                code,
                caregiver_id,
                days=form.valid_for_days.data or 14,
                pepper=cfg.secret_key,
                base_url=cfg.base_url,
            )
        if change.saved:
            qr = _qr_data_uri(issued.link)
            with force_locale(caregiver.language.split("-")[0]):
                letter = Markup(  # noqa: S704 - our own template, autoescaped
                    render_template(
                        "site/letter.html",
                        study=study,
                        participant=person,
                        issued=issued,
                        qr=qr,
                        language=caregiver.language,
                    )
                )
            return page(
                "site/invitation.html",
                study,
                participant=person,
                issued=issued,
                qr=qr,
                letter=letter,
            )
    status = 422 if form.errors else 200
    return page(
        "site/invite.html", study, participant=person, form=form, caregiver=caregiver
    ), status


def _action(slug: str, code: str, run: Any, done: str) -> Response:
    """A one-button action on the participant page: run, commit, say so, go back."""
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        raise Invalid(errors={"csrf_token": ["The form expired; try again."]})
    run(study)
    db.session.commit()
    flash(done)
    return redirect(url_for("site.participant", slug=slug, code=code))


@bp.post("/participants/<code>/invitations/revoke")
@signed_in
def revoke_invitations(slug: str, code: str) -> Response:
    return _action(
        slug,
        code,
        lambda study: workspace.revoke_invitations(db_session(), staff(), study, code, utcnow()),
        _("Unused invitations stopped working."),
    )


@bp.post("/participants/<code>/resume")
@signed_in
def resume(slug: str, code: str) -> Response:
    return _action(
        slug,
        code,
        lambda study: workspace.resume(db_session(), staff(), study, code),
        _("Reminders resumed."),
    )


@bp.post("/participants/<code>/caregivers/<int:caregiver_id>/unlink")
@signed_in
def unlink_caregiver(slug: str, code: str, caregiver_id: int) -> Response:
    return _action(
        slug,
        code,
        lambda study: workspace.unlink_caregiver(db_session(), staff(), study, code, caregiver_id),
        _("Caregiver unlinked."),
    )


@bp.post("/participants/<code>/devices/<int:device_id>/revoke")
@signed_in
def revoke_device(slug: str, code: str, device_id: int) -> Response:
    return _action(
        slug,
        code,
        lambda study: workspace.revoke_device(db_session(), staff(), study, code, device_id, None),
        _("The phone was signed out."),
    )


@bp.post("/participants/<code>/timetable/pauses/<int:pause_id>/cancel")
@signed_in
def cancel_timetable_pause(slug: str, code: str, pause_id: int) -> Response:
    return _action(
        slug,
        code,
        lambda study: workspace.cancel_timetable_pause(
            db_session(), staff(), study, code, pause_id
        ),
        _("Pause cancelled; reminders resume."),
    )


@bp.post("/participants/<code>/timetable/pauses")
@signed_in
def add_timetable_pause(slug: str, code: str) -> Response | tuple[str, int]:
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    form = forms.TimetablePauseForm()
    if form.validate_on_submit():
        with forms.saving(form, field="starts_on") as change:
            workspace.add_timetable_pause(
                db_session(),
                staff(),
                study,
                code,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                reason=form.reason.data or "",
            )
        if change.saved:
            flash(_("Reminders paused for those days."))
            return redirect(url_for("site.participant", slug=slug, code=code))
    detail = workspace.participant_detail(db_session(), staff(), study, code, utcnow())
    return page(
        "site/participant.html",
        study,
        detail=detail,
        pause_form=form,
        quiet_form=_quiet_form(detail),
        button=forms.EmptyForm(),
    ), 422


@bp.post("/participants/<code>/timetable/quiet-hours")
@signed_in
def set_quiet_hours(slug: str, code: str) -> Response | tuple[str, int]:
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    form = forms.QuietHoursForm()
    if form.validate_on_submit():
        try:
            workspace.set_quiet_hours(
                db_session(),
                staff(),
                study,
                code,
                (form.quiet_start.data or "").strip(),
                (form.quiet_end.data or "").strip(),
            )
        except ChorusError as error:
            db.session.rollback()
            # The timetable service names paths like quiet_hours[0].start.
            for path, messages in (error.errors or {"quiet_start": [error.message]}).items():
                target = "quiet_end" if path.endswith(".end") else "quiet_start"
                forms.attach_errors(form, {target: messages})
        else:
            db.session.commit()
            flash(_("Quiet hours saved."))
            return redirect(url_for("site.participant", slug=slug, code=code))
    detail = workspace.participant_detail(db_session(), staff(), study, code, utcnow())
    return page(
        "site/participant.html",
        study,
        detail=detail,
        pause_form=forms.TimetablePauseForm(formdata=None),
        quiet_form=form,
        button=forms.EmptyForm(),
    ), 422


@bp.route("/participants/<code>/pause", methods=["GET", "POST"])
@signed_in
def pause(slug: str, code: str) -> Response | str | tuple[str, int]:
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    person = workspace.get_participant(
        db_session(), staff(), study, code, Permission.MANAGE_PARTICIPANTS
    )
    form = forms.PauseForm()
    if form.validate_on_submit():
        with forms.saving(form, field="until") as change:
            workspace.pause(
                db_session(), staff(), study, code, form.until.data, form.reason.data or None
            )
        if change.saved:
            flash(_("Participant paused."))
            return redirect(url_for("site.participant", slug=slug, code=code))
    status = 422 if form.errors else 200
    return page("site/pause.html", study, participant=person, form=form), status


@bp.route("/participants/<code>/withdraw", methods=["GET", "POST"])
@signed_in
def withdraw(slug: str, code: str) -> Response | str | tuple[str, int]:
    """The confirm page (GET) says what withdrawal does and cannot undo; POST withdraws."""
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    person = workspace.get_participant(
        db_session(), staff(), study, code, Permission.MANAGE_PARTICIPANTS
    )
    form = forms.WithdrawForm()
    if form.validate_on_submit():
        with forms.saving(form, field="reason") as change:
            workspace.withdraw(db_session(), staff(), study, code, form.reason.data or None)
        if change.saved:
            flash(_("Participant %(code)s withdrawn.", code=code))
            return redirect(url_for("site.participant", slug=slug, code=code))
    status = 422 if form.errors else 200
    return page("site/withdraw.html", study, participant=person, form=form), status


@bp.route("/participants/<code>/caregivers/new", methods=["GET", "POST"])
@signed_in
def add_caregiver(slug: str, code: str) -> Response | str | tuple[str, int]:
    study = _study(slug, Permission.MANAGE_PARTICIPANTS)
    person = workspace.get_participant(
        db_session(), staff(), study, code, Permission.MANAGE_PARTICIPANTS
    )
    form = forms.CaregiverForm()
    if form.validate_on_submit():
        with forms.saving(form, field="display_name") as change:
            workspace.add_caregiver(
                db_session(),
                staff(),
                study,
                code,
                display_name=form.display_name.data or None,
                language=form.language.data or "en",
                time_zone=(form.time_zone.data or "").strip(),
                caregiver_role=form.caregiver_role.data or "",
            )
        if change.saved:
            flash(_("Caregiver linked."))
            return redirect(url_for("site.participant", slug=slug, code=code))
    status = 422 if form.errors else 200
    return page("site/caregiver.html", study, participant=person, form=form), status
