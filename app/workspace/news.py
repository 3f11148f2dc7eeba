"""News for participants, as site staff post, preview and withdraw it (app.news does the work
and the audit; this adds the workspace's reading of it)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.access import Permission
from app.accounts.models import StaffUser
from app.errors import Invalid
from app.news import service as news
from app.news.models import NewsPost
from app.studies import service as studies
from app.studies.models import Site, Study
from app.workspace import common


def news_page(session: Session, user: StaffUser, study: Study) -> list[NewsPost]:
    return news.news_for_staff(session, user, study)


def sites_for_posting(user: StaffUser, study: Study) -> tuple[bool, list[Site]]:
    """(may post study-wide, the sites the user may post to)."""
    return (
        common.may(user, Permission.POST_NEWS, study),
        common.sites_for(user, study, Permission.POST_NEWS),
    )


def post(
    session: Session,
    user: StaffUser,
    study: Study,
    *,
    site_code: str,
    language: str,
    title: str,
    body: str,
) -> NewsPost:
    site = (
        studies.get_site_for(session, user, study, site_code, Permission.POST_NEWS)
        if site_code
        else None
    )
    return news.post_news(session, user, study, site, language, title, body)


def withdraw(session: Session, user: StaffUser, study: Study, post_id: int) -> NewsPost:
    found = news.get_post(session, study, post_id)
    if found.withdrawn_at is not None:
        raise Invalid(errors={"post": ["That post was already withdrawn."]})
    return news.withdraw(session, user, found)
