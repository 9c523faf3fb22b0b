"""The in-portal notification list (the bell in the header). Rows are written by portal.services.mail.notify().

Every query here is filtered by the user's id: a user only ever sees their own notifications.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Notification
from portal.models.base import utcnow

PER_PAGE = 25


@dataclass
class NotificationPage:
    items: list[Notification]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


class PageNotFound(LookupError):
    """A page number past the last page (or below 1)."""


def unread_count(user_id: int) -> int:
    """One COUNT query (served by the index on user_id, read_at)."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def page_of_notifications(user_id: int, page: int, per_page: int = PER_PAGE) -> NotificationPage:
    """The user's notifications, newest first: a COUNT and one SELECT, whatever the number of rows."""
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id == user_id)
    )
    result = NotificationPage(items=[], page=page, per_page=per_page, total=total)
    if page < 1 or page > result.pages:
        raise PageNotFound(page)
    result.items = list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return result


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user as read. Commits. Returns how many were unread."""
    marked = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return marked
