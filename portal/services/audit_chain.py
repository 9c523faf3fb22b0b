"""The tamper-evident audit trail: every audit event is a link in a hash chain.

Each event gets ``seq`` (1, 2, 3 … with no gaps), ``prev_hash`` (the hash of the event before it, "" for the first)
and ``hash``: the SHA-256, in hex, of the event's canonical text (``canonical_text``), which ends with prev_hash.
Changing a row changes its hash; deleting one leaves a gap in seq and a prev_hash pointing at nothing; a row put in
by hand has no seq or a hash that does not follow. ``verify`` walks the chain and names the first broken link.

The links are made when the event is written, in the same transaction, by a ``before_flush`` listener on every
session, so every ``audit.record`` call is chained without changes. The one-row ``audit_chain_head`` (id 1) holds the
last link; the listener takes it with ``UPDATE … SET seq = seq + n … RETURNING`` which locks the row (PostgreSQL: a
row lock held to the commit; SQLite: the database's one write lock), so two transactions never take the same seq or
fork the chain. Two statements per flush that adds events: that UPDATE, and the UPDATE that stores the new last hash.

Nothing here is secret: the chain proves that the table was not edited behind the portal's back by someone who did
not also recompute every later hash and the head; it is evidence, not a signature. An anchor closes that gap: the
head's seq and hash (``take_anchor``, printed daily by ``flask audit anchor`` into a log kept away from the
database), checked later by ``check_anchor`` (``flask audit verify --anchor``). A chain rewritten from an event at
or before the anchor no longer has the anchor's hash at its seq.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from portal.models import AuditChainHead, AuditEvent
from portal.models.base import utcnow

HEAD_ID = 1
BATCH_SIZE = 1000

_events = AuditEvent.__table__
_head = AuditChainHead.__table__


# --- The hash of one event ---------------------------------------------------------------------------------------


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite read outside the ORM type: stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _plain_json(details) -> object:
    """The details as the JSON column gives them back (tuples become lists, keys become text)."""
    return json.loads(json.dumps(details if details is not None else {}, default=str))


def canonical_text(
    *,
    seq: int,
    occurred_at: datetime,
    event: str,
    actor_id: int | None,
    actor_label: str | None,
    ip_address: str | None,
    subject_type: str | None,
    subject_id: int | None,
    reason: str | None,
    details,
    prev_hash: str,
) -> str:
    """The text that is hashed: a JSON array of the fields in a fixed order, details with sorted keys, no spaces."""
    fields = [
        seq,
        _utc_iso(occurred_at),
        event,
        actor_id,
        actor_label or "",
        ip_address,
        subject_type,
        subject_id,
        reason or "",
        _plain_json(details),
        prev_hash or "",
    ]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(**fields) -> str:
    """SHA-256 (hex) of ``canonical_text(**fields)``."""
    return hashlib.sha256(canonical_text(**fields).encode("utf-8")).hexdigest()


def _row_hash(row, prev_hash: str) -> str:
    return compute_hash(
        seq=row.seq,
        occurred_at=row.occurred_at,
        event=row.event,
        actor_id=row.actor_id,
        actor_label=row.actor_label,
        ip_address=row.ip_address,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        reason=row.reason,
        details=row.details,
        prev_hash=prev_hash,
    )


# --- Adding links as events are written --------------------------------------------------------------------------


def _dialect_insert(connection: sa.Connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def ensure_head(connection: sa.Connection) -> None:
    """Create the head row if it is missing (a fresh database, or tests that empty every table), from the last
    chained event if there is one. Safe when two transactions do it at once (the second insert does nothing)."""
    last = connection.execute(
        sa.select(_events.c.seq, _events.c.hash)
        .where(_events.c.seq.is_not(None))
        .order_by(_events.c.seq.desc())
        .limit(1)
    ).first()
    insert = _dialect_insert(connection)
    connection.execute(
        insert(_head)
        .values(id=HEAD_ID, seq=last.seq if last else 0, hash=(last.hash or "") if last else "")
        .on_conflict_do_nothing(index_elements=[_head.c.id])
    )


def take_seqs(connection: sa.Connection, count: int) -> tuple[int, str]:
    """Reserve ``count`` places at the end of the chain, locking the head until the transaction ends. Returns the
    first new seq and the hash of the event before it."""
    statement = (
        sa.update(_head)
        .where(_head.c.id == HEAD_ID)
        .values(seq=_head.c.seq + count)
        .returning(_head.c.seq, _head.c.hash)
    )
    row = connection.execute(statement).first()
    if row is None:
        ensure_head(connection)
        row = connection.execute(statement).one()
    return row.seq - count + 1, row.hash


def _chain_new_events(session: Session, flush_context, instances) -> None:
    entries = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not entries:
        return
    connection = session.connection()
    seq, prev_hash = take_seqs(connection, len(entries))
    for entry in entries:
        # The column defaults would be applied by the INSERT; the hash needs them now.
        if entry.occurred_at is None:
            entry.occurred_at = utcnow()
        if entry.actor_id is None and entry.actor is not None:
            entry.actor_id = entry.actor.id
        if entry.actor_label is None:
            entry.actor_label = ""
        if entry.reason is None:
            entry.reason = ""
        if entry.details is None:
            entry.details = {}
        entry.seq = seq
        entry.prev_hash = prev_hash
        entry.hash = _row_hash(entry, prev_hash)
        prev_hash = entry.hash
        seq += 1
    connection.execute(sa.update(_head).where(_head.c.id == HEAD_ID).values(hash=prev_hash))


def install() -> None:
    """Chain the audit events of every ORM session (idempotent)."""
    if not sa_event.contains(Session, "before_flush", _chain_new_events):
        sa_event.listen(Session, "before_flush", _chain_new_events)


install()


# --- Chaining the events written before the chain existed (migration 0008) ---------------------------------------


def chain_existing(connection: sa.Connection) -> int:
    """Chain every event of the table in id order, from seq 1, and set the head. Reads in batches (memory flat).
    Returns the number of events chained."""
    seq, prev_hash, last_id = 0, "", 0
    columns = [_events.c[name] for name in ("id", *_HASHED_COLUMNS)]
    while True:
        batch = connection.execute(
            sa.select(*columns).where(_events.c.id > last_id).order_by(_events.c.id).limit(BATCH_SIZE)
        ).all()
        if not batch:
            break
        updates = []
        for row in batch:
            seq += 1
            link = _row_hash(_Link(row, seq), prev_hash)
            updates.append({"row_id": row.id, "seq": seq, "prev_hash": prev_hash, "hash": link})
            prev_hash, last_id = link, row.id
        connection.execute(
            sa.update(_events)
            .where(_events.c.id == sa.bindparam("row_id"))
            .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"), hash=sa.bindparam("hash")),
            updates,
        )
    connection.execute(sa.delete(_head))
    connection.execute(sa.insert(_head).values(id=HEAD_ID, seq=seq, hash=prev_hash))
    return seq


_HASHED_COLUMNS = (
    "occurred_at",
    "event",
    "actor_id",
    "actor_label",
    "ip_address",
    "subject_type",
    "subject_id",
    "reason",
    "details",
)


class _Link:
    """A row read before it had a seq, with the seq it is given."""

    def __init__(self, row, seq: int):
        self._row = row
        self.seq = seq

    def __getattr__(self, name):
        return getattr(self._row, name)


# --- Checking the chain -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The result of ``verify``: intact, or the first broken link (``kind`` is changed, missing, inserted or
    head; ``seq`` and ``event_id`` name the row where it was found, when there is one)."""

    intact: bool
    events: int
    problem: str = ""
    kind: str = ""
    seq: int | None = None
    event_id: int | None = None

    @property
    def message(self) -> str:
        if self.intact:
            return f"Audit chain intact: {self.events} event{'s' if self.events != 1 else ''}"
        return f"Audit chain broken: {self.problem}"


