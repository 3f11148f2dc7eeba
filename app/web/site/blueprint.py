"""The workspace blueprint and the small glue every page shares: sign-in redirect, the layout's
navigation, and committing what a service recorded (audit events) before rendering."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, g, redirect, render_template, request, url_for

from app.accounts.models import StaffUser
from app.extensions import db
from app.studies.models import Study
from app.workspace.nav import nav_for

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("site", __name__, url_prefix="/staff/studies/<slug>")


def signed_in(view: F) -> F:
    """Pages send a signed-out visitor to the sign-in form (the API answers 401 instead)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("staff_user") is None:
            return redirect(url_for("staff.login", next=request.path))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def staff() -> StaffUser:
    return cast(StaffUser, g.staff_user)


def session() -> Any:
    return db.session()


def page(template: str, study: Study, **context: Any) -> str:
    """Render a workspace page: the layout's navigation comes from the same access rules."""
    nav = nav_for(session(), staff(), study)
    html = render_template(template, nav=nav, study=study, **context)
    # Commit after rendering: a commit expires every loaded row, and the template would then
    # reload each one by one. The page goes out only once its audit events are committed.
    db.session.commit()
    return html
