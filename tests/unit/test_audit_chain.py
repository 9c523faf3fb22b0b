"""The tamper-evident audit trail: each event is chained as it is written; verify passes on an intact chain and names
the first broken link when a row is changed, deleted or inserted behind the portal's back; concurrent writers never
take the same seq. Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.models import AuditChainHead, AuditEvent
from portal.services import audit, audit_chain
from portal.services.audit import Events
from tests.factories import make_user
from tests.helpers import count_queries
from tests.test_migrations import scratch_database_url  # noqa: F401  (the fixture)

BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def add_events(count: int, **fields) -> list[int]:
    ids = []
    for n in range(count):
        entry = audit.record(
            Events.SIGN_IN_FAILED, actor_label=f"person{n}@example.test", ip="192.0.2.1", n=n, **fields
        )
        entry.occurred_at = BASE + timedelta(minutes=n)
        db.session.commit()
        ids.append(entry.id)
    return ids


def chain() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))


def sql(statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def test_events_are_chained_as_they_are_recorded(app_context):
    user = make_user("manager")
    first = audit.record(Events.USER_INVITED, actor=user, ip="192.0.2.7", subject=user, reason="new starter", role="x")
    second = audit.record(Events.SIGNED_OUT, actor_label="someone@example.test")  # same flush: consecutive seqs
    db.session.commit()
    third = audit.record(Events.SIGN_IN_FAILED, actor_label="")
    db.session.commit()

    events = chain()
    assert [e.id for e in events] == [first.id, second.id, third.id]
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == ""
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert len({e.hash for e in events}) == 3 and all(len(e.hash) == 64 for e in events)
    # The hash is the SHA-256 of the canonical text (fields in order, details with sorted keys) ending in prev_hash.
    stored = db.session.get(AuditEvent, first.id)
    text = audit_chain.canonical_text(
        seq=1,
        occurred_at=stored.occurred_at,
        event=Events.USER_INVITED,
        actor_id=user.id,
        actor_label=user.email,
        ip_address="192.0.2.7",
        subject_type="users",
        subject_id=user.id,
        reason="new starter",
        details={"role": "x"},
        prev_hash="",
    )
    assert hashlib.sha256(text.encode()).hexdigest() == stored.hash
    assert text.endswith(',""]') and '"new starter"' in text
    head = db.session.get(AuditChainHead, audit_chain.HEAD_ID)
    assert (head.seq, head.hash) == (3, events[2].hash)


def test_chaining_adds_two_statements_per_flush(app_context):
    add_events(1)
    with count_queries(db.engine) as counter:
        audit.record(Events.SIGNED_OUT, actor_label="a@example.test")
        audit.record(Events.SIGNED_OUT, actor_label="b@example.test")
        db.session.flush()
    head_statements = [s for s in counter.statements if "audit_chain_head" in s]
    assert len(head_statements) == 2  # the head taken (UPDATE … RETURNING), then its new hash
    inserts = [s for s in counter.statements if s.startswith("INSERT INTO audit_events")]
    assert inserts  # one each on SQLite, one for both on PostgreSQL
    assert counter.count == 2 + len(inserts)
    db.session.rollback()


def test_verify_passes_on_an_intact_chain(app_context):
    add_events(5)
    result = audit_chain.verify()
    assert result.intact and result.events == 5
    assert result.message == "Audit chain intact: 5 events"


def test_verify_on_an_empty_trail(app_context):
    result = audit_chain.verify()
    assert result.intact and result.events == 0


def test_verify_walks_in_batches(app_context, monkeypatch):
    monkeypatch.setattr(audit_chain, "BATCH_SIZE", 2)
    add_events(5)
    assert audit_chain.verify().events == 5
    ids = [e.id for e in chain()]
    sql("UPDATE audit_events SET actor_label = 'x' WHERE id = :id", id=ids[4])
    result = audit_chain.verify()
    assert not result.intact and (result.seq, result.event_id) == (5, ids[4])


def test_a_modified_row_is_named(app_context):
    ids = add_events(5)
    sql("UPDATE audit_events SET reason = 'nothing to see' WHERE id = :id", id=ids[2])
    result = audit_chain.verify()
    assert not result.intact
    assert result.kind == "changed" and result.seq == 3 and result.event_id == ids[2]
    assert result.problem == f"event seq 3 (id {ids[2]}) was changed"
    assert result.events == 2  # the events before it are intact


def test_a_modified_time_or_detail_is_caught(app_context):
    ids = add_events(3)
    sql("UPDATE audit_events SET details = :d WHERE id = :id", d='{"n": 99}', id=ids[0])
    assert audit_chain.verify().event_id == ids[0]


def test_a_deleted_row_is_named(app_context):
    ids = add_events(5)
    sql("DELETE FROM audit_events WHERE id = :id", id=ids[1])
    result = audit_chain.verify()
    assert not result.intact and result.kind == "missing"
    assert result.problem.startswith("the event after seq 1 is missing")
    assert result.event_id == ids[2]


def test_a_deleted_first_row_is_named(app_context):
    ids = add_events(3)
    sql("DELETE FROM audit_events WHERE id = :id", id=ids[0])
    result = audit_chain.verify()
    assert result.kind == "missing" and result.problem.startswith("the first event is missing")


def test_a_deleted_row_with_the_later_seqs_renumbered_is_named(app_context):
    ids = add_events(4)
    sql("DELETE FROM audit_events WHERE id = :id", id=ids[1])
    for n, row_id in enumerate(ids[2:], start=2):
        sql("UPDATE audit_events SET seq = :seq WHERE id = :id", seq=n, id=row_id)
    sql("UPDATE audit_chain_head SET seq = 3")
    result = audit_chain.verify()
    assert not result.intact and result.event_id == ids[2]


def test_rows_cut_off_the_end_are_caught_by_the_head(app_context):
    ids = add_events(4)
    sql("DELETE FROM audit_events WHERE id = :id", id=ids[3])
    result = audit_chain.verify()
    assert not result.intact and result.kind == "missing"
    assert result.problem == "the events after seq 3 are missing (the chain's head is at seq 4)"


def test_a_changed_head_is_caught(app_context):
    add_events(2)
    sql("UPDATE audit_chain_head SET hash = :h", h="0" * 64)
    result = audit_chain.verify()
    assert not result.intact and result.kind == "head"


def test_an_inserted_row_without_a_place_in_the_chain_is_named(app_context):
    add_events(3)
    sql(
        "INSERT INTO audit_events (occurred_at, event, actor_label, reason, details) "
        "VALUES (:at, 'sign-in succeeded', 'intruder@example.test', '', '{}')",
        at=BASE,
    )
    inserted = db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.actor_label == "intruder@example.test"))
    result = audit_chain.verify()
    assert not result.intact and result.kind == "inserted" and result.event_id == inserted
    assert result.problem == f"event id {inserted} is not in the chain: it was inserted"


def test_an_inserted_row_past_the_head_is_named(app_context):
    add_events(3)
    last = chain()[-1]
    fake = audit_chain.compute_hash(
        seq=4, occurred_at=BASE, event="sign-in succeeded", actor_id=None, actor_label="intruder@example.test",
        ip_address=None, subject_type=None, subject_id=None, reason="", details={}, prev_hash=last.hash,
    )  # fmt: skip
    sql(
        "INSERT INTO audit_events (occurred_at, event, actor_label, reason, details, seq, prev_hash, hash) "
        "VALUES (:at, 'sign-in succeeded', 'intruder@example.test', '', '{}', 4, :prev, :hash)",
        at=BASE,
        prev=last.hash,
        hash=fake,
    )
    result = audit_chain.verify()
    assert not result.intact and result.kind == "inserted" and result.seq == 4
    assert "past the chain's head" in result.problem


def test_an_inserted_row_in_the_middle_is_named(app_context):
    ids = add_events(3)
    # Make room at seq 2 and put a forged event there with a hash of its own.
    for row_id, seq in ((ids[2], 4), (ids[1], 3)):
        sql("UPDATE audit_events SET seq = :seq WHERE id = :id", seq=seq, id=row_id)
    first = db.session.get(AuditEvent, ids[0])
    forged = audit_chain.compute_hash(
        seq=2, occurred_at=BASE, event="sign-in succeeded", actor_id=None, actor_label="intruder@example.test",
        ip_address=None, subject_type=None, subject_id=None, reason="", details={}, prev_hash=first.hash,
    )  # fmt: skip
    sql(
        "INSERT INTO audit_events (occurred_at, event, actor_label, reason, details, seq, prev_hash, hash) "
        "VALUES (:at, 'sign-in succeeded', 'intruder@example.test', '', '{}', 2, :prev, :hash)",
        at=BASE,
        prev=first.hash,
        hash=forged,
    )
    result = audit_chain.verify()
    # The renumbered event no longer matches its hash: the chain breaks right after the forgery.
    assert not result.intact and result.seq == 3 and result.event_id == ids[1]


def test_a_missing_head_is_recreated_from_the_last_event(app_context):
    add_events(2)
    sql("DELETE FROM audit_chain_head")
    assert audit_chain.verify().kind == "head"
    add_events(1)  # the next writer puts the head back after the last link
    assert [e.seq for e in chain()] == [1, 2, 3]
    assert audit_chain.verify().intact


def test_concurrent_writers_never_share_a_seq(app):
    writers, per_writer = 6, 5
    start = threading.Barrier(writers)
    errors = []

    def write(n: int):
        try:
            with app.app_context():
                start.wait(timeout=10)
                for k in range(per_writer):
                    audit.record(Events.SIGN_IN_FAILED, actor_label=f"writer{n}-{k}@example.test")
                    db.session.commit()
                db.session.remove()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        seqs = db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == list(range(1, writers * per_writer + 1))
        result = audit_chain.verify()
        assert result.intact and result.events == writers * per_writer


def test_chain_existing_chains_old_events_in_id_order(app_context):
    add_events(3)
    sql("UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL")
    sql("DELETE FROM audit_chain_head")
    assert audit_chain.verify().kind == "inserted"
    with db.engine.begin() as connection:
        assert audit_chain.chain_existing(connection) == 3
    db.session.expire_all()
    assert [e.id for e in chain()] == sorted(e.id for e in chain())
    assert audit_chain.verify().intact


def test_the_head_statements_compile_for_postgresql(app_context):
    connection = db.session.connection()
    take = (
        sa.update(AuditChainHead.__table__)
        .where(AuditChainHead.__table__.c.id == 1)
        .values(seq=AuditChainHead.__table__.c.seq + 1)
        .returning(AuditChainHead.__table__.c.seq, AuditChainHead.__table__.c.hash)
    )
    assert "RETURNING" in str(take.compile(dialect=postgresql.dialect()))
    assert "RETURNING" in str(take.compile(dialect=sqlite.dialect()))
    insert = postgresql.insert(AuditChainHead.__table__).values(id=1, seq=0, hash="").on_conflict_do_nothing()
    assert "ON CONFLICT DO NOTHING" in str(insert.compile(dialect=postgresql.dialect()))
    assert audit_chain._dialect_insert(connection) is sqlite.insert or connection.dialect.name == "postgresql"


def test_migration_0008_chains_the_events_already_there(request):
    """On a scratch database of its own (tests/test_migrations.py's fixture)."""
    url = request.getfixturevalue("scratch_database_url")
    from flask_migrate import upgrade

    from tests.conftest import make_app

    scratch = make_app(url)
    with scratch.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as connection:
            for n in range(3):
                connection.execute(
                    sa.text(
                        "INSERT INTO audit_events (occurred_at, event, actor_label, reason, details) "
                        "VALUES (:at, 'sign-in failed', :who, '', '{\"n\": 1}')"
                    ),
                    {"at": BASE + timedelta(minutes=n), "who": f"p{n}@example.test"},
                )
        upgrade()
        rows = db.session.execute(sa.select(AuditEvent.id, AuditEvent.seq).order_by(AuditEvent.id)).all()
        assert [row.seq for row in rows] == [1, 2, 3]
        result = audit_chain.verify()
        assert result.intact and result.events == 3
        db.session.remove()
        db.engine.dispose()
