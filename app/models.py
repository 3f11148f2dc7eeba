"""Every model, imported in one place so metadata (and Alembic) sees all tables."""

from app.accounts.models import LoginThrottle, StaffSession, StaffUser
from app.audit.models import AuditEvent, AuditHead
from app.codesign.models import (
    Approval,
    CodesignSettings,
    Comment,
    Draft,
    DraftChange,
    DraftPart,
    Suggestion,
    Transition,
)
from app.exports.models import ExportRecord
from app.library.models import InstrumentVersion
from app.news.models import NewsPost
from app.participants.models import (
    Caregiver,
    CaregiverLink,
    Device,
    Invitation,
    Participant,
    StudyInstrument,
)
from app.reminders.models import (
    AnchorDate,
    Occurrence,
    OutboxMessage,
    PushSubscription,
    StudySchedule,
    Timetable,
    TimetablePause,
)
from app.reminders.rollup import AdherenceDay
from app.responses.models import Alert, KeyHolderWrap, Response, StudyKey
from app.studies.models import Membership, Site, Study

__all__ = [
    "AdherenceDay",
    "Alert",
    "AnchorDate",
    "Approval",
    "AuditEvent",
    "AuditHead",
    "Caregiver",
    "CaregiverLink",
    "CodesignSettings",
    "Comment",
    "Device",
    "Draft",
    "DraftChange",
    "DraftPart",
    "ExportRecord",
    "InstrumentVersion",
    "Invitation",
    "KeyHolderWrap",
    "LoginThrottle",
    "Membership",
    "NewsPost",
    "Occurrence",
    "OutboxMessage",
    "Participant",
    "PushSubscription",
    "Response",
    "Site",
    "StaffSession",
    "StaffUser",
    "Study",
    "StudyInstrument",
    "StudyKey",
    "StudySchedule",
    "Suggestion",
    "Timetable",
    "TimetablePause",
    "Transition",
]
