"""Server-side sessions: one row per signed-in browser, ended on sign-out, timeout, password change or deactivation."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Notification, User, UserSession
from portal.models.base import utcnow
from portal.services import audit
from portal.services.audit import Events

# last_seen_at is written at most this often, so a busy page does not write to the database on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


class EndReason:
    SIGNED_OUT = "signed out"
    SIGNED_OUT_EVERYWHERE = "signed out everywhere"
    IDLE = "idle timeout"
    ABSOLUTE = "absolute timeout"
    PASSWORD_CHANGED = "password changed"
    DEACTIVATED = "deactivated"


def start_session(user: User, *, ip: str | None, user_agent: str | None) -> UserSession:
    session = UserSession(token=secrets.token_urlsafe(32), user_id=user.id, ip_address=ip, user_agent=user_agent)
    db.session.add(session)
    db.session.flush()
    user.current_session = session
    return session


def load_session(
    token: str, *, idle: timedelta, absolute: timedelta, touch: bool = True
) -> tuple[User | None, str | None]:
    """The user a session cookie belongs to, or (None, why it ended) when the session is over.

    ``touch=False`` for requests the browser makes on its own (the notification bell's poll): they are not activity,
    so they must not keep an idle session alive.
    """
    if not token:
        return None, None
    # The unread notifications (the bell every page shows) come in the same SELECT, saving each page a statement.
    unread = (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == UserSession.user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    row = db.session.execute(
        sa.select(UserSession, unread)
        # A provider user's provider comes joined, without its profile lists (lazy="selectin"): few pages read them.
        .options(joinedload(UserSession.user).joinedload(User.provider).lazyload("*"))
        .where(UserSession.token == token)
    ).first()
    if row is None:
        return None, None
    session, session.unread_notifications = row
    if session.ended_at is not None:
        return None, session.ended_reason
    now = utcnow()
    reason = None
    if not session.user.active:
        reason = EndReason.DEACTIVATED
    elif now - session.created_at > absolute:
        reason = EndReason.ABSOLUTE
    elif now - session.last_seen_at > idle:
        reason = EndReason.IDLE
    if reason is not None:
        _end(session, reason, now)
        audit.record(Events.SESSION_EXPIRED, actor=session.user, ip=session.ip_address, reason=reason)
        db.session.commit()
        return None, reason
    if touch and now - session.last_seen_at >= TOUCH_INTERVAL:
        session.last_seen_at = now
        db.session.commit()
    session.user.current_session = session
    return session.user, None


def extend_session(session: UserSession) -> datetime:
    """The user asked to stay signed in: restart the idle clock now."""
    session.last_seen_at = utcnow()
    db.session.commit()
    return session.last_seen_at


def _end(session: UserSession, reason: str, now: datetime) -> None:
    session.ended_at = now
    session.ended_reason = reason


def end_session(session: UserSession, reason: str = EndReason.SIGNED_OUT) -> None:
    """End one session. The caller commits."""
    if session.ended_at is None:
        _end(session, reason, utcnow())


def end_all_sessions(user: User, reason: str, *, keep: UserSession | None = None) -> int:
    """End every open session of the user (but ``keep``). The caller commits. Returns how many were ended."""
    statement = (
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    return db.session.execute(statement).rowcount


def open_sessions(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )
