"""Flask glue for staff sign-in: which staff user this request belongs to, and the decorator
that insists on one. The decisions themselves live in app.accounts and app.access."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request, session

from app.accounts import service as accounts
from app.accounts import sessions as staff_sessions
from app.accounts.models import StaffUser
from app.db import utcnow
from app.errors import ChorusError, ErrorCode, Unauthenticated
from app.extensions import db, settings

F = TypeVar("F", bound=Callable[..., Any])
_SESSION_KEY = "sid"


def session_policy() -> staff_sessions.SessionPolicy:
    cfg = settings()
    return staff_sessions.SessionPolicy(
        idle=dt.timedelta(minutes=cfg.session_idle_minutes),
        absolute=dt.timedelta(hours=cfg.session_absolute_hours),
    )


def login_throttle_policy() -> accounts.ThrottlePolicy:
    """The sign-in throttle from settings, shared by the JSON API and the HTML form."""
    cfg = settings()
    return accounts.ThrottlePolicy(
        max_failures=cfg.login_max_failures,
        ip_max_failures=cfg.login_ip_max_failures,
        lockout=dt.timedelta(minutes=cfg.login_lockout_minutes),
    )


def load_staff_user() -> None:
    """before_request: resolve the session token once per request."""
    g.staff_user = None
    g.staff_session_expired = False
    token = session.get(_SESSION_KEY)
    if not token:
        return
    user, expired = staff_sessions.resume(db.session(), token, session_policy(), utcnow())
    if user is None:
        session.pop(_SESSION_KEY, None)
        db.session.commit()  # removes the expired row
        g.staff_session_expired = expired
        return
    db.session.commit()  # persists the idle-timer touch, if any
    g.staff_user = user


def current_staff() -> StaffUser:
    user = g.get("staff_user")
    if user is None:
        if g.get("staff_session_expired"):
            raise ChorusError(code=ErrorCode.SESSION_EXPIRED)
        raise Unauthenticated()
    return cast(StaffUser, user)


def staff_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        current_staff()
        return view(*args, **kwargs)

    wrapped._chorus_auth = "staff"  # type: ignore[attr-defined]  # read by app.api.declare_security
    return cast(F, wrapped)


def sign_in(user: StaffUser) -> None:
    """Rotate everything at sign-in: a new cookie, a new CSRF secret, a new server session."""
    old = session.get(_SESSION_KEY)
    if old:
        staff_sessions.end(db.session(), old)
    session.clear()
    session.permanent = True
    session[_SESSION_KEY] = staff_sessions.start(db.session(), user, utcnow())
    g.staff_user = user


def sign_out() -> None:
    token = session.get(_SESSION_KEY)
    if token:
        staff_sessions.end(db.session(), token)
    session.clear()
    g.staff_user = None


def client_ip() -> str:
    # Behind a proxy, configure werkzeug's ProxyFix in wsgi.py so remote_addr is the client.
    return request.remote_addr or "unknown"
