"""A demo study for trying Chorus on a laptop: two sites and one staff user per role.

Development only: the passwords are printed and the same for every demo user.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.extensions import settings
from app.responses import keys
from app.studies import service as studies
from app.studies.models import Role, Site, Study

DEMO_PASSWORD = "chorus-demo-password"  # noqa: S105 - printed on purpose; `chorus demo` refuses production
DEMO_KEY_PASSPHRASE = "chorus-demo-key-passphrase"  # noqa: S105 - demo only, printed
DEMO_STUDY = "demo-fatigue"


class DemoRefused(RuntimeError):
    """The demo's public passwords, key passphrase and recovery key never enter production."""


def refuse_in_production() -> None:
    """Raise DemoRefused when the running app is configured for production (issue #10)."""
    if settings().is_production:
        raise DemoRefused("The demo has public passwords and is never loaded in production.")


def load_demo(session: Session) -> str:
    # Checked here as well as by the commands, so no caller can load the demo in production.
    refuse_in_production()
    study = studies.create_study(
        session, slug=DEMO_STUDY, name="Fatigue in daily life (demo)", actor="demo"
    )
    lyon = studies.add_site(
        session, study, code="LYON", name="Hôpital Femme Mère Enfant, Lyon", actor="demo"
    )
    leeds = studies.add_site(
        session, study, code="LEEDS", name="Leeds Children's Hospital", actor="demo"
    )
    people = [
        ("admin@demo.chorus.test", "Ada Admin", Role.ADMIN, None),
        (
            "coordinator.lyon@demo.chorus.test",
            "Camille Coordinator (Lyon)",
            Role.SITE_COORDINATOR,
            lyon,
        ),
        (
            "coordinator.leeds@demo.chorus.test",
            "Lee Coordinator (Leeds)",
            Role.SITE_COORDINATOR,
            leeds,
        ),
        ("data.manager@demo.chorus.test", "Dana Data-Manager", Role.DATA_MANAGER, None),
        ("author@demo.chorus.test", "Pat Patient-Group", Role.PATIENT_GROUP_AUTHOR, None),
    ]
    lines = [
        "Demo study 'Fatigue in daily life (demo)' with sites LYON and LEEDS.",
        "Staff sign-in (password for all: " + DEMO_PASSWORD + "):",
    ]
    for email, name, role, site in people:
        user = accounts.create_user(
            session, email=email, display_name=name, password=DEMO_PASSWORD, actor="demo"
        )
        studies.grant(session, user, study, role, site=site, actor="demo")
        lines.append(f"  {role.value:<22} {email}")
    lines.extend(_demo_key(session, study))
    lines.extend(_demo_participants(session, study, lyon, leeds))
    lines.extend(_demo_schedules(session, study))
    session.commit()
    return "\n".join(lines)


def _demo_key(session: Session, study: Study) -> list[str]:
    """The demo study's key, held by the demo data manager (a fixed passphrase: demo only)."""
    recovery = keys.create_study_key(session, study, actor="demo")
    manager = accounts.find_by_email(session, "data.manager@demo.chorus.test")
    assert manager is not None
    session.refresh(manager)  # load the membership granted above
    keys.add_holder(
        session,
        study,
        existing=keys.HolderCredential("recovery", recovery),
        new_holder=manager,
        new_passphrase=DEMO_KEY_PASSPHRASE,
        actor="demo",
    )
    return [
        "",
        "Study key held by data.manager@demo.chorus.test, passphrase: " + DEMO_KEY_PASSPHRASE,
        "  open answers:  chorus responses dump --study demo-fatigue --holder data.manager@demo.chorus.test",
        "  recovery key (a real study prints this once, for a safe): " + recovery,
    ]


