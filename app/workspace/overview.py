"""The study overview: sites, participants by status, completion this week, open alerts, news.

Counts only (no participant is named), each limited to the sites the user's role may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.access import Permission
from app.accounts.models import StaffUser
from app.news import service as news
from app.news.models import NewsPost
from app.participants.models import Participant, ParticipantStatus
from app.reminders.models import Occurrence
from app.responses.models import Alert
from app.studies.models import Site, Study
from app.workspace import common


@dataclass(frozen=True)
class SiteRow:
    site: Site
    by_status: dict[str, int]  # every ParticipantStatus, zero included

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Completion:
    week_start: dt.date
    answered: int
    due: int  # occurrences that closed this week (answered or missed)

    @property
    def rate(self) -> float | None:
        return self.answered / self.due if self.due else None


@dataclass(frozen=True)
class Overview:
    study: Study
    sites: list[SiteRow]
    completion: Completion | None  # None: the role does not see participants
    open_alerts: int | None  # None: the role does not see alerts
    news: list[NewsPost]


def week_start(now: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of the week holding `now`."""
    monday = now.date() - dt.timedelta(days=now.weekday())
    return dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC)


def open_alert_count(session: Session, user: StaffUser, study: Study) -> int | None:
    """Unacknowledged alerts at the user's sites; None if the role sees no alerts. A count names
    nobody, so it is not audited (the header asks for it every half minute)."""
    if not common.may_somewhere(user, Permission.VIEW_ALERTS, study):
        return None
    return session.scalar(
        select(func.count(Alert.id)).where(
            Alert.study_id == study.id,
            Alert.acknowledged_at.is_(None),
            common.site_filter(user, study, Permission.VIEW_ALERTS, Alert.site_id),
        )
    )


def completion_since(
    session: Session, user: StaffUser, study: Study, start: dt.datetime, now: dt.datetime
) -> Completion:
    """Questionnaires that closed since `start`: how many were answered (on time or late).
    One range over the closes_at index; answers to ones still open count next time."""
    answered = Occurrence.completed_at.is_not(None)
    counted = and_(
        Occurrence.cancelled_at.is_(None),
        Occurrence.closes_at >= start,
        Occurrence.closes_at < now,
    )
    row = session.execute(
        select(
            func.count(Occurrence.id).filter(answered),
            func.count(Occurrence.id),
        )
        .join(Participant, Participant.id == Occurrence.participant_id)
        .where(
            Participant.study_id == study.id,
            common.site_filter(user, study, Permission.VIEW_PARTICIPANTS, Participant.site_id),
            counted,
        )
    ).one()
    return Completion(start.date(), int(row[0]), int(row[1]))


def study_overview(session: Session, user: StaffUser, slug: str, now: dt.datetime) -> Overview:
    study = common.study_for(session, user, slug)
    sees_participants = common.may_somewhere(user, Permission.VIEW_PARTICIPANTS, study)
    counts: dict[tuple[int, str], int] = {}
    if sees_participants:
        for site_id, status, count in session.execute(
            select(Participant.site_id, Participant.status, func.count(Participant.id))
            .where(
                Participant.study_id == study.id,
                common.site_filter(user, study, Permission.VIEW_PARTICIPANTS, Participant.site_id),
            )
            .group_by(Participant.site_id, Participant.status)
        ):
            counts[(site_id, status)] = count
    sites = [
        SiteRow(site, {s.value: counts.get((site.id, s.value), 0) for s in ParticipantStatus})
        for site in common.sites_for(user, study, Permission.VIEW_STUDY)
    ]
    return Overview(
        study=study,
        sites=sites,
        completion=(
            completion_since(session, user, study, week_start(now), now)
            if sees_participants
            else None
        ),
        open_alerts=open_alert_count(session, user, study),
        news=news.news_for_staff(session, user, study)[:5],
    )
