"""The API object and the blueprints it serves; create_app() binds them. Kept apart from
``app.api`` (what every blueprint imports) so that package never imports its blueprints."""

from __future__ import annotations

from typing import Any

from app.api import ChorusApi

api = ChorusApi()


def register_blueprints(api: Any) -> None:
    from app.api import auth, studies

    api.register_blueprint(auth.blp)
    api.register_blueprint(studies.blp)
    from app.api import invitations, me, participants

    api.register_blueprint(participants.blp)
    api.register_blueprint(me.blp)
    api.register_blueprint(invitations.blp)
    from app.api import schedules

    api.register_blueprint(schedules.blp)
    from app.api import alerts, responses

    api.register_blueprint(responses.blp)
    api.register_blueprint(alerts.blp)
    from app.api import me_settings, news, timetables

    api.register_blueprint(me_settings.blp)
    api.register_blueprint(timetables.blp)
    api.register_blueprint(news.blp)
    from app.api import exports

    api.register_blueprint(exports.blp)
