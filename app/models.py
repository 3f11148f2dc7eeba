"""Every model, imported in one place so metadata (and Alembic) sees all tables."""

from app.accounts.models import LoginThrottle, StaffSession, StaffUser
from app.audit.models import AuditEvent, AuditHead
from app.library.models import InstrumentVersion
from app.studies.models import Membership, Site, Study

__all__ = [
    "AuditEvent",
    "AuditHead",
    "InstrumentVersion",
    "LoginThrottle",
    "Membership",
    "Site",
    "StaffSession",
    "StaffUser",
    "Study",
]
