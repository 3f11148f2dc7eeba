"""What the workspace layout shows: the study switcher, the open-alert count and the sections
this role may open. Apart from ``common`` because it counts alerts (``overview``), which builds
on ``common``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app import access
from app.access import Permission
from app.accounts.models import StaffUser
from app.studies import service as studies
from app.studies.models import Study
from app.workspace import common
from app.workspace.overview import open_alert_count


@dataclass(frozen=True)
class Nav:
    """What the layout shows: the study switcher and the sections this role may open."""

    study: Study
    studies: list[Study]
    open_alerts: int | None
    participants: bool
    alerts: bool
    keys: bool
    audit: bool
    staff: bool
    exports: bool = False  # dataset exports (issue #14): de-identified at one site or more
    # Co-design (issue #15): patient-group authors and staff who approve instruments.
    codesign: bool = False


def nav_for(session: Session, user: StaffUser, study: Study) -> Nav:
    return Nav(
        study=study,
        studies=studies.studies_for(session, user),
        open_alerts=open_alert_count(session, user, study),
        participants=common.may_somewhere(user, Permission.VIEW_PARTICIPANTS, study),
        alerts=common.may_somewhere(user, Permission.VIEW_ALERTS, study),
        keys=common.may(user, Permission.HOLD_STUDY_KEY, study),
        audit=common.may(user, Permission.VIEW_AUDIT, study),
        staff=common.may(user, Permission.MANAGE_STUDY, study),
        exports=common.may_somewhere(user, Permission.EXPORT_DEIDENTIFIED, study),
        codesign=any(common.may_somewhere(user, p, study) for p in access.CO_DESIGN_PERMISSIONS),
    )
