"""`chorus participants ...`: enrol, invite, caregivers, devices, pause and withdraw from a shell.

The same services as the staff API; the actor is "cli". Invitation links and codes are printed
once and never stored in clear.
"""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli.helpers import fail as _fail
from app.cli.helpers import study_by_slug as _study
from app.errors import ChorusError
from app.extensions import db, settings
from app.participants import service as participants
from app.participants.models import AgeBand, Caregiver, Device, Participant
from app.studies.models import Site

ACTOR = "cli"


def _participant(slug: str, code: str) -> Participant:
    study = _study(slug)
    participant = db.session.scalar(
        select(Participant).where(Participant.study_id == study.id, Participant.code == code)
    )
    if participant is None:
        raise click.UsageError(f"Study {slug!r} has no participant {code!r}.")
    return participant


def _caregiver(caregiver_id: int) -> Caregiver:
    caregiver = db.session.get(Caregiver, caregiver_id)
    if caregiver is None:
        raise click.UsageError(f"No caregiver {caregiver_id}.")
    return caregiver


def echo_invitation(issued: participants.IssuedInvitation, who: str) -> None:
    click.echo(f"Invitation for {who} (valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC):")
    click.echo(f"  link: {issued.link}")
    click.echo(f"  code: {issued.code}")


@click.group("participants")
def participants_group() -> None:
    """Participants, caregivers, invitations and devices."""


@participants_group.command("enroll")
@click.option("--study", "slug", required=True)
@click.option("--site", "site_code", required=True)
@click.option("--code", required=True, help="Pseudonymous study code, e.g. LYON-0042.")
@click.option("--time-zone", required=True, help="IANA name, e.g. Europe/Paris.")
@click.option("--language", required=True, help="e.g. fr, en-GB.")
@click.option(
    "--date-of-birth",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only sets the age band; not stored.",
)
@click.option("--age-band", type=click.Choice([b.value for b in AgeBand]))
@click.option("--arm")
@click.option("--nickname", help="Shown to caregivers, e.g. the child's first name.")
@click.option("--colour", help="e.g. #1f77b4")
@with_appcontext
def enroll(
    slug: str,
    site_code: str,
    code: str,
    time_zone: str,
    language: str,
    date_of_birth: dt.datetime | None,
    age_band: str | None,
    arm: str | None,
    nickname: str | None,
    colour: str | None,
) -> None:
    """Enrol a participant at a site."""
    study = _study(slug)
    site = db.session.scalar(select(Site).where(Site.study_id == study.id, Site.code == site_code))
    if site is None:
        raise click.UsageError(f"Study {slug!r} has no site {site_code!r}.")
    try:
        participant = participants.enroll(
            db.session(),
            study,
            site,
            code=code,
            time_zone=time_zone,
            language=language,
            date_of_birth=date_of_birth.date() if date_of_birth else None,
            age_band=age_band,
            arm=arm,
            nickname=nickname,
            colour=colour,
            actor=ACTOR,
        )
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(
        f"Enrolled {participant.code} (id {participant.id}, {participant.age_band}) at {site.code}."
    )


@participants_group.command("invite")
@click.option("--study", "slug", help="With --participant.")
@click.option("--participant", "code", help="Participant code; or give --caregiver.")
@click.option("--caregiver", "caregiver_id", type=int, help="Caregiver id.")
@click.option("--days", default=participants.DEFAULT_INVITATION_DAYS, show_default=True)
@click.option(
    "--qr", "qr_path", type=click.Path(dir_okay=False), help="Also write the link as a QR SVG."
)
@with_appcontext
def invite(
    slug: str | None, code: str | None, caregiver_id: int | None, days: int, qr_path: str | None
) -> None:
    """Issue a single-use invitation and print its link and code (shown once)."""
    if (caregiver_id is None) == (code is None) or (code is not None and not slug):
        raise click.UsageError("Give --study and --participant, or --caregiver.")
    invitee: Participant | Caregiver = (
        _caregiver(caregiver_id) if caregiver_id is not None else _participant(str(slug), str(code))
    )
    cfg = settings()
    try:
        issued = participants.create_invitation(
            db.session(),
            invitee,
            valid_for=dt.timedelta(days=days),
            pepper=cfg.secret_key,
            base_url=cfg.base_url,
            actor=ACTOR,
        )
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    echo_invitation(issued, code or f"caregiver {caregiver_id}")
    if qr_path:
        import segno

        segno.make(issued.link, error="m").save(qr_path, kind="svg", scale=4, border=4)
        click.echo(f"  QR code written to {qr_path}")


