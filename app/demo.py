"""A demo study for trying Chorus on a laptop: two sites and one staff user per role.

Development only: the passwords are printed and the same for every demo user.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.studies import service as studies
from app.studies.models import Role

DEMO_PASSWORD = "chorus-demo-password"  # noqa: S105 - printed on purpose; `chorus demo` refuses production
DEMO_STUDY = "demo-fatigue"


def load_demo(session: Session) -> str:
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
    session.commit()
    return "\n".join(lines)
