"""A cache for heavy aggregates (the oversight dashboard's figures), invalidated explicitly.

Every cached value is stored under a key that includes a *generation*: a counter bumped after every commit that wrote
a row the figures are made from (WATCHED below), so the next read computes afresh; old entries simply expire (TTL).
The bump happens after the commit, never before: a reader cannot store figures from before the change under the new
generation.

The store is Redis when ``CACHE_REDIS_URL`` (or, failing that, a ``redis://`` ``RATELIMIT_STORAGE_URI``) is set, so
every app server shares the generation and the values; otherwise a dictionary in this process (one app server, the
development default, and the tests).

Writes that bypass the ORM session (bulk loads with COPY or Core inserts, such as ``flask seed scale``) must call
``bump()`` themselves. Never cache safety-critical facts (absence alerts, safeguarding responsibility and concerns,
eligibility): read those live.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from portal import models

# How long a value lives at most, even if nothing bumps the generation (a backstop for writes that forget to bump).
DEFAULT_TTL_SECONDS = 300
GENERATION_KEY = "portal:cache:generation"
_KEY_PREFIX = "portal:cache:"

# The tables behind the dashboard's figures: a commit that adds, changes or deletes one of these bumps the generation.
WATCHED = (
    models.Referral,
    models.Invitation,
    models.Offer,
    models.Placement,
    models.AttendanceMark,
    models.Review,
    models.ReviewAim,
    models.Concern,
    models.Admission,
    models.Application,
    models.Suspension,
    models.Lot,
    models.Provider,
    models.CouncilService,
)


class MemoryStore:
    """One process's dictionary, with expiry."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        with self._lock:
            self._generation += 1
            self._values.clear()  # nothing under an older generation can be read again

    def get(self, key: str) -> Any | None:
        found = self._values.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def set(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            self._values[key] = (time.monotonic() + ttl, value)


class RedisStore:
    """Shared by every app server. Values are pickled: only the portal itself writes to this Redis."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def generation(self) -> int:
        return int(self._redis.get(GENERATION_KEY) or 0)

    def bump(self) -> None:
        self._redis.incr(GENERATION_KEY)

    def get(self, key: str) -> Any | None:
        raw = self._redis.get(_KEY_PREFIX + key)
        return None if raw is None else pickle.loads(raw)

    def set(self, key: str, value: Any, ttl: int) -> None:
        self._redis.set(_KEY_PREFIX + key, pickle.dumps(value), ex=ttl)


_store: MemoryStore | RedisStore = MemoryStore()


def init_app(app) -> None:
    """Choose the store from the settings. The session listeners are registered once, at import."""
    global _store
    url = app.config.get("CACHE_REDIS_URL") or ""
    limiter_url = app.config.get("RATELIMIT_STORAGE_URI") or ""
    if not url and limiter_url.startswith(("redis://", "rediss://")):
        url = limiter_url
    _store = RedisStore(url) if url else MemoryStore()


def bump() -> None:
    """Make every cached value stale now."""
    _store.bump()


def cached(key: str, compute: Callable[[], Any], ttl: int = DEFAULT_TTL_SECONDS) -> Any:
    """The value under ``key`` for the current generation, or ``compute()`` stored for next time."""
    full_key = f"{_store.generation()}:{key}"
    value = _store.get(full_key)
    if value is None:
        value = compute()
        _store.set(full_key, value, ttl)
    return value


# ---- Explicit invalidation: bump after a commit that wrote a watched row -------------------------------------------

_DIRTY = "portal_cache_dirty"


@event.listens_for(Session, "after_flush")
def _note_watched_writes(session: Session, flush_context) -> None:
    if session.info.get(_DIRTY):
        return
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, WATCHED):
            session.info[_DIRTY] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_writes(state) -> None:
    """ORM-enabled INSERT/UPDATE/DELETE statements (session.execute(sa.update(Model)...)) skip the flush."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    entity = state.bind_mapper.class_ if state.bind_mapper is not None else None
    if entity is not None and issubclass(entity, WATCHED):
        state.session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        bump()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_DIRTY, None)


_WATCHED_TABLES = frozenset(model.__table__.name for model in WATCHED)


@event.listens_for(Engine, "after_cursor_execute")
def _any_write(conn, cursor, statement, parameters, context, executemany) -> None:
    """Every INSERT/UPDATE/DELETE on a watched table, ORM flush or Core (bulk tools, a test emptying tables), bumps at
    once too. Alone that would be early (a read before the commit could cache old figures under the new generation);
    the bump after the ORM commit above closes that gap for the portal's own writes, the TTL for the rest."""
    compiled = getattr(context, "compiled", None)
    if compiled is None or not (context.isinsert or context.isupdate or context.isdelete):
        return
    if getattr(getattr(compiled.statement, "table", None), "name", None) in _WATCHED_TABLES:
        bump()