@participants_group.command("add-caregiver")
@click.option("--language", required=True)
@click.option("--time-zone", required=True)
@click.option("--name", "display_name", help="Optional; how the study team refers to them.")
@click.option("--study", "slug", help="Link at once to this study's --participant.")
@click.option("--participant", "code")
@click.option("--role", type=click.Choice(participants.CAREGIVER_ROLES), default="parent")
@with_appcontext
def add_caregiver(
    language: str,
    time_zone: str,
    display_name: str | None,
    slug: str | None,
    code: str | None,
    role: str,
) -> None:
    """Add a caregiver, optionally linked to a participant."""
    if bool(slug) != bool(code):
        raise click.UsageError("--study and --participant go together.")
    try:
        caregiver = participants.add_caregiver(
            db.session(),
            language=language,
            time_zone=time_zone,
            display_name=display_name,
            actor=ACTOR,
        )
        if slug and code:
            participants.link_caregiver(
                db.session(), caregiver, _participant(slug, code), role, ACTOR
            )
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(
        f"Added caregiver {caregiver.id}" + (f", linked to {code} as {role}." if code else ".")
    )


@participants_group.command("link-caregiver")
@click.option("--caregiver", "caregiver_id", type=int, required=True)
@click.option("--study", "slug", required=True)
@click.option("--participant", "code", required=True)
@click.option("--role", type=click.Choice(participants.CAREGIVER_ROLES), default="parent")
@with_appcontext
def link_caregiver(caregiver_id: int, slug: str, code: str, role: str) -> None:
    """Link an existing caregiver to a participant (any study)."""
    try:
        participants.link_caregiver(
            db.session(), _caregiver(caregiver_id), _participant(slug, code), role, ACTOR
        )
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Linked caregiver {caregiver_id} to {code} as {role}.")


@participants_group.command("revoke-device")
@click.argument("device_id", type=int)
@click.option("--reason", required=True)
@with_appcontext
def revoke_device(device_id: int, reason: str) -> None:
    """Revoke a device at once (lost phone, or the family asked)."""
    device = db.session.get(Device, device_id)
    if device is None:
        raise click.UsageError(f"No device {device_id}.")
    try:
        participants.revoke_device(db.session(), device, actor=ACTOR, reason=reason)
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Device {device_id} revoked.")


@participants_group.command("pause")
@click.option("--study", "slug", required=True)
@click.option("--participant", "code", required=True)
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last paused day.")
@click.option("--reason")
@with_appcontext
def pause(slug: str, code: str, until: dt.datetime | None, reason: str | None) -> None:
    """Pause reminders, until a date or until resumed."""
    try:
        participants.pause(
            db.session(), _participant(slug, code), until.date() if until else None, reason, ACTOR
        )
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Paused {code}" + (f" until {until:%Y-%m-%d}." if until else " until resumed."))


@participants_group.command("resume")
@click.option("--study", "slug", required=True)
@click.option("--participant", "code", required=True)
@with_appcontext
def resume(slug: str, code: str) -> None:
    """End a pause."""
    try:
        participants.resume(db.session(), _participant(slug, code), ACTOR)
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Resumed {code}.")


@participants_group.command("withdraw")
@click.option("--study", "slug", required=True)
@click.option("--participant", "code", required=True)
@click.option("--reason")
@with_appcontext
def withdraw(slug: str, code: str, reason: str | None) -> None:
    """Withdraw: devices and invitations stop working at once; data is kept."""
    try:
        participants.withdraw(db.session(), _participant(slug, code), reason=reason, actor=ACTOR)
    except ChorusError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Withdrew {code}; their devices and open invitations no longer work.")


@participants_group.command("list")
@click.option("--study", "slug", required=True)
@click.option("--site", "site_code")
@with_appcontext
def list_participants(slug: str, site_code: str | None) -> None:
    """List a study's participants (optionally one site's)."""
    study = _study(slug)
    statement = select(Participant).where(Participant.study_id == study.id)
    if site_code:
        statement = statement.join(Site, Site.id == Participant.site_id).where(
            Site.code == site_code
        )
    rows = list(db.session.scalars(statement.order_by(Participant.code)))
    for p in rows:
        paused = f" until {p.paused_until}" if p.paused_until else ""
        click.echo(
            f"{p.code:<16} {p.site.code:<10} {p.age_band:<10} {p.status}{paused:<16} "
            f"{p.language:<6} {p.time_zone}  {p.nickname or ''}"
        )
    click.echo(f"{len(rows)} participant(s).")
