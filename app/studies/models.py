"""Study, Site and the staff Membership that ties a user to a study, a site and a role."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    SITE_COORDINATOR = "site_coordinator"
    DATA_MANAGER = "data_manager"
    PATIENT_GROUP_AUTHOR = "patient_group_author"


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Who a participant can reach for help, per language ({"en": "Call the study nurse on
    # ..."}): shown under an instrument's safety message (#11). A site's own contacts win.
    safety_contacts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")

    sites = relationship("Site", back_populates="study", order_by="Site.code")


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # The site's own help contacts per language; where empty, the study's apply.
    safety_contacts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")

    study = relationship("Study", back_populates="sites")


class Membership(Base):
    """(user, study, site or all sites, role). site_id NULL means every site of the study."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "study_id", "site_id", "role"),
        CheckConstraint(
            "role IN ('admin', 'site_coordinator', 'data_manager', 'patient_group_author')",
            name="known_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))

    user = relationship("StaffUser", back_populates="memberships")
    study = relationship("Study")
    site = relationship("Site")
