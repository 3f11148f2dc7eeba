"""Post, withdraw and read study news: lay summaries of progress that sites share with families.

A post is for one site's participants or, with no site, for the whole study. Posting needs
``Permission.POST_NEWS`` at that site (study-wide: on the whole study), through ``app.access``;
posting and withdrawing are audited. Readers get the posts of their study and site, newest
first, in their own language when the site wrote any in it (a site writes one post per
language; posts carry no translation link), otherwise every post so nobody sees an empty page.
Plain functions over a session: no Flask; callers commit.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import access
from app.access import ALL_SITES, Permission
from app.accounts.models import StaffUser
from app.audit import service as audit
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.news.models import NewsPost
from app.participants import people as participants
from app.participants.models import Participant
from app.studies.models import Site, Study

MAX_TITLE: Final = 120  # NewsPost.title
MAX_BODY: Final = 5000
DEFAULT_LIMIT: Final = 50
MAX_SCANNED: Final = 500  # newest posts considered for one reader; years of news


def _actor(staff: StaffUser) -> str:
    return f"staff:{staff.id}"


def _clean(
    field: str, value: str, limit: int, errors: dict[str, list[str]], *, multiline: bool
) -> str:
    value = (value or "").strip()
    allowed = {"\n", "\t"} if multiline else set()
    if not value:
        errors[field] = ["Required."]
    elif len(value) > limit:
        errors[field] = [f"Use at most {limit} characters (this has {len(value)})."]
    elif any(unicodedata.category(c).startswith("C") and c not in allowed for c in value):
        errors[field] = ["Remove control characters."]
    return value.replace("\r\n", "\n")


def post_news(
    session: Session,
    staff: StaffUser,
    study: Study,
    site: Site | None,
    language: str,
    title: str,
    body: str,
    *,
    now: dt.datetime | None = None,
) -> NewsPost:
    """Post news for ``site``'s participants, or for the whole study when ``site`` is None."""
    access.require(
        staff.memberships, Permission.POST_NEWS, study.id, site.id if site is not None else None
    )
    errors: dict[str, list[str]] = {}
    if site is not None and site.study_id != study.id:
        errors["site"] = [f"Site '{site.code}' is not part of study '{study.slug}'."]
    try:
        participants.check_language(language)
    except Invalid as error:
        errors.update(error.errors)
    title = _clean("title", title, MAX_TITLE, errors, multiline=False)
    body = _clean("body", body, MAX_BODY, errors, multiline=True)
    if errors:
        raise Invalid(errors=errors)
    post = NewsPost(
        study_id=study.id,
        site_id=site.id if site is not None else None,
        language=language,
        title=title,
        body=body,
        posted_at=now or utcnow(),
        posted_by=staff.id,
    )
    session.add(post)
    session.flush()
    audit.record(
        session,
        actor=_actor(staff),
        action="news.posted",
        target=f"news:{post.id}",
        details={"study_id": study.id, "site_id": post.site_id, "language": language},
        now=now,
    )
    return post


def get_post(session: Session, study: Study, post_id: int) -> NewsPost:
    post = session.get(NewsPost, post_id)
    if post is None or post.study_id != study.id:
        raise NotFound("No such news post in this study.")
    return post


def withdraw(
    session: Session, staff: StaffUser, post: NewsPost, *, now: dt.datetime | None = None
) -> NewsPost:
    """Hide a post from participants (kept for the record). Withdrawing twice is a no-op."""
    access.require(staff.memberships, Permission.POST_NEWS, post.study_id, post.site_id)
    if post.withdrawn_at is not None:
        return post
    post.withdrawn_at = now or utcnow()
    audit.record(
        session,
        actor=_actor(staff),
        action="news.withdrawn",
        target=f"news:{post.id}",
        details={"study_id": post.study_id, "site_id": post.site_id},
        now=now,
    )
    session.flush()
    return post


def news_for_staff(session: Session, staff: StaffUser, study: Study) -> list[NewsPost]:
    """Study-wide posts and those of the sites the user may see, withdrawn ones included."""
    access.require_somewhere(staff.memberships, Permission.VIEW_STUDY, study.id)
    scope = access.sites_in_scope(staff.memberships, Permission.VIEW_STUDY, study.id)
    statement = select(NewsPost).where(NewsPost.study_id == study.id)
    if scope is not ALL_SITES:
        statement = statement.where(
            or_(NewsPost.site_id.is_(None), NewsPost.site_id.in_(scope))  # type: ignore[arg-type]
        )
    return list(session.scalars(statement.order_by(NewsPost.posted_at.desc(), NewsPost.id.desc())))


def _primary(language: str) -> str:
    return language.split("-")[0].lower()


def _in_language(posts: list[NewsPost], language: str) -> list[NewsPost]:
    mine = [p for p in posts if _primary(p.language) == _primary(language)]
    return mine or posts


def news_for_participants(
    session: Session,
    readers: Iterable[Participant],
    language: str,
    *,
    limit: int = DEFAULT_LIMIT,
) -> list[NewsPost]:
    """Posts for any of ``readers`` (their site's and their study-wide ones), each once, not
    withdrawn, newest first, in ``language`` when there are any in it."""
    conditions = []
    for reader in readers:
        conditions.append(
            (NewsPost.study_id == reader.study_id)
            & (NewsPost.site_id.is_(None) | (NewsPost.site_id == reader.site_id))
        )
    if not conditions:
        return []
    posts = list(
        session.scalars(
            select(NewsPost)
            .where(or_(*conditions), NewsPost.withdrawn_at.is_(None))
            .order_by(NewsPost.posted_at.desc(), NewsPost.id.desc())
            .limit(MAX_SCANNED)
        )
    )
    return _in_language(posts, language)[:limit]


def news_for_participant(
    session: Session, participant: Participant, language: str, *, limit: int = DEFAULT_LIMIT
) -> list[NewsPost]:
    return news_for_participants(session, [participant], language, limit=limit)
