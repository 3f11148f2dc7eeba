"""The research-site workspace (issue #13): server-rendered pages over app.workspace."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.web.site import (  # noqa: F401 - each module adds its routes
        account,
        adherence,
        admin,
        alerts,
        codesign,
        exports,
        keys,
        overview,
        participant_schedules,
        participants,
        staff_pages,
    )
    from app.web.site.blueprint import bp
    from app.web.site.i18n import init_babel

    init_babel(app)
    app.register_blueprint(bp)
    app.register_blueprint(overview.switch_bp)
    app.register_blueprint(admin.account_bp)