def _walk(connection: sa.Connection, up_to: int) -> Iterator:
    """The chained events with seq up to ``up_to``, in seq order, a batch at a time."""
    columns = [_events.c[name] for name in ("id", "seq", "prev_hash", "hash", *_HASHED_COLUMNS)]
    last = 0
    while True:
        batch = connection.execute(
            sa.select(*columns)
            .where(_events.c.seq > last, _events.c.seq <= up_to)
            .order_by(_events.c.seq)
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def _or_the_sessions(connection: sa.Connection | None) -> sa.Connection:
    """The connection given, or the request's session's (imported here: the app's db is not needed to chain)."""
    if connection is not None:
        return connection
    from portal.extensions import db

    return db.session.connection()


def _read_head(connection: sa.Connection):
    return connection.execute(sa.select(_head.c.seq, _head.c.hash).where(_head.c.id == HEAD_ID)).first()


def verify(connection: sa.Connection | None = None) -> Verification:
    """Walk the chain in seq order, recomputing every hash, and name the first broken link: a changed row (its hash
    does not match its content), a missing row (a gap in seq, or a prev_hash that is not the previous row's hash),
    an inserted row (no seq or hash, a duplicate seq, or past the head), or a head that does not match the last row
    (events cut off the end). The head is read first, so events added while it runs are not counted against it."""
    connection = _or_the_sessions(connection)
    head = _read_head(connection)
    if head is None:
        last = connection.execute(sa.select(sa.func.max(_events.c.seq))).scalar()
        if last:
            return Verification(False, 0, "the chain's head is missing", kind="head")
        head_seq, head_hash = 0, ""
    else:
        head_seq, head_hash = head.seq, head.hash

    expected, prev_hash, prev_seq, count = 1, "", 0, 0
    for row in _walk(connection, head_seq):
        if row.seq == prev_seq:
            return Verification(
                False, count, f"event seq {row.seq} (id {row.id}) is a duplicate: it was inserted",
                kind="inserted", seq=row.seq, event_id=row.id,
            )  # fmt: skip
        if row.seq != expected:
            where = f"the event after seq {expected - 1}" if expected > 1 else "the first event"
            return Verification(
                False, count, f"{where} is missing (the next is seq {row.seq}, id {row.id})",
                kind="missing", seq=expected - 1 or None, event_id=row.id,
            )  # fmt: skip
        if row.hash is None or _row_hash(row, row.prev_hash or "") != row.hash:
            return Verification(
                False, count, f"event seq {row.seq} (id {row.id}) was changed",
                kind="changed", seq=row.seq, event_id=row.id,
            )  # fmt: skip
        if (row.prev_hash or "") != prev_hash:
            where = f"the event after seq {prev_seq}" if prev_seq else "the first event"
            return Verification(
                False, count,
                f"{where} is missing or was replaced (seq {row.seq}, id {row.id}, does not follow it)",
                kind="missing", seq=prev_seq or None, event_id=row.id,
            )  # fmt: skip
        prev_hash, prev_seq, expected, count = row.hash, row.seq, row.seq + 1, count + 1

    if count < head_seq:
        return Verification(
            False, count, f"the events after seq {count} are missing (the chain's head is at seq {head_seq})",
            kind="missing", seq=count or None,
        )  # fmt: skip
    if prev_hash != head_hash:
        return Verification(
            False, count, f"the chain's head does not match event seq {head_seq}: it was changed",
            kind="head", seq=head_seq or None,
        )  # fmt: skip

    unchained = connection.execute(
        sa.select(_events.c.id)
        .where(sa.or_(_events.c.seq.is_(None), _events.c.hash.is_(None), _events.c.prev_hash.is_(None)))
        .order_by(_events.c.id)
        .limit(1)
    ).scalar()
    if unchained is not None:
        return Verification(
            False, count, f"event id {unchained} is not in the chain: it was inserted",
            kind="inserted", event_id=unchained,
        )  # fmt: skip
    # Events past the head: re-read the head, so events chained while the walk ran are not taken for insertions.
    now_head = _read_head(connection)
    beyond = connection.execute(
        sa.select(_events.c.id, _events.c.seq)
        .where(_events.c.seq > (now_head.seq if now_head else head_seq))
        .order_by(_events.c.seq)
        .limit(1)
    ).first()
    if beyond is not None:
        return Verification(
            False, count, f"event seq {beyond.seq} (id {beyond.id}) is past the chain's head: it was inserted",
            kind="inserted", seq=beyond.seq, event_id=beyond.id,
        )  # fmt: skip
    return Verification(True, count)


# --- Anchors ------------------------------------------------------------------------------------------------------

_ANCHOR = re.compile(r"(\d+):([0-9a-f]{64})")


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment, as ``seq:hash``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """``seq:hash`` as ``flask audit anchor`` prints it; ValueError for anything else."""
    match = _ANCHOR.fullmatch(text.strip())
    if match is None:
        raise ValueError("an anchor is the event's seq, a colon and its 64-character SHA-256 in hex")
    return Anchor(int(match.group(1)), match.group(2))


def take_anchor(connection: sa.Connection | None = None) -> Anchor | None:
    """The head as it is now (None while the trail is empty)."""
    connection = _or_the_sessions(connection)
    head = _read_head(connection)
    return Anchor(head.seq, head.hash) if head is not None and head.seq else None


def check_anchor(anchor: Anchor, connection: sa.Connection | None = None) -> str | None:
    """What is wrong with the chain against an anchor taken earlier (None if the event at its seq still has its
    hash). Run after ``verify``: an intact chain that fails this was rewritten, every hash recomputed."""
    connection = _or_the_sessions(connection)
    found = connection.execute(sa.select(_events.c.hash).where(_events.c.seq == anchor.seq)).scalar()
    if found is None:
        return f"event seq {anchor.seq} of the anchor {anchor} is not in the trail: the chain was cut or rewritten"
    if found != anchor.hash:
        return (
            f"event seq {anchor.seq} has the hash {found}, not the anchor's {anchor.hash}: the chain was rewritten "
            "up to there"
        )
    return None
