"""Staff users, their server-side sessions and the sign-in throttle."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so "Ana@Site.org" and "ana@site.org" are one account.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # The last TOTP time step accepted, so a code seen over a shoulder cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The language of what the app writes to this person (alert e-mails), e.g. 'fr'.
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    # The IANA time zone staff pages show times in, e.g. 'Europe/Paris'.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")

    memberships = relationship("Membership", back_populates="user", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<StaffUser {self.id}>"


class StaffSession(Base):
    """A signed-in browser. The cookie carries a random token; only its hash is stored here,
    so a database read does not yield usable sessions. Deleting the row signs the browser out."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user = relationship("StaffUser")


class LoginThrottle(Base):
    """Failed sign-ins per key (a hash of the e-mail tried, or of the client address).

    Keyed on what was typed, not on an account, so a locked-out address looks the same
    whether or not an account exists for it.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