def _demo_participants(session: Session, study: Study, lyon: Site, leeds: Site) -> list[str]:
    """Assign the shipped instruments, enrol two adults and two children, link one caregiver
    to both children, and return the invitation links and codes to print."""
    import datetime as dt

    from sqlalchemy import select

    from app.library.models import InstrumentVersion
    from app.participants import service as participants

    pepper, base_url = _pepper_and_base_url()
    lines = ["", "Instruments assigned to the demo study:"]
    for key, respondents in (
        ("daily_symptom_diary", "both"),
        ("phq9", "self"),
        ("child_weekly_wellbeing", "proxy"),
    ):
        version = session.scalars(
            select(InstrumentVersion)
            .where(InstrumentVersion.instrument_key == key)
            .order_by(InstrumentVersion.id.desc())
        ).first()
        if version is None:  # the library is published before the demo by `chorus demo`/`serve`
            lines.append(f"  {key}: not published, skipped")
            continue
        participants.assign_instrument(session, study, version, respondents, "demo")
        lines.append(f"  {version.label} ({respondents})")

    def enrol(
        site: Site,
        code: str,
        band: str,
        language: str,
        zone: str,
        nickname: str | None = None,
        colour: str | None = None,
    ) -> Any:
        return participants.enroll(
            session,
            study,
            site,
            code=code,
            time_zone=zone,
            language=language,
            age_band=band,
            nickname=nickname,
            colour=colour,
            actor="demo",
        )

    adults = [
        enrol(lyon, "LYON-0001", "adult", "fr", "Europe/Paris"),
        enrol(leeds, "LEEDS-0001", "adult", "en", "Europe/London"),
    ]
    lea = enrol(lyon, "LYON-0002", "child", "fr", "Europe/Paris", nickname="Léa", colour="#1f77b4")
    sam = enrol(
        leeds, "LEEDS-0002", "child", "en", "Europe/London", nickname="Sam", colour="#d62728"
    )
    carer = participants.add_caregiver(
        session, language="en", time_zone="Europe/London", display_name="Demo parent", actor="demo"
    )
    for child in (lea, sam):
        participants.link_caregiver(session, carer, child, "parent", "demo")

    lines += [
        "",
        "Participant invitations (single use, valid 14 days; open the link or type the code):",
    ]
    valid_for = dt.timedelta(days=participants.DEFAULT_INVITATION_DAYS)
    invitees: list[tuple[str, Any]] = [(p.code, p) for p in adults]
    invitees.append(
        (f"caregiver of {lea.nickname} ({lea.code}) and {sam.nickname} ({sam.code})", carer)
    )
    for label, invitee in invitees:
        issued = participants.create_invitation(
            session, invitee, valid_for=valid_for, pepper=pepper, base_url=base_url, actor="demo"
        )
        lines.append(f"  {label}:")
        lines.append(f"    link {issued.link}")
        lines.append(f"    code {issued.code}")
    return lines


def _demo_schedules(session: Session, study: Study) -> list[str]:
    """Schedules for the assigned instruments, planned at once so phones see what is due."""
    from app.db import utcnow
    from app.reminders import planner
    from app.reminders import study_schedules as schedules

    plans: list[tuple[str, str, str, dict[str, Any], int, list[int]]] = [
        # name, instrument, respondent, spec, reminders, gaps (minutes)
        ("Daily diary", "daily_symptom_diary", "self", _EVENINGS, 2, [120]),
        ("Daily diary (parents)", "daily_symptom_diary", "proxy", _EVENINGS, 2, [120]),
        ("Weekly wellbeing (parents)", "child_weekly_wellbeing", "proxy", _WEEKLY, 1, []),
        ("PHQ-9 visits", "phq9", "self", _VISITS, 2, [1440]),
    ]
    lines = ["", "Schedules (in each participant's own time zone):"]
    for name, key, respondent, spec, count, gaps in plans:
        version = _latest_version(session, key)
        if version is None:
            continue
        schedules.add_schedule(
            session,
            study,
            name=name,
            instrument_key=key,
            instrument_version=version,
            respondent=respondent,
            spec=spec,
            reminder_max_count=count,
            reminder_gaps_minutes=gaps,
            actor="demo",
        )
        lines.append(f"  {name}: {key} {version}, {respondent}")
    while planner.materialise(session, utcnow()) > 0:
        pass
    return lines


# Diary every evening from 18:00 until 10:00 the next morning; the weekly wellbeing report on
# the weekday of enrolment, open two days; PHQ-9 at enrolment and four weeks later (± 3 days).
_EVENINGS = {"kind": "daily", "open_time": "18:00", "close_time": "10:00"}
_WEEKLY = {"kind": "weekly", "open_time": "00:00", "window_minutes": 2 * 24 * 60}
_VISITS = {
    "kind": "visits",
    "visits": [{"day": 0, "after": 6}, {"day": 28, "before": 3, "after": 3}],
}


def _latest_version(session: Session, key: str) -> str | None:
    from sqlalchemy import select

    from app.library.models import InstrumentVersion

    row = session.scalars(
        select(InstrumentVersion)
        .where(InstrumentVersion.instrument_key == key)
        .order_by(InstrumentVersion.id.desc())
    ).first()
    return row.version if row is not None else None


def _pepper_and_base_url() -> tuple[str, str]:
    # load_demo runs inside the app (`chorus demo` / `chorus serve`); invitation codes are keyed
    # with the app's SECRET_KEY and links point at its base URL.
    cfg = settings()
    return str(cfg.secret_key), str(cfg.base_url)
